/*
 * The JSON text writer (see jsonw.h): string escaping and shortest round-trip number formatting,
 * the two hard parts every text encoder shares, done once here and tested by parsing the output
 * back (tests/check_jsonw.c).
 *
 * Speed matters here (DESIGN.md, "Performance targets": 500 ns per sample for everything), so:
 *
 *   - strings are checked 16 bytes at a time with SSE2 (8 with a portable word test; short ones
 *     with two overlapping loads) and copied unchanged when nothing in them needs escaping
 *     (jsonw_put_str() in jsonw.h); only a string that needs escaping comes here;
 *   - numbers avoid printf and strtod where exact integer and double arithmetic can produce the
 *     same text:
 *       - integers below 2^53: written by hand (jsonw_put_i64() in jsonw.h);
 *       - values with a short decimal form (0.42, 2.5517e-05): found by a short search with an
 *         exact check, written in %g layout;
 *       - other values of ordinary magnitude (0.1 + 0.2, 1/3): the 15-, 16- and 17-digit
 *         roundings and their read-back checks are done in exact 128-bit integer arithmetic;
 *       - the rest (tiny, huge): one snprintf("%.16e") gives 17 correctly rounded digits, the
 *         15- and 16-digit candidates are derived from them and checked exactly where possible,
 *         and snprintf/strtod are used only where that cannot decide.
 *
 * The text is always exactly what the reference algorithm (the first of %.15g, %.16g, %.17g
 * that strtod reads back as the same double) prints; tests/check_jsonw.c compares the two.
 */
#include "build-config.h"

#include "jsonw.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONW_POW10_EXACT 22  /* 10^22 is the largest exact power of ten */
#define JSONW_SHORT_DIGITS 15 /* digits of the first candidate, %.15g */
#define JSONW_DIG_BUF 32      /* digit buffers: 17 digits, read 8 bytes at a time (see copy_by8) */
#define JSONW_SHORT_SEARCH 6  /* fraction digits fmt_short_decimal tries past its first */
#define JSONW_CHUNK 4096      /* longer strings are escaped this many input bytes at a time */

/*
 * The exact checks below rely on each double operation being rounded once, to double (not x87
 * extended precision). Where that does not hold, every number goes through snprintf/strtod.
 */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define JSONW_EXACT_DOUBLE 1
#else
#define JSONW_EXACT_DOUBLE 0
#endif

/* The integer path for full-precision values needs unsigned __int128 (gcc, clang on 64-bit). */
#if JSONW_EXACT_DOUBLE && defined(__SIZEOF_INT128__)
#define JSONW_EXACT_INT128 1
#else
#define JSONW_EXACT_INT128 0
#endif

/* Bytes copied into a JSON string unchanged: printable ASCII except '"' and '\\' (and DEL). */
const bool jsonw_plain[256] = {
    [0x20 ... 0x21] = true,
    [0x23 ... 0x5B] = true,
    [0x5D ... 0x7F] = true,
};

/* The two-character escapes of control characters; 0 means \u00XX. */
static const char short_escape[0x20] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
};

static const char hex_digits[] = "0123456789abcdef";

const char jsonw_digit_pairs[201] = "00010203040506070809"
                                    "10111213141516171819"
                                    "20212223242526272829"
                                    "30313233343536373839"
                                    "40414243444546474849"
                                    "50515253545556575859"
                                    "60616263646566676869"
                                    "70717273747576777879"
                                    "80818283848586878889"
                                    "90919293949596979899";

static const double pow10_dbl[JSONW_POW10_EXACT + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

const uint64_t jsonw_pow10_u64[20] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

/*
 * Copies @n bytes 8 at a time: reads and writes up to 7 bytes past @n, which both buffers must
 * have (JSONW_DIG_BUF digit buffers; JSONW_NUM_MAX of output room).
 */
static inline void
copy_by8(char *dst, const char *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i += 8) {
        memcpy(dst + i, src + i, 8);
    }
}

/* Writes the 8 decimal digits of @u (< 10^8), leading zeros included, at @p. */
static inline void
put_8digits(char *p, uint32_t u)
{
    uint32_t hi = u / 10000;
    uint32_t lo = u % 10000;

    memcpy(p, &jsonw_digit_pairs[(hi / 100) * 2], 2);
    memcpy(p + 2, &jsonw_digit_pairs[(hi % 100) * 2], 2);
    memcpy(p + 4, &jsonw_digit_pairs[(lo / 100) * 2], 2);
    memcpy(p + 6, &jsonw_digit_pairs[(lo % 100) * 2], 2);
}

/*
 * Writes the decimal digits of @u ending just before @end, 8 at a time in 32-bit arithmetic
 * while more than 8 are left.
 */
void
jsonw_fmt_u64_backwards(char *end, uint64_t u)
{
    uint32_t v;

    while (u >= 100000000) {
        end -= 8;
        put_8digits(end, (uint32_t)(u % 100000000));
        u /= 100000000;
    }
    v = (uint32_t)u;
    while (v >= 10000) {
        end -= 4;
        memcpy(end, &jsonw_digit_pairs[(v % 10000 / 100) * 2], 2);
        memcpy(end + 2, &jsonw_digit_pairs[(v % 100) * 2], 2);
        v /= 10000;
    }
    if (v >= 100) {
        end -= 2;
        memcpy(end, &jsonw_digit_pairs[(v % 100) * 2], 2);
        v /= 100;
    }
    if (v >= 10) {
        memcpy(end - 2, &jsonw_digit_pairs[v * 2], 2);
    }
    else {
        end[-1] = (char)('0' + v);
    }
}

/* Appends @v in decimal; see jsonw.h. */
void
jsonw_i64(struct strbuf *sb, int64_t v)
{
    char *p;

    if (!strbuf_room(sb, JSONW_I64_MAX)) {
        return;
    }
    p = jsonw_put_i64(sb->data + sb->len, v);
    sb->len = (size_t)(p - sb->data);
    *p = '\0';
}

/*
 * Lays out the decimal 0.@dig x 10^(@x + 1) (@nd digits, @dig[0] != '0', no trailing zeros;
 * @x is the exponent of the first digit; @dig is an JSONW_DIG_BUF buffer) exactly as
 * printf("%.{@prec}g") does: fixed notation when -4 <= x < prec, else d.ddde+XX with at least
 * two exponent digits; trailing zeros and a bare point removed. Uses at most JSONW_NUM_MAX
 * bytes of @buf (the text is at most 24 of them); returns the length.
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
            copy_by8(buf + len, dig + 1, nd - 1);
            len += nd - 1;
        }
        buf[len++] = 'e';
        buf[len++] = x < 0 ? '-' : '+';
        ax = x < 0 ? (unsigned)-x : (unsigned)x;
        if (ax >= 100) {
            buf[len++] = (char)('0' + ax / 100);
            ax %= 100;
        }
        memcpy(buf + len, &jsonw_digit_pairs[ax * 2], 2);
        return len + 2;
    }
    if (x < 0) {
        memcpy(buf + len, "0.000", 5); /* "0." and the -x - 1 (at most 3) zeros */
        len += (size_t)(1 - x);
        copy_by8(buf + len, dig, nd);
        return len + nd;
    }
    nint = (size_t)x + 1;
    if (nd <= nint) {
        copy_by8(buf + len, dig, nd);
        memset(buf + len + nd, '0', nint - nd);
        return len + nint;
    }
    copy_by8(buf + len, dig, nint);
    len += nint;
    buf[len++] = '.';
    copy_by8(buf + len, dig + nint, nd - nint);
    return len + nd - nint;
}

/*
 * Formats finite @v with printf and checks with strtod, the reference algorithm for precision
 * @prec alone. Returns the length, or 0 when that text does not read back as @v.
 */
static size_t
fmt_g_checked(char *buf, double v, int prec)
{
    int n = snprintf(buf, JSONW_NUM_MAX, "%.*g", prec, v);

    if (n <= 0 || n >= JSONW_NUM_MAX || strtod(buf, NULL) != v) {
        return 0;
    }
    return (size_t)n;
}

#if JSONW_EXACT_DOUBLE
enum short_result {
    SHORT_FOUND,   /* the shortest decimal has at most 15 digits, and was written */
    SHORT_NONE,    /* no decimal of at most 15 digits reads back as the value */
    SHORT_UNKNOWN, /* out of this search's range: ask the slower paths */
};

/*
 * Looks for the decimal with the fewest fraction digits k (so the fewest significant digits)
 * whose value m / 10^k reads back as non-integral finite @v, among those with m < 10^15, and
 * writes it in %.15g layout. Gives up (SHORT_UNKNOWN) after JSONW_SHORT_SEARCH + 1 tries:
 * values that need more digits are mostly full precision, which fmt_double_exact() settles at
 * a fixed cost (exporters' decimals, 6.400116 or 0.000126843, are found within the tries).
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
    int e2, k, kstart, kend, xd;
    size_t nd;
    char dig[JSONW_DIG_BUF];

    if (a >= JSONW_INT_LIMIT) {
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
    kend = kstart + JSONW_SHORT_SEARCH;
    if (kend > JSONW_POW10_EXACT) {
        kend = JSONW_POW10_EXACT;
    }
    for (k = kstart; k <= kend; k++) {
        x = a * pow10_dbl[k];
        if (x >= 1e15) {
            return SHORT_NONE;
        }
        /* exact: x < 2^50, so x + 0.5 is representable (signed: one instruction each way) */
        m = (uint64_t)(int64_t)(x + 0.5);
        if (m >= 1000000000000000ULL) {
            return SHORT_NONE;
        }
        if (m == 0 || (double)(int64_t)m / pow10_dbl[k] != a) {
            continue;
        }
        while (m % 10 == 0) {
            m /= 10;
            k--;
        }
        nd = jsonw_count_digits(m);
        jsonw_fmt_u64_backwards(dig + nd, m);
        xd = (int)nd - 1 - k;
        *len = fmt_g_layout(buf, v < 0, dig, nd, xd, JSONW_SHORT_DIGITS);
        return SHORT_FOUND;
    }
    return SHORT_UNKNOWN;
}

#if JSONW_EXACT_INT128
/*
 * Whether a candidate reads back as @v (mantissa @m), for fmt_double_exact()'s candidates near
 * the limit: @diff2 is twice its distance from V and @pk one ulp of |v|, both in units of
 * 2^-s of V's; @below when the candidate is below V.
 */
static bool
exact_reads_back(unsigned __int128 diff2, unsigned __int128 pk, uint64_t m, bool below)
{
    if (below && m == (1ULL << 52)) {
        return 2 * diff2 <= pk; /* the double below is half an ulp away; m is even */
    }
    return diff2 < pk || (diff2 == pk && (m & 1) == 0);
}

/*
 * The reference algorithm for finite non-integral @v with 10^-6 <= |v| < 2^52 (about), in
 * exact integer arithmetic; tries precisions @pstart (15 or 16) to 17. Returns the length, or
 * 0 outside that range.
 *
 * |v| = m / 2^s exactly (m the 53-bit mantissa), so with k = 16 - (about the exponent of the
 * first digit), n = m * 10^k (below 2^53 * 10^22 < 2^127) is V = |v| * 10^k times 2^s, exactly:
 * V = q + r / 2^s, where q = n >> s has 17 or 18 digits. A p-digit candidate is q with dd =
 * 17 or 18 - p digits dropped, rounded half to even (as glibc's printf does, exactly). One ulp
 * of |v| is 10^k / 2^s in the units of V, and the candidate reads back as @v when its distance
 * from V is below half of that (a quarter below a power of two, where the double below is
 * closer), or equal to it and m is even (strtod also rounds half to even). The distance is an
 * integer plus or minus r / 2^s, so comparing integer parts with floor(half an ulp) settles all
 * but the candidates right at the limit, which get the exact 128-bit test.
 */
static size_t
fmt_double_exact(char *buf, double v, int pstart)
{
    unsigned __int128 n, r, pk, half;
    uint64_t bits, m, q, qp, rr, scale, hulp, dist;
    int s, t, x0, k, x, p, d, rcmp;
    bool up, ok;
    size_t nd;
    char dig[JSONW_DIG_BUF];

    memcpy(&bits, &v, sizeof(bits));
    if (((bits >> 52) & 0x7FF) == 0) {
        return 0; /* subnormal (or zero) */
    }
    m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    s = 1075 - (int)((bits >> 52) & 0x7FF); /* |v| = m / 2^s */
    t = 52 - s;                             /* 2^t <= |v| < 2^(t + 1) */
    if (s < 1 || t < -19) {
        return 0;
    }
    /*
     * floor(t * log10(2)) (exact for |t| < 1650; >> of a negative value is arithmetic in the
     * compilers that have __int128): the first digit's exponent x, or x - 1.
     */
    x0 = (t * 78913) >> 18;
    k = 16 - x0; /* 1..22 */
    pk = k <= 19 ? (unsigned __int128)jsonw_pow10_u64[k]
                 : (unsigned __int128)jsonw_pow10_u64[19] * jsonw_pow10_u64[k - 19];
    n = pk * m;
    q = (uint64_t)(n >> s);
    r = n & ((((unsigned __int128)1) << s) - 1);
    half = ((unsigned __int128)1) << (s - 1);
    rcmp = r > half ? 1 : r == half ? 0 : -1; /* r / 2^s against 1/2 */
    hulp = (uint64_t)(pk >> (s + 1));         /* floor(half an ulp): V / 2^53 < 112 */
    d = q >= jsonw_pow10_u64[17] ? 1 : 0;     /* digits of q beyond 17 */
    x = x0 + d;
    for (p = pstart; p <= 17; p++) {
        scale = jsonw_pow10_u64[d + 17 - p];
        qp = q / scale;
        rr = q - qp * scale; /* V - qp * scale = rr + r / 2^s */
        if (scale == 1) {
            up = rcmp > 0 || (rcmp == 0 && (qp & 1) != 0);
        }
        else {
            up = rr > scale / 2 || (rr == scale / 2 && (r != 0 || (qp & 1) != 0));
        }
        /* The distance is dist + r / 2^s below V, or dist - r / 2^s above it. */
        dist = up ? scale - rr : rr;
        if (!up && m != (1ULL << 52) && dist < hulp) {
            ok = true;
        }
        else if (up && dist < hulp) {
            ok = true;
        }
        else if (dist > hulp + 1 || (!up && dist > hulp && m != (1ULL << 52))) {
            ok = false;
        }
        else if (up) {
            ok = exact_reads_back((((unsigned __int128)dist << s) - r) * 2, pk, m, false);
        }
        else {
            ok = exact_reads_back((((unsigned __int128)dist << s) + r) * 2, pk, m, true);
        }
        if (!ok) {
            continue;
        }
        if (up && ++qp == jsonw_pow10_u64[p]) {
            qp = jsonw_pow10_u64[p - 1]; /* 9.99..95 became 10.0: one more integer digit */
            x++;
        }
        /* Drop trailing zeros (values like 0.25 have many) before writing the digits. */
        nd = (size_t)p;
        if (qp % 100000000 == 0) {
            qp /= 100000000;
            nd -= 8;
        }
        if (qp % 10000 == 0) {
            qp /= 10000;
            nd -= 4;
        }
        if (qp % 100 == 0) {
            qp /= 100;
            nd -= 2;
        }
        if (qp % 10 == 0) {
            qp /= 10;
            nd -= 1;
        }
        jsonw_fmt_u64_backwards(dig + nd, qp);
        return fmt_g_layout(buf, v < 0, dig, nd, x, p);
    }
    return 0; /* not reached: 17 digits always read back */
}
#endif

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
    if (m > (1ULL << 53) || e > JSONW_POW10_EXACT || e < -JSONW_POW10_EXACT) {
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
    char e[JSONW_NUM_MAX];
    char d17[JSONW_DIG_BUF];
    char dig[JSONW_DIG_BUF];
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

    for (prec = try15 ? JSONW_SHORT_DIGITS : JSONW_SHORT_DIGITS + 1; prec <= 16; prec++) {
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

/* The reference algorithm itself, for platforms without JSONW_EXACT_DOUBLE. */
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
        n = snprintf(buf, JSONW_NUM_MAX, "%.17g", v);
        len = n > 0 ? (size_t)n : 0;
    }
    return len;
}

/* jsonw_put_double() for values that are not integers below 2^53; see jsonw.h. */
char *
jsonw_put_double_other(char *p, double v)
{
    size_t n;

    if (isnan(v)) {
        memcpy(p, "\"NaN\"", 5);
        return p + 5;
    }
    if (isinf(v)) {
        memcpy(p, v > 0 ? "\"+Inf\"" : "\"-Inf\"", 6);
        return p + 6;
    }
#if JSONW_EXACT_DOUBLE
    {
        enum short_result r = fmt_short_decimal(p, v, &n);

        if (r != SHORT_FOUND) {
#if JSONW_EXACT_INT128
            n = fmt_double_exact(p, v, r == SHORT_UNKNOWN ? 15 : 16);
            if (n == 0) {
                n = fmt_double_slow(p, v, r == SHORT_UNKNOWN);
            }
#else
            n = fmt_double_slow(p, v, r == SHORT_UNKNOWN);
#endif
        }
        if (n == 0) {
            n = fmt_double_reference(p, v);
        }
    }
#else
    n = fmt_double_reference(p, v);
#endif
    return p + n;
}

/* Appends @v; see jsonw.h. */
void
jsonw_double(struct strbuf *sb, double v)
{
    char *p;

    if (!strbuf_room(sb, JSONW_NUM_MAX)) {
        return;
    }
    p = jsonw_put_double(sb->data + sb->len, v);
    sb->len = (size_t)(p - sb->data);
    *p = '\0';
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
 * Escapes input bytes from *@pi while they start before @end (a sequence that starts before
 * @end may run on to at most @n), storing at @p; returns the new end and advances *@pi. Each
 * input byte becomes at most 6 output bytes, so @p needs 6 * (@end - *@pi + 3) bytes of room
 * (6 * (@n - *@pi) when @end == @n).
 */
char *
jsonw_esc_span(char *p, const unsigned char *s, size_t *pi, size_t end, size_t n)
{
    size_t i = *pi;
    size_t k;
    uint64_t word;
    unsigned char c;
    bool valid;

    while (i < end) {
        while (end - i >= 8) {
            memcpy(&word, s + i, 8);
            if (!jsonw_word_is_plain(word)) {
                break;
            }
            memcpy(p, &word, 8);
            p += 8;
            i += 8;
        }
        while (i < end && jsonw_plain[s[i]]) {
            *p++ = (char)s[i++];
        }
        if (i >= end) {
            break;
        }
        c = s[i];
        if (c >= 0x80) {
            k = utf8_sequence(s + i, n - i, &valid);
            if (valid) {
                memcpy(p, s + i, k);
                p += k;
            }
            else {
                memcpy(p, "\xEF\xBF\xBD", 3); /* k bytes in, 3 out */
                p += 3;
            }
            i += k;
            continue;
        }
        /* A control character, '"' or '\\': 1 byte in, up to 6 out. */
        *p++ = '\\';
        if (c == '"' || c == '\\') {
            *p++ = (char)c;
        }
        else if (short_escape[c] != 0) {
            *p++ = short_escape[c];
        }
        else {
            memcpy(p, "u00", 3);
            p[3] = hex_digits[c >> 4];
            p[4] = hex_digits[c & 0xF];
            p += 5;
        }
        i++;
    }
    *pi = i;
    return p;
}

/* Appends @s; see jsonw.h. */
void
jsonw_string(struct strbuf *sb, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t start_len, i, chunk;
    char *p;

    if (n <= JSONW_SHORT_STR) {
        if (!strbuf_room(sb, 6 * n + 2)) {
            return;
        }
        p = jsonw_put_str(sb->data + sb->len, str, n);
        sb->len = (size_t)(p - sb->data);
        *p = '\0';
        return;
    }
    /* A long string reserves room chunk by chunk, so its buffer stays near its output size. */
    if (n > SIZE_MAX / 2) {
        sb->oom = true;
        return;
    }
    if (!strbuf_room(sb, 1)) {
        return;
    }
    start_len = sb->len;
    p = sb->data + sb->len;
    *p++ = '"';
    i = 0;
    while (i < n) {
        chunk = n - i < JSONW_CHUNK ? n - i : JSONW_CHUNK;
        if (!jsonw_ensure(sb, &p, 6 * (chunk + 3) + 1)) {
            sb->len = start_len;
            sb->data[start_len] = '\0';
            return;
        }
        p = jsonw_esc_span(p, s, &i, i + chunk, n);
    }
    *p++ = '"';
    sb->len = (size_t)(p - sb->data);
    *p = '\0';
}

/* Appends @s, or null; see jsonw.h. */
void
jsonw_cstr_or_null(struct strbuf *sb, const char *s)
{
    if (s == NULL) {
        STRBUF_PUT_LIT(sb, "null");
        return;
    }
    jsonw_string(sb, s, strlen(s));
}
