/*
 * Minimal N-API addon: send one datagram to the systemd notification socket ($NOTIFY_SOCKET).
 *
 * Why native: Node's dgram has no AF_UNIX datagram sockets, and a helper process (systemd-notify)
 * sends with its own PID, which NotifyAccess=main rejects (and which races with the helper's exit).
 * Sending from this process keeps the sender credentials (SCM_CREDENTIALS are filled in by the
 * kernel from the sending task) equal to the service's main PID. See sd_notify(3).
 *
 * send(address, state) -> number of bytes sent; throws an Error with .code (errno name) on failure.
 * address: a filesystem path ("/run/systemd/notify") or an abstract name starting with '@'.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  const char *name = err == ENOENT ? "ENOENT" : err == ECONNREFUSED ? "ECONNREFUSED" : err == EACCES ? "EACCES"
    : err == EAGAIN ? "EAGAIN" : err == ENAMETOOLONG ? "ENAMETOOLONG" : err == EINVAL ? "EINVAL" : err == EMSGSIZE ? "EMSGSIZE" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "send(address: string, state: string)");
    return NULL;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  char path[sizeof sa.sun_path + 1];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok) {
    napi_throw_type_error(env, NULL, "address must be a string");
    return NULL;
  }
  if (plen < 2 || plen > sizeof sa.sun_path || (path[0] != '/' && path[0] != '@')) return throw_errno(env, "bad NOTIFY_SOCKET", EINVAL);
  memcpy(sa.sun_path, path, plen);
  /* An abstract socket name is written '@name'; on the wire its first byte is NUL (unix(7)). */
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/' ? 1 : 0));
  if (salen > sizeof sa) salen = sizeof sa;

  size_t slen = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &slen) != napi_ok) {
    napi_throw_type_error(env, NULL, "state must be a string");
    return NULL;
  }
  char buf[4096];
  if (slen >= sizeof buf) return throw_errno(env, "state too long", EMSGSIZE);
  napi_get_value_string_utf8(env, argv[1], buf, sizeof buf, &slen);

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_UNIX, SOCK_DGRAM)", errno);
  ssize_t n;
  do {
    n = sendto(fd, buf, slen, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa, salen);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) return throw_errno(env, "sendto(NOTIFY_SOCKET)", err);
  napi_value out;
  napi_create_int64(env, (int64_t)n, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, js_send, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
