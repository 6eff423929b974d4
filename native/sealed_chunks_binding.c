// Opens runs of sealed chunks (the encrypted-blob format of src/blob/sealed-chunks.ts: AES-256-GCM per chunk,
// nonce = 8-byte prefix | chunk index (u32 BE), AAD = index (u64 BE) | final flag, tag after each chunk) with
// OpenSSL's EVP interface (Debian libssl-dev), in place: each chunk is decrypted over its own ciphertext and its
// plaintext moved down to the front, so a run's memory holds its plaintext afterwards and nothing is allocated.
// open() runs on the calling thread (small reads); openAsync() on a libuv thread-pool thread, so a large read
// decrypts beside the main thread with no worker messages or transfers. src/blob/sealed-chunks.ts falls back to
// node:crypto when this addon is not built; tests compare the two.
#include "napi_helpers.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#define TAG 16

typedef struct {
  uint8_t key[32];
  uint8_t prefix[8];
  uint32_t chunk_size;
  uint32_t first_index;
  uint32_t last_index_of_blob;
  uint8_t *sealed;
  size_t length;
  size_t plain_length;
  char error[96];
} run_t;

// Decrypts the run in place. 0, or -1 with run->error set.
static int open_run(run_t *r) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  // The key schedule once per run; each chunk sets only its nonce.
  if (!ctx || !EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, r->key, NULL)) {
    snprintf(r->error, sizeof r->error, "cannot set up AES-256-GCM");
    EVP_CIPHER_CTX_free(ctx);
    return -1;
  }
  size_t sealed_size = (size_t)r->chunk_size + TAG, written = 0;
  int rc = 0;
  for (size_t off = 0, i = 0; off < r->length; off += sealed_size, i++) {
    uint32_t index = r->first_index + (uint32_t)i;
    size_t piece = r->length - off < sealed_size ? r->length - off : sealed_size;
    if (piece < TAG) {
      snprintf(r->error, sizeof r->error, "chunk %u is truncated", index);
      rc = -1;
      break;
    }
    if (piece - TAG > INT_MAX) {
      snprintf(r->error, sizeof r->error, "chunk %u is too large", index);
      rc = -1;
      break;
    }
    uint8_t nonce[12], aad[9] = {0};
    memcpy(nonce, r->prefix, 8);
    nonce[8] = index >> 24; nonce[9] = index >> 16; nonce[10] = index >> 8; nonce[11] = index;
    aad[4] = index >> 24; aad[5] = index >> 16; aad[6] = index >> 8; aad[7] = index;
    aad[8] = index == r->last_index_of_blob;
    uint8_t *c = r->sealed + off;
    int body = (int)(piece - TAG), n = 0, fin = 0;
    // out == in: the one overlap EVP allows; the plaintext is moved to its place after.
    if (!EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) || !EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof aad) ||
        !EVP_DecryptUpdate(ctx, c, &n, c, body) || !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, c + body) ||
        EVP_DecryptFinal_ex(ctx, c + n, &fin) <= 0) {
      snprintf(r->error, sizeof r->error, "chunk %u failed authentication", index);
      rc = -1;
      break;
    }
    if (r->sealed + written != c) memmove(r->sealed + written, c, (size_t)body);
    written += (size_t)body;
  }
  EVP_CIPHER_CTX_free(ctx);
  r->plain_length = written;
  return rc;
}

// Reads (key, prefix, chunkSize, firstIndex, lastIndexOfBlob, sealed) into r; the sealed bytes are not copied.
static int read_args(napi_env env, napi_callback_info info, run_t *r, napi_value *sealed) {
  napi_value args[6];
  if (get_args(env, info, 6, args) < 0) return -1;
  void *p;
  size_t len;
  if (napi_get_buffer_info(env, args[0], &p, &len) != napi_ok || len != 32) return -1;
  memcpy(r->key, p, 32);
  if (napi_get_buffer_info(env, args[1], &p, &len) != napi_ok || len != 8) return -1;
  memcpy(r->prefix, p, 8);
  if (napi_get_value_uint32(env, args[2], &r->chunk_size) != napi_ok || r->chunk_size == 0) return -1;
  if (napi_get_value_uint32(env, args[3], &r->first_index) != napi_ok) return -1;
  if (napi_get_value_uint32(env, args[4], &r->last_index_of_blob) != napi_ok) return -1;
  if (napi_get_buffer_info(env, args[5], &p, &len) != napi_ok) return -1;
  r->sealed = p;
  r->length = len;
  *sealed = args[5];
  return 0;
}

#define USAGE "(key: Buffer(32), prefix: Buffer(8), chunkSize, firstIndex, lastIndexOfBlob, sealed: Buffer)"

// open(...): the plaintext length; the plaintext is at the front of `sealed`. Throws on a bad chunk.
static napi_value open_sync(napi_env env, napi_callback_info info) {
  run_t r = {0};
  napi_value sealed;
  if (read_args(env, info, &r, &sealed) < 0) return throw_error(env, "open" USAGE);
  int rc = open_run(&r);
  OPENSSL_cleanse(r.key, sizeof r.key);
  if (rc < 0) return throw_error(env, r.error);
  napi_value n;
  napi_create_double(env, (double)r.plain_length, &n);
  return n;
}

typedef struct {
  run_t run;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref sealed; // keeps the buffer alive while a pool thread writes into it
} job_t;

static void job_execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  open_run(&j->run);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value v;
  if (status != napi_ok || j->run.error[0]) {
    reject_with(env, j->deferred, j->run.error[0] ? j->run.error : "decryption cancelled");
  } else {
    napi_create_double(env, (double)j->run.plain_length, &v);
    napi_resolve_deferred(env, j->deferred, v);
  }
  napi_delete_reference(env, j->sealed);
  napi_delete_async_work(env, j->work);
  OPENSSL_cleanse(j->run.key, sizeof j->run.key);
  free(j);
}

// openAsync(...): as open(), on a thread-pool thread; a promise of the plaintext length. The caller must not
// touch `sealed` until it settles.
static napi_value open_async(napi_env env, napi_callback_info info) {
  job_t *j = calloc(1, sizeof(job_t));
  if (!j) return throw_error(env, "out of memory");
  napi_value sealed;
  if (read_args(env, info, &j->run, &sealed) < 0) {
    free(j);
    return throw_error(env, "openAsync" USAGE);
  }
  napi_create_reference(env, sealed, 1, &j->sealed);
  return queue_promise_work(env, "openomics.openSealedChunks", job_execute, job_complete, j, &j->work, &j->deferred);
}

static napi_value init(napi_env env, napi_value exports) {
  export_function(env, exports, "open", open_sync);
  export_function(env, exports, "openAsync", open_async);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
