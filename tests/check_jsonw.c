/*
 * Unit tests for jsonw.c, the JSON text writer (and the strbuf it writes into). Every output is
 * checked twice: by the strict RFC 8259 validator in tests/jsonref.c and by parsing it back with
 * json-c to compare the values. Strings are compared with an independent model of the U+FFFD
 * replacement; doubles are read back with strtod and compared bit for bit, and compared against
 * the reference %.15g/%.16g/%.17g algorithm text for text; integers against printf.
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

#include "jsonref.h"
#include "jsonw.h"
#include "strbuf.h"

/* Encodes @s with jsonw_string into a fresh buffer. */
static void
t_encode_string(struct strbuf *sb, const void *s, size_t n)
{
    strbuf_reset(sb);
    jsonw_string(sb, s, n);
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
    T_REQUIRE(jsonref_valid(sb->data, sb->len), "invalid JSON: %s", sb->data);
    o = jsonref_parse(sb->data, sb->len);
    T_REQUIRE(json_object_is_type(o, json_type_string), "not a string: %s", sb->data);
    wlen = jsonref_utf8_sanitize(s, n, want);
    T_REQUIRE((size_t)json_object_get_string_len(o) == wlen &&
                  memcmp(json_object_get_string(o), want, wlen) == 0,
              "decodes differently: %s", sb->data);
    if (jsonref_utf8_valid(s, n)) {
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
        ck_assert_msg(jsonref_valid(good[i], strlen(good[i])), "rejected %s", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!jsonref_valid(bad[i], strlen(bad[i])), "accepted %s", bad[i]);
    }
    /* The replacement model: one U+FFFD per maximal subpart. */
    ck_assert_uint_eq(jsonref_utf8_sanitize((const unsigned char *)"\xE2\x82\x41", 3, (char *)san),
                      4);
    ck_assert_mem_eq(san, "\xEF\xBF\xBD\x41", 4);
    ck_assert_uint_eq(jsonref_utf8_sanitize((const unsigned char *)"\xED\xA0", 2, (char *)san), 6);
    ck_assert(!jsonref_utf8_valid((const unsigned char *)"\xF0\x8F\xBF\xBF", 4));
    ck_assert(jsonref_utf8_valid((const unsigned char *)"\xF0\x90\x80\x80", 4));
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
    jsonw_string(&sb, "s", 1);
    jsonw_double(&sb, 0.5);
    ck_assert_int_eq(strbuf_reserve(&sb, 1), -ENOMEM);
    ck_assert_str_eq(sb.data, "keep");
    ck_assert_uint_eq(sb.len, 4);
    strbuf_reset(&sb);
    ck_assert(!sb.oom);
    strbuf_puts(&sb, "ok");
    ck_assert_str_eq(sb.data, "ok");

    /* A string too long to ever fit is refused before any byte is read. */
    jsonw_string(&sb, "x", SIZE_MAX);
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
    jsonw_string(&sb, (const char *)in, n);
    ck_assert(!sb.oom);
    ck_assert_uint_eq(sb.len, 7 + 2 + (n / 3) * (2 + 3 + 1));
    ck_assert_uint_eq(strlen(sb.data), sb.len);
    ck_assert(jsonref_valid(sb.data + 7, sb.len - 7));
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
        n = jsonref_random_string(buf, sizeof(buf), i % 2 == 0);
        t_encode_string(&sb, buf, n);
        t_check_string_roundtrip(&sb, buf, n);
    }
    strbuf_release(&sb);
}
END_TEST

/* Checks jsonw_string(@s) against jsonref_string(@s), appended after @prefix bytes of text. */
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
    jsonw_string(&sb, s, n);
    jsonref_string(&ref, s, n);
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
    jsonw_double(&sb, v);
    T_REQUIRE(!sb.oom && sb.len <= 24, "%.17g: %s", v, sb.data);
    if (want != NULL) {
        T_REQUIRE(strcmp(sb.data, want) == 0, "%.17g: got %s want %s", v, sb.data, want);
    }
    T_REQUIRE(jsonref_valid(sb.data, sb.len), "%.17g: not a JSON number: %s", v, sb.data);
    T_REQUIRE(strspn(sb.data, "-0123456789.e+") == sb.len, "%.17g: %s", v, sb.data);
    back = strtod(sb.data, NULL);
    T_REQUIRE(memcmp(&back, &expect, sizeof(back)) == 0, "%.17g -> %s -> %.17g", v, sb.data, back);
    /* The same text as the reference algorithm, whatever fast path produced it. */
    jsonref_double(ref, sizeof(ref), v);
    T_REQUIRE(strcmp(sb.data, ref) == 0, "%.17g: got %s, reference %s", v, sb.data, ref);
    o = jsonref_parse(sb.data, sb.len);
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
        jsonw_double(&sb, cases[i].v);
        ck_assert_str_eq(sb.data, cases[i].out);
        ck_assert(jsonref_valid(sb.data, sb.len));
        o = jsonref_parse(sb.data, sb.len);
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
        bits = jsonref_rng();
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
        digits = 1 + (int)(jsonref_rng() % 17);
        m = jsonref_rng() % 100000000000000000ULL;
        while (digits < 17 && m >= 10) {
            m /= 10;
            digits++;
        }
        exp10 = (int)(jsonref_rng() % 44) - 22;
        snprintf(text, sizeof(text), "%s%" PRIu64 "e%d", jsonref_rng() % 2 ? "-" : "", m, exp10);
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
            bits = ((uint64_t)(1023 + e) << 52) | (jsonref_rng() & ((1ULL << 52) - 1));
            memcpy(&v, &bits, sizeof(v));
            t_check_double(v, NULL);
        }
    }
    for (i = 0; i < 20000; i++) {
        j = 1 + (int)(jsonref_rng() % 60);
        v = ldexp((double)(jsonref_rng() >> (11 + jsonref_rng() % 30)), -j);
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

/* ---- integers ---- */

/*
 * jsonw_i64() and jsonw_fmt_i64() against printf: every digit count and its boundaries (the
 * digit-pair and 8-at-a-time paths), both signs, the extremes, and random values.
 */
START_TEST(test_i64)
{
    char buf[JSONW_I64_MAX + 8], want[32];
    struct strbuf sb;
    int64_t vals[200];
    size_t n = 0, i, len;
    uint64_t p = 1;
    int d, k;

    vals[n++] = 0;
    vals[n++] = INT64_MAX;
    vals[n++] = INT64_MIN;
    vals[n++] = INT64_MIN + 1;
    for (d = 1; d <= 18; d++) {
        p *= 10;
        vals[n++] = (int64_t)p;
        vals[n++] = (int64_t)p - 1;
        vals[n++] = -(int64_t)p;
        vals[n++] = -(int64_t)p + 1;
        vals[n++] = (int64_t)p + 1;
    }
    strbuf_init(&sb);
    for (k = 0; k < 20000; k++) {
        int64_t v = k < (int)n ? vals[k] : (int64_t)(jsonref_rng() >> (jsonref_rng() % 64));

        if (k >= (int)n && k % 2 == 1) {
            v = -v;
        }
        snprintf(want, sizeof(want), "%" PRId64, v);
        memset(buf, 'x', sizeof(buf));
        len = jsonw_fmt_i64(buf, v);
        T_REQUIRE(len == strlen(want) && memcmp(buf, want, len) == 0, "fmt %s: got %.*s", want,
                  (int)len, buf);
        for (i = len; i < sizeof(buf); i++) {
            T_REQUIRE(buf[i] == 'x', "fmt %s wrote past its length", want);
        }
        strbuf_reset(&sb);
        jsonw_i64(&sb, v);
        T_REQUIRE(!sb.oom && strcmp(sb.data, want) == 0, "i64 %s: got %s", want, sb.data);
    }
    strbuf_release(&sb);
}
END_TEST

/* ---- C strings, null, and the pointer layer ---- */

START_TEST(test_cstr_and_null)
{
    struct strbuf sb;

    ck_assert_str_eq(jsonw_str_or_empty(NULL), "");
    ck_assert_str_eq(jsonw_str_or_empty("a"), "a");
    strbuf_init(&sb);
    jsonw_cstr(&sb, NULL);
    strbuf_putc(&sb, ',');
    jsonw_cstr(&sb, "a\"b\n");
    strbuf_putc(&sb, ',');
    jsonw_cstr_or_null(&sb, NULL);
    strbuf_putc(&sb, ',');
    jsonw_cstr_or_null(&sb, "");
    strbuf_putc(&sb, ',');
    jsonw_cstr_or_null(&sb, "\xFF");
    ck_assert_str_eq(sb.data, "\"\",\"a\\\"b\\n\",null,\"\",\"\xEF\xBF\xBD\"");
    strbuf_release(&sb);
}
END_TEST

/* Every appending writer is a no-op on an oom buffer and leaves its text as it was. */
START_TEST(test_oom_noop)
{
    struct strbuf sb;

    strbuf_init(&sb);
    strbuf_puts(&sb, "keep");
    ck_assert_int_eq(strbuf_reserve(&sb, SIZE_MAX - 2), -ENOMEM);
    jsonw_string(&sb, "s", 1);
    jsonw_cstr(&sb, "c");
    jsonw_cstr_or_null(&sb, NULL);
    jsonw_cstr_or_null(&sb, "n");
    jsonw_double(&sb, 0.25);
    jsonw_double(&sb, NAN);
    jsonw_i64(&sb, -7);
    ck_assert(sb.oom);
    ck_assert_uint_eq(sb.len, 4);
    ck_assert_str_eq(sb.data, "keep");
    strbuf_release(&sb);
}
END_TEST

/*
 * The pointer layer as an encoder uses it: reserve, store several pieces, grow through
 * jsonw_ensure() (short strings) or through jsonw_string() (strings over JSONW_SHORT_STR), with
 * the slack promised after each piece. The text must equal the appending writers' text.
 */
START_TEST(test_put_layer)
{
    static const double nums[] = {0, -1, 0.1, 1e300, -2.5e-7, 123456789.125, NAN, -INFINITY};
    size_t lens[] = {0, 1, 7, 16, 17, JSONW_SHORT_STR, JSONW_SHORT_STR + 1, 5000};
    char *str = malloc(5001);
    struct strbuf sb, ref;
    size_t i, k, slack = 1 + JSONW_NUM_MAX + 1 + JSONW_I64_MAX + 1;
    char *p;

    ck_assert_ptr_nonnull(str);
    for (i = 0; i < 5000; i++) {
        str[i] = i % 97 == 0 ? '\n' : (char)('a' + i % 26);
    }
    str[5000] = '\0';
    strbuf_init(&sb);
    strbuf_init(&ref);
    for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        char saved = str[lens[k]];

        str[lens[k]] = '\0';
        strbuf_reset(&sb);
        strbuf_reset(&ref);
        strbuf_release(&sb); /* start from nothing, so every piece grows the buffer */
        ck_assert(strbuf_room(&sb, 1));
        p = sb.data + sb.len;
        for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
            p = jsonw_put_cstr_at(&sb, p, k % 2 == 0 ? str : NULL, slack);
            ck_assert_ptr_nonnull(p);
            *p++ = ':';
            p = jsonw_put_double(p, nums[i]);
            *p++ = ',';
            p = jsonw_put_i64(p, (int64_t)i * -1000003);
            *p++ = ';';
            jsonw_cstr(&ref, k % 2 == 0 ? str : NULL);
            strbuf_putc(&ref, ':');
            jsonw_double(&ref, nums[i]);
            strbuf_putc(&ref, ',');
            jsonw_i64(&ref, (int64_t)i * -1000003);
            strbuf_putc(&ref, ';');
        }
        sb.len = (size_t)(p - sb.data);
        *p = '\0';
        ck_assert(!sb.oom && !ref.oom);
        ck_assert_uint_eq(sb.len, ref.len);
        ck_assert_str_eq(sb.data, ref.data);
        str[lens[k]] = saved;
    }
    /* jsonw_put_str() alone, with exactly 6 * n + 2 bytes of room. */
    for (k = 0; k < 40; k++) {
        char room[6 * 40 + 2 + 1];

        p = jsonw_put_str(room,
                          "\"\x01\\ab\xC3\xA9\xFF"
                          "0123456789012345678901234567890",
                          k);
        *p = '\0';
        ck_assert_uint_le((size_t)(p - room), 6 * k + 2);
        strbuf_reset(&ref);
        jsonw_string(&ref,
                     "\"\x01\\ab\xC3\xA9\xFF"
                     "0123456789012345678901234567890",
                     k);
        ck_assert_str_eq(room, ref.data);
    }
    strbuf_release(&sb);
    strbuf_release(&ref);
    free(str);
}
END_TEST

static Suite *
jsonw_suite(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc;

    tc = tcase_create("oracle");
    tcase_add_test(tc, test_oracle_validator);
    suite_add_tcase(s, tc);

    tc = tcase_create("strbuf");
    tcase_add_test(tc, test_strbuf_basic);
    tcase_add_test(tc, test_strbuf_oom_sticky);
    tcase_add_test(tc, test_oom_noop);
    suite_add_tcase(s, tc);

    tc = tcase_create("string");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_string_control_chars);
    tcase_add_test(tc, test_string_table);
    tcase_add_test(tc, test_string_long);
    tcase_add_test(tc, test_string_fuzz);
    tcase_add_test(tc, test_string_positions);
    tcase_add_test(tc, test_string_chunk_boundaries);
    tcase_add_test(tc, test_cstr_and_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("double");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_double_table);
    tcase_add_test(tc, test_double_special);
    tcase_add_test(tc, test_double_random_bits);
    tcase_add_test(tc, test_double_random_decimal);
    tcase_add_test(tc, test_double_exact_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("integer");
    tcase_add_test(tc, test_i64);
    suite_add_tcase(s, tc);

    tc = tcase_create("put");
    tcase_add_test(tc, test_put_layer);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(jsonw_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
