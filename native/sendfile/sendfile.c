/*
 * Zero-copy HTTP bodies (issue 9): sendfile(2) from an artifact's fd to a client's TCP socket, driven by
 * Node's own loop. The response headers go out through node:http first; JavaScript then hands over the
 * socket fd, the (already confined and opened) file fd, the offset and the length. The socket fd is
 * dup()ed and watched for writability with a uv_poll_t (a dup is a separate epoll registration, so it
 * does not disturb libuv's own watcher on the original fd); each writable event sends until EAGAIN or a
 * per-event budget, so parallel transfers take turns. The page cache goes to the socket without passing
 * through JavaScript buffers: no read copy, no 1 MiB allocation per chunk.
 *
 * start(sockFd, fileFd, offset, length, cb) -> number | job. It sends at once what the socket takes; a
 * number means the transfer already ended (bytes sent, or -errno) and cb is never called. Otherwise
 * cb(errno, sent) is called exactly once, from the loop: errno 0 with sent === length when done, 0 with sent < length when the
 * file ended early (truncated under us), or the errno of the failing sendfile (EPIPE, ECONNRESET, EIO).
 * cancel(job) -> sent stops a transfer at once (client gone); its cb is then never called and the file
 * fd is no longer used when cancel returns. Single-threaded: everything runs on the loop thread.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Bytes one writable event may send before yielding to the loop (fairness between transfers). */
#define EVENT_BUDGET (8 * 1024 * 1024)
/* Largest single sendfile(2) count. */
#define CALL_MAX (4 * 1024 * 1024)

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int sockfd; /* our dup */
  int filefd; /* borrowed from JavaScript */
  int64_t off;
  int64_t remaining;
  int64_t sent;
  int active;     /* poll running, callback pending */
  int closed;     /* uv_close callback ran */
  int finalized;  /* JavaScript's handle collected */
} job_t;

static void maybe_free(job_t *j) {
  if (j->closed && j->finalized) free(j);
}

static void on_close(uv_handle_t *h) {
  job_t *j = h->data;
  close(j->sockfd);
  j->closed = 1;
  maybe_free(j);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  job_t *j = data;
  j->finalized = 1;
  maybe_free(j);
}

/* Stop watching and release JavaScript references; the job memory goes once both sides let go. */
static void stop(job_t *j) {
  if (!j->active) return;
  j->active = 0;
  uv_poll_stop(&j->poll);
  napi_delete_reference(j->env, j->cb);
  napi_async_destroy(j->env, j->ctx);
  uv_close((uv_handle_t *)&j->poll, on_close);
}

static void finish(job_t *j, int err) {
  napi_env env = j->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, argv[2], resource, result;
  napi_get_reference_value(env, j->cb, &cb);
  napi_create_int32(env, err, &argv[0]);
  napi_create_double(env, (double)j->sent, &argv[1]);
  napi_async_context ctx = j->ctx;
  j->ctx = NULL;
  napi_create_object(env, &resource);
  j->active = 0;
  uv_poll_stop(&j->poll);
  napi_delete_reference(env, j->cb);
  uv_close((uv_handle_t *)&j->poll, on_close);
  napi_status st = napi_make_callback(env, ctx, resource, cb, 2, argv, &result);
  napi_async_destroy(env, ctx);
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

/*
 * Send until done, EAGAIN or the budget. Returns 1 when the transfer ended (*err set: 0 for done or
 * end of file, else the errno), 0 when it must wait for the socket to become writable again.
 */
static int pump(int sockfd, int filefd, int64_t *off, int64_t *remaining, int64_t *sent, int *err) {
  int64_t budget = EVENT_BUDGET;
  while (*remaining > 0 && budget > 0) {
    size_t n = *remaining < CALL_MAX ? (size_t)*remaining : CALL_MAX;
    off_t o = (off_t)*off;
    ssize_t r = sendfile(sockfd, filefd, &o, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0; /* wait for the next writable event */
      *err = errno;
      return 1;
    }
    if (r == 0) { *err = 0; return 1; } /* end of file before the range end: truncated */
    *off += r;
    *remaining -= r;
    *sent += r;
    budget -= r;
    /* A short count means the socket buffer is full: wait for writability rather than spend a
       sendfile call on EAGAIN (the poll is level-triggered, so nothing is missed). */
    if ((size_t)r < n && *remaining > 0) return 0;
  }
  if (*remaining == 0) { *err = 0; return 1; }
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status; (void)events;
  job_t *j = h->data;
  if (!j->active) return;
  int err = 0;
  if (pump(j->sockfd, j->filefd, &j->off, &j->remaining, &j->sent, &err)) finish(j, err);
}

static napi_value start_poll(napi_env env, napi_value cbv, int dupfd, int filefd, int64_t off, int64_t len, int64_t sent);

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) { napi_throw_type_error(env, NULL, "start(sockFd, fileFd, offset, length, cb)"); return NULL; }
  int32_t sockfd, filefd;
  int64_t off, len;
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  if (napi_get_value_int32(env, argv[0], &sockfd) != napi_ok || napi_get_value_int32(env, argv[1], &filefd) != napi_ok ||
      napi_get_value_int64(env, argv[2], &off) != napi_ok || napi_get_value_int64(env, argv[3], &len) != napi_ok ||
      t != napi_function || sockfd < 0 || filefd < 0 || off < 0 || len < 0) {
    napi_throw_type_error(env, NULL, "start: bad arguments");
    return NULL;
  }
  /*
   * First try on the caller's stack: a range that fits in the socket's send buffer is done here, with
   * no poll handle at all. Returns the bytes sent (fewer than length: end of file) or -errno.
   */
  {
    int64_t o = off, rem = len, sent = 0;
    int err = 0;
    if (pump(sockfd, filefd, &o, &rem, &sent, &err)) {
      napi_value out;
      napi_create_double(env, err ? -(double)err : (double)sent, &out);
      return out;
    }
    off = o;
    len = rem;
    int dupfd = dup(sockfd);
    if (dupfd < 0) { napi_throw_error(env, "ESENDFILE", "dup failed"); return NULL; }
    return start_poll(env, argv[4], dupfd, filefd, off, len, sent);
  }
}

static napi_value start_poll(napi_env env, napi_value cbv, int dupfd, int filefd, int64_t off, int64_t len, int64_t sent) {
  if (dupfd < 0) { napi_throw_error(env, "ESENDFILE", "dup failed"); return NULL; }
  job_t *j = calloc(1, sizeof(job_t));
  if (!j) { close(dupfd); napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  j->env = env;
  j->sockfd = dupfd;
  j->filefd = filefd;
  j->off = off;
  j->remaining = len;
  j->sent = sent;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int e = uv_poll_init(loop, &j->poll, dupfd);
  if (e != 0) { close(dupfd); free(j); napi_throw_error(env, "ESENDFILE", uv_strerror(e)); return NULL; }
  j->poll.data = j;
  e = uv_poll_start(&j->poll, UV_WRITABLE, on_poll);
  if (e != 0) {
    j->finalized = 1;
    uv_close((uv_handle_t *)&j->poll, on_close);
    napi_throw_error(env, "ESENDFILE", uv_strerror(e));
    return NULL;
  }
  napi_create_reference(env, cbv, 1, &j->cb);
  napi_value name;
  napi_create_string_utf8(env, "builderd.sendfile", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &j->ctx);
  j->active = 1;
  napi_value ext;
  napi_create_external(env, j, finalize, NULL, &ext);
  return ext;
}

static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  job_t *j = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&j) != napi_ok || !j) {
    napi_throw_type_error(env, NULL, "cancel(job)");
    return NULL;
  }
  stop(j);
  napi_value out;
  napi_create_double(env, (double)j->sent, &out);
  return out;
}

/*
 * cork(sockFd, on): TCP_CORK, so the headers node:http writes wait for the body and leave in full
 * segments with it (what nginx's tcp_nopush does); uncorking sends the tail at once.
 */
static napi_value cork(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  bool on;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "cork(fd, on)");
    return NULL;
  }
  int v = on ? 1 : 0;
  int r = setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
  napi_value out;
  napi_get_boolean(env, r == 0, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "start", NULL, start, NULL, NULL, NULL, napi_default, NULL },
    { "cancel", NULL, cancel, NULL, NULL, NULL, napi_default, NULL },
    { "cork", NULL, cork, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
