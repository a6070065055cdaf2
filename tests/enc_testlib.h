/*
 * Shared by the encoder tests (check_encoders.c: vm, telegraf and the encoder table;
 * check_enc_otlp.c: otlp): json-c helpers that fail the test on every mismatch, a model of the
 * U+FFFD replacement of invalid UTF-8, batch builders, the identity label model (the override
 * rule, independent of the encoders), encoding and framing as outputs do it, and the reader of
 * otlp documents the random test also uses. Strict validity is judged by jsonref_valid_unique().
 */
#ifndef POLLSTER_TESTS_ENC_TESTLIB_H
#define POLLSTER_TESTS_ENC_TESTLIB_H

#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "sample.h"
#include "strbuf.h"

/*
 * Check writes a record to a pipe for every passing ck_assert_*(); the encoder tests' loops check
 * thousands of values, so they fail through this instead.
 */
#define ET_REQUIRE(expr, ...)                                                                      \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

#define ET_N(a) (sizeof(a) / sizeof((a)[0]))
#define ET_TS 1764220800123 /* the batches' start, ms */
#define ET_MAX_KV 64

struct et_kv {
    const char *k;
    const char *v;
};

#define ET_ADD(b, name, type, value, ...)                                                          \
    et_add((b), (name), (type), (value), ET_N(((const char *const[]){__VA_ARGS__})) / 2,           \
           (const char *const[]){__VA_ARGS__})
#define ET_ADD0(b, name, type, value) et_add((b), (name), (type), (value), 0, NULL)

/* UTF-8 model: writes @s as JSON text decodes back from the encoders (U+FFFD for invalid UTF-8). */
void et_utf8_fix(const char *s, char *out, size_t outsz);

/*
 * json-c helpers, asserting: parse exactly @n bytes of strict JSON (the caller puts the result); a
 * member, keys in order, an element, a length; strings, numbers bit for bit (non-finite values as
 * @spell[0] NaN, [1] +inf, [2] -inf), integers, 64-bit integers as decimal strings.
 */
json_object *et_parse(const char *s, size_t n);
json_object *et_get(json_object *o, const char *key);
void et_keys(json_object *o, const char *const *keys, size_t n);
json_object *et_idx(json_object *a, size_t i);
size_t et_len(json_object *a);
void et_str_is(json_object *o, const char *want);
bool et_same_double(double a, double b);
void et_value_is(json_object *o, double want, const char *const spell[3]);
void et_int_is(json_object *o, int64_t want);
void et_u64str_is(json_object *o, uint64_t want);

/*
 * Batches: the base batch (job, instance, two target labels, at ET_TS); et_add() (labels as name,
 * value pairs; see ET_ADD); a sample's own timestamp; the mixed batch most tests use, one with
 * labels needing escaping everywhere, and a failed scrape's synthetic samples.
 */
void et_batch(struct batch *b);
struct sample *et_add(struct batch *b, const char *name, enum sample_type type, double value,
                      size_t n, const char *const *kv);
struct sample *et_with_ts(struct sample *s, int64_t ts);
int64_t et_ts(const struct batch *b, const struct sample *s);
void et_mixed_batch(struct batch *b);
void et_odd_batch(struct batch *b);
void et_failed_batch(struct batch *b);

/*
 * The identity label model: what vm's "metric" (@vm) or telegraf's "tags" of @s must hold;
 * asserting an object or an otlp attributes array holds exactly @kv; a sample's labels but @skip.
 */
size_t et_identity(const struct batch *b, const struct sample *s, bool vm, struct et_kv *kv);
void et_object_is(json_object *o, const struct et_kv *kv, size_t n);
void et_attrs_is(json_object *a, const struct et_kv *kv, size_t n);
size_t et_sample_kv(const struct sample *s, const char *skip, struct et_kv *kv);

/*
 * Encoding and framing: encode into a new strbuf (asserted); frame @n records as outputs do; parse
 * a one-line document.
 */
void et_encode(const struct encoder *enc, const struct batch *b, struct strbuf *rec);
void et_document(const struct encoder *enc, const struct strbuf *recs, size_t n,
                 struct strbuf *doc);
json_object *et_parse_doc(const struct strbuf *doc);

/*
 * otlp documents: check a resourceMetrics element's resource and scope (returns its metrics);
 * encode @b into a one-record document (*@metrics: NULL for an empty batch); how many samples the
 * metrics stand for.
 */
json_object *et_otlp_resource(json_object *rm, const struct batch *b);
json_object *et_otlp_doc(const struct batch *b, json_object **metrics);
size_t et_otlp_count(json_object *metrics);

/* Checked-fixture teardown: frees the arena's block cache so valgrind sees no leak. */
void et_cache_teardown(void);

#endif
