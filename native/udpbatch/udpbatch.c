/*
 * Batched UDP I/O for the DNS hot path (issue 9): recvmmsg(2) up to `slots` datagrams into a buffer
 * JavaScript owns, one call into JavaScript per batch (it writes the answers into a second buffer), then
 * one sendmmsg(2) back to the senders. Node's dgram costs a JS callback, a Buffer, an address string and
 * a SendWrap per datagram; here those are per batch. The socket is a plain non-blocking fd watched with a
 * uv_poll_t on Node's own loop, so it can be shared with worker processes (inherited as a stdio fd).
 *
 * Layout shared with JavaScript (udp-batch.ts): slot i of `in` holds a query (in_slot bytes), slot i of
 * `out` its answer (out_slot bytes), addrs holds the sender's sockaddr in 32 bytes per slot; lens[3i] is
 * the query length (-1: truncated, too long), lens[3i+1] the answer length (0: none), lens[3i+2] is
 * qtype + 1 when the answer came from the cache here (0: JavaScript answers it).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADDR_SLOT 32
#define MAX_ROUNDS 8

/*
 * The answer cache, mirrored from JavaScript (engine.ts): key = the question lowercased in wire form,
 * then the EDNS state and the transport byte, exactly as questionKey() builds it; value = the finished
 * answer. JavaScript puts every answer it caches for UDP and clears the table whenever it clears its
 * own (zone change, authority flip). A hit here is the whole hot path: copy, patch ID/RD/CD and the
 * client's question (RFC 1035 §7.3: its 0x20 case), no call into JavaScript for that datagram.
 */
typedef struct { uint32_t hash; uint16_t klen, rlen; uint8_t *data; } centry_t;
typedef struct { centry_t *slots; uint32_t cap, used; } cache_t;

#define CACHE_LIMIT 200000

static uint32_t fnv(const uint8_t *k, int n) {
  uint32_t h = 0x811c9dc5u;
  for (int i = 0; i < n; i++) h = (h ^ k[i]) * 0x01000193u;
  return h;
}

static void cache_free_entries(cache_t *c) {
  for (uint32_t i = 0; i < c->cap; i++) free(c->slots[i].data);
  memset(c->slots, 0, sizeof(centry_t) * c->cap);
  c->used = 0;
}

static centry_t *cache_find(cache_t *c, const uint8_t *k, int n, uint32_t h) {
  uint32_t mask = c->cap - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    centry_t *e = &c->slots[i];
    if (!e->data) return e;
    if (e->hash == h && e->klen == n && memcmp(e->data, k, n) == 0) return e;
  }
}

static void cache_grow(cache_t *c) {
  centry_t *old = c->slots;
  uint32_t ocap = c->cap;
  c->cap *= 2;
  c->slots = calloc(c->cap, sizeof(centry_t));
  for (uint32_t i = 0; i < ocap; i++) {
    if (!old[i].data) continue;
    centry_t *e = cache_find(c, old[i].data, old[i].klen, old[i].hash);
    *e = old[i];
  }
  free(old);
}

static void cache_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  cache_t *c = data;
  cache_free_entries(c);
  free(c->slots);
  free(c);
}

/* cacheCreate(): handle */
static napi_value cache_create(napi_env env, napi_callback_info info) {
  (void)info;
  cache_t *c = calloc(1, sizeof *c);
  c->cap = 1024;
  c->slots = calloc(c->cap, sizeof(centry_t));
  napi_value ext;
  napi_create_external(env, c, cache_finalize, NULL, &ext);
  return ext;
}

/* cachePut(handle, key: Buffer, keyLength, answer: Buffer) */
static napi_value cache_put(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  cache_t *c;
  void *k, *r;
  size_t klen_all, rlen;
  int32_t klen;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4 || napi_get_value_external(env, argv[0], (void **)&c) != napi_ok || napi_get_buffer_info(env, argv[1], &k, &klen_all) != napi_ok ||
      napi_get_value_int32(env, argv[2], &klen) != napi_ok || napi_get_buffer_info(env, argv[3], &r, &rlen) != napi_ok ||
      klen <= 0 || (size_t)klen > klen_all || klen > 300 || rlen < 12 || rlen > 65535) {
    napi_throw_type_error(env, NULL, "cachePut(handle, key, keyLength, answer)");
    return NULL;
  }
  if (c->used >= CACHE_LIMIT) cache_free_entries(c);
  if ((c->used + 1) * 2 > c->cap) cache_grow(c);
  uint32_t h = fnv(k, klen);
  centry_t *e = cache_find(c, k, klen, h);
  if (e->data) free(e->data); else c->used++;
  e->data = malloc((size_t)klen + rlen);
  memcpy(e->data, k, klen);
  memcpy(e->data + klen, r, rlen);
  e->hash = h;
  e->klen = (uint16_t)klen;
  e->rlen = (uint16_t)rlen;
  return NULL;
}

/* cacheClear(handle) */
static napi_value cache_clear(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  cache_t *c;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && napi_get_value_external(env, argv[0], (void **)&c) == napi_ok) cache_free_entries(c);
  return NULL;
}

/* The key of a plain UDP query (see questionKey in codec/query.ts), or -1. */
static int question_key(const uint8_t *m, int n, int max_udp, uint8_t *key, int *qend) {
  if (n < 17 || n > 512) return -1;
  if ((m[2] & 0xf8) || m[4] || m[5] != 1 || m[6] || m[7] || m[8] || m[9] || m[10]) return -1;
  int ar = m[11];
  if (ar > 1) return -1;
  int o = 12;
  for (;;) {
    if (o >= n) return -1;
    int l = m[o];
    key[o - 12] = (uint8_t)l;
    if (l == 0) { o++; break; }
    if (l > 63 || o + 1 + l >= n) return -1;
    for (int i = o + 1; i < o + 1 + l; i++) {
      uint8_t ch = m[i];
      if (ch >= 0x41 && ch <= 0x5a) ch |= 0x20;
      key[i - 12] = ch;
    }
    o += 1 + l;
  }
  int qe = o + 4;
  if (qe > n || qe - 12 > 259) return -1;
  for (int i = o; i < qe; i++) key[i - 12] = m[i];
  int k = qe - 12;
  if (ar == 1) {
    int q = qe;
    if (qe + 11 > n || m[q] != 0 || m[q + 1] != 0 || m[q + 2] != 41) return -1;
    int rdlen = (m[q + 9] << 8) | m[q + 10];
    if (qe + 11 + rdlen != n) return -1;
    int size = (m[q + 3] << 8) | m[q + 4];
    if (size < 512) size = 512;
    if (size > max_udp) size = max_udp;
    key[k++] = 1;
    key[k++] = m[q + 6];
    key[k++] = (uint8_t)(size >> 8);
    key[k++] = (uint8_t)(size & 0xff);
    key[k++] = m[q + 7] & 0x80;
  } else {
    if (qe != n) return -1;
    key[k++] = 0;
  }
  key[k++] = 0; /* UDP */
  *qend = qe;
  return k;
}


typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int slots, in_slot, out_slot;
  uint8_t *in, *out, *addrs;
  int32_t *lens;
  struct mmsghdr *rmsgs, *smsgs;
  struct iovec *riov, *siov;
  napi_ref cb, refs[4], resource, cache_ref;
  napi_async_context ctx;
  cache_t *cache;
  int max_udp;
  int closing;
} batch_t;


static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : "ESOCKET", msg);
  return NULL;
}

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *len = sizeof *s6;
    return AF_INET6;
  }
  return -1;
}

/* open(address: string, port: number, rcvbuf: number): number (fd), bound, non-blocking. */
static napi_value open_udp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char addr[64];
  size_t n = 0;
  int32_t port = 0, rcvbuf = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &n) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "open(address, port, rcvbuf?)");
    return NULL;
  }
  if (argc >= 3) napi_get_value_int32(env, argv[2], &rcvbuf);
  struct sockaddr_storage ss;
  socklen_t len;
  int family = parse_addr(addr, port, &ss, &len);
  if (family < 0) {
    napi_throw_type_error(env, NULL, "address must be an IP address");
    return NULL;
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/* localPort(fd): the bound port (getsockname). */
static napi_value local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &fd);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, "getsockname", errno);
  int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  napi_value out;
  napi_create_int32(env, port, &out);
  return out;
}

/* sendTo(fd, buf, sockaddr: Buffer): bytes sent or -errno (an answer made outside a batch). */
static napi_value send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1;
  void *data, *sa;
  size_t len, salen;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || napi_get_buffer_info(env, argv[2], &sa, &salen) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendTo(fd, buf, sockaddr)");
    return NULL;
  }
  ssize_t r = sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)sa, (socklen_t)salen);
  napi_value out;
  napi_create_int32(env, r < 0 ? -errno : (int32_t)r, &out);
  return out;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  batch_t *b = h->data;
  if (status < 0 || b->closing) return;
  napi_env env = b->env;
  for (int round = 0; round < MAX_ROUNDS && !b->closing; round++) {
    for (int i = 0; i < b->slots; i++) {
      b->riov[i].iov_base = b->in + (size_t)i * b->in_slot;
      b->riov[i].iov_len = b->in_slot;
      struct msghdr *m = &b->rmsgs[i].msg_hdr;
      m->msg_name = b->addrs + (size_t)i * ADDR_SLOT;
      m->msg_namelen = ADDR_SLOT;
      m->msg_iov = &b->riov[i];
      m->msg_iovlen = 1;
      m->msg_control = NULL;
      m->msg_controllen = 0;
      m->msg_flags = 0;
    }
    int n = recvmmsg(b->fd, b->rmsgs, b->slots, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      int32_t len = (b->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)b->rmsgs[i].msg_len;
      b->lens[3 * i] = len;
      b->lens[3 * i + 1] = 0;
      b->lens[3 * i + 2] = 0;
      if (!b->cache || len < 0 || b->cache->used == 0) continue;
      const uint8_t *m = b->in + (size_t)i * b->in_slot;
      uint8_t key[320];
      int qe;
      int klen = question_key(m, len, b->max_udp, key, &qe);
      if (klen < 0) continue;
      centry_t *e = cache_find(b->cache, key, klen, fnv(key, klen));
      if (!e->data || e->rlen > b->out_slot) continue;
      uint8_t *o = b->out + (size_t)i * b->out_slot;
      const uint8_t *r = e->data + e->klen;
      memcpy(o, r, e->rlen);
      o[0] = m[0];
      o[1] = m[1];
      o[2] = (uint8_t)((r[2] & 0xfe) | (m[2] & 0x01));
      o[3] = (uint8_t)((r[3] & 0xef) | (m[3] & 0x10));
      memcpy(o + 12, m + 12, (size_t)qe - 12);
      b->lens[3 * i + 1] = e->rlen;
      b->lens[3 * i + 2] = ((m[qe - 4] << 8) | m[qe - 3]) + 1;
    }
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value cb, recv, argv[1], result, resource;
    napi_get_reference_value(env, b->cb, &cb);
    napi_get_reference_value(env, b->resource, &resource);
    napi_get_undefined(env, &recv);
    napi_create_int32(env, n, &argv[0]);
    napi_status st = napi_make_callback(env, b->ctx, resource, cb, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
    if (b->closing) return;
    int m = 0;
    for (int i = 0; i < n; i++) {
      int32_t olen = b->lens[3 * i + 1];
      if (olen <= 0 || olen > b->out_slot) continue;
      b->siov[m].iov_base = b->out + (size_t)i * b->out_slot;
      b->siov[m].iov_len = (size_t)olen;
      struct msghdr *s = &b->smsgs[m].msg_hdr;
      memset(s, 0, sizeof *s);
      s->msg_name = b->addrs + (size_t)i * ADDR_SLOT;
      s->msg_namelen = b->rmsgs[i].msg_hdr.msg_namelen;
      s->msg_iov = &b->siov[m];
      s->msg_iovlen = 1;
      m++;
    }
    int sent = 0;
    while (sent < m) {
      int r = sendmmsg(b->fd, b->smsgs + sent, m - sent, MSG_DONTWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        /* A datagram the kernel refused (no route, buffer full): skip it, keep the rest. */
        sent++;
        continue;
      }
      sent += r;
    }
    if (n < b->slots) break;
  }
}

static int buf_ptr(napi_env env, napi_value v, void **p, size_t *len) {
  bool is;
  napi_is_buffer(env, v, &is);
  if (is) return napi_get_buffer_info(env, v, p, len) == napi_ok ? 0 : -1;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, p, &ab, &off) != napi_ok) return -1;
  if (t == napi_int32_array) *len *= 4;
  return 0;
}

/* start(fd, slots, inSlot, outSlot, in: Buffer, out: Buffer, addrs: Buffer, lens: Int32Array, cb(n), cache|null, maxUdp): handle */
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, slots, in_slot, out_slot;
  void *in, *out, *addrs, *lens;
  size_t in_len, out_len, addrs_len, lens_len;
  if (argc < 9 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &slots) != napi_ok ||
      napi_get_value_int32(env, argv[2], &in_slot) != napi_ok || napi_get_value_int32(env, argv[3], &out_slot) != napi_ok ||
      slots < 1 || slots > 1024 || in_slot < 512 || out_slot < 512 ||
      buf_ptr(env, argv[4], &in, &in_len) || buf_ptr(env, argv[5], &out, &out_len) ||
      buf_ptr(env, argv[6], &addrs, &addrs_len) || buf_ptr(env, argv[7], &lens, &lens_len) ||
      in_len < (size_t)slots * in_slot || out_len < (size_t)slots * out_slot ||
      addrs_len < (size_t)slots * ADDR_SLOT || lens_len < (size_t)slots * 12) {
    napi_throw_type_error(env, NULL, "start(fd, slots, inSlot, outSlot, in, out, addrs, lens, cb): bad arguments");
    return NULL;
  }
  batch_t *b = calloc(1, sizeof *b);
  b->env = env;
  b->fd = fd;
  b->slots = slots;
  b->in_slot = in_slot;
  b->out_slot = out_slot;
  b->in = in;
  b->out = out;
  b->addrs = addrs;
  b->lens = lens;
  b->rmsgs = calloc(slots, sizeof *b->rmsgs);
  b->smsgs = calloc(slots, sizeof *b->smsgs);
  b->riov = calloc(slots, sizeof *b->riov);
  b->siov = calloc(slots, sizeof *b->siov);
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[4 + i], 1, &b->refs[i]);
  napi_create_reference(env, argv[8], 1, &b->cb);
  if (argc >= 11) {
    napi_valuetype t;
    napi_typeof(env, argv[9], &t);
    if (t == napi_external && napi_get_value_external(env, argv[9], (void **)&b->cache) == napi_ok) {
      napi_create_reference(env, argv[9], 1, &b->cache_ref);
      napi_get_value_int32(env, argv[10], &b->max_udp);
    } else b->cache = NULL;
  }
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &b->resource);
  napi_create_string_utf8(env, "builderd.udpbatch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &b->ctx);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int e = uv_poll_init(loop, &b->poll, fd);
  if (e == 0) {
    b->poll.data = b;
    e = uv_poll_start(&b->poll, UV_READABLE, on_poll);
  }
  if (e != 0) {
    napi_throw_error(env, "ESOCKET", uv_strerror(e));
    return NULL;
  }
  napi_value ext;
  napi_create_external(env, b, NULL, NULL, &ext);
  return ext;
}

static void on_closed(uv_handle_t *h) {
  batch_t *b = h->data;
  free(b->rmsgs);
  free(b->smsgs);
  free(b->riov);
  free(b->siov);
  free(b);
}

/* stop(handle, closeFd: boolean): stop reading; the buffers are released; the fd is closed when asked. */
static napi_value stop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  batch_t *b = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&b) != napi_ok || !b || b->closing) return NULL;
  bool close_fd = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &close_fd);
  b->closing = 1;
  uv_poll_stop(&b->poll);
  napi_async_destroy(env, b->ctx);
  for (int i = 0; i < 4; i++) napi_delete_reference(env, b->refs[i]);
  napi_delete_reference(env, b->cb);
  napi_delete_reference(env, b->resource);
  if (b->cache_ref) napi_delete_reference(env, b->cache_ref);
  b->cache = NULL;
  int fd = b->fd;
  uv_close((uv_handle_t *)&b->poll, on_closed);
  if (close_fd) close(fd);
  return NULL;
}

/* closeFd(fd): for a socket never started. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  const struct { const char *name; napi_callback fn; } fns[] = {
    { "open", open_udp }, { "localPort", local_port }, { "sendTo", send_to },
    { "start", start }, { "stop", stop }, { "closeFd", close_fd },
    { "cacheCreate", cache_create }, { "cachePut", cache_put }, { "cacheClear", cache_clear },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
