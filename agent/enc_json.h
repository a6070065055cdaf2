/*
 * The native JSON encoder: a batch becomes one line of JSON (DESIGN.md, "Output JSON"), written
 * as text straight into a struct strbuf, without building a json-c object tree (which costs
 * about three times the whole per-sample budget). The string and number writers are public so
 * the other text encoders (vm, otlp, telegraf) produce exactly the same escaping and numbers.
 *
 * Every writer appends to @sb and is a no-op once @sb is oom; none of them fails otherwise.
 */
#ifndef POLLSTER_ENC_JSON_H
#define POLLSTER_ENC_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "encoder.h"
#include "sample.h"
#include "strbuf.h"

/* The "json" row of the encoder table: .encode = enc_json_batch. */
extern const struct encoder enc_json;

/*
 * Appends @n bytes of @s (NULs allowed; @s may be NULL when @n is 0) as a quoted JSON string.
 * Escapes '"', '\\' and control characters (\b \f \n \r \t, others as \u00XX); copies valid
 * UTF-8 unchanged; replaces each maximal invalid UTF-8 subsequence (the Unicode "substitution of
 * maximal subparts" practice, as in WHATWG and Python) with U+FFFD, so the output is always valid
 * JSON in valid UTF-8.
 */
void enc_json_string(struct strbuf *sb, const char *s, size_t n);

/* Shared by the text encoders: a NULL string is written and compared as "". */
static inline const char *
enc_json_str_or_empty(const char *s)
{
    return s == NULL ? "" : s;
}

/* Appends the C string @s (NULL: "") as a quoted JSON string. */
static inline void
enc_json_cstr(struct strbuf *sb, const char *s)
{
    s = enc_json_str_or_empty(s);
    enc_json_string(sb, s, strlen(s));
}

#define ENC_JSON_I64_MAX 20 /* "-9223372036854775808" */

/* Writes @v in decimal into @buf (ENC_JSON_I64_MAX bytes, no NUL); returns the length. */
static inline size_t
enc_json_fmt_i64(char *buf, int64_t v)
{
    char tmp[ENC_JSON_I64_MAX];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(buf, p, n);
    return n;
}

/*
 * Appends @v as a JSON value that strtod() reads back bit for bit (except -0, written 0).
 * NaN, +Inf and -Inf become the strings "NaN", "+Inf" and "-Inf" (Prometheus HTTP API).
 * Integers below 2^53 in magnitude are written as integers; other values as the first of
 * %.15g, %.16g, %.17g that round-trips. Assumes the C locale for LC_NUMERIC (pollster never
 * calls setlocale for it): a decimal comma would break the printf and strtod paths.
 */
void enc_json_double(struct strbuf *sb, double v);

/*
 * Appends one sample object:
 * {"name":..,"labels":{..},"value":..,"type":".."} with ,"ts_ms":N before the brace when
 * s->has_ts. Labels are written in array order; a NULL name or string is written as "".
 */
void enc_json_sample(struct strbuf *sb, const struct sample *s);

/*
 * Appends @b as one line ending in '\n' with the keys ts_ms, job, instance, url, ok, reason
 * (only when !ok), status, duration_s, error, labels, samples in that order. A batch that is not
 * ok but has REASON_NONE reads "reason":"internal". Returns 0, or -ENOMEM when @sb is (or
 * becomes) oom; the partial line is then removed, so @sb only ever holds whole lines.
 */
int enc_json_batch(struct strbuf *sb, const struct batch *b);

#endif
