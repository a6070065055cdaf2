/*
 * Unit tests for enc_json.c (and the strbuf it writes into). Every output is checked twice: by a
 * strict RFC 8259 validator written here (json-c 0.16 accepts NaN, Infinity, raw control
 * characters, "1." and surrogates even with JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8, so
 * it cannot judge validity alone) and by parsing it back with json-c to compare the values.
 * Strings are compared with an independent model of the U+FFFD replacement; doubles are read back
 * with strtod and compared bit for bit, and compared against the reference %.15g/%.16g/%.17g
 * algorithm text for text.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc_json.h"
#include "sample.h"
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

/* ---- helpers: strict UTF-8 and JSON validation, independent of enc_json.c ---- */

/*
 * Decodes one UTF-8 sequence at @s (@n > 0) by arithmetic; returns its length, or 0 when it is
 * not a complete, shortest-form, non-surrogate sequence of a code point <= U+10FFFF.
 */
static size_t
t_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len, i;
    uint32_t c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        c = s[0] & 0x1F;
    }
    else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        c = s[0] & 0x0F;
    }
    else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        c = s[0] & 0x07;
    }
    else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min_cp[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return 0;
    }
    *cp = c;
    return len;
}

static bool
t_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, k;
    uint32_t cp;

    while (i < n) {
        k = t_utf8_decode(s + i, n - i, &cp);
        if (k == 0) {
            return false;
        }
        i += k;
    }
    return true;
}

/*
 * Whether @len bytes at @s (lead plus continuations) can still be completed into a valid
 * sequence: the interval of code points reachable from this prefix meets the valid range.
 */
static bool
t_utf8_viable_prefix(const unsigned char *s, size_t len)
{
    size_t need, i;
    uint32_t lo, hi;

    if ((s[0] & 0xE0) == 0xC0) {
        need = 2;
        lo = s[0] & 0x1F;
    }
    else if ((s[0] & 0xF0) == 0xE0) {
        need = 3;
        lo = s[0] & 0x0F;
    }
    else if ((s[0] & 0xF8) == 0xF0) {
        need = 4;
        lo = s[0] & 0x07;
    }
    else {
        return false;
    }
    if (len > need) {
        return false;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return false;
        }
        lo = (lo << 6) | (s[i] & 0x3F);
    }
    hi = lo;
    for (i = len; i < need; i++) {
        lo = lo << 6;
        hi = (hi << 6) | 0x3F;
    }
    switch (need) {
    case 2:
        return hi >= 0x80 && lo <= 0x7FF;
    case 3:
        return (hi >= 0x800 && lo <= 0xD7FF) || (hi >= 0xE000 && lo <= 0xFFFF);
    default:
        return hi >= 0x10000 && lo <= 0x10FFFF;
    }
}

/*
 * The expected decoded text of enc_json_string(@s): valid sequences kept, each maximal
 * subpart of an invalid sequence (the longest viable prefix, at least one byte) replaced by
 * U+FFFD. @out needs 3 * @n bytes; returns the length.
 */
static size_t
t_utf8_sanitize(const unsigned char *s, size_t n, char *out)
{
    size_t i = 0, o = 0, k;
    uint32_t cp;

    while (i < n) {
        k = t_utf8_decode(s + i, n - i, &cp);
        if (k > 0) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        k = 1;
        while (i + k < n && t_utf8_viable_prefix(s + i, k + 1)) {
            k++;
        }
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3;
        i += k;
    }
    return o;
}

struct t_json {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
};

static bool t_json_value(struct t_json *j);

static void
t_json_ws(struct t_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static bool
t_json_lit(struct t_json *j, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) {
        return false;
    }
    j->p += n;
    return true;
}

static bool
t_json_digits(struct t_json *j)
{
    const unsigned char *start = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        j->p++;
    }
    return j->p > start;
}

/* number = [ minus ] int [ frac ] [ exp ] (RFC 8259 section 6) */
static bool
t_json_number(struct t_json *j)
{
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    }
    else if (j->p < j->end && *j->p >= '1' && *j->p <= '9') {
        t_json_digits(j);
    }
    else {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!t_json_digits(j)) {
            return false;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (!t_json_digits(j)) {
            return false;
        }
    }
    return true;
}

static int
t_hex4(const unsigned char *p)
{
    int v = 0, i;

    for (i = 0; i < 4; i++) {
        v <<= 4;
        if (p[i] >= '0' && p[i] <= '9') {
            v |= p[i] - '0';
        }
        else if (p[i] >= 'a' && p[i] <= 'f') {
            v |= p[i] - 'a' + 10;
        }
        else if (p[i] >= 'A' && p[i] <= 'F') {
            v |= p[i] - 'A' + 10;
        }
        else {
            return -1;
        }
    }
    return v;
}

static bool
t_json_string(struct t_json *j)
{
    uint32_t cp;
    size_t k;
    int u, u2;

    if (j->p >= j->end || *j->p != '"') {
        return false;
    }
    j->p++;
    while (j->p < j->end) {
        if (*j->p == '"') {
            j->p++;
            return true;
        }
        if (*j->p < 0x20) {
            return false;
        }
        if (*j->p == '\\') {
            if (j->end - j->p < 2) {
                return false;
            }
            if (j->p[1] != '\0' && strchr("\"\\/bfnrt", j->p[1]) != NULL) {
                j->p += 2;
                continue;
            }
            if (j->p[1] != 'u' || j->end - j->p < 6) {
                return false;
            }
            u = t_hex4(j->p + 2);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) {
                return false;
            }
            j->p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') {
                    return false;
                }
                u2 = t_hex4(j->p + 2);
                if (u2 < 0xDC00 || u2 > 0xDFFF) {
                    return false;
                }
                j->p += 6;
            }
            continue;
        }
        k = t_utf8_decode(j->p, (size_t)(j->end - j->p), &cp);
        if (k == 0) {
            return false;
        }
        j->p += k;
    }
    return false;
}

static bool
t_json_value(struct t_json *j)
{
    if (++j->depth > 64) {
        return false;
    }
    t_json_ws(j);
    if (j->p >= j->end) {
        return false;
    }
    switch (*j->p) {
    case '{':
        j->p++;
        t_json_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            break;
        }
        for (;;) {
            t_json_ws(j);
            if (!t_json_string(j)) {
                return false;
            }
            t_json_ws(j);
            if (j->p >= j->end || *j->p++ != ':') {
                return false;
            }
            if (!t_json_value(j)) {
                return false;
            }
            t_json_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                break;
            }
            return false;
        }
        break;
    case '[':
        j->p++;
        t_json_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            break;
        }
        for (;;) {
            if (!t_json_value(j)) {
                return false;
            }
            t_json_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                break;
            }
            return false;
        }
        break;
    case '"':
        if (!t_json_string(j)) {
            return false;
        }
        break;
    case 't':
        if (!t_json_lit(j, "true")) {
            return false;
        }
        break;
    case 'f':
        if (!t_json_lit(j, "false")) {
            return false;
        }
        break;
    case 'n':
        if (!t_json_lit(j, "null")) {
            return false;
        }
        break;
    default:
        if (!t_json_number(j)) {
            return false;
        }
        break;
    }
    j->depth--;
    return true;
}

/* True when @s (@n bytes) is exactly one valid JSON text (RFC 8259, strict UTF-8). */
static bool
t_json_valid(const char *s, size_t n)
{
    struct t_json j = {(const unsigned char *)s, (const unsigned char *)s + n, 0};

    if (!t_json_value(&j)) {
        return false;
    }
    t_json_ws(&j);
    return j.p == j.end;
}

/*
 * Parses the NUL-terminated @s (@n bytes before the NUL) with json-c, failing the test when
 * json-c rejects it. The NUL is passed too: it is what ends a top-level number for json-c.
 * Caller puts the result.
 */
static struct json_object *
t_parse(const char *s, size_t n)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o;

    T_REQUIRE(tok != NULL, "json_tokener_new() failed");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    T_REQUIRE(s[n] == '\0', "not NUL-terminated");
    o = json_tokener_parse_ex(tok, s, (int)n + 1);
    T_REQUIRE(json_tokener_get_error(tok) == json_tokener_success && o != NULL,
              "json-c: %s on '%s'", json_tokener_error_desc(json_tokener_get_error(tok)), s);
    json_tokener_free(tok);
    return o;
}

/* The text the brief specifies for finite doubles: integers, then %.15g/%.16g/%.17g. */
static void
t_ref_double(char *buf, size_t size, double v)
{
    int prec;

    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
        snprintf(buf, size, "%" PRId64, (int64_t)v);
        return;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

/* A small deterministic PRNG (xorshift64*), so a failure reproduces. */
static uint64_t t_rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
t_rng(void)
{
    t_rng_state ^= t_rng_state >> 12;
    t_rng_state ^= t_rng_state << 25;
    t_rng_state ^= t_rng_state >> 27;
    return t_rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t
t_utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Fills @buf with up to @max random bytes: either valid UTF-8 from random code points, or bytes
 * biased towards the interesting classes (controls, quotes, lead and continuation bytes).
 */
static size_t
t_random_string(unsigned char *buf, size_t max, bool valid)
{
    static const unsigned char specials[] = {'"',  '\\', '/',  0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xC1,
                                             0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    size_t n = (size_t)(t_rng() % (max + 1));
    size_t i = 0;
    uint32_t cp, r;

    while (i < n) {
        r = (uint32_t)(t_rng() % 100);
        if (valid) {
            if (r < 40) {
                cp = (uint32_t)(t_rng() % 0x80);
            }
            else if (r < 60) {
                cp = 0x80 + (uint32_t)(t_rng() % (0x800 - 0x80));
            }
            else if (r < 85) {
                cp = 0x800 + (uint32_t)(t_rng() % (0x10000 - 0x800));
            }
            else {
                cp = 0x10000 + (uint32_t)(t_rng() % (0x110000 - 0x10000));
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                continue;
            }
            if (i + 4 > n) {
                break;
            }
            i += t_utf8_encode(cp, buf + i);
        }
        else if (r < 40) {
            buf[i++] = (unsigned char)(0x20 + t_rng() % 0x5F);
        }
        else if (r < 55) {
            buf[i++] = (unsigned char)(t_rng() % 0x20);
        }
        else if (r < 75) {
            buf[i++] = specials[t_rng() % sizeof(specials)];
        }
        else if (r < 85 && i + 4 <= n) {
            i += t_utf8_encode(0x80 + (uint32_t)(t_rng() % 0x10FF80), buf + i);
        }
        else {
            buf[i++] = (unsigned char)(0x80 + t_rng() % 0x80);
        }
    }
    return i;
}

/* Encodes @s with enc_json_string into a fresh buffer. */
static void
t_encode_string(struct strbuf *sb, const void *s, size_t n)
{
    strbuf_reset(sb);
    enc_json_string(sb, s, n);
    T_REQUIRE(!sb->oom, "oom");
    T_REQUIRE(strlen(sb->data) == sb->len, "raw NUL in %s", sb->data); /* NULs are escaped */
}

/* Checks that the JSON string in @sb decodes to the sanitized form of @s (@n bytes). */
static void
t_check_string_roundtrip(struct strbuf *sb, const void *s, size_t n)
{
    struct json_object *o;
    char *want = malloc(3 * n + 1);
    size_t wlen;

    T_REQUIRE(want != NULL, "malloc");
    T_REQUIRE(t_json_valid(sb->data, sb->len), "invalid JSON: %s", sb->data);
    o = t_parse(sb->data, sb->len);
    T_REQUIRE(json_object_is_type(o, json_type_string), "not a string: %s", sb->data);
    wlen = t_utf8_sanitize(s, n, want);
    T_REQUIRE((size_t)json_object_get_string_len(o) == wlen &&
                  memcmp(json_object_get_string(o), want, wlen) == 0,
              "decodes differently: %s", sb->data);
    if (t_utf8_valid(s, n)) {
        T_REQUIRE(wlen == n && memcmp(want, s, n) == 0, "valid UTF-8 changed: %s", sb->data);
    }
    json_object_put(o);
    free(want);
}

/* ---- the test oracles themselves: they must be able to say no ---- */

START_TEST(test_oracle_validator)
{
    static const char *const good[] = {"0",
                                       "-0",
                                       "1e+300",
                                       "-1.5E-7",
                                       "\"\"",
                                       "\"a\\u0000b\"",
                                       "\"\\ud83d\\ude00\"",
                                       "\"\xF4\x8F\xBF\xBF\"",
                                       "[]",
                                       "{}",
                                       " {\"a\":[1,null,true,false]} ",
                                       "\"/\""};
    static const char *const bad[] = {"",
                                      "NaN",
                                      "[NaN]",
                                      "Infinity",
                                      "-Infinity",
                                      "01",
                                      "1.",
                                      ".5",
                                      "+1",
                                      "1e",
                                      "1e+",
                                      "\"\x01\"",
                                      "\"\xC0\x80\"",
                                      "\"\xED\xA0\x80\"",
                                      "\"\xF4\x90\x80\x80\"",
                                      "\"\xE2\x82\"",
                                      "\"\\ud800\"",
                                      "\"\\x41\"",
                                      "\"abc",
                                      "[1,]",
                                      "{\"a\" 1}",
                                      "{\"a\":1,}",
                                      "1 2",
                                      "nul"};
    unsigned char san[16];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(t_json_valid(good[i], strlen(good[i])), "rejected %s", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!t_json_valid(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
    }
    /* The replacement model: one U+FFFD per maximal subpart. */
    ck_assert_uint_eq(t_utf8_sanitize((const unsigned char *)"\xE2\x82\x41", 3, (char *)san), 4);
    ck_assert_mem_eq(san, "\xEF\xBF\xBD\x41", 4);
    ck_assert_uint_eq(t_utf8_sanitize((const unsigned char *)"\xED\xA0", 2, (char *)san), 6);
    ck_assert(!t_utf8_valid((const unsigned char *)"\xF0\x8F\xBF\xBF", 4));
    ck_assert(t_utf8_valid((const unsigned char *)"\xF0\x90\x80\x80", 4));
}
END_TEST

/* ---- strbuf ---- */

START_TEST(test_strbuf_basic)
{
    struct strbuf sb;
    size_t i;

    strbuf_init(&sb);
    ck_assert_ptr_null(sb.data);
    ck_assert_uint_eq(sb.len, 0);
    strbuf_append(&sb, NULL, 0);
    ck_assert_ptr_nonnull(sb.data);
    ck_assert_str_eq(sb.data, "");
    strbuf_puts(&sb, "abc");
    strbuf_putc(&sb, '-');
    strbuf_append(&sb, "x\0y", 3);
    strbuf_printf(&sb, "%d/%s", 42, "z");
    ck_assert_uint_eq(sb.len, 11);
    ck_assert_mem_eq(sb.data, "abc-x\0y42/z", 11);
    ck_assert_int_eq(sb.data[sb.len], '\0');

    /* Geometric growth, NUL-terminated at every step. */
    strbuf_reset(&sb);
    for (i = 0; i < 100000; i++) {
        strbuf_putc(&sb, (char)('a' + i % 26));
        T_REQUIRE(sb.len < sb.cap && sb.data[sb.len] == '\0', "at %zu", i);
    }
    ck_assert_uint_eq(sb.len, 100000);
    ck_assert_uint_eq(sb.cap, 131072);

    /* A long printf takes the second, resized vsnprintf. */
    strbuf_reset(&sb);
    strbuf_release(&sb);
    strbuf_printf(&sb, "%0500d|%s", 7, "end");
    ck_assert_uint_eq(sb.len, 504);
    ck_assert_str_eq(sb.data + 500, "|end");
    strbuf_release(&sb);
    ck_assert_ptr_null(sb.data);
}
END_TEST

START_TEST(test_strbuf_oom_sticky)
{
    struct strbuf sb;

    strbuf_init(&sb);
    strbuf_puts(&sb, "keep");
    /* An impossible reservation fails without allocating and makes later appends no-ops. */
    ck_assert_int_eq(strbuf_reserve(&sb, SIZE_MAX - 2), -ENOMEM);
    ck_assert(sb.oom);
    strbuf_puts(&sb, "more");
    strbuf_putc(&sb, 'x');
    strbuf_printf(&sb, "%d", 1);
    enc_json_string(&sb, "s", 1);
    enc_json_double(&sb, 0.5);
    ck_assert_int_eq(strbuf_reserve(&sb, 1), -ENOMEM);
    ck_assert_str_eq(sb.data, "keep");
    ck_assert_uint_eq(sb.len, 4);
    strbuf_reset(&sb);
    ck_assert(!sb.oom);
    strbuf_puts(&sb, "ok");
    ck_assert_str_eq(sb.data, "ok");

    /* A string too long to ever fit is refused before any byte is read. */
    enc_json_string(&sb, "x", SIZE_MAX);
    ck_assert(sb.oom);
    ck_assert_str_eq(sb.data, "ok");
    strbuf_reset(&sb);

    /* A formatting error (EILSEQ: no C-locale conversion for U+0100) also marks the text bad. */
    strbuf_puts(&sb, "ok");
    strbuf_printf(&sb, "%ls", L"\x100");
    ck_assert(sb.oom);
    ck_assert_str_eq(sb.data, "ok");
    strbuf_release(&sb);
}
END_TEST

/* ---- strings ---- */

START_TEST(test_string_control_chars)
{
    static const char *const short_esc[0x20] = {
        ['\b'] = "\"\\b\"", ['\t'] = "\"\\t\"", ['\n'] = "\"\\n\"",
        ['\f'] = "\"\\f\"", ['\r'] = "\"\\r\"",
    };
    struct strbuf sb;
    char in[3], want[16];
    int c;

    strbuf_init(&sb);
    for (c = 0; c < 0x20; c++) {
        in[0] = (char)c;
        t_encode_string(&sb, in, 1);
        if (short_esc[c] != NULL) {
            snprintf(want, sizeof(want), "%s", short_esc[c]);
        }
        else {
            snprintf(want, sizeof(want), "\"\\u%04x\"", (unsigned)c);
        }
        ck_assert_uint_eq(sb.len, strlen(want));
        ck_assert_str_eq(sb.data, want);
        t_check_string_roundtrip(&sb, in, 1);

        /* Between plain text, so both sides of the escape are copied. */
        in[0] = 'a';
        in[1] = (char)c;
        in[2] = 'b';
        t_encode_string(&sb, in, 3);
        t_check_string_roundtrip(&sb, in, 3);
    }
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_string_table)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"", 0, "\"\""},
        {"plain", 5, "\"plain\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"a\\b", 3, "\"a\\\\b\""},
        {"\"\\\"", 3, "\"\\\"\\\\\\\"\""},
        {"/usr/bin", 8, "\"/usr/bin\""},
        {"del\x7f", 4, "\"del\x7f\""},
        {"a\0b", 3, "\"a\\u0000b\""},
        {"C:\\temp\n", 8, "\"C:\\\\temp\\n\""},
        /* valid UTF-8 passes through, 2, 3 and 4 bytes, and the boundary code points */
        {"caf\xC3\xA9", 5, "\"caf\xC3\xA9\""},
        {"\xE2\x82\xAC 5", 5, "\"\xE2\x82\xAC 5\""},
        {"\xF0\x9F\x98\x80", 4, "\"\xF0\x9F\x98\x80\""},
        {"\xC2\x80", 2, "\"\xC2\x80\""},
        {"\xDF\xBF", 2, "\"\xDF\xBF\""},
        {"\xE0\xA0\x80", 3, "\"\xE0\xA0\x80\""},
        {"\xED\x9F\xBF", 3, "\"\xED\x9F\xBF\""},
        {"\xEE\x80\x80", 3, "\"\xEE\x80\x80\""},
        {"\xEF\xBF\xBF", 3, "\"\xEF\xBF\xBF\""},
        {"\xF0\x90\x80\x80", 4, "\"\xF0\x90\x80\x80\""},
        {"\xF4\x8F\xBF\xBF", 4, "\"\xF4\x8F\xBF\xBF\""},
        {"\xEF\xBF\xBD", 3, "\"\xEF\xBF\xBD\""},
        /* invalid: one U+FFFD per maximal subpart */
        {"\x80", 1, "\"\xEF\xBF\xBD\""},
        {"a\xBFz", 3, "\"a\xEF\xBF\xBDz\""},
        {"\xC0\x80", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},                 /* overlong NUL */
        {"\xC1\xBF", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},                 /* overlong */
        {"\xE0\x80\x80", 3, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""}, /* overlong */
        {"\xED\xA0\x80", 3, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""}, /* surrogate */
        {"\xF4\x90\x80\x80", 4,
         "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""}, /* above U+10FFFF */
        {"\xF5\x80", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {"\xFF", 1, "\"\xEF\xBF\xBD\""},
        {"\xE2\x82", 2, "\"\xEF\xBF\xBD\""},         /* truncated at the end: one U+FFFD */
        {"\xE2\x82\x41", 3, "\"\xEF\xBF\xBD\x41\""}, /* truncated before ASCII A */
        {"\xF0\x9F\x98", 3, "\"\xEF\xBF\xBD\""},
        {"\xF0\x9F\x98\xF0\x9F\x98\x80", 7, "\"\xEF\xBF\xBD\xF0\x9F\x98\x80\""},
        {"\xC3\n", 2, "\"\xEF\xBF\xBD\\n\""},
        {"\xC3\"", 2, "\"\xEF\xBF\xBD\\\"\""},
    };
    struct strbuf sb;
    size_t i;

    strbuf_init(&sb);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t_encode_string(&sb, cases[i].in, cases[i].n);
        ck_assert_msg(strcmp(sb.data, cases[i].out) == 0, "case %zu: got %s want %s", i, sb.data,
                      cases[i].out);
        t_check_string_roundtrip(&sb, cases[i].in, cases[i].n);
    }
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_string_long)
{
    struct strbuf sb;
    unsigned char *in;
    size_t n = 300000, i;

    /* Long enough to grow the buffer from inside the escape and replacement paths. */
    in = malloc(n);
    ck_assert_ptr_nonnull(in);
    for (i = 0; i < n; i++) {
        in[i] = (unsigned char)(i % 3 == 0 ? '\n' : i % 3 == 1 ? 0xFF : 'a');
    }
    strbuf_init(&sb);
    strbuf_puts(&sb, "prefix:");
    enc_json_string(&sb, (const char *)in, n);
    ck_assert(!sb.oom);
    ck_assert_uint_eq(sb.len, 7 + 2 + (n / 3) * (2 + 3 + 1));
    ck_assert_uint_eq(strlen(sb.data), sb.len);
    ck_assert(t_json_valid(sb.data + 7, sb.len - 7));
    strbuf_release(&sb);
    free(in);
}
END_TEST

START_TEST(test_string_fuzz)
{
    struct strbuf sb;
    unsigned char buf[96];
    size_t n;
    int i;

    strbuf_init(&sb);
    for (i = 0; i < 50000; i++) {
        n = t_random_string(buf, sizeof(buf), i % 2 == 0);
        t_encode_string(&sb, buf, n);
        t_check_string_roundtrip(&sb, buf, n);
    }
    strbuf_release(&sb);
}
END_TEST

/*
 * The expected JSON text of a string (@n bytes at @s): the sanitized bytes (t_utf8_sanitize)
 * with '"', '\\' and control characters escaped. Independent of enc_json.c, so it checks the
 * encoder's fast paths byte for byte.
 */
static void
t_ref_string(struct strbuf *out, const void *s, size_t n)
{
    char *clean = malloc(3 * n + 1);
    char esc[8];
    size_t len, i;
    unsigned char c;

    T_REQUIRE(clean != NULL, "malloc");
    len = t_utf8_sanitize(s, n, clean);
    strbuf_putc(out, '"');
    for (i = 0; i < len; i++) {
        c = (unsigned char)clean[i];
        if (c == '"' || c == '\\') {
            strbuf_putc(out, '\\');
            strbuf_putc(out, (char)c);
        }
        else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
            strbuf_putc(out, '\\');
            strbuf_putc(out, "btnvfr"[c - '\b']);
        }
        else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)c);
            strbuf_puts(out, esc);
        }
        else {
            strbuf_putc(out, (char)c);
        }
    }
    strbuf_putc(out, '"');
    free(clean);
}

/* Checks enc_json_string(@s) against t_ref_string(@s), appended after @prefix bytes of text. */
static void
t_check_string_ref(const void *s, size_t n, size_t prefix)
{
    struct strbuf sb, ref;

    strbuf_init(&sb);
    strbuf_init(&ref);
    while (sb.len < prefix) {
        strbuf_putc(&sb, '.');
        strbuf_putc(&ref, '.');
    }
    enc_json_string(&sb, s, n);
    t_ref_string(&ref, s, n);
    T_REQUIRE(!sb.oom && sb.len == ref.len && memcmp(sb.data, ref.data, ref.len) == 0 &&
                  sb.data[sb.len] == '\0',
              "n=%zu: got %s want %s", n, sb.data, ref.data);
    strbuf_release(&sb);
    strbuf_release(&ref);
}

/*
 * Every length around the word (8) and block (16) sizes the fast paths work in, plain and with
 * one byte or sequence to escape or replace at every position: the overlapping final loads must
 * never hide it nor copy it unescaped.
 */
START_TEST(test_string_positions)
{
    static const char *const specials[] = {"\"",       "\\",           "\n",
                                           "\x01",     "\x1f",         "\x7f",
                                           "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                           "\xFF",     "\xE2\x82",     "\xC3"};
    char buf[80] = {0};
    size_t n, pos, k, sl, j;

    for (n = 0; n <= 70; n++) {
        for (k = 0; k < n; k++) {
            buf[k] = (char)('a' + k % 26);
        }
        t_check_string_ref(buf, n, n % 5);
        for (pos = 0; pos < n; pos++) {
            for (k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
                sl = strlen(specials[k]);
                if (pos + sl > n) {
                    continue;
                }
                for (j = 0; j < n; j++) {
                    buf[j] = (char)('a' + j % 26);
                }
                memcpy(buf + pos, specials[k], sl);
                t_check_string_ref(buf, n, pos % 3);
            }
        }
    }
}
END_TEST

/*
 * Strings longer than one reservation chunk: valid and invalid UTF-8 sequences straddling every
 * chunk boundary, and escapes right at it.
 */
START_TEST(test_string_chunk_boundaries)
{
    static const char *const seqs[] = {
        "\xF0\x9F\x98\x80", "\xE2\x82\xAC", "\xC3\xA9", "\xF0\x9F\x98",
        "\xE2\x82",         "\xFF\xFE",     "\n\"\\"};
    size_t n = 3 * 4096 + 100, b, k, off, i;
    char *buf = malloc(n);

    ck_assert_ptr_nonnull(buf);
    for (k = 0; k < sizeof(seqs) / sizeof(seqs[0]); k++) {
        for (off = 0; off < 5; off++) {
            for (i = 0; i < n; i++) {
                buf[i] = (char)('a' + i % 26);
            }
            for (b = 1024; b < n - 8; b += 1024) {
                memcpy(buf + b - off, seqs[k], strlen(seqs[k]));
            }
            t_check_string_ref(buf, n, 0);
            t_check_string_ref(buf, 1025 + off, 3);
        }
    }
    free(buf);
}
END_TEST

/* ---- doubles ---- */

/* Encodes @v and checks: valid JSON number, and strtod reads back the same bits. */
static void
t_check_double(double v, const char *want)
{
    struct strbuf sb;
    struct json_object *o;
    double back, expect = v == 0 ? 0.0 : v; /* -0 is written 0 */
    char ref[64];

    strbuf_init(&sb);
    enc_json_double(&sb, v);
    T_REQUIRE(!sb.oom && sb.len <= 24, "%.17g: %s", v, sb.data);
    if (want != NULL) {
        T_REQUIRE(strcmp(sb.data, want) == 0, "%.17g: got %s want %s", v, sb.data, want);
    }
    T_REQUIRE(t_json_valid(sb.data, sb.len), "%.17g: not a JSON number: %s", v, sb.data);
    T_REQUIRE(strspn(sb.data, "-0123456789.e+") == sb.len, "%.17g: %s", v, sb.data);
    back = strtod(sb.data, NULL);
    T_REQUIRE(memcmp(&back, &expect, sizeof(back)) == 0, "%.17g -> %s -> %.17g", v, sb.data, back);
    /* The same text as the reference algorithm, whatever fast path produced it. */
    t_ref_double(ref, sizeof(ref), v);
    T_REQUIRE(strcmp(sb.data, ref) == 0, "%.17g: got %s, reference %s", v, sb.data, ref);
    o = t_parse(sb.data, sb.len);
    T_REQUIRE(json_object_get_double(o) == expect, "%.17g: json-c reads %.17g", v,
              json_object_get_double(o));
    json_object_put(o);
    strbuf_release(&sb);
}

START_TEST(test_double_table)
{
    static const struct {
        double v;
        const char *out; /* NULL: only the round trip is checked */
    } cases[] = {
        {0.0, "0"},
        {-0.0, "0"},
        {1.0, "1"},
        {-1.0, "-1"},
        {0.1, "0.1"},
        {0.42, "0.42"},
        {-2.5, "-2.5"},
        {0.05, "0.05"},
        {123.456, "123.456"},
        {12345.678, "12345.678"},
        {0.0001, "0.0001"},
        {-0.000123, "-0.000123"},
        {0.00001, "1e-05"},
        {-1e-7, "-1e-07"},
        {1e-300, "1e-300"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {-1.7976931348623157e308, "-1.7976931348623157e+308"},
        {9007199254740991.0, "9007199254740991"},
        {-9007199254740991.0, "-9007199254740991"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740994.0, "9007199254740994"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {1e15, "1000000000000000"},
        {1e15 + 0.5, "1000000000000000.5"},
        {999999999999999.9, "999999999999999.9"},
        {99999999999999.98, "99999999999999.98"},
        {1e16, "1e+16"},
        {1e21, "1e+21"},
        {1e300, "1e+300"},
        {5e-324, "4.94065645841247e-324"},
        {2.2250738585072014e-308, NULL},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1764220800.123, "1764220800.123"},
        {9223372036854775808.0, "9.223372036854776e+18"},
        {-9223372036854775808.0, "-9.223372036854776e+18"},
        {18446744073709551616.0, "1.8446744073709552e+19"},
        {3.141592653589793, "3.141592653589793"},
        {0.0123, "0.0123"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t_check_double(cases[i].v, cases[i].out);
    }
}
END_TEST

START_TEST(test_double_special)
{
    static const struct {
        double v;
        const char *out;
    } cases[] = {
        {NAN, "\"NaN\""},
        {-NAN, "\"NaN\""},
        {INFINITY, "\"+Inf\""},
        {-INFINITY, "\"-Inf\""},
    };
    struct strbuf sb;
    struct json_object *o;
    size_t i;

    strbuf_init(&sb);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(&sb);
        enc_json_double(&sb, cases[i].v);
        ck_assert_str_eq(sb.data, cases[i].out);
        ck_assert(t_json_valid(sb.data, sb.len));
        o = t_parse(sb.data, sb.len);
        ck_assert(json_object_is_type(o, json_type_string));
        json_object_put(o);
    }
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_double_random_bits)
{
    uint64_t bits;
    double v;
    int i;

    for (i = 0; i < 50000; i++) {
        bits = t_rng();
        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v)) {
            continue;
        }
        t_check_double(v, NULL);
    }
}
END_TEST

/*
 * Values as exporters write them (few significant digits, any magnitude): the short-decimal
 * fast path must print exactly what the %.15g reference prints.
 */
START_TEST(test_double_random_decimal)
{
    char text[64];
    uint64_t m;
    int digits, exp10, i;
    double v;

    for (i = 0; i < 30000; i++) {
        digits = 1 + (int)(t_rng() % 17);
        m = t_rng() % 100000000000000000ULL;
        while (digits < 17 && m >= 10) {
            m /= 10;
            digits++;
        }
        exp10 = (int)(t_rng() % 44) - 22;
        snprintf(text, sizeof(text), "%s%" PRIu64 "e%d", t_rng() % 2 ? "-" : "", m, exp10);
        v = strtod(text, NULL);
        t_check_double(v, NULL);
        t_check_double(nextafter(v, INFINITY), NULL);
        t_check_double(nextafter(v, -INFINITY), NULL);
    }
}
END_TEST

/*
 * Full-precision values of ordinary magnitude, which the exact 128-bit integer path formats:
 * random mantissas at every binary exponent it covers, powers of two (where the double below is
 * closer) and their neighbours, and dyadic values with many digits whose 15th, 16th or 17th
 * digit rounds exactly half way (printf rounds half to even).
 */
START_TEST(test_double_exact_range)
{
    uint64_t bits;
    double v;
    int e, i, j;

    for (e = -24; e <= 54; e++) {
        v = ldexp(1.0, e);
        t_check_double(v, NULL);
        t_check_double(nextafter(v, 0), NULL);
        t_check_double(nextafter(v, INFINITY), NULL);
        t_check_double(-nextafter(v, INFINITY), NULL);
        for (i = 0; i < 300; i++) {
            bits = ((uint64_t)(1023 + e) << 52) | (t_rng() & ((1ULL << 52) - 1));
            memcpy(&v, &bits, sizeof(v));
            t_check_double(v, NULL);
        }
    }
    for (i = 0; i < 20000; i++) {
        j = 1 + (int)(t_rng() % 60);
        v = ldexp((double)(t_rng() >> (11 + t_rng() % 30)), -j);
        t_check_double(v, NULL);
        t_check_double(v / 1000.0, NULL);
    }
    /* A tie at the 16th digit: 0.1000000000000000055511151231257827 is 0.1's double. */
    t_check_double(0.1, "0.1");
    t_check_double(0.3, "0.3");
    t_check_double(2.5e-06, "2.5e-06");
    t_check_double(1e-06, "1e-06");
    t_check_double(9.999999999999999e-07, NULL);
    t_check_double(4503599627370495.5, "4503599627370495.5");
    t_check_double(0.5 + 1.0 / 1024.0, "0.5009765625");
    t_check_double(1.0 / 3.0, "0.3333333333333333");
    t_check_double(2.0 / 3.0, "0.6666666666666666");
    t_check_double(1.0 + 2.220446049250313e-16, "1.0000000000000002");
}
END_TEST

/* ---- samples and batches ---- */

START_TEST(test_sample_table)
{
    static const struct label l1[] = {{"a", "b"}};
    static const struct label l3[] = {{"cpu", "0"}, {"mode", "idle"}, {"z", "quo\"te"}};
    static const struct label lnull[] = {{"k", NULL}};
    static const struct {
        struct sample s;
        const char *out;
    } cases[] = {
        {{.name = "node_load1", .type = SAMPLE_GAUGE, .value = 0.42},
         "{\"name\":\"node_load1\",\"labels\":{},\"value\":0.42,\"type\":\"gauge\"}"},
        {{.name = "x", .labels = l1, .nlabels = 1, .type = SAMPLE_COUNTER, .value = 3},
         "{\"name\":\"x\",\"labels\":{\"a\":\"b\"},\"value\":3,\"type\":\"counter\"}"},
        {{.name = "cpu",
          .labels = l3,
          .nlabels = 3,
          .value = NAN,
          .has_ts = true,
          .ts_ms = 1764220800000},
         "{\"name\":\"cpu\",\"labels\":{\"cpu\":\"0\",\"mode\":\"idle\",\"z\":\"quo\\\"te\"},"
         "\"value\":\"NaN\",\"type\":\"untyped\",\"ts_ms\":1764220800000}"},
        {{.name = "h", .type = SAMPLE_HISTOGRAM, .value = INFINITY, .has_ts = true, .ts_ms = -5},
         "{\"name\":\"h\",\"labels\":{},\"value\":\"+Inf\",\"type\":\"histogram\",\"ts_ms\":-5}"},
        {{.name = NULL, .labels = lnull, .nlabels = 1, .type = 99, .value = -1e-7},
         "{\"name\":\"\",\"labels\":{\"k\":\"\"},\"value\":-1e-07,\"type\":\"untyped\"}"},
        {{.name = "s", .type = SAMPLE_STATESET, .value = 1, .has_ts = true, .ts_ms = INT64_MIN},
         "{\"name\":\"s\",\"labels\":{},\"value\":1,\"type\":\"stateset\","
         "\"ts_ms\":-9223372036854775808}"},
    };
    struct strbuf sb;
    struct json_object *o;
    size_t i;

    strbuf_init(&sb);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(&sb);
        enc_json_sample(&sb, &cases[i].s);
        ck_assert_str_eq(sb.data, cases[i].out);
        ck_assert(t_json_valid(sb.data, sb.len));
        o = t_parse(sb.data, sb.len);
        json_object_put(o);
    }
    strbuf_release(&sb);
}
END_TEST

static struct json_object *
t_get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    T_REQUIRE(json_object_object_get_ex(o, key, &v), "missing key %s", key);
    return v;
}

/* Checks the keys of @o are exactly @keys, in that order. */
static void
t_check_keys(struct json_object *o, const char *const *keys, size_t nkeys)
{
    size_t i = 0;

    ck_assert(json_object_is_type(o, json_type_object));
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        ck_assert_uint_lt(i, nkeys);
        ck_assert_str_eq(key, keys[i]);
        i++;
    }
    ck_assert_uint_eq(i, nkeys);
}

/* Encodes @b, checks the line shape, and returns the parsed object (caller puts it). */
static struct json_object *
t_encode_batch(struct strbuf *sb, const struct batch *b)
{
    strbuf_reset(sb);
    T_REQUIRE(enc_json_batch(sb, b) == 0, "enc_json_batch failed");
    T_REQUIRE(sb->len > 0 && sb->data[sb->len - 1] == '\n', "no newline: %s", sb->data);
    T_REQUIRE(memchr(sb->data, '\n', sb->len) == sb->data + sb->len - 1, "two lines: %s", sb->data);
    T_REQUIRE(t_json_valid(sb->data, sb->len - 1), "invalid JSON: %s", sb->data);
    return t_parse(sb->data, sb->len);
}

static void
t_fill_batch(struct batch *b)
{
    static const struct label tl[] = {{"env", "prod"}, {"dc", "eu1"}};

    batch_init(b);
    b->job = "node";
    b->instance = "127.0.0.1:9100";
    b->url = "http://127.0.0.1:9100/metrics";
    b->target_labels = tl;
    b->ntarget_labels = 2;
    b->ts_ms = 1764220800123;
    b->duration_s = 0.0123;
    b->ok = true;
    b->http_status = 200;
    ck_assert_int_eq(batch_add(b, "node_load1", SAMPLE_GAUGE, 0.42, 0), 0);
    ck_assert_int_eq(batch_add(b, "x", SAMPLE_UNTYPED, NAN, 1, "le", "+Inf"), 0);
    b->samples[1].has_ts = true;
    b->samples[1].ts_ms = 1764220800000;
    ck_assert_int_eq(batch_add(b, "node_cpu_seconds_total", SAMPLE_COUNTER, 123456.78, 2, "cpu",
                               "0", "mode", "idle"),
                     0);
}

START_TEST(test_batch_ok)
{
    static const char *const keys[] = {"ts_ms",  "job",        "instance", "url",    "ok",
                                       "status", "duration_s", "error",    "labels", "samples"};
    static const char *const skeys[] = {"name", "labels", "value", "type"};
    static const char *const skeys_ts[] = {"name", "labels", "value", "type", "ts_ms"};
    struct strbuf sb;
    struct batch b;
    struct json_object *o, *samples, *s, *l;

    strbuf_init(&sb);
    t_fill_batch(&b);
    o = t_encode_batch(&sb, &b);
    ck_assert_str_eq(
        sb.data,
        "{\"ts_ms\":1764220800123,\"job\":\"node\",\"instance\":\"127.0.0.1:9100\","
        "\"url\":\"http://127.0.0.1:9100/metrics\",\"ok\":true,\"status\":200,"
        "\"duration_s\":0.0123,\"error\":null,\"labels\":{\"env\":\"prod\",\"dc\":\"eu1\"},"
        "\"samples\":[{\"name\":\"node_load1\",\"labels\":{},\"value\":0.42,\"type\":\"gauge\"},"
        "{\"name\":\"x\",\"labels\":{\"le\":\"+Inf\"},\"value\":\"NaN\",\"type\":\"untyped\","
        "\"ts_ms\":1764220800000},{\"name\":\"node_cpu_seconds_total\",\"labels\":{\"cpu\":\"0\","
        "\"mode\":\"idle\"},\"value\":123456.78,\"type\":\"counter\"}]}\n");

    t_check_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
    ck_assert_int_eq(json_object_get_int64(t_get(o, "ts_ms")), 1764220800123);
    ck_assert_str_eq(json_object_get_string(t_get(o, "job")), "node");
    ck_assert_str_eq(json_object_get_string(t_get(o, "instance")), "127.0.0.1:9100");
    ck_assert_str_eq(json_object_get_string(t_get(o, "url")), "http://127.0.0.1:9100/metrics");
    ck_assert(json_object_is_type(t_get(o, "ok"), json_type_boolean));
    ck_assert(json_object_get_boolean(t_get(o, "ok")));
    ck_assert_int_eq(json_object_get_int(t_get(o, "status")), 200);
    ck_assert(json_object_get_double(t_get(o, "duration_s")) == 0.0123);
    ck_assert(json_object_is_type(t_get(o, "error"), json_type_null));
    l = t_get(o, "labels");
    ck_assert_int_eq(json_object_object_length(l), 2);
    ck_assert_str_eq(json_object_get_string(t_get(l, "env")), "prod");
    ck_assert_str_eq(json_object_get_string(t_get(l, "dc")), "eu1");

    samples = t_get(o, "samples");
    ck_assert(json_object_is_type(samples, json_type_array));
    ck_assert_uint_eq(json_object_array_length(samples), 3);
    s = json_object_array_get_idx(samples, 0);
    t_check_keys(s, skeys, 4);
    ck_assert_str_eq(json_object_get_string(t_get(s, "name")), "node_load1");
    ck_assert_int_eq(json_object_object_length(t_get(s, "labels")), 0);
    ck_assert(json_object_get_double(t_get(s, "value")) == 0.42);
    ck_assert_str_eq(json_object_get_string(t_get(s, "type")), "gauge");
    s = json_object_array_get_idx(samples, 1);
    t_check_keys(s, skeys_ts, 5);
    ck_assert_str_eq(json_object_get_string(t_get(s, "value")), "NaN");
    ck_assert_str_eq(json_object_get_string(t_get(t_get(s, "labels"), "le")), "+Inf");
    ck_assert_int_eq(json_object_get_int64(t_get(s, "ts_ms")), 1764220800000);
    s = json_object_array_get_idx(samples, 2);
    l = t_get(s, "labels");
    ck_assert_str_eq(json_object_get_string(t_get(l, "cpu")), "0");
    ck_assert_str_eq(json_object_get_string(t_get(l, "mode")), "idle");
    ck_assert(json_object_get_double(t_get(s, "value")) == 123456.78);
    ck_assert_str_eq(json_object_get_string(t_get(s, "type")), "counter");
    json_object_put(o);

    /* Appends: a second line goes after the first. */
    ck_assert_int_eq(enc_json_batch(&sb, &b), 0);
    ck_assert_ptr_eq(strchr(sb.data, '\n') + 1, sb.data + sb.len / 2);

    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_batch_failed)
{
    static const char *const keys[] = {"ts_ms", "job",    "instance", "url",
                                       "ok",    "reason", "status",   "duration_s",
                                       "error", "labels", "samples"};
    struct strbuf sb;
    struct batch b;
    struct json_object *o;

    strbuf_init(&sb);
    t_fill_batch(&b);
    batch_fail(&b, REASON_TIMEOUT, "timeout after %d ms (connected, %d bytes received)", 10000, 0);
    b.http_status = 0;
    b.url = NULL;
    b.instance = NULL;
    b.job = NULL;
    b.ntarget_labels = 0;
    b.target_labels = NULL;
    b.nsamples = 0;
    o = t_encode_batch(&sb, &b);
    t_check_keys(o, keys, sizeof(keys) / sizeof(keys[0]));
    ck_assert(json_object_is_type(t_get(o, "job"), json_type_null));
    ck_assert(json_object_is_type(t_get(o, "instance"), json_type_null));
    ck_assert(json_object_is_type(t_get(o, "url"), json_type_null));
    ck_assert(json_object_is_type(t_get(o, "ok"), json_type_boolean));
    ck_assert(!json_object_get_boolean(t_get(o, "ok")));
    ck_assert_str_eq(json_object_get_string(t_get(o, "reason")), "timeout");
    ck_assert(json_object_is_type(t_get(o, "status"), json_type_null));
    ck_assert_str_eq(json_object_get_string(t_get(o, "error")),
                     "timeout after 10000 ms (connected, 0 bytes received)");
    ck_assert_int_eq(json_object_object_length(t_get(o, "labels")), 0);
    ck_assert_uint_eq(json_object_array_length(t_get(o, "samples")), 0);
    json_object_put(o);

    /* An HTTP failure keeps its status; the error text is escaped. */
    batch_fail(&b, REASON_HTTP_5XX, "HTTP %d \"%s\"\n", 503, "Service Unavailable");
    b.http_status = 503;
    o = t_encode_batch(&sb, &b);
    ck_assert_str_eq(json_object_get_string(t_get(o, "reason")), "http_5xx");
    ck_assert_int_eq(json_object_get_int(t_get(o, "status")), 503);
    ck_assert_str_eq(json_object_get_string(t_get(o, "error")),
                     "HTTP 503 \"Service Unavailable\"\n");
    json_object_put(o);

    /* Not ok without a reason is a bug somewhere; it still reads as a valid reason. */
    batch_clear(&b);
    o = t_encode_batch(&sb, &b);
    ck_assert_str_eq(json_object_get_string(t_get(o, "reason")), "internal");
    ck_assert_str_eq(json_object_get_string(t_get(o, "error")), "");
    json_object_put(o);

    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_batch_oom)
{
    struct strbuf sb;
    struct batch b;

    strbuf_init(&sb);
    t_fill_batch(&b);
    strbuf_puts(&sb, "line\n");
    sb.oom = true;
    ck_assert_int_eq(enc_json_batch(&sb, &b), -ENOMEM);
    ck_assert_str_eq(sb.data, "line\n");
    ck_assert_uint_eq(sb.len, 5);
    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_batch_fuzz)
{
    static const char *const names[] = {"job", "instance", "url", "error"};
    unsigned char str[6][40];
    size_t len[6];
    char want[3 * BATCH_ERROR_MAX + 1];
    struct label tl[2];
    struct strbuf sb;
    struct batch b;
    struct json_object *o, *l, *s;
    const char *got[4];
    size_t k, wlen;
    int i;

    strbuf_init(&sb);
    batch_init(&b);
    for (i = 0; i < 5000; i++) {
        batch_clear(&b);
        for (k = 0; k < 6; k++) {
            len[k] = t_random_string(str[k], sizeof(str[k]) - 1, t_rng() % 2 == 0);
            /* C strings: the batch fields cannot carry NULs */
            str[k][len[k]] = '\0';
            len[k] = strlen((char *)str[k]);
        }
        b.job = (char *)str[0];
        b.instance = (char *)str[1];
        b.url = (char *)str[2];
        batch_fail(&b, (enum reason)(1 + t_rng() % (REASON__COUNT - 1)), "%s", (char *)str[3]);
        tl[0].name = (char *)str[4];
        tl[0].value = (char *)str[5];
        b.target_labels = tl;
        b.ntarget_labels = 1;
        b.ts_ms = (int64_t)t_rng();
        b.duration_s = (double)(t_rng() % 100000) / 1000.0;
        T_REQUIRE(batch_add(&b, (char *)str[4], SAMPLE_GAUGE, (double)(int64_t)t_rng(), 1,
                            (char *)str[5], (char *)str[0]) == 0,
                  "batch_add");

        o = t_encode_batch(&sb, &b);
        got[0] = json_object_get_string(t_get(o, "job"));
        got[1] = json_object_get_string(t_get(o, "instance"));
        got[2] = json_object_get_string(t_get(o, "url"));
        got[3] = json_object_get_string(t_get(o, "error"));
        for (k = 0; k < 4; k++) {
            if (k < 3) {
                wlen = t_utf8_sanitize(str[k], len[k], want);
            }
            else {
                wlen = t_utf8_sanitize((unsigned char *)b.error, strlen(b.error), want);
            }
            want[wlen] = '\0';
            T_REQUIRE(strcmp(got[k], want) == 0, "%s differs: %s", names[k], sb.data);
        }
        T_REQUIRE(json_object_get_int64(t_get(o, "ts_ms")) == b.ts_ms, "ts_ms: %s", sb.data);
        T_REQUIRE(json_object_get_double(t_get(o, "duration_s")) == b.duration_s, "duration_s");
        l = t_get(o, "labels");
        T_REQUIRE(json_object_object_length(l) == 1, "labels: %s", sb.data);
        s = json_object_array_get_idx(t_get(o, "samples"), 0);
        T_REQUIRE(json_object_get_double(t_get(s, "value")) == b.samples[0].value, "value");
        json_object_put(o);
    }
    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

/* ---- the per-batch cache: whole batches against an independent encoder ---- */

/* A C string as the encoder writes it: "" when NULL. */
static void
t_ref_cstr(struct strbuf *out, const char *s)
{
    t_ref_string(out, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void
t_ref_number(struct strbuf *out, double v)
{
    char buf[64];

    if (isnan(v)) {
        strbuf_puts(out, "\"NaN\"");
    }
    else if (isinf(v)) {
        strbuf_puts(out, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    }
    else {
        t_ref_double(buf, sizeof(buf), v);
        strbuf_puts(out, buf);
    }
}

static void
t_ref_labels(struct strbuf *out, const struct label *l, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (i > 0) {
            strbuf_putc(out, ',');
        }
        t_ref_cstr(out, l[i].name);
        strbuf_putc(out, ':');
        t_ref_cstr(out, l[i].value);
    }
}

/* The sample object enc_json_sample() must write, built piece by piece. */
static void
t_ref_sample(struct strbuf *out, const struct sample *s)
{
    strbuf_puts(out, "{\"name\":");
    t_ref_cstr(out, s->name);
    strbuf_puts(out, ",\"labels\":{");
    t_ref_labels(out, s->labels, s->nlabels);
    strbuf_puts(out, "},\"value\":");
    t_ref_number(out, s->value);
    strbuf_printf(out, ",\"type\":\"%s\"", sample_type_name((enum sample_type)s->type));
    if (s->has_ts) {
        strbuf_printf(out, ",\"ts_ms\":%" PRId64, s->ts_ms);
    }
    strbuf_putc(out, '}');
}

/* The line enc_json_batch() must write (enc_json.h), built piece by piece. */
static void
t_ref_batch(struct strbuf *out, const struct batch *b)
{
    const char *const keys[] = {",\"job\":", ",\"instance\":", ",\"url\":"};
    const char *const vals[] = {b->job, b->instance, b->url};
    size_t i;

    strbuf_printf(out, "{\"ts_ms\":%" PRId64, b->ts_ms);
    for (i = 0; i < 3; i++) {
        strbuf_puts(out, keys[i]);
        if (vals[i] == NULL) {
            strbuf_puts(out, "null");
        }
        else {
            t_ref_cstr(out, vals[i]);
        }
    }
    if (b->ok) {
        strbuf_puts(out, ",\"ok\":true");
    }
    else {
        strbuf_printf(out, ",\"ok\":false,\"reason\":\"%s\"",
                      reason_name(b->reason == REASON_NONE ? REASON_INTERNAL : b->reason));
    }
    if (b->http_status == 0) {
        strbuf_puts(out, ",\"status\":null");
    }
    else {
        strbuf_printf(out, ",\"status\":%d", b->http_status);
    }
    strbuf_puts(out, ",\"duration_s\":");
    t_ref_number(out, b->duration_s);
    strbuf_puts(out, ",\"error\":");
    if (b->ok) {
        strbuf_puts(out, "null");
    }
    else {
        t_ref_string(out, b->error, strnlen(b->error, sizeof(b->error)));
    }
    strbuf_puts(out, ",\"labels\":{");
    t_ref_labels(out, b->target_labels, b->ntarget_labels);
    strbuf_puts(out, "},\"samples\":[");
    for (i = 0; i < b->nsamples; i++) {
        if (i > 0) {
            strbuf_putc(out, ',');
        }
        t_ref_sample(out, &b->samples[i]);
    }
    strbuf_puts(out, "]}\n");
}

/*
 * Appends @b to @sb with enc_json_batch() and checks the new line byte for byte against
 * t_ref_batch(), and every sample against enc_json_sample() alone. @sb may hold earlier lines:
 * the cache's offsets must be those of this line.
 */
static void
t_check_batch_ref(struct strbuf *sb, const struct batch *b)
{
    struct strbuf ref, one;
    size_t start = sb->len, i;

    strbuf_init(&ref);
    strbuf_init(&one);
    T_REQUIRE(enc_json_batch(sb, b) == 0, "enc_json_batch failed");
    t_ref_batch(&ref, b);
    T_REQUIRE(!ref.oom, "oom");
    T_REQUIRE(sb->len - start == ref.len && memcmp(sb->data + start, ref.data, ref.len) == 0,
              "batch differs:\n got  %s\n want %s", sb->data + start, ref.data);
    T_REQUIRE(t_json_valid(ref.data, ref.len - 1), "invalid JSON: %s", ref.data);
    for (i = 0; i < b->nsamples; i++) {
        strbuf_reset(&one);
        strbuf_reset(&ref);
        enc_json_sample(&one, &b->samples[i]);
        t_ref_sample(&ref, &b->samples[i]);
        T_REQUIRE(one.len == ref.len && memcmp(one.data, ref.data, ref.len) == 0,
                  "sample %zu differs:\n got  %s\n want %s", i, one.data, ref.data);
    }
    strbuf_release(&ref);
    strbuf_release(&one);
}

/* What prom_parse.c's emit() and build_labels() keep to share strings between samples. */
struct t_sharer {
    const char *last_name;
    const struct label *last; /* the last label array built */
    uint32_t nlast;
};

static const char *
t_share_str(struct batch *b, const char *prev, const char *s)
{
    const char *p;

    if (prev != NULL && strcmp(prev, s) == 0) {
        return prev;
    }
    p = arena_strdup(&b->arena, s);
    T_REQUIRE(p != NULL, "arena_strdup");
    return p;
}

/*
 * Appends a sample whose strings are shared the way the parser shares them: the previous name
 * when equal, the last label array when all @n labels (@kv: name, value, ...) are equal, else
 * a new array reusing the last array's name and value strings position by position.
 */
static struct sample *
t_push_shared(struct batch *b, struct t_sharer *sh, const char *name, uint32_t n,
              const char *const *kv, double value, enum sample_type type)
{
    struct label *arr;
    struct sample *s;
    const struct label *labels = NULL;
    bool same = n > 0 && sh->last != NULL && sh->nlast == n;
    uint32_t i;

    for (i = 0; same && i < n; i++) {
        same = strcmp(sh->last[i].name, kv[2 * i]) == 0 &&
               strcmp(sh->last[i].value, kv[2 * i + 1]) == 0;
    }
    if (same) {
        labels = sh->last;
    }
    else if (n > 0) {
        arr = arena_alloc(&b->arena, n * sizeof(*arr));
        T_REQUIRE(arr != NULL, "arena_alloc");
        for (i = 0; i < n; i++) {
            arr[i].name = t_share_str(b, i < sh->nlast ? sh->last[i].name : NULL, kv[2 * i]);
            arr[i].value = t_share_str(b, i < sh->nlast ? sh->last[i].value : NULL, kv[2 * i + 1]);
        }
        labels = sh->last = arr;
        sh->nlast = n;
    }
    sh->last_name = t_share_str(b, sh->last_name, name);
    s = batch_push(b);
    T_REQUIRE(s != NULL, "batch_push");
    s->name = sh->last_name;
    s->labels = labels;
    s->nlabels = n;
    s->type = (uint8_t)type;
    s->value = value;
    return s;
}

/*
 * Batches shaped like the parser's: families whose samples share the name string, label name
 * strings and equal value strings (some needing escapes or replacement, some longer than one
 * reservation), whole label arrays, type changes, timestamps, more labels than the cache
 * remembers, and a label array reused with fewer labels.
 */
START_TEST(test_batch_shared_strings)
{
    static const char *const cpu_kv[][4] = {
        {"cpu", "0", "mode", "idle"},   {"cpu", "0", "mode", "user"},
        {"cpu", "1", "mode", "idle"},   {"cpu", "1", "mode", "us\"er"},
        {"cpu", "1", "mode", "us\"er"}, {"cpu", "1", "mode", ""},
    };
    static const char *const odd_kv[][6] = {
        {"path", "C:\\tmp\n", "q\"", "\xFF\xFE", "le", "+Inf"},
        {"path", "C:\\tmp\n", "q\"", "\xFF\xFE", "le", "0.5"},
        {"path", "C:\\tmp\n", "q\"", "caf\xC3\xA9", "le", "0.5"},
        {"path", "D:\\", "q\"", "caf\xC3\xA9", "le", "0.5"},
        {"path", "D:\\", "r", "caf\xC3\xA9", "le", "0.5"},
    };
    const char *many[24];
    char *longname = malloc(3000), *longval = malloc(2000);
    struct t_sharer sh = {NULL, NULL, 0};
    struct strbuf sb;
    struct batch b;
    struct sample *s;
    size_t i;

    ck_assert_ptr_nonnull(longname);
    ck_assert_ptr_nonnull(longval);
    memset(longname, 'n', 2999);
    longname[2999] = '\0';
    longname[1500] = '"';
    memset(longval, 'v', 1999);
    longval[1999] = '\0';
    for (i = 0; i < 24; i++) {
        many[i] = i % 2 == 0 ? "lbl" : (i % 4 == 1 ? "x" : "y\ty");
    }

    strbuf_init(&sb);
    t_fill_batch(&b);
    batch_clear(&b);
    b.ok = true;
    for (i = 0; i < 6; i++) {
        s = t_push_shared(&b, &sh, "node_cpu_seconds_total", 2, cpu_kv[i], 100.25 * (double)i,
                          SAMPLE_COUNTER);
        s->has_ts = i % 2 == 1;
        s->ts_ms = 1764220800000 + (int64_t)i;
    }
    for (i = 0; i < 5; i++) {
        t_push_shared(&b, &sh, "we\"ird_\x01name", 3, odd_kv[i], 1.0 / (double)(i + 3),
                      i == 2 ? SAMPLE_GAUGE : SAMPLE_HISTOGRAM);
    }
    t_push_shared(&b, &sh, "we\"ird_\x01name", 0, NULL, NAN, SAMPLE_UNTYPED);
    t_push_shared(&b, &sh, "we\"ird_\x01name", 1, odd_kv[4], -INFINITY, SAMPLE_UNTYPED);
    for (i = 0; i < 4; i++) {
        many[2 * i + 1] = i < 2 ? "x" : "z"; /* 12 labels: positions past the cache's too */
        t_push_shared(&b, &sh, "many", 12, many, (double)i, SAMPLE_GAUGE);
    }
    for (i = 0; i < 3; i++) {
        const char *kv[4] = {"long", longval, "other", i == 1 ? "a" : "b"};

        t_push_shared(&b, &sh, longname, 2, kv, (double)i, SAMPLE_SUMMARY);
    }
    /* The same label array with fewer labels, then with all of them again. */
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 2];
    s->nlabels = 1;
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 3];
    /* An out-of-range type twice, and NULL names and values, which are written "". */
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[0];
    s->type = 99;
    s->name = NULL;
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 2];
    s->labels = arena_alloc(&b.arena, 2 * sizeof(struct label));
    ck_assert_ptr_nonnull(s->labels);
    memcpy((struct label *)s->labels, (struct label[]){{NULL, "v"}, {"k", NULL}},
           2 * sizeof(struct label));
    s = batch_push(&b);
    ck_assert_ptr_nonnull(s);
    *s = b.samples[b.nsamples - 2];

    strbuf_puts(&sb, "an earlier line\n");
    t_check_batch_ref(&sb, &b);
    t_check_batch_ref(&sb, &b); /* again, appended: nothing carried over */

    batch_release(&b);
    strbuf_release(&sb);
    free(longname);
    free(longval);
}
END_TEST

/*
 * The cache keys on addresses, which only stand for the same text within one batch: after a
 * batch is cleared its arena hands the same addresses out again for other strings, and a
 * caller may rewrite a buffer between two batches. The second line must show the new text.
 */
START_TEST(test_batch_cache_reset)
{
    static const char *const kv1[] = {"device", "sda", "mode", "ro"};
    static const char *const kv2[] = {"devicE", "sdb", "mOde", "rw\"x"};
    static const char *const kv3[] = {"dev", "s", "m", "r"};
    const char *const *kvs[] = {kv1, kv2, kv3};
    const char *const names[] = {"node_disk_info", "node_disk_inf\n", "n"};
    const char *first_name = NULL, *first_label = NULL;
    struct t_sharer sh;
    struct strbuf sb;
    struct batch b;
    char buf[32];
    size_t i, j;

    strbuf_init(&sb);
    t_fill_batch(&b);
    for (i = 0; i < 3; i++) {
        batch_clear(&b);
        b.ok = true;
        memset(&sh, 0, sizeof(sh));
        for (j = 0; j < 3; j++) {
            t_push_shared(&b, &sh, names[i], 2, kvs[i], (double)j, SAMPLE_GAUGE);
        }
        if (i == 0) {
            first_name = b.samples[0].name;
            first_label = b.samples[0].labels[0].name;
        }
        else {
            /* the scenario under test: same addresses, other strings */
            ck_assert_ptr_eq(b.samples[0].name, first_name);
            ck_assert_ptr_eq(b.samples[0].labels[0].name, first_label);
        }
        t_check_batch_ref(&sb, &b);
    }

    /* A buffer rewritten between two batches encoded into the same strbuf. */
    batch_clear(&b);
    b.ok = true;
    strcpy(buf, "first");
    for (j = 0; j < 2; j++) {
        ck_assert_int_eq(batch_add(&b, buf, SAMPLE_GAUGE, 1.5, 1, buf, buf), 0);
    }
    t_check_batch_ref(&sb, &b);
    strcpy(buf, "2nd \"one\", longer");
    t_check_batch_ref(&sb, &b);
    strcpy(buf, "3");
    t_check_batch_ref(&sb, &b);
    ck_assert_ptr_null(strstr(sb.data + sb.len - 120, "first"));

    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

/*
 * Random batches over a small pool of strings (plain, escaped, invalid UTF-8, empty, NULL,
 * longer than one reservation), so addresses repeat within a sample, across positions and
 * across samples, with label arrays shared whole, shortened or partly reused.
 */
START_TEST(test_batch_random_shared)
{
    enum { POOL = 24, MAXL = 12 };
    static char pool[POOL][1100];
    const char *ptrs[POOL];
    struct label *arr;
    struct strbuf sb;
    struct batch b;
    struct sample *s, *prev;
    size_t n, k;
    uint32_t nl, j;
    int round, i, ns;

    for (k = 0; k < POOL; k++) {
        n = k < 2 ? 1050 : t_random_string((unsigned char *)pool[k], 30, k % 3 != 0);
        if (k < 2) {
            memset(pool[k], k == 0 ? 'a' : '\\', n);
        }
        pool[k][n] = '\0';
        ptrs[k] = pool[k];
    }
    ptrs[2] = NULL;
    ptrs[3] = "";
    ptrs[4] = pool[5] + 1; /* a suffix of another pool string */

    strbuf_init(&sb);
    t_fill_batch(&b);
    for (round = 0; round < 400; round++) {
        batch_clear(&b);
        b.ok = t_rng() % 4 != 0;
        b.reason = (enum reason)(t_rng() % REASON__COUNT);
        ns = (int)(t_rng() % 40);
        for (i = 0; i < ns; i++) {
            s = batch_push(&b);
            ck_assert_ptr_nonnull(s);
            prev = i > 0 ? &b.samples[i - 1] : NULL;
            s->name = prev != NULL && t_rng() % 4 != 0 ? prev->name : ptrs[t_rng() % POOL];
            if (prev != NULL && prev->nlabels > 0 && t_rng() % 5 == 0) {
                s->labels = prev->labels;
                s->nlabels = (uint32_t)(t_rng() % (prev->nlabels + 1));
            }
            else {
                nl = (uint32_t)(t_rng() % (MAXL + 1));
                arr = nl > 0 ? arena_alloc(&b.arena, nl * sizeof(*arr)) : NULL;
                T_REQUIRE(nl == 0 || arr != NULL, "arena_alloc");
                for (j = 0; j < nl; j++) {
                    const struct label *pl =
                        prev != NULL && j < prev->nlabels ? &prev->labels[j] : NULL;

                    arr[j].name = pl != NULL && t_rng() % 4 != 0 ? pl->name : ptrs[t_rng() % POOL];
                    arr[j].value =
                        pl != NULL && t_rng() % 2 != 0 ? pl->value : ptrs[t_rng() % POOL];
                }
                s->labels = arr;
                s->nlabels = nl;
            }
            s->type = (uint8_t)(t_rng() % (SAMPLE_TYPE__COUNT + 2));
            s->has_ts = t_rng() % 3 == 0;
            s->ts_ms = (int64_t)t_rng();
            s->value = (double)(int64_t)(t_rng() % 2000000) / (double)(1 + t_rng() % 1000);
        }
        if (sb.len > 1000000) {
            strbuf_reset(&sb);
        }
        t_check_batch_ref(&sb, &b);
    }
    batch_release(&b);
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_encoder_entry)
{
    ck_assert_str_eq(enc_json.name, "json");
    ck_assert_ptr_eq(enc_json.encode, enc_json_batch);
}
END_TEST

static void
cache_teardown(void)
{
    arena_free_cache();
}

static Suite *
enc_json_suite(void)
{
    Suite *s = suite_create("enc_json");
    TCase *tc;

    tc = tcase_create("oracle");
    tcase_add_test(tc, test_oracle_validator);
    suite_add_tcase(s, tc);

    tc = tcase_create("strbuf");
    tcase_add_test(tc, test_strbuf_basic);
    tcase_add_test(tc, test_strbuf_oom_sticky);
    suite_add_tcase(s, tc);

    tc = tcase_create("string");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_string_control_chars);
    tcase_add_test(tc, test_string_table);
    tcase_add_test(tc, test_string_long);
    tcase_add_test(tc, test_string_fuzz);
    tcase_add_test(tc, test_string_positions);
    tcase_add_test(tc, test_string_chunk_boundaries);
    suite_add_tcase(s, tc);

    tc = tcase_create("double");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_double_table);
    tcase_add_test(tc, test_double_special);
    tcase_add_test(tc, test_double_random_bits);
    tcase_add_test(tc, test_double_random_decimal);
    tcase_add_test(tc, test_double_exact_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, cache_teardown);
    tcase_add_test(tc, test_sample_table);
    tcase_add_test(tc, test_batch_ok);
    tcase_add_test(tc, test_batch_failed);
    tcase_add_test(tc, test_batch_oom);
    tcase_add_test(tc, test_batch_fuzz);
    tcase_add_test(tc, test_batch_shared_strings);
    tcase_add_test(tc, test_batch_cache_reset);
    tcase_add_test(tc, test_batch_random_shared);
    tcase_add_test(tc, test_encoder_entry);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(enc_json_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
