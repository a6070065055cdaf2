/*
 * Test oracles for JSON text, independent of agent/jsonw.c: a strict RFC 8259 validator (json-c
 * 0.16 accepts NaN, Infinity, raw control characters, "1." and surrogates even with
 * JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, so it cannot judge validity alone), a model
 * of the U+FFFD replacement of invalid UTF-8, reference string and number texts, and a
 * deterministic random string generator. Shared by check_jsonw.c and check_enc_json.c.
 */
#ifndef POLLSTER_TESTS_JSONREF_H
#define POLLSTER_TESTS_JSONREF_H

#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/*
 * Check sends a location record through a pipe for every passing ck_assert_*(), a write(2)
 * each: the fuzz and random loops check millions of times, so they fail through this instead.
 */
#define T_REQUIRE(expr, ...)                                                                       \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

/* True when @s (@n bytes) is valid UTF-8: shortest form, no surrogates, at most U+10FFFF. */
bool jsonref_utf8_valid(const unsigned char *s, size_t n);

/*
 * The expected decoded text of jsonw_string(@s): valid sequences kept, each maximal subpart of
 * an invalid sequence replaced by U+FFFD. @out needs 3 * @n bytes; returns the length.
 */
size_t jsonref_utf8_sanitize(const unsigned char *s, size_t n, char *out);

/* True when @s (@n bytes) is exactly one valid JSON text (RFC 8259, strict UTF-8). */
bool jsonref_valid(const char *s, size_t n);
/*
 * jsonref_valid(), and no object has a key twice (compared as written: one writer escapes equal
 * keys alike). What the vm, otlp and telegraf encoders promise.
 */
bool jsonref_valid_unique(const char *s, size_t n);

/* Parses the NUL-terminated @s with json-c, failing the test when it rejects it. Caller puts. */
struct json_object *jsonref_parse(const char *s, size_t n);

/* The reference text of the finite double @v: integers, then %.15g/%.16g/%.17g. */
void jsonref_double(char *buf, size_t size, double v);

/* A small deterministic PRNG (xorshift64*), so a failure reproduces. */
uint64_t jsonref_rng(void);

/* Fills @buf with up to @max random bytes: valid UTF-8 when @valid, else biased garbage. */
size_t jsonref_random_string(unsigned char *buf, size_t max, bool valid);

/* Appends the JSON text jsonw_string(@s, @n) must write, built independently. */
void jsonref_string(struct strbuf *out, const void *s, size_t n);

#endif
