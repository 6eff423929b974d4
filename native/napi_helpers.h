// N-API helpers shared by the addons in native/ (each is its own compilation unit; these are static inline).
#ifndef OPENOMICS_NAPI_HELPERS_H
#define OPENOMICS_NAPI_HELPERS_H
#define NAPI_VERSION 6
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

static inline napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

// The call's arguments into args[0..n); 0, or -1 when it was not given exactly n.
static inline int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *args) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return -1;
  return argc == n ? 0 : -1;
}

// The bytes of a Uint8Array (a Buffer is one): 0, or -1 for anything else. Other typed arrays are refused, not
// reinterpreted: their length counts elements, not bytes, and reading `len` bytes of a Float64Array would be wrong.
static inline int get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *len) {
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return -1;
  if (napi_get_typedarray_info(env, value, &t, len, (void **)data, &ab, &off) != napi_ok) return -1;
  return t == napi_uint8_array ? 0 : -1;
}

// exports[name] = fn
static inline void export_function(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}

// Queues `execute` (on a libuv thread-pool thread) then `complete` (on the JS thread) for `data`; returns the
// promise `complete` settles through *deferred. `data` owns *work and deletes it in `complete`.
static inline napi_value queue_promise_work(napi_env env, const char *name, napi_async_execute_callback execute,
                                            napi_async_complete_callback complete, void *data, napi_async_work *work,
                                            napi_deferred *deferred) {
  napi_value promise, resource_name;
  napi_create_promise(env, deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, execute, complete, data, work);
  napi_queue_async_work(env, *work);
  return promise;
}

// Rejects *deferred with an Error carrying `msg`.
static inline void reject_with(napi_env env, napi_deferred deferred, const char *msg) {
  napi_value text, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_reject_deferred(env, deferred, error);
}

#endif
