// SAM text of BAM records by htslib's own sam_format1 (Debian libhts-dev): the ETag of a BAM is the hash of
// what `samtools view` prints, and this is the function that prints it. src/formats/render-worker.ts uses it
// when built and falls back to the JS renderer (src/formats/sam-text.ts) otherwise, and for the records this
// binding hands back (a CG-tag CIGAR, a read name without its NUL, anything sam_format1 refuses), so errors
// and the rare cases keep one implementation.
// Also scanSam: samtools' SAM output (CRAM ingest) hashed with OpenSSL and counted on a libuv thread.
#include "napi_helpers.h"
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <htslib/sam.h>
#include <htslib/kstring.h>
#include <openssl/evp.h>

static void free_header(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  sam_hdr_destroy((sam_hdr_t *)data);
}

// header(names: string[], lengths: number[]): an opaque handle for format().
static napi_value make_header(napi_env env, napi_callback_info info) {
  napi_value args[2];
  uint32_t n = 0;
  if (get_args(env, info, 2, args) < 0 || napi_get_array_length(env, args[0], &n) != napi_ok) return throw_error(env, "header(names, lengths)");
  sam_hdr_t *h = sam_hdr_init();
  if (!h) return throw_error(env, "out of memory");
  h->n_targets = (int32_t)n;
  h->target_name = calloc(n ? n : 1, sizeof(char *));
  h->target_len = calloc(n ? n : 1, sizeof(uint32_t));
  if (!h->target_name || !h->target_len) { sam_hdr_destroy(h); return throw_error(env, "out of memory"); }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, args[0], i, &v);
    napi_get_value_string_latin1(env, v, NULL, 0, &len);
    h->target_name[i] = malloc(len + 1);
    if (!h->target_name[i]) { sam_hdr_destroy(h); return throw_error(env, "out of memory"); }
    napi_get_value_string_latin1(env, v, h->target_name[i], len + 1, &len);
    uint32_t l = 0;
    napi_get_element(env, args[1], i, &v);
    napi_get_value_uint32(env, v, &l);
    h->target_len[i] = l;
  }
  napi_value ext;
  napi_create_external(env, h, free_header, NULL, &ext);
  return ext;
}

static inline int32_t i32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline uint32_t u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

// The record at x (after its block_size) into b, as bam_read1 fills it. 0, or 1 for a record to hand back.
static int fill(bam1_t *b, const uint8_t *x, uint32_t block_len, int32_t n_targets) {
  bam1_core_t *c = &b->core;
  if (block_len < 32) return 1;
  c->tid = i32(x);
  c->pos = i32(x + 4);
  uint32_t x2 = u32(x + 8);
  c->bin = x2 >> 16;
  c->qual = (x2 >> 8) & 0xff;
  uint32_t l_qname = x2 & 0xff;
  uint32_t x3 = u32(x + 12);
  c->flag = x3 >> 16;
  c->n_cigar = x3 & 0xffff;
  c->l_qseq = i32(x + 16);
  c->mtid = i32(x + 20);
  c->mpos = i32(x + 24);
  c->isize = i32(x + 28);
  // What bam_read1 refuses, refused here too rather than trusted to the JS checks: the record is handed back
  // and the JS path reports it as malformed.
  if (c->l_qseq < 0) return 1;
  if (c->tid < -1 || c->tid >= n_targets || c->mtid < -1 || c->mtid >= n_targets) return 1;
  if (l_qname == 0 || 32 + l_qname > block_len || x[32 + l_qname - 1] != 0) return 1;
  const uint8_t *rest = x + 32 + l_qname;
  uint32_t rest_len = block_len - 32 - l_qname;
  // A CIGAR kept in the CG tag (`<lSeq>S<n>N` placeholder): bam_read1 moves it back; the JS renderer does that.
  if (c->n_cigar == 2 && rest_len >= 8) {
    uint32_t op0 = u32(rest), op1 = u32(rest + 4);
    if ((op0 & 15) == BAM_CSOFT_CLIP && (int64_t)(op0 >> 4) == c->l_qseq && (op1 & 15) == BAM_CREF_SKIP) return 1;
  }
  c->l_extranul = (l_qname % 4 != 0) ? (4 - l_qname % 4) : 0;
  if (l_qname + c->l_extranul > 255) return 1;
  size_t l_data = (size_t)block_len - 32 + c->l_extranul;
  if (l_data > b->m_data) {
    size_t m = l_data + (l_data >> 1) + 64;
    uint8_t *d = realloc(b->data, m);
    if (!d) return 1;
    b->data = d;
    b->m_data = m;
  }
  memcpy(b->data, x + 32, l_qname);
  memset(b->data + l_qname, 0, c->l_extranul);
  c->l_qname = l_qname + c->l_extranul;
  memcpy(b->data + c->l_qname, rest, rest_len);
  b->l_data = (int)l_data;
  if ((uint64_t)c->n_cigar * 4 + ((uint64_t)c->l_qseq + 1) / 2 + (uint64_t)c->l_qseq > rest_len) return 1;
  return 0;
}

// Scratch space of one JS environment (the main thread or a worker), freed with it.
typedef struct {
  bam1_t *record;
  kstring_t line;
} scratch_t;

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  scratch_t *s = data;
  if (s->record) bam_destroy1(s->record);
  free(s->line.s);
  free(s);
}

// format(header, records, start, end, out, outStart, state: Float64Array(3)):
// renders whole records of records[start, end) (each with its block_size) as SAM lines into out from outStart,
// stopping before a record whose line does not fit or that htslib's path does not take; state = [next record
// offset, out position, records rendered]. Returns 0 when it stopped for room (or at end), 1 when the record at state[0] is handed back.
static napi_value format(napi_env env, napi_callback_info info) {
  napi_value args[7];
  if (get_args(env, info, 7, args) < 0) return throw_error(env, "format(header, records, start, end, out, outStart, state)");
  sam_hdr_t *h;
  if (napi_get_value_external(env, args[0], (void **)&h) != napi_ok) return throw_error(env, "bad header handle");
  uint8_t *in, *out;
  double *state;
  size_t in_len, out_len, st_len, off;
  napi_typedarray_type t;
  napi_value ab;
  if (get_bytes(env, args[1], &in, &in_len) < 0) return throw_error(env, "records must be a Uint8Array");
  if (get_bytes(env, args[4], &out, &out_len) < 0) return throw_error(env, "out must be a Uint8Array");
  if (napi_get_typedarray_info(env, args[6], &t, &st_len, (void **)&state, &ab, &off) != napi_ok || t != napi_float64_array || st_len < 3) {
    return throw_error(env, "state must be a Float64Array(3)");
  }
  int64_t p, end, q;
  napi_get_value_int64(env, args[2], &p);
  napi_get_value_int64(env, args[3], &end);
  napi_get_value_int64(env, args[5], &q);
  if (p < 0 || end > (int64_t)in_len || q < 0 || q > (int64_t)out_len) return throw_error(env, "offsets out of range");
  scratch_t *scratch = NULL;
  napi_get_instance_data(env, (void **)&scratch);
  if (!scratch) return throw_error(env, "addon not initialised");
  bam1_t *record = scratch->record;
  int handBack = 0;
  double rendered = 0;
  while (p + 4 <= end) {
    uint32_t block_len = u32(in + p);
    if ((int64_t)block_len > end - p - 4) { handBack = 1; break; }
    if (fill(record, in + p + 4, block_len, h->n_targets) != 0) { handBack = 1; break; }
    if (sam_format1(h, record, &scratch->line) < 0) { handBack = 1; break; }
    kstring_t *line = &scratch->line;
    if ((int64_t)line->l + 1 > (int64_t)out_len - q) break;
    memcpy(out + q, line->s, line->l);
    q += line->l;
    out[q++] = '\n';
    p += 4 + block_len;
    rendered++;
  }
  state[0] = (double)p;
  state[1] = (double)q;
  state[2] = rendered;
  napi_value r;
  napi_create_int32(env, handBack, &r);
  return r;
}

// ---- scanSam(path, algorithm): reads SAM text (samtools view -h output) from a file or FIFO on a libuv thread:
// header lines (leading '@' lines, kept), then records, hashed with `algorithm` (md5, sha256, sha512) and counted
// as the JS SamLineScanner in src/formats/cram.ts counts them (primary records and their SEQ lengths; mapped).
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  char algorithm[16];
  char digest[EVP_MAX_MD_SIZE * 2 + 1];
  double reads, bases, mapped;
  char *header;
  size_t header_len, header_cap;
  char error[256];
} scan_t;

static int append_header(scan_t *s, const char *p, size_t n) {
  if (s->header_len + n > s->header_cap) {
    size_t cap = (s->header_len + n) * 2 + 4096;
    char *h = realloc(s->header, cap);
    if (!h) return -1;
    s->header = h;
    s->header_cap = cap;
  }
  memcpy(s->header + s->header_len, p, n);
  s->header_len += n;
  return 0;
}

// One record line [p, end) (no newline). 0, or -1 when it has fewer than 11 fields.
static int count_record(scan_t *s, const char *p, const char *end) {
  const char *t1 = memchr(p, '\t', end - p);
  if (!t1) return -1;
  unsigned flag = 0;
  const char *q = t1 + 1;
  while (q < end && *q >= '0' && *q <= '9') flag = flag * 10 + (unsigned)(*q++ - '0');
  // q is at the tab after FLAG; SEQ starts after 7 more tabs.
  for (int k = 0; k < 7; k++) {
    q = (q < end) ? memchr(q + 1, '\t', end - q - 1) : NULL;
    if (!q) return -1;
  }
  const char *seq = q + 1;
  const char *seq_end = seq < end ? memchr(seq, '\t', end - seq) : NULL;
  if (!seq_end) seq_end = end;
  if (!(flag & 4)) s->mapped++;
  if (!(flag & 0x900)) {
    s->reads++;
    size_t len = seq_end - seq;
    if (!(len == 1 && *seq == '*')) s->bases += (double)len;
  }
  return 0;
}

static void scan_execute(napi_env env, void *data) {
  (void)env;
  scan_t *s = data;
  const EVP_MD *md = EVP_get_digestbyname(s->algorithm);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t cap = 4 << 20, have = 0;
  char *buf = malloc(cap);
  int fd = -1, in_header = 1;
  if (!md || !ctx || !buf || !EVP_DigestInit_ex(ctx, md, NULL)) {
    snprintf(s->error, sizeof s->error, "cannot hash with %s", s->algorithm);
    goto done;
  }
  fd = open(s->path, O_RDONLY);
  if (fd < 0) {
    snprintf(s->error, sizeof s->error, "cannot open %s: %s", s->path, strerror(errno));
    goto done;
  }
  for (;;) {
    if (have == cap) {  // a line longer than the buffer
      char *b = realloc(buf, cap * 2);
      if (!b) { snprintf(s->error, sizeof s->error, "out of memory"); goto done; }
      buf = b;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + have, cap - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      snprintf(s->error, sizeof s->error, "reading samtools output: %s", strerror(errno));
      goto done;
    }
    if (n == 0) break;
    have += (size_t)n;
    char *start = buf, *end = buf + have;
    while (in_header && start < end && *start == '@') {
      char *nl = memchr(start, '\n', end - start);
      if (!nl) break;
      if (append_header(s, start, nl + 1 - start) < 0) { snprintf(s->error, sizeof s->error, "out of memory"); goto done; }
      start = nl + 1;
    }
    if (in_header && start < end && *start != '@') in_header = 0;
    char *last = NULL;
    if (!in_header) {
      for (char *p = end; p > start; p--) if (p[-1] == '\n') { last = p - 1; break; }
      if (last) {
        EVP_DigestUpdate(ctx, start, last + 1 - start);
        for (char *p = start; p <= last;) {
          char *nl = memchr(p, '\n', last + 1 - p);
          if (count_record(s, p, nl) < 0) {
            snprintf(s->error, sizeof s->error, "samtools printed a record with fewer than 11 fields");
            goto done;
          }
          p = nl + 1;
        }
        start = last + 1;
      }
    }
    have = end - start;
    memmove(buf, start, have);
  }
  if (have > 0) {
    snprintf(s->error, sizeof s->error, in_header ? "samtools output ended inside the header" : "samtools output ended inside a record");
    goto done;
  }
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, raw, &len);
  for (unsigned int i = 0; i < len; i++) sprintf(s->digest + 2 * i, "%02x", raw[i]);
done:
  if (fd >= 0) {
    // Drain what a failed scan left, so samtools is never blocked on a full FIFO.
    if (s->error[0]) while (read(fd, buf ? buf : s->digest, buf ? cap : 1) > 0) {}
    close(fd);
  }
  free(buf);
  if (ctx) EVP_MD_CTX_free(ctx);
}

static void scan_complete(napi_env env, napi_status status, void *data) {
  scan_t *s = data;
  napi_value result;
  if (status != napi_ok || s->error[0]) {
    reject_with(env, s->deferred, s->error[0] ? s->error : "scan cancelled");
  } else {
    napi_value v;
    napi_create_object(env, &result);
    napi_create_string_latin1(env, s->digest, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "digest", v);
    napi_create_double(env, s->reads, &v);
    napi_set_named_property(env, result, "readCount", v);
    napi_create_double(env, s->bases, &v);
    napi_set_named_property(env, result, "baseCount", v);
    napi_create_double(env, s->mapped, &v);
    napi_set_named_property(env, result, "mappedCount", v);
    napi_create_string_latin1(env, s->header ? s->header : "", s->header_len, &v);
    napi_set_named_property(env, result, "headerText", v);
    napi_resolve_deferred(env, s->deferred, result);
  }
  napi_delete_async_work(env, s->work);
  free(s->path);
  free(s->header);
  free(s);
}

static napi_value scan_sam(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (get_args(env, info, 2, args) < 0) return throw_error(env, "scanSam(path, algorithm)");
  scan_t *s = calloc(1, sizeof(scan_t));
  if (!s) return throw_error(env, "out of memory");
  size_t len = 0;
  napi_get_value_string_utf8(env, args[0], NULL, 0, &len);
  s->path = malloc(len + 1);
  if (!s->path) { free(s); return throw_error(env, "out of memory"); }
  napi_get_value_string_utf8(env, args[0], s->path, len + 1, &len);
  napi_get_value_string_utf8(env, args[1], s->algorithm, sizeof s->algorithm, &len);
  return queue_promise_work(env, "openomics.scanSam", scan_execute, scan_complete, s, &s->work, &s->deferred);
}

static napi_value init(napi_env env, napi_value exports) {
  scratch_t *scratch = calloc(1, sizeof(scratch_t));
  if (!scratch || !(scratch->record = bam_init1())) {
    free(scratch);
    return throw_error(env, "out of memory");
  }
  napi_set_instance_data(env, scratch, free_scratch, NULL);
  export_function(env, exports, "header", make_header);
  export_function(env, exports, "format", format);
  export_function(env, exports, "scanSam", scan_sam);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
