/*
 * cocoon_native: the few syscalls Node.js does not expose and cocoon needs.
 *   flock(fd, exclusive, nonblock)  kernel advisory lock that dies with its holder
 *   mknod(path, mode, major, minor) overlayfs whiteouts (char 0:0) when unpacking layers
 *   lsetxattr(path, name, value)    overlayfs opaque directories (trusted.overlay.opaque)
 * Each returns 0 on success or a positive errno; callers turn errnos into typed errors.
 * AF_VSOCK, which Node's net module cannot create (these return an fd/CID, or -errno):
 *   vsockListen(port, backlog)          bound, listening socket on VMADDR_CID_ANY:port
 *   vsockConnect(cid, port, timeoutMs)  connected socket (blocking connect, bounded by the
 *                                       kernel's SO_VM_SOCKETS_CONNECT_TIMEOUT)
 *   vsockPeerCid(fd)                    the peer's CID of an accepted socket
 * Terminals:
 *   setWinsize(fd, rows, cols)          TIOCSWINSZ on a tty fd (a console PTY follows the
 *                                       caller's window); 0 or a positive errno
 * The fds are handed to libuv (a pipe_wrap handle) for non-blocking I/O on the event loop.
 * Serial ports in the guest agent (these return 0 / a new fd, or -errno / errno):
 *   dupFd(fd)              a close-on-exec duplicate (one per host client of a port)
 *   setAsync(fd, on)       O_ASYNC with this process as owner: SIGIO on host (dis)connect
 *   peerHungUp(fd)         1 when poll() reports POLLHUP (no host on the port), else 0
 * Sparse files and the guest's random generator (these return a value, or -errno):
 *   lseek(fd, offset, whence)  SEEK_DATA (3) / SEEK_HOLE (4): where data or a hole starts
 *   rndReseed(fd, entropy)     RNDADDENTROPY with the bytes, then RNDRESEEDCRNG, on an fd of
 *                              /dev/urandom (guest agent: clones must not share CRNG state)
 * And one that Node 20 lacks (process.execve came in Node 23.11):
 *   execve(path, argv, envp)            replaces this process (the front end becomes the tool it
 *                                       dispatches to); returns an errno only when exec fails
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>
#include <linux/random.h>
#include <sys/ioctl.h>
#include <node_api.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "cocoon_native: N-API call failed: " #call); return NULL; } } while (0)

static napi_value ret_int(napi_env env, int v) {
  napi_value out;
  CHECK(napi_create_int32(env, v, &out));
  return out;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -1;
  return len + 1 >= cap ? -1 : 0;
}

static napi_value js_flock(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  bool exclusive, nonblock;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_bool(env, argv[1], &exclusive));
  CHECK(napi_get_value_bool(env, argv[2], &nonblock));
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (nonblock ? LOCK_NB : 0);
  int rc;
  do { rc = flock(fd, op); } while (rc != 0 && errno == EINTR);
  return ret_int(env, rc == 0 ? 0 : errno);
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  char path[4096];
  uint32_t mode, major_n, minor_n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (get_string(env, argv[0], path, sizeof path) != 0) return ret_int(env, ENAMETOOLONG);
  CHECK(napi_get_value_uint32(env, argv[1], &mode));
  CHECK(napi_get_value_uint32(env, argv[2], &major_n));
  CHECK(napi_get_value_uint32(env, argv[3], &minor_n));
  int rc = mknod(path, (mode_t)mode, makedev(major_n, minor_n));
  return ret_int(env, rc == 0 ? 0 : errno);
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char path[4096], name[256], value[4096];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (get_string(env, argv[0], path, sizeof path) != 0) return ret_int(env, ENAMETOOLONG);
  if (get_string(env, argv[1], name, sizeof name) != 0) return ret_int(env, ERANGE);
  if (get_string(env, argv[2], value, sizeof value) != 0) return ret_int(env, E2BIG);
  int rc = lsetxattr(path, name, value, strlen(value), 0);
  return ret_int(env, rc == 0 ? 0 : errno);
}

static napi_value js_vsock_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t port;
  int32_t backlog;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[0], &port));
  CHECK(napi_get_value_int32(env, argv[1], &backlog));
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_int(env, -errno);
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = port;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return ret_int(env, -err);
  }
  return ret_int(env, fd);
}

static napi_value js_vsock_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint32_t cid, port, timeout_ms;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[0], &cid));
  CHECK(napi_get_value_uint32(env, argv[1], &port));
  CHECK(napi_get_value_uint32(env, argv[2], &timeout_ms));
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ret_int(env, -errno);
  struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
  /* Best effort: older kernels lack the option and keep their 2 s default. */
  (void)setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof tv);
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof addr);
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = cid;
  addr.svm_port = port;
  int rc;
  do { rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    close(fd);
    return ret_int(env, -err);
  }
  return ret_int(env, fd);
}

/* The one int32 argument (an fd) of a call; false (a JS error pending) when it is not one. */
static bool fd_arg(napi_env env, napi_callback_info info, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || napi_get_value_int32(env, argv[0], fd) != napi_ok) {
    napi_throw_error(env, NULL, "cocoon_native: expected an fd");
    return false;
  }
  return true;
}

static napi_value js_vsock_peer_cid(napi_env env, napi_callback_info info) {
  napi_value out;
  int32_t fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  struct sockaddr_vm addr;
  socklen_t len = sizeof addr;
  memset(&addr, 0, sizeof addr);
  if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0) return ret_int(env, -errno);
  if (addr.svm_family != AF_VSOCK) return ret_int(env, -EAFNOSUPPORT);
  CHECK(napi_create_double(env, (double)addr.svm_cid, &out));
  return out;
}

static napi_value js_dup_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return ret_int(env, copy < 0 ? -errno : copy);
}

static napi_value js_set_async(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  bool on;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_bool(env, argv[1], &on));
  if (on && fcntl(fd, F_SETOWN, getpid()) != 0) return ret_int(env, errno);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ret_int(env, errno);
  flags = on ? (flags | O_ASYNC) : (flags & ~O_ASYNC);
  return ret_int(env, fcntl(fd, F_SETFL, flags) == 0 ? 0 : errno);
}

static napi_value js_peer_hung_up(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, &fd)) return NULL;
  struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
  int rc;
  do { rc = poll(&p, 1, 0); } while (rc < 0 && errno == EINTR);
  if (rc < 0) return ret_int(env, -errno);
  return ret_int(env, (p.revents & POLLHUP) ? 1 : 0);
}

static napi_value js_lseek(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  int32_t fd, whence;
  int64_t offset;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int64(env, argv[1], &offset));
  CHECK(napi_get_value_int32(env, argv[2], &whence));
  off_t r = lseek(fd, (off_t)offset, whence);
  CHECK(napi_create_double(env, r < 0 ? -(double)errno : (double)r, &out));
  return out;
}

static napi_value js_rnd_reseed(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  void *data = NULL;
  size_t len = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  if (len > 512) len = 512;
  struct rand_pool_info *pool = calloc(1, sizeof *pool + len);
  if (!pool) return ret_int(env, -ENOMEM);
  pool->entropy_count = (int)(len * 8);
  pool->buf_size = (int)len;
  memcpy(pool->buf, data, len);
  int rc = len > 0 ? ioctl(fd, RNDADDENTROPY, pool) : 0;
  int err = rc != 0 ? errno : 0;
  /* NOTE: the entropy is single-use: wipe our copy before freeing it. */
  memset(pool, 0, sizeof *pool + len);
  free(pool);
  if (err) return ret_int(env, -err);
  if (ioctl(fd, RNDRESEEDCRNG) != 0) return ret_int(env, -errno);
  return ret_int(env, 0);
}

/* A JS array of strings as a NULL-terminated char* array (malloc'd); NULL on failure. */
static char **string_array(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = calloc((size_t)n + 1, sizeof(char *));
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) goto fail;
    out[i] = malloc(len + 1);
    if (!out[i] || napi_get_value_string_utf8(env, item, out[i], len + 1, &len) != napi_ok) goto fail;
  }
  return out;
fail:
  for (uint32_t i = 0; i < n; i++) free(out[i]);
  free(out);
  return NULL;
}

static void free_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

static napi_value js_execve(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char path[4096];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (get_string(env, argv[0], path, sizeof path) != 0) return ret_int(env, ENAMETOOLONG);
  char **args = string_array(env, argv[1]);
  char **envp = string_array(env, argv[2]);
  if (!args || !envp) {
    free_array(args);
    free_array(envp);
    return ret_int(env, ENOMEM);
  }
  /* The new program starts with what a fresh process has: stdio open across the exec (libuv
   * marks the fds it wraps close-on-exec, a TTY even reopened onto them), blocking (Node makes
   * pipes non-blocking, and the file description is shared with the new image), and no blocked
   * signals. Signals Node caught revert to their defaults across exec by themselves. */
  for (int fd = 0; fd <= 2; fd++) {
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl >= 0 && (fdfl & FD_CLOEXEC)) (void)fcntl(fd, F_SETFD, fdfl & ~FD_CLOEXEC);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  sigset_t none;
  sigemptyset(&none);
  (void)pthread_sigmask(SIG_SETMASK, &none, NULL);
  execve(path, args, envp);
  int err = errno;
  free_array(args);
  free_array(envp);
  return ret_int(env, err);
}

static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  uint32_t rows, cols;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[1], &rows));
  CHECK(napi_get_value_uint32(env, argv[2], &cols));
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)rows;
  ws.ws_col = (unsigned short)cols;
  return ret_int(env, ioctl(fd, TIOCSWINSZ, &ws) == 0 ? 0 : errno);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"vsockListen", NULL, js_vsock_listen, NULL, NULL, NULL, napi_default, NULL},
    {"vsockConnect", NULL, js_vsock_connect, NULL, NULL, NULL, napi_default, NULL},
    {"vsockPeerCid", NULL, js_vsock_peer_cid, NULL, NULL, NULL, napi_default, NULL},
    {"dupFd", NULL, js_dup_fd, NULL, NULL, NULL, napi_default, NULL},
    {"setAsync", NULL, js_set_async, NULL, NULL, NULL, napi_default, NULL},
    {"peerHungUp", NULL, js_peer_hung_up, NULL, NULL, NULL, napi_default, NULL},
    {"lseek", NULL, js_lseek, NULL, NULL, NULL, napi_default, NULL},
    {"rndReseed", NULL, js_rnd_reseed, NULL, NULL, NULL, napi_default, NULL},
    {"execve", NULL, js_execve, NULL, NULL, NULL, napi_default, NULL},
    {"setWinsize", NULL, js_set_winsize, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
