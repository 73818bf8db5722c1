/*
 * Minimal N-API addon: the credentials of the peer of a connected Unix stream socket (SO_PEERCRED,
 * unix(7)). Node exposes neither the option nor the descriptor officially; the control server passes
 * the descriptor of an accepted connection and refuses peers that are not the daemon's own user or root.
 *
 * get(fd) -> { pid, uid, gid }; throws an Error with .code on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

static napi_value js_get(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "get(fd: number)");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    napi_throw_error(env, errno == EBADF ? "EBADF" : errno == ENOTSOCK ? "ENOTSOCK" : "EIO", strerror(errno));
    return NULL;
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int64(env, cred.pid, &v); napi_set_named_property(env, out, "pid", v);
  napi_create_int64(env, cred.uid, &v); napi_set_named_property(env, out, "uid", v);
  napi_create_int64(env, cred.gid, &v); napi_set_named_property(env, out, "gid", v);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "get", NAPI_AUTO_LENGTH, js_get, NULL, &fn);
  napi_set_named_property(env, exports, "get", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
