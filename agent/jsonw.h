/*
 * The JSON text writer every text encoder shares (DESIGN.md, "jsonw.c"): strings, doubles and
 * integers written as JSON text straight into a struct strbuf, without building a json-c object
 * tree (which costs about three times the whole per-sample budget). One implementation, so the
 * native, vm, otlp and telegraf encoders and the status API produce exactly the same escaping
 * and the same numbers.
 *
 * Two layers:
 *
 *   - jsonw_string(), jsonw_cstr(), jsonw_double(), ... append to a strbuf. Every one is a
 *     no-op once the strbuf is oom and none fails otherwise: the caller tests sb->oom once at
 *     the end of what it writes.
 *   - jsonw_put_*() store at a pointer into sb->data, for the hot loop of an encoder that
 *     reserves room for several pieces at once (enc_json.c's samples) instead of calling an
 *     append per piece. They are inline here because that loop is where the per-sample time
 *     goes; the rare slow paths they reach (escaping, non-integral doubles) are in jsonw.c.
 *
 * Called on the loop thread (outputs, status server) or from --once / --parse; no state.
 */
#ifndef POLLSTER_JSONW_H
#define POLLSTER_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "strbuf.h"

#define JSONW_I64_MAX 20 /* "-9223372036854775808" */
#define JSONW_NUM_MAX 32 /* room for a number: "-2.2250738585072014e-308" is 24 bytes */
#define JSONW_INT_LIMIT 9007199254740992.0 /* 2^53: integers below it are written as such */
/* Strings up to this long reserve their worst case, 6 output bytes per input byte, at once. */
#define JSONW_SHORT_STR 1024

/* ---- appending to a strbuf ---- */

/*
 * Appends @n bytes of @s (NULs allowed; @s may be NULL when @n is 0) as a quoted JSON string.
 * Escapes '"', '\\' and control characters (\b \f \n \r \t, others as \u00XX); copies valid
 * UTF-8 unchanged; replaces each maximal invalid UTF-8 subsequence (the Unicode "substitution of
 * maximal subparts" practice, as in WHATWG and Python) with U+FFFD, so the output is always valid
 * JSON in valid UTF-8. A string that cannot fit (@n > SIZE_MAX / 2) makes @sb oom unread.
 */
void jsonw_string(struct strbuf *sb, const char *s, size_t n);

/* Shared by the text encoders: a NULL string is written and compared as "". */
static inline const char *
jsonw_str_or_empty(const char *s)
{
    return s == NULL ? "" : s;
}

/* Appends the C string @s (NULL: "") as a quoted JSON string. */
static inline void
jsonw_cstr(struct strbuf *sb, const char *s)
{
    s = jsonw_str_or_empty(s);
    jsonw_string(sb, s, strlen(s));
}

/* Appends the C string @s as a quoted JSON string, or null when @s is NULL. */
void jsonw_cstr_or_null(struct strbuf *sb, const char *s);

/*
 * Appends @v as a JSON value that strtod() reads back bit for bit (except -0, written 0).
 * NaN, +Inf and -Inf become the strings "NaN", "+Inf" and "-Inf" (Prometheus HTTP API).
 * Integers below 2^53 in magnitude are written as integers; other values as the first of
 * %.15g, %.16g, %.17g that round-trips. Assumes the C locale for LC_NUMERIC (pollster never
 * calls setlocale for it): a decimal comma would break the printf and strtod paths.
 */
void jsonw_double(struct strbuf *sb, double v);

/* Appends @v in decimal. */
void jsonw_i64(struct strbuf *sb, int64_t v);

/* ---- storing at a pointer: the caller has reserved the room each one states ---- */

/* Tables the inline writers below read; defined in jsonw.c. */
extern const bool jsonw_plain[256];       /* bytes copied into a string unchanged */
extern const char jsonw_digit_pairs[201]; /* "00" "01" ... "99" */
extern const uint64_t jsonw_pow10_u64[20];

/*
 * The slow paths of the inline writers, in jsonw.c: jsonw_esc_span() escapes a string from the
 * first byte that needs it, jsonw_fmt_u64_backwards() writes the digits of @u ending just before
 * @end, jsonw_put_double_other() writes a double that is not an integer below 2^53.
 */
char *jsonw_esc_span(char *p, const unsigned char *s, size_t *pi, size_t end, size_t n);
void jsonw_fmt_u64_backwards(char *end, uint64_t u);
char *jsonw_put_double_other(char *p, double v);

/*
 * strbuf_room() for a writer that keeps its position in *@pp instead of sb->len: true when @n more
 * bytes (plus the NUL) fit at *@pp, which moves with the buffer if it grows. On failure sb->len
 * is the position (the text before it stays, NUL-terminated) and sb is oom. Only call it while
 * writing after a strbuf_room() that succeeded: sb->data is then non-NULL and sb not oom.
 */
static inline bool
jsonw_ensure(struct strbuf *sb, char **pp, size_t n)
{
    size_t len = (size_t)(*pp - sb->data);

    if (sb->cap - len > n) {
        return true;
    }
    sb->len = len;
    sb->data[len] = '\0';
    if (strbuf_reserve(sb, n) != 0) {
        return false;
    }
    *pp = sb->data + len;
    return true;
}

/* Number of decimal digits of @u (1 for 0). */
static inline unsigned
jsonw_count_digits(uint64_t u)
{
    uint64_t v = u | 1; /* 0 has one digit; no power of ten above 1 is odd */
    unsigned t = ((unsigned)(64 - __builtin_clzll(v)) * 1233) >> 12; /* ~ bits * log10(2) */

    return t + (v >= jsonw_pow10_u64[t]);
}

/* Writes @v in decimal at @p (JSONW_I64_MAX bytes of room, no NUL); returns the end. */
static inline char *
jsonw_put_i64(char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;

    if (v < 0) {
        *p++ = '-';
        u = 0 - u;
    }
    if (u < 10) {
        *p = (char)('0' + u);
        return p + 1;
    }
    if (u < 100) {
        memcpy(p, &jsonw_digit_pairs[u * 2], 2);
        return p + 2;
    }
    p += jsonw_count_digits(u);
    jsonw_fmt_u64_backwards(p, u);
    return p;
}

/*
 * Writes @v at @p (JSONW_NUM_MAX bytes of room, no NUL) as jsonw_double(); returns the
 * end. Inline for the integers most samples carry.
 */
static inline char *
jsonw_put_double(char *p, double v)
{
    /* The range test comes first: converting an out-of-range double to int64_t is undefined. */
    if (v > -JSONW_INT_LIMIT && v < JSONW_INT_LIMIT && (double)(int64_t)v == v) {
        return jsonw_put_i64(p, (int64_t)v); /* -0.0 becomes 0, as documented */
    }
    return jsonw_put_double_other(p, v);
}

/*
 * True when none of the 8 bytes of @x needs attention in a JSON string: no byte below 0x20, no
 * '"', no '\\', none at or above 0x80 (those go through UTF-8 validation). Each term sets a
 * byte's top bit for its class; a borrow between bytes only starts at a byte that already
 * matched, so the answer for the word is exact.
 */
static inline bool
jsonw_word_is_plain(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t tops = 0x8080808080808080ULL;
    uint64_t t = (x - ones * 0x20)              /* byte < 0x20 */
                 | ((x ^ (ones * '"')) - ones)  /* byte == '"' */
                 | ((x ^ (ones * '\\')) - ones) /* byte == '\\' */
                 | x;                           /* byte >= 0x80 */

    return (t & tops) == 0;
}

#if defined(__SSE2__)
/*
 * jsonw_word_is_plain() for 16 bytes: as signed bytes, those at or above 0x80 are negative, so one
 * compare finds them and the control characters.
 */
static inline bool
jsonw_block_is_plain(__m128i x)
{
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                               _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));

    return _mm_movemask_epi8(bad) == 0;
}
#endif

/*
 * Stores @n bytes of @str as a quoted JSON string at @p, which has 6 * @n + 2 bytes of room;
 * returns the end. Strings with nothing to escape (metric and label names always, label values
 * nearly always) are checked and copied with a few word-sized loads and stores.
 */
static inline __attribute__((always_inline)) char *
jsonw_put_str(char *p, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    uint64_t w;
    uint32_t a, b;

    *p++ = '"';
#if defined(__SSE2__)
    if (n >= 16) {
        __m128i x;

        for (; n - i > 16; i += 16) {
            x = _mm_loadu_si128((const __m128i *)(s + i));
            if (!jsonw_block_is_plain(x)) {
                goto escape;
            }
            _mm_storeu_si128((__m128i *)p, x);
            p += 16;
        }
        /* The last 16 bytes, overlapping some already copied (p stands for input byte i). */
        x = _mm_loadu_si128((const __m128i *)(s + n - 16));
        if (!jsonw_block_is_plain(x)) {
            goto escape;
        }
        _mm_storeu_si128((__m128i *)(p - (i + 16 - n)), x);
        p += n - i;
        *p++ = '"';
        return p;
    }
#endif
    if (n >= 8) {
        for (; n - i > 8; i += 8) {
            memcpy(&w, s + i, 8);
            if (!jsonw_word_is_plain(w)) {
                goto escape;
            }
            memcpy(p, &w, 8);
            p += 8;
        }
        /* The last 8 bytes, overlapping some already copied (p stands for input byte i). */
        memcpy(&w, s + n - 8, 8);
        if (!jsonw_word_is_plain(w)) {
            goto escape;
        }
        memcpy(p - (i + 8 - n), &w, 8);
        p += n - i;
    }
    else if (n >= 4) {
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        if (!jsonw_word_is_plain(a | (uint64_t)b << 32)) {
            goto escape;
        }
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
        p += n;
    }
    else {
        for (; i < n; i++) {
            if (!jsonw_plain[s[i]]) {
                goto escape;
            }
            *p++ = (char)s[i];
        }
    }
    *p++ = '"';
    return p;

escape:
    p = jsonw_esc_span(p, s, &i, n, n);
    *p++ = '"';
    return p;
}

/*
 * Stores the C string @str at @p as a JSON string, "" when NULL, after making room for it and
 * @slack more bytes; returns the end, or NULL when sb became oom.
 */
static inline __attribute__((always_inline)) char *
jsonw_put_cstr_at(struct strbuf *sb, char *p, const char *str, size_t slack)
{
    size_t n;

    if (str == NULL) {
        if (!jsonw_ensure(sb, &p, 2 + slack)) {
            return NULL;
        }
        memcpy(p, "\"\"", 2);
        return p + 2;
    }
    n = strlen(str);
    if (n <= JSONW_SHORT_STR) {
        if (!jsonw_ensure(sb, &p, 6 * n + 2 + slack)) {
            return NULL;
        }
        return jsonw_put_str(p, str, n);
    }
    sb->len = (size_t)(p - sb->data);
    jsonw_string(sb, str, n);
    if (sb->oom) {
        return NULL;
    }
    p = sb->data + sb->len;
    return jsonw_ensure(sb, &p, slack) ? p : NULL;
}

/* Writes @v in decimal into @buf (JSONW_I64_MAX bytes, no NUL); returns the length. */
static inline size_t
jsonw_fmt_i64(char *buf, int64_t v)
{
    return (size_t)(jsonw_put_i64(buf, v) - buf);
}

#endif
