/*
 * cocoon_native: the few syscalls Node.js does not expose and cocoon needs.
 *   flock(fd, exclusive, nonblock)  kernel advisory lock that dies with its holder
 *   mknod(path, mode, major, minor) overlayfs whiteouts (char 0:0) when unpacking layers
 *   lsetxattr(path, name, value)    overlayfs opaque directories (trusted.overlay.opaque)
 * Each returns 0 on success or a positive errno; callers turn errnos into typed errors.
 */
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
