/*
 * The native JSON encoder (DESIGN.md, "Output JSON"): streams a batch as one line of JSON text
 * into a struct strbuf. It owns the two hard parts every text encoder shares, string escaping
 * and shortest round-trip number formatting, and is tested by parsing its output back.
 *
 * Speed matters here (DESIGN.md, "Performance targets": 500 ns per sample for everything), so
 * the writers reserve space once and then store into sb->data directly instead of calling
 * strbuf_append() per piece, strings are scanned 8 bytes at a time, and numbers avoid printf
 * and strtod where exact integer and double arithmetic can produce the same text:
 *
 *   - integers below 2^53: written by hand;
 *   - values that have a decimal form of at most 15 significant digits (0.42, 2.5517e-05):
 *     found by a short search with an exact check, written in %g layout;
 *   - the rest (full-precision values like 0.1 + 0.2): one snprintf("%.16e") gives 17 correctly
 *     rounded digits, the 15- and 16-digit candidates are derived from them and checked exactly
 *     where possible, and snprintf/strtod are used only where that cannot decide.
 *
 * The text is always exactly what the reference algorithm (the first of %.15g, %.16g, %.17g
 * that strtod reads back as the same double) prints; tests/check_enc_json.c compares the two.
 */
#include "config.h"

#include "enc_json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENC_JSON_NUM_MAX 32 /* longest number text: "-2.2250738585072014e-308" is 24 bytes */
#define ENC_JSON_I64_MAX 20 /* "-9223372036854775808" */
#define ENC_JSON_INT_LIMIT 9007199254740992.0 /* 2^53: integers below it are written as such */
#define ENC_JSON_POW10_EXACT 22               /* 10^22 is the largest exact power of ten */
#define ENC_JSON_SHORT_DIGITS 15              /* digits of the first candidate, %.15g */

/*
 * The exact checks below rely on each double operation being rounded once, to double (not x87
 * extended precision). Where that does not hold, every number goes through snprintf/strtod.
 */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define ENC_JSON_EXACT_DOUBLE 1
#else
#define ENC_JSON_EXACT_DOUBLE 0
#endif

const struct encoder enc_json = {
    .name = "json",
    .encode = enc_json_batch,
};

/* Bytes copied into a JSON string unchanged: printable ASCII except '"' and '\\' (and DEL). */
static const bool json_plain[256] = {
    [0x20 ... 0x21] = true,
    [0x23 ... 0x5B] = true,
    [0x5D ... 0x7F] = true,
};

/* The two-character escapes of control characters; 0 means \u00XX. */
static const char json_short_escape[0x20] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
};

static const char hex_digits[] = "0123456789abcdef";

static const char digit_pairs[] = "00010203040506070809"
                                  "10111213141516171819"
                                  "20212223242526272829"
                                  "30313233343536373839"
                                  "40414243444546474849"
                                  "50515253545556575859"
                                  "60616263646566676869"
                                  "70717273747576777879"
                                  "80818283848586878889"
                                  "90919293949596979899";

static const double pow10_dbl[ENC_JSON_POW10_EXACT + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * True when @n more bytes (plus the NUL) fit at sb->data + sb->len, growing the buffer if
 * needed. The inline test keeps the common case free of a call into strbuf.c.
 */
static inline bool
room(struct strbuf *sb, size_t n)
{
    return (!sb->oom && sb->cap - sb->len > n) || strbuf_reserve(sb, n) == 0;
}

static inline void
put(struct strbuf *sb, const char *s, size_t n)
{
    if (!room(sb, n)) {
        return;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

#define PUT_LIT(sb, lit) put((sb), (lit), sizeof(lit) - 1)

/* Writes the decimal digits of @u ending just before @end; returns the first digit. */
static char *
fmt_u64_backwards(char *end, uint64_t u)
{
    char *p = end;

    while (u >= 100) {
        p -= 2;
        memcpy(p, &digit_pairs[(u % 100) * 2], 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, &digit_pairs[u * 2], 2);
    }
    else {
        *--p = (char)('0' + u);
    }
    return p;
}

/* Writes @v in decimal into @buf (at least ENC_JSON_I64_MAX bytes, no NUL); returns the length. */
static size_t
fmt_i64(char *buf, int64_t v)
{
    char tmp[ENC_JSON_I64_MAX];
    char *end = tmp + sizeof(tmp);
    char *p;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    p = fmt_u64_backwards(end, u);
    if (v < 0) {
        *--p = '-';
    }
    memcpy(buf, p, (size_t)(end - p));
    return (size_t)(end - p);
}

static void
put_i64(struct strbuf *sb, int64_t v)
{
    if (!room(sb, ENC_JSON_I64_MAX)) {
        return;
    }
    sb->len += fmt_i64(sb->data + sb->len, v);
    sb->data[sb->len] = '\0';
}

/*
 * Lays out the decimal 0.@dig x 10^(@x + 1) (@nd digits, @dig[0] != '0', no trailing zeros;
 * @x is the exponent of the first digit) exactly as printf("%.{@prec}g") does: fixed notation
 * when -4 <= x < prec, else d.ddde+XX with at least two exponent digits; trailing zeros and a
 * bare point removed. Writes at most ENC_JSON_NUM_MAX bytes into @buf; returns the length.
 */
static size_t
fmt_g_layout(char *buf, bool neg, const char *dig, size_t nd, int x, int prec)
{
    size_t len = 0;
    size_t nint;
    unsigned ax;

    if (neg) {
        buf[len++] = '-';
    }
    if (x < -4 || x >= prec) {
        buf[len++] = dig[0];
        if (nd > 1) {
            buf[len++] = '.';
            memcpy(buf + len, dig + 1, nd - 1);
            len += nd - 1;
        }
        buf[len++] = 'e';
        buf[len++] = x < 0 ? '-' : '+';
        ax = x < 0 ? (unsigned)-x : (unsigned)x;
        if (ax >= 100) {
            buf[len++] = (char)('0' + ax / 100);
            ax %= 100;
        }
        memcpy(buf + len, &digit_pairs[ax * 2], 2);
        return len + 2;
    }
    if (x < 0) {
        buf[len++] = '0';
        buf[len++] = '.';
        memset(buf + len, '0', (size_t)(-x - 1));
        len += (size_t)(-x - 1);
        memcpy(buf + len, dig, nd);
        return len + nd;
    }
    nint = (size_t)x + 1;
    if (nd <= nint) {
        memcpy(buf + len, dig, nd);
        memset(buf + len + nd, '0', nint - nd);
        return len + nint;
    }
    memcpy(buf + len, dig, nint);
    len += nint;
    buf[len++] = '.';
    memcpy(buf + len, dig + nint, nd - nint);
    return len + nd - nint;
}

/*
 * Formats finite @v with printf and checks with strtod, the reference algorithm for precision
 * @prec alone. Returns the length, or 0 when that text does not read back as @v.
 */
static size_t
fmt_g_checked(char *buf, double v, int prec)
{
    int n = snprintf(buf, ENC_JSON_NUM_MAX, "%.*g", prec, v);

    if (n <= 0 || n >= ENC_JSON_NUM_MAX || strtod(buf, NULL) != v) {
        return 0;
    }
    return (size_t)n;
}

#if ENC_JSON_EXACT_DOUBLE
enum short_result {
    SHORT_FOUND,   /* the shortest decimal has at most 15 digits, and was written */
    SHORT_NONE,    /* no decimal of at most 15 digits reads back as the value */
    SHORT_UNKNOWN, /* out of this search's range: ask the slower paths */
};

/*
 * Looks for the decimal with the fewest fraction digits k (so the fewest significant digits)
 * whose value m / 10^k reads back as non-integral finite @v, among those with m < 10^15, and
 * writes it in %.15g layout.
 *
 * Why the check is exact: m < 2^53 and 10^k (k <= 22) are exact doubles, so m / 10^k is the
 * correctly rounded value of the decimal m * 10^-k, which is what strtod returns for its text.
 * Why the text is what "%.15g" prints: a decimal of at most 15 digits within half an ulp of @v
 * lies closer to @v than half the spacing of 15-digit decimals, so it is the 15-digit rounding
 * of @v, the digits %.15g prints.
 */
static enum short_result
fmt_short_decimal(char *buf, double v, size_t *len)
{
    double a = fabs(v);
    double x;
    uint64_t bits, m;
    int e2, k, kstart, xd;
    size_t nd;
    char tmp[ENC_JSON_I64_MAX];
    char *dig;

    if (a >= ENC_JSON_INT_LIMIT) {
        return SHORT_UNKNOWN; /* integral; may be 1e+20, which needs a search the other way */
    }
    if (a >= 1e15) {
        return SHORT_NONE; /* non-integral above 10^15: at least 16 digits */
    }
    /*
     * Start near the first significant digit: a < 2^(e2 + 1), so it needs at least
     * floor(-(e2 + 1) * log10(2)) fraction digits (0.30102 rounds log10(2) down: a lower bound).
     */
    memcpy(&bits, &a, sizeof(bits));
    e2 = (int)((bits >> 52) & 0x7FF) - 1023;
    kstart = e2 + 1 >= 0 ? 1 : (int)((-(int64_t)(e2 + 1) * 30102) / 100000);
    if (kstart < 1) {
        kstart = 1;
    }
    for (k = kstart; k <= ENC_JSON_POW10_EXACT; k++) {
        x = a * pow10_dbl[k];
        if (x >= 1e15) {
            return SHORT_NONE;
        }
        m = (uint64_t)(x + 0.5); /* exact: x < 2^50, so x + 0.5 is representable */
        if (m >= 1000000000000000ULL) {
            return SHORT_NONE;
        }
        if (m == 0 || (double)m / pow10_dbl[k] != a) {
            continue;
        }
        while (m % 10 == 0) {
            m /= 10;
            k--;
        }
        dig = fmt_u64_backwards(tmp + sizeof(tmp), m);
        nd = (size_t)(tmp + sizeof(tmp) - dig);
        xd = (int)nd - 1 - k;
        *len = fmt_g_layout(buf, v < 0, dig, nd, xd, ENC_JSON_SHORT_DIGITS);
        return SHORT_FOUND;
    }
    return SHORT_UNKNOWN;
}

/*
 * Whether the decimal @dig (@nd <= 16 digits) x 10^(@x - @nd + 1) reads back as @a (> 0):
 * 1 yes, 0 no, -1 when the exact check does not apply (mantissa above 2^53 or exponent beyond
 * 10^22). Exact for the same reason as fmt_short_decimal: one correctly rounded operation.
 */
static int
decimal_is(const char *dig, size_t nd, int x, double a)
{
    uint64_t m = 0;
    int e = x - (int)nd + 1;
    size_t i;

    for (i = 0; i < nd; i++) {
        m = m * 10 + (uint64_t)(dig[i] - '0');
    }
    if (m > (1ULL << 53) || e > ENC_JSON_POW10_EXACT || e < -ENC_JSON_POW10_EXACT) {
        return -1;
    }
    if (e >= 0) {
        return (double)m * pow10_dbl[e] == a;
    }
    return (double)m / pow10_dbl[-e] == a;
}

/*
 * Rounds the 17 correctly rounded digits @d17 (first digit's exponent @x) to @prec digits into
 * @out (@nd digits left after trailing zeros are dropped, first digit's exponent @xr). Returns
 * false when the 17 digits cannot tell: the dropped part reads exactly "5" or "50", which the
 * exact value may lie on either side of (or on) after the first rounding.
 */
static bool
round_digits(const char *d17, int x, int prec, char *out, size_t *nd, int *xr)
{
    bool up;
    int i;

    memcpy(out, d17, (size_t)prec);
    if (d17[prec] != '5') {
        up = d17[prec] > '5';
    }
    else {
        up = false;
        for (i = prec + 1; i < 17; i++) {
            if (d17[i] != '0') {
                up = true;
            }
        }
        if (!up) {
            return false;
        }
    }
    *xr = x;
    if (up) {
        for (i = prec - 1; i >= 0 && out[i] == '9'; i--) {
            out[i] = '0';
        }
        if (i < 0) {
            out[0] = '1'; /* 9.99..95 became 10.0: one more integer digit */
            (*xr)++;
        }
        else {
            out[i]++;
        }
    }
    *nd = (size_t)prec;
    while (*nd > 1 && out[*nd - 1] == '0') {
        (*nd)--;
    }
    return true;
}

/*
 * The reference algorithm for finite non-integral @v (or integral beyond 2^53) with one
 * snprintf in the common case: "%.16e" prints the 17 correctly rounded significant digits that
 * %.17g would; the 15- and 16-digit candidates are rounded from them and checked exactly.
 * @try15 is false when fmt_short_decimal already ruled 15 digits out. Returns the length.
 */
static size_t
fmt_double_slow(char *buf, double v, bool try15)
{
    char e[ENC_JSON_NUM_MAX];
    char d17[17];
    char dig[17];
    const char *p;
    size_t nd, len;
    int n, prec, x, xr, exact;
    bool neg = v < 0;

    /* "[-]d.dddddddddddddddde[+-]XX[X]" */
    n = snprintf(e, sizeof(e), "%.16e", v);
    p = e + (neg ? 1 : 0);
    if (n <= 0 || n >= (int)sizeof(e) || p[1] != '.' || p[18] != 'e') {
        return 0;
    }
    d17[0] = p[0];
    memcpy(d17 + 1, p + 2, 16);
    x = 0;
    for (p += 20; *p >= '0' && *p <= '9'; p++) {
        x = x * 10 + (*p - '0');
    }
    if (e[(neg ? 1 : 0) + 19] == '-') {
        x = -x;
    }

    for (prec = try15 ? ENC_JSON_SHORT_DIGITS : ENC_JSON_SHORT_DIGITS + 1; prec <= 16; prec++) {
        if (!round_digits(d17, x, prec, dig, &nd, &xr)) {
            len = fmt_g_checked(buf, v, prec);
            if (len > 0) {
                return len;
            }
            continue;
        }
        exact = decimal_is(dig, nd, xr, fabs(v));
        if (exact == 0) {
            continue;
        }
        len = fmt_g_layout(buf, neg, dig, nd, xr, prec);
        if (exact == 1) {
            return len;
        }
        buf[len] = '\0';
        if (strtod(buf, NULL) == v) {
            return len;
        }
    }
    /* 17 digits always read back (DBL_DECIMAL_DIG). */
    nd = 17;
    while (nd > 1 && d17[nd - 1] == '0') {
        nd--;
    }
    return fmt_g_layout(buf, neg, d17, nd, x, 17);
}
#endif

/* The reference algorithm itself, for platforms without ENC_JSON_EXACT_DOUBLE. */
static size_t
fmt_double_reference(char *buf, double v)
{
    size_t len;
    int n;

    len = fmt_g_checked(buf, v, 15);
    if (len == 0) {
        len = fmt_g_checked(buf, v, 16);
    }
    if (len == 0) {
        n = snprintf(buf, ENC_JSON_NUM_MAX, "%.17g", v);
        len = n > 0 ? (size_t)n : 0;
    }
    return len;
}

/* Appends @v; see enc_json.h. */
void
enc_json_double(struct strbuf *sb, double v)
{
    char *p;
    size_t n;

    if (isnan(v)) {
        PUT_LIT(sb, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        if (v > 0) {
            PUT_LIT(sb, "\"+Inf\"");
        }
        else {
            PUT_LIT(sb, "\"-Inf\"");
        }
        return;
    }
    if (!room(sb, ENC_JSON_NUM_MAX)) {
        return;
    }
    p = sb->data + sb->len;
    /* The range test comes first: converting an out-of-range double to int64_t is undefined. */
    if (v > -ENC_JSON_INT_LIMIT && v < ENC_JSON_INT_LIMIT && (double)(int64_t)v == v) {
        n = fmt_i64(p, (int64_t)v); /* -0.0 becomes 0, as documented */
    }
    else {
#if ENC_JSON_EXACT_DOUBLE
        enum short_result r = fmt_short_decimal(p, v, &n);

        if (r != SHORT_FOUND) {
            n = fmt_double_slow(p, v, r == SHORT_UNKNOWN);
        }
        if (n == 0) {
            n = fmt_double_reference(p, v);
        }
#else
        n = fmt_double_reference(p, v);
#endif
    }
    sb->len += n;
    sb->data[sb->len] = '\0';
}

/*
 * Length of the UTF-8 sequence starting at @s (@n > 0 bytes left, s[0] >= 0x80) and whether it
 * is valid. When it is not, the length is that of the maximal invalid subpart (at least 1): the
 * lead byte plus the continuation bytes that were still acceptable, all replaced by one U+FFFD.
 * The ranges are those of RFC 3629 / Unicode table 3-7: no overlongs, no surrogates, no code
 * points above U+10FFFF.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t n, bool *valid)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t len, i;

    *valid = false;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) {
            lo = 0xA0; /* overlong below U+0800 */
        }
        else if (c == 0xED) {
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
        }
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) {
            lo = 0x90; /* overlong below U+10000 */
        }
        else if (c == 0xF4) {
            hi = 0x8F; /* above U+10FFFF */
        }
    }
    else {
        return 1; /* continuation byte, C0, C1 or F5..FF: never valid as a lead */
    }
    for (i = 1; i < len; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            return i;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    *valid = true;
    return len;
}

/*
 * True when none of the 8 bytes of @x needs attention in a JSON string: no byte below 0x20, no
 * '"', no '\\', none at or above 0x80 (those go through UTF-8 validation). Each term sets a
 * byte's top bit for its class; a borrow between bytes only starts at a byte that already
 * matched, so the answer for the word is exact.
 */
static inline bool
word_is_plain(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t tops = 0x8080808080808080ULL;
    uint64_t t = (x - ones * 0x20)              /* byte < 0x20 */
                 | ((x ^ (ones * '"')) - ones)  /* byte == '"' */
                 | ((x ^ (ones * '\\')) - ones) /* byte == '\\' */
                 | x;                           /* byte >= 0x80 */

    return (t & tops) == 0;
}

/* Appends @s; see enc_json.h. */
void
enc_json_string(struct strbuf *sb, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t start_len = sb->len;
    size_t i = 0;
    size_t k;
    uint64_t word;
    unsigned char c;
    bool valid;
    char *p;

    /*
     * Reserve one output byte per input byte plus the quotes. Only escapes and replacements
     * write more than they read; they reserve the difference when they happen.
     */
    if (n > SIZE_MAX / 2) {
        sb->oom = true;
        return;
    }
    if (!room(sb, n + 2)) {
        return;
    }
    p = sb->data + sb->len;
    *p++ = '"';
    for (;;) {
        /* Output room is at least input left + 2, so whole words can be stored. */
        while (n - i >= 8) {
            memcpy(&word, s + i, 8);
            if (!word_is_plain(word)) {
                break;
            }
            memcpy(p, &word, 8);
            p += 8;
            i += 8;
        }
        while (i < n && json_plain[s[i]]) {
            *p++ = (char)s[i++];
        }
        if (i == n) {
            break;
        }
        c = s[i];
        if (c >= 0x80) {
            k = utf8_sequence(s + i, n - i, &valid);
            if (valid) {
                memcpy(p, s + i, k);
                p += k;
                i += k;
                continue;
            }
            /* k bytes in, 3 out: room for the rest of the input, U+FFFD and the quote */
            sb->len = (size_t)(p - sb->data);
            if (!room(sb, (n - i - k) + 3 + 1)) {
                goto fail;
            }
            p = sb->data + sb->len;
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i += k;
            continue;
        }
        /* A control character, '"' or '\\': 1 byte in, up to 6 out. */
        sb->len = (size_t)(p - sb->data);
        if (!room(sb, (n - i - 1) + 6 + 1)) {
            goto fail;
        }
        p = sb->data + sb->len;
        *p++ = '\\';
        if (c == '"' || c == '\\') {
            *p++ = (char)c;
        }
        else if (json_short_escape[c] != 0) {
            *p++ = json_short_escape[c];
        }
        else {
            memcpy(p, "u00", 3);
            p[3] = hex_digits[c >> 4];
            p[4] = hex_digits[c & 0xF];
            p += 5;
        }
        i++;
    }
    *p++ = '"';
    sb->len = (size_t)(p - sb->data);
    *p = '\0';
    return;

fail:
    sb->len = start_len;
    sb->data[start_len] = '\0';
}

/* Appends the C string @s as a JSON string, "" when NULL. */
static void
put_cstr(struct strbuf *sb, const char *s)
{
    if (s == NULL) {
        PUT_LIT(sb, "\"\"");
        return;
    }
    enc_json_string(sb, s, strlen(s));
}

/* Appends the C string @s as a JSON string, null when NULL. */
static void
put_cstr_or_null(struct strbuf *sb, const char *s)
{
    if (s == NULL) {
        PUT_LIT(sb, "null");
        return;
    }
    enc_json_string(sb, s, strlen(s));
}

/* Appends the members of a labels object (without braces), in array order. */
static void
put_labels(struct strbuf *sb, const struct label *labels, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (i > 0) {
            PUT_LIT(sb, ",");
        }
        put_cstr(sb, labels[i].name);
        PUT_LIT(sb, ":");
        put_cstr(sb, labels[i].value);
    }
}

/* Appends one sample object; see enc_json.h. */
void
enc_json_sample(struct strbuf *sb, const struct sample *s)
{
    const char *type = sample_type_name((enum sample_type)s->type);

    PUT_LIT(sb, "{\"name\":");
    put_cstr(sb, s->name);
    PUT_LIT(sb, ",\"labels\":{");
    put_labels(sb, s->labels, s->nlabels);
    PUT_LIT(sb, "},\"value\":");
    enc_json_double(sb, s->value);
    PUT_LIT(sb, ",\"type\":\"");
    put(sb, type, strlen(type)); /* type names need no escaping */
    if (s->has_ts) {
        PUT_LIT(sb, "\",\"ts_ms\":");
        put_i64(sb, s->ts_ms);
        PUT_LIT(sb, "}");
    }
    else {
        PUT_LIT(sb, "\"}");
    }
}

/*
 * Appends @b as one JSON line; see enc_json.h. Called on the loop thread by outputs (through
 * the encoder table) and by --once / --parse; reads @b only.
 */
int
enc_json_batch(struct strbuf *sb, const struct batch *b)
{
    size_t start = sb->len;
    const char *reason;
    size_t i;

    PUT_LIT(sb, "{\"ts_ms\":");
    put_i64(sb, b->ts_ms);
    PUT_LIT(sb, ",\"job\":");
    put_cstr_or_null(sb, b->job);
    PUT_LIT(sb, ",\"instance\":");
    put_cstr_or_null(sb, b->instance);
    PUT_LIT(sb, ",\"url\":");
    put_cstr_or_null(sb, b->url);
    if (b->ok) {
        PUT_LIT(sb, ",\"ok\":true");
    }
    else {
        reason = b->reason == REASON_NONE ? reason_name(REASON_INTERNAL) : reason_name(b->reason);
        PUT_LIT(sb, ",\"ok\":false,\"reason\":\"");
        put(sb, reason, strlen(reason)); /* reason names need no escaping */
        PUT_LIT(sb, "\"");
    }
    PUT_LIT(sb, ",\"status\":");
    if (b->http_status == 0) {
        PUT_LIT(sb, "null");
    }
    else {
        put_i64(sb, b->http_status);
    }
    PUT_LIT(sb, ",\"duration_s\":");
    enc_json_double(sb, b->duration_s);
    PUT_LIT(sb, ",\"error\":");
    if (b->ok) {
        PUT_LIT(sb, "null");
    }
    else {
        enc_json_string(sb, b->error, strnlen(b->error, sizeof(b->error)));
    }
    PUT_LIT(sb, ",\"labels\":{");
    put_labels(sb, b->target_labels, b->ntarget_labels);
    PUT_LIT(sb, "},\"samples\":[");
    for (i = 0; i < b->nsamples; i++) {
        if (i > 0) {
            PUT_LIT(sb, ",");
        }
        enc_json_sample(sb, &b->samples[i]);
    }
    PUT_LIT(sb, "]}\n");

    if (sb->oom) {
        if (sb->data != NULL) {
            sb->len = start;
            sb->data[start] = '\0';
        }
        return -ENOMEM;
    }
    return 0;
}
