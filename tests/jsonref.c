/*
 * Test oracles for JSON text (see jsonref.h). Nothing here calls agent/jsonw.c: the point is to
 * judge its output independently.
 */
#include "build-config.h"

#include "jsonref.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

bool
jsonref_utf8_valid(const unsigned char *s, size_t n)
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
 * The expected decoded text of jsonw_string(@s): valid sequences kept, each maximal
 * subpart of an invalid sequence (the longest viable prefix, at least one byte) replaced by
 * U+FFFD. @out needs 3 * @n bytes; returns the length.
 */
size_t
jsonref_utf8_sanitize(const unsigned char *s, size_t n, char *out)
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
    bool unique_keys; /* reject an object with a key written twice */
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
    case '{': {
        enum { MAXK = 512 };
        const unsigned char *keys[MAXK];
        size_t klen[MAXK], nk = 0;

        j->p++;
        t_json_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            break;
        }
        for (;;) {
            const unsigned char *ks;
            t_json_ws(j);
            ks = j->p;
            if (!t_json_string(j) || nk == MAXK) {
                return false;
            }
            /* One writer escapes equal strings alike: equal text is a repeated key. */
            for (size_t i = 0; j->unique_keys && i < nk; i++) {
                if (klen[i] == (size_t)(j->p - ks) && memcmp(keys[i], ks, klen[i]) == 0) {
                    return false;
                }
            }
            keys[nk] = ks;
            klen[nk++] = (size_t)(j->p - ks);
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
    }
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

static bool
valid(const char *s, size_t n, bool unique_keys)
{
    struct t_json j = {(const unsigned char *)s, (const unsigned char *)s + n, 0, unique_keys};

    if (!t_json_value(&j)) {
        return false;
    }
    t_json_ws(&j);
    return j.p == j.end;
}

bool
jsonref_valid(const char *s, size_t n)
{
    return valid(s, n, false);
}

bool
jsonref_valid_unique(const char *s, size_t n)
{
    return valid(s, n, true);
}

/*
 * Parses the NUL-terminated @s (@n bytes before the NUL) with json-c, failing the test when
 * json-c rejects it. The NUL is passed too: it is what ends a top-level number for json-c.
 * Caller puts the result.
 */
struct json_object *
jsonref_parse(const char *s, size_t n)
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
void
jsonref_double(char *buf, size_t size, double v)
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
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

uint64_t
jsonref_rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
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
size_t
jsonref_random_string(unsigned char *buf, size_t max, bool valid)
{
    static const unsigned char specials[] = {'"',  '\\', '/',  0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xC1,
                                             0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    size_t n = (size_t)(jsonref_rng() % (max + 1));
    size_t i = 0;
    uint32_t cp, r;

    while (i < n) {
        r = (uint32_t)(jsonref_rng() % 100);
        if (valid) {
            if (r < 40) {
                cp = (uint32_t)(jsonref_rng() % 0x80);
            }
            else if (r < 60) {
                cp = 0x80 + (uint32_t)(jsonref_rng() % (0x800 - 0x80));
            }
            else if (r < 85) {
                cp = 0x800 + (uint32_t)(jsonref_rng() % (0x10000 - 0x800));
            }
            else {
                cp = 0x10000 + (uint32_t)(jsonref_rng() % (0x110000 - 0x10000));
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
            buf[i++] = (unsigned char)(0x20 + jsonref_rng() % 0x5F);
        }
        else if (r < 55) {
            buf[i++] = (unsigned char)(jsonref_rng() % 0x20);
        }
        else if (r < 75) {
            buf[i++] = specials[jsonref_rng() % sizeof(specials)];
        }
        else if (r < 85 && i + 4 <= n) {
            i += t_utf8_encode(0x80 + (uint32_t)(jsonref_rng() % 0x10FF80), buf + i);
        }
        else {
            buf[i++] = (unsigned char)(0x80 + jsonref_rng() % 0x80);
        }
    }
    return i;
}

/*
 * The expected JSON text of a string (@n bytes at @s): the sanitized bytes (jsonref_utf8_sanitize)
 * with '"', '\\' and control characters escaped. Independent of jsonw.c, so it checks the
 * writer's fast paths byte for byte.
 */
void
jsonref_string(struct strbuf *out, const void *s, size_t n)
{
    char *clean = malloc(3 * n + 1);
    char esc[8];
    size_t len, i;
    unsigned char c;

    T_REQUIRE(clean != NULL, "malloc");
    len = jsonref_utf8_sanitize(s, n, clean);
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
