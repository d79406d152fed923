/*
 * UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18+) for the daemon emitter.
 *
 * One sendmsg() carries a run of datagrams laid end to end, all of one size but the last,
 * and the kernel cuts it into datagrams after the stack has been walked once. On loopback
 * a datagram then costs about a fifth of the CPU time a send() of its own does
 * (bench/README.md). Node's dgram has no way to ask for it, hence this addon.
 *
 * Built with the system's C compiler by scripts/build-native.cjs and loaded if present;
 * without it the emitter sends each datagram through dgram. It uses only Node-API, whose
 * C ABI is the same on every Node.js line, so it declares the few functions it calls
 * itself and needs no headers but the C library's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

/* Node-API (js_native_api.h, node_api.h): opaque handles and the calls used here. */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
extern napi_status napi_get_value_int32(napi_env, napi_value, int32_t *);
extern napi_status napi_get_value_string_utf8(napi_env, napi_value, char *, size_t, size_t *);
extern napi_status napi_get_buffer_info(napi_env, napi_value, void **, size_t *);
extern napi_status napi_create_int32(napi_env, int32_t, napi_value *);
extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
#define NAPI_OK 0
#define AUTO_LENGTH ((size_t)-1)

/*
 * The sockets open() made. send() and close() take no other descriptor, so a wrong number
 * handed to them can never write to, or close, a descriptor of Node's or the app's.
 */
#define MAX_OWNED 256
static int owned[MAX_OWNED];
static int owned_count = 0;

static int owned_at(int fd) {
  for (int i = 0; i < owned_count; i++)
    if (owned[i] == fd) return i;
  return -1;
}

static napi_value int_result(napi_env env, int32_t n) {
  napi_value out = NULL;
  napi_create_int32(env, n, &out);
  return out;
}

/* open(family: 4 | 6, address: string, port: number): a connected, non-blocking socket's fd, or -errno. */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t family = 0, port = 0;
  char address[64];
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != NAPI_OK || argc < 3 ||
      napi_get_value_int32(env, argv[0], &family) != NAPI_OK ||
      napi_get_value_string_utf8(env, argv[1], address, sizeof address, &length) != NAPI_OK ||
      napi_get_value_int32(env, argv[2], &port) != NAPI_OK ||
      (family != 4 && family != 6) || port < 1 || port > 65535 || length >= sizeof address - 1)
    return int_result(env, -EINVAL);

  struct sockaddr_storage to;
  socklen_t to_length;
  memset(&to, 0, sizeof to);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)&to;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &a->sin_addr) != 1) return int_result(env, -EINVAL);
    to_length = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1) return int_result(env, -EINVAL);
    to_length = sizeof *a;
  }
  if (owned_count == MAX_OWNED) return int_result(env, -EMFILE);
  int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_result(env, -errno);
  if (connect(fd, (struct sockaddr *)&to, to_length) < 0) {
    int err = errno;
    close(fd);
    return int_result(env, -err);
  }
  owned[owned_count++] = fd;
  return int_result(env, fd);
}

/*
 * send(fd, buffer, length, segmentSize): sends the first `length` bytes of `buffer`, cut
 * into datagrams of `segmentSize` bytes (the last may be shorter) when segmentSize is
 * below length, else as one datagram, on a socket open() made. Returns the bytes taken, or
 * -errno; never blocks.
 */
static napi_value udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd = -1, length = 0, segment = 0;
  void *data = NULL;
  size_t capacity = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != NAPI_OK || argc < 4 ||
      napi_get_value_int32(env, argv[0], &fd) != NAPI_OK ||
      napi_get_buffer_info(env, argv[1], &data, &capacity) != NAPI_OK ||
      napi_get_value_int32(env, argv[2], &length) != NAPI_OK ||
      napi_get_value_int32(env, argv[3], &segment) != NAPI_OK ||
      length < 0 || (size_t)length > capacity || segment < 0 || segment > 65535)
    return int_result(env, -EINVAL);
  if (owned_at(fd) < 0) return int_result(env, -EBADF);

  struct iovec iov = { data, (size_t)length };
  union { char bytes[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (segment > 0 && segment < length) {
    uint16_t size = (uint16_t)segment;
    memset(&control, 0, sizeof control);
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof size);
    memcpy(CMSG_DATA(c), &size, sizeof size);
  }
  ssize_t sent;
  do sent = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  return int_result(env, sent < 0 ? -errno : (int32_t)sent);
}

/* close(fd): 0, or -errno; only a socket open() made. */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != NAPI_OK || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != NAPI_OK)
    return int_result(env, -EINVAL);
  int at = owned_at(fd);
  if (at < 0) return int_result(env, -EBADF);
  owned[at] = owned[--owned_count];
  return int_result(env, close(fd) < 0 ? -errno : 0);
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value value = NULL;
  if (napi_create_function(env, name, AUTO_LENGTH, fn, NULL, &value) == NAPI_OK)
    napi_set_named_property(env, exports, name, value);
}

/* The entry point Node-API looks up in an addon that does not register itself. */
__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_function(env, exports, "open", udp_open);
  export_function(env, exports, "send", udp_send);
  export_function(env, exports, "close", udp_close);
  return exports;
}
