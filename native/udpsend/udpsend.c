/*
 * One sendmmsg(2) for a run of datagrams on a connected UDP socket (issue 9: TFTP windowsize, RFC 7440).
 * A window of 16 DATA packets through node:dgram costs 16 SendWraps, 16 syscalls and 16 callbacks; here it
 * is one call. JavaScript lays the packets out back to back in one buffer and passes their lengths.
 *
 * send(fd, buf, lens: Uint32Array, count) -> datagrams sent (possibly fewer than count when the socket
 * buffer is full: the caller sends the rest through node:dgram), or -errno.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MAX_BATCH 64

static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, count;
  uint8_t *buf;
  size_t buflen;
  napi_typedarray_type tt;
  size_t nlens;
  void *lensdata;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], (void **)&buf, &buflen) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &tt, &nlens, &lensdata, NULL, NULL) != napi_ok || tt != napi_uint32_array ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok || fd < 0 || count < 0 || (size_t)count > nlens) {
    napi_throw_type_error(env, NULL, "send(fd, buf, lens: Uint32Array, count)");
    return NULL;
  }
  const uint32_t *lens = lensdata;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  size_t at = 0;
  int done = 0;
  while (done < count) {
    int n = count - done < MAX_BATCH ? count - done : MAX_BATCH;
    memset(msgs, 0, sizeof(struct mmsghdr) * n);
    size_t p = at;
    for (int i = 0; i < n; i++) {
      uint32_t l = lens[done + i];
      if (p + l > buflen) { napi_throw_range_error(env, NULL, "lengths exceed the buffer"); return NULL; }
      iov[i].iov_base = buf + p;
      iov[i].iov_len = l;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      p += l;
    }
    int r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (done == 0) {
        napi_value out;
        napi_create_int32(env, -errno, &out);
        return out;
      }
      break;
    }
    for (int i = 0; i < r; i++) at += lens[done + i];
    done += r;
    if (r < n) break;
  }
  napi_value out;
  napi_create_int32(env, done, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = { { "send", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL } };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
