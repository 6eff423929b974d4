// A minimal N-API binding to libdeflate (Debian libdeflate-dev), the inflater samtools itself uses:
// whole-buffer raw-DEFLATE decompression and CRC32 for BGZF blocks. src/formats/inflate-pool.ts falls
// back to node:zlib when this addon is not built.
#include "napi_helpers.h"
#include <stdlib.h>
#include <libdeflate.h>

// inflateRaw(input: Uint8Array, output: Uint8Array): number of bytes written; throws on bad data.
static napi_value inflate_raw(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) < 0) return throw_error(env, "inflateRaw(input, output)");
  uint8_t *in, *out;
  size_t in_len, out_len;
  if (get_bytes(env, args[0], &in, &in_len) < 0) return throw_error(env, "input must be a Uint8Array");
  if (get_bytes(env, args[1], &out, &out_len) < 0) return throw_error(env, "output must be a Uint8Array");
  struct libdeflate_decompressor *d = NULL;
  napi_get_instance_data(env, (void **)&d);
  if (!d) return throw_error(env, "addon not initialised");
  size_t actual = 0;
  enum libdeflate_result r = libdeflate_deflate_decompress(d, in, in_len, out, out_len, &actual);
  if (r == LIBDEFLATE_BAD_DATA) return throw_error(env, "invalid DEFLATE data");
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE) return throw_error(env, "DEFLATE data inflates to more bytes than the block header says");
  if (r != LIBDEFLATE_SUCCESS) return throw_error(env, "DEFLATE data does not inflate");
  napi_value n;
  napi_create_uint32(env, (uint32_t)actual, &n);
  return n;
}

// crc32(data: Uint8Array): number
static napi_value crc32(napi_env env, napi_callback_info info) {
  napi_value args[1];
  uint8_t *data;
  size_t len;
  if (get_args(env, info, 1, args) < 0 || get_bytes(env, args[0], &data, &len) < 0) return throw_error(env, "crc32(data: Uint8Array)");
  napi_value n;
  napi_create_uint32(env, libdeflate_crc32(0, data, len), &n);
  return n;
}

static void free_decompressor(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  libdeflate_free_decompressor(data);
}

static napi_value init(napi_env env, napi_value exports) {
  // One decompressor per JS environment (the main thread or a worker), freed with it.
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!d) return throw_error(env, "out of memory");
  napi_set_instance_data(env, d, free_decompressor, NULL);
  export_function(env, exports, "inflateRaw", inflate_raw);
  export_function(env, exports, "crc32", crc32);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
