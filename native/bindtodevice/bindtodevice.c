/*
 * Minimal N-API addon: open an IPv4 UDP socket bound to one network device (SO_BINDTODEVICE,
 * socket(7)) with SO_BROADCAST and SO_REUSEADDR set, bound to address:port, and return its fd.
 * Node's dgram has no SO_BINDTODEVICE; it adopts the fd with socket.bind({ fd }).
 * The option is set before bind(2), so several sockets may bind 0.0.0.0:67 on different devices.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, err == EPERM || err == EACCES ? "EPERM" : "ESOCKET", msg);
  return NULL;
}

/*
 * openUdp4(iface: string, address: string, port: number, rcvbuf?: number): number (fd)
 * rcvbuf > 0: receive buffer size; SO_RCVBUFFORCE (CAP_NET_ADMIN) may exceed net.core.rmem_max, else
 * SO_RCVBUF (capped by the kernel). A DHCP burst (perfdhcp, a rack powering on) overflows the default.
 */
static napi_value open_udp4(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t rcvbuf = 0;
  char iface[IFNAMSIZ + 1];
  char addr[64];
  size_t len = 0;
  int32_t port = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "openUdp4(iface, address, port)");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[0], iface, sizeof iface, &len) != napi_ok || len == 0 || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "iface must be a non-empty interface name shorter than IFNAMSIZ");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "address must be a string");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "port must be 0..65535");
    return NULL;
  }
  if (argc >= 4) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t == napi_number) napi_get_value_int32(env, argv[3], &rcvbuf);
  }
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "address must be an IPv4 address");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface, (socklen_t)strlen(iface) + 1) < 0) {
    int e = errno; close(fd); return throw_errno(env, "setsockopt(SO_BINDTODEVICE)", e);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    int e = errno; close(fd); return throw_errno(env, "setsockopt", e);
  }
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* best effort */
  }
  if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
    int e = errno; close(fd); return throw_errno(env, "bind", e);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/* closeFd(fd): for a fd never handed to dgram. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "openUdp4", NAPI_AUTO_LENGTH, open_udp4, NULL, &f);
  napi_set_named_property(env, exports, "openUdp4", f);
  napi_create_function(env, "closeFd", NAPI_AUTO_LENGTH, close_fd, NULL, &f);
  napi_set_named_property(env, exports, "closeFd", f);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
