/*
 * The streaming exposition-format parser: Prometheus text 0.0.4 and OpenMetrics 1.0 text, fed in
 * chunks of any size, samples out into a struct batch.
 *
 * Files. This one streams, parses sample lines, labels and numbers and holds the public API;
 * prom_parse_meta.c parses the '#' lines and keeps the metric families and their types;
 * prom_parse-internal.h has struct prom_parser and the small helpers that both use, static inline
 * where the per-sample path calls them, so that the split adds no calls there.
 *
 * Streaming. prom_parser_feed() finds where the chunk's complete lines end with one memrchr() and
 * parses them straight out of the caller's chunk; only the unfinished last line is copied into the
 * parser's tail buffer, which the next chunk completes. Every line is followed by a '\n' (in the
 * chunk, or written after the tail), which serves as a sentinel: the scanners need no bounds
 * checks, as every one of them stops at a '\n'. A line longer than the line cap (at most
 * PROM_PARSE_LINE_MAX, prom_parser_set_line_max()) bytes is
 * an error, so the tail never grows past that. Errors are sticky until prom_parser_reset().
 *
 * Speed. The usual lines (a sample without blanks, escapes or non-ASCII label values; a text
 * "# HELP"/"# TYPE" line with single spaces) go through fast paths that parse the line in one pass
 * and find its '\n' on the way. Any other line, and any line in which a fast path meets anything
 * unexpected (every error included), is found with memchr() and parsed from its start again by
 * the general path, which words the errors: the fast paths accept nothing that the general path
 * would not accept identically. Names are scanned 16 bytes at a time with SSE2 where available.
 *
 * Memory. Sample names, label arrays and strings come from the batch's arena. A sample whose
 * name, label names or whole label set equal the previous sample's shares the previous strings
 * and array instead of copying them again; a new label array and its new strings take one arena
 * allocation. The parser's own buffers (tail, label spans, the OpenMetrics family table) grow as
 * needed and are kept across bodies.
 *
 * Grammar, both formats. Metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*,
 * an optional label set {name="value",...} with an optional trailing comma, a value, an optional
 * timestamp. Label value escapes \\ \" \n; label values must be valid UTF-8 and contain no NUL
 * (arena strings are C strings), so every string in the batch is valid UTF-8. Duplicate label names
 * in one sample are an error. Values follow Go's strconv.ParseFloat as Prometheus uses it: decimal
 * with optional fraction and exponent, "Inf"/"Infinity" with an optional sign and "NaN" in any
 * case; no hexadecimal floats, no underscores; a finite number too large for a double is an error,
 * one too small becomes 0 or a subnormal. Plain decimals whose result is exact (at most 2^53 as an
 * integer, a power of ten up to 22) are converted by hand; everything else goes through strtod_l()
 * in the C locale on a NUL-terminated copy, so results are always correctly rounded.
 *
 * Prometheus text format. Blanks (spaces, tabs) may surround every token; blank lines are
 * skipped. "# HELP name text" (help must be valid UTF-8; it is not stored) and "# TYPE name
 * counter|gauge|histogram|summary|untyped"; any other line starting with '#' is a comment.
 * Timestamps are integer milliseconds, optionally negative. As in Prometheus, TYPE lines may come
 * anywhere and repeat: a sample takes the type of the family of the most recent TYPE line when its
 * name is the family name or the family name plus a suffix of that type (_bucket/_sum/_count for a
 * histogram, _sum/_count for a summary, _total for a counter), and is untyped otherwise.
 *
 * OpenMetrics. Tokens are separated by exactly one space; there are no blank lines and no
 * comments besides "# HELP", "# TYPE", "# UNIT" and the final "# EOF", after which nothing may
 * follow (a final '\n' after it is optional). An unknown escape in a label value or help text is
 * kept literally (the ABNF's "BS normal-char"), as in the text format; a lone backslash ending
 * help text is an error. Types add gaugehistogram (_bucket/_gsum/_gcount), stateset, info (_info)
 * and unknown (stored as untyped); counters also own _created, histograms and summaries _created.
 * The _created samples are kept as ordinary samples typed like their family. Timestamps are seconds
 * (any float syntax but NaN and Inf), converted exactly from the decimal text to milliseconds,
 * truncated toward zero. An exemplar " # {labels} value [timestamp]" is checked and dropped.
 * Families must be contiguous and their metadata must come first, each kind at most once: a
 * HELP/TYPE/UNIT line after samples of its family (also samples like "foo_total" before
 * "# TYPE foo counter"), a repeated one, or a family that resumes after another family started,
 * are errors. A UNIT must be a suffix of its metric name (as Prometheus checks). A family whose
 * name another family's samples could take (a gauge "foo_created" beside a counter "foo") is an
 * error. The value rules of each type are in prom_parse_om.c; Metrics and MetricPoints (not
 * interleaved, increasing timestamps) in prom_parse_metric.c.
 *
 * Deliberate differences from Prometheus' textparse, all in the direction of rejecting input that
 * the text-format documentation calls invalid, or of exactness: text timestamps may be negative
 * (textparse accepts only digits); text TYPE words may have extra blanks around them; text label
 * pairs must be separated by commas (textparse also takes {a="1" b="2"}); a metric name must be
 * followed by a blank, '{' or the end of the line; label values with NUL bytes are rejected;
 * duplicate label names are rejected here rather than at append time; the OpenMetrics family
 * ordering rules above and the OpenMetrics value rules below are enforced (textparse accepts them);
 * OpenMetrics timestamps are exact (textparse computes int64(ts*1000) in floating point, so
 * "1.001" becomes 1000 there and 1001 here); labels keep their exposition order (not sorted);
 * quoted UTF-8 metric names ({"my.metric"}) are not supported; the 128-character limit on
 * exemplar labels is not checked (exemplars are dropped anyway); CR is not whitespace (as in
 * Prometheus), so CRLF bodies fail.
 */
#include "build-config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif

#include "prom_parse.h"
#include "prom_parse-internal.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Prometheus' own scrape Accept header (scrape/scrape.go), so exporters answer as they would it. */
const char PROM_PARSE_ACCEPT[] =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/* Buffers above these sizes are given back at reset instead of being kept for the next body. */
#define TAIL_MIN 4096
#define TAIL_KEEP (256 * 1024)
#define SPANS_KEEP 4096
#define SLOTS_KEEP 65536
#define NAMES_KEEP (1024 * 1024)

/* Label sets up to this size are checked for duplicates pairwise; larger ones with a hash set. */
#define DUP_PAIRWISE_MAX 16

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- small helpers (the ones prom_parse_meta.c uses too are in prom_parse-internal.h) ---- */

#define SHRINK(buf, cap, keep)                                                                     \
    do {                                                                                           \
        if ((cap) > (keep)) {                                                                      \
            free(buf);                                                                             \
            (buf) = NULL;                                                                          \
            (cap) = 0;                                                                             \
        }                                                                                          \
    } while (0)

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 when it is invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c < 0x80) {
        return 1;
    }
    if (c < 0xc2) {
        return 0;
    }
    if (c < 0xe0) {
        len = 2;
    }
    else if (c < 0xf0) {
        len = 3;
        if (c == 0xe0) {
            lo = 0xa0; /* overlong */
        }
        else if (c == 0xed) {
            hi = 0x9f; /* surrogates */
        }
    }
    else if (c < 0xf5) {
        len = 4;
        if (c == 0xf0) {
            lo = 0x90; /* overlong */
        }
        else if (c == 0xf4) {
            hi = 0x8f; /* above U+10FFFF */
        }
    }
    else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/* Whether s[0..n) has a byte >= 0x80: 8 bytes per step, the last word overlapping. */
static inline bool
has_high_bytes(const unsigned char *s, size_t n)
{
    uint64_t w, acc = 0;
    size_t i;

    if (n < 8) {
        for (i = 0; i < n; i++) {
            acc |= s[i];
        }
        return (acc & 0x80) != 0;
    }
    for (i = 0; i + 8 < n; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    memcpy(&w, s + n - 8, 8);
    acc |= w;
    return (acc & 0x8080808080808080ULL) != 0;
}

/*
 * Whether str[0..n) is valid UTF-8 (no overlongs, surrogates or code points above U+10FFFF); NUL
 * bytes count as valid. Checks plain ASCII 8 bytes at a time. Used for label values and help text.
 */
bool
prom_parse_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, l;
    uint64_t w;

    if (!has_high_bytes(s, n)) {
        return true; /* plain ASCII, the usual case */
    }
    while (i < n) {
        if (n - i >= 8) {
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        l = utf8_seq(s + i, n - i);
        if (l == 0) {
            return false;
        }
        i += l;
    }
    return true;
}

/* Cuts a NUL-terminated string before a UTF-8 sequence that truncation left incomplete. */
static void
utf8_trim_tail(char *str)
{
    size_t n = strlen(str), i = n, back = 0;

    while (i > 0 && back < 4 && ((unsigned char)str[i - 1] & 0xc0) == 0x80) {
        i--;
        back++;
    }
    if (i > 0 && (unsigned char)str[i - 1] >= 0x80 &&
        utf8_seq((const unsigned char *)str + i - 1, n - i + 1) == 0) {
        str[i - 1] = '\0';
    }
}

/*
 * Writes @s (@n bytes) into @buf (QUOTE_MAX bytes) as a double-quoted excerpt for an error
 * message: quotes, backslashes and control characters escaped, invalid UTF-8 as \xNN, long text
 * cut with "...". Returns @buf, for a format argument of prom_parse_fail().
 */
const char *
prom_parse_quote(char *buf, const char *s, size_t n)
{
    size_t o = 0, i = 0, plen, adv;
    char piece[8];
    unsigned char c;

    buf[o++] = '"';
    while (i < n) {
        c = (unsigned char)s[i];
        adv = 1;
        if (c == '"' || c == '\\') {
            piece[0] = '\\';
            piece[1] = (char)c;
            plen = 2;
        }
        else if (c == '\n' || c == '\t' || c == '\r') {
            piece[0] = '\\';
            piece[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
            plen = 2;
        }
        else if (c >= 0x20 && c < 0x7f) {
            piece[0] = (char)c;
            plen = 1;
        }
        else if (c >= 0x80 && utf8_seq((const unsigned char *)s + i, n - i) != 0) {
            adv = utf8_seq((const unsigned char *)s + i, n - i);
            memcpy(piece, s + i, adv);
            plen = adv;
        }
        else {
            snprintf(piece, sizeof(piece), "\\x%02x", c);
            plen = 4;
            adv = 1;
        }
        if (o + plen > QUOTE_MAX - 5) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, piece, plen);
        o += plen;
        i += adv;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/*
 * Records a syntax error at the current line as the sticky error of @p (printf-style message,
 * cut at a UTF-8 boundary to fit); returns -EINVAL, for the caller to return.
 */
int
prom_parse_fail(struct prom_parser *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(p->errmsg, sizeof(p->errmsg), "parse error at line %zu: ", p->lineno);
    if (n > 0 && (size_t)n < sizeof(p->errmsg)) {
        va_start(ap, fmt);
        vsnprintf(p->errmsg + n, sizeof(p->errmsg) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    utf8_trim_tail(p->errmsg);
    p->err = -EINVAL;
    return -EINVAL;
}

/* Records running out of memory at the current line as the sticky error; returns -ENOMEM. */
int
prom_parse_oom(struct prom_parser *p)
{
    snprintf(p->errmsg, sizeof(p->errmsg), "out of memory while parsing line %zu", p->lineno);
    p->err = -ENOMEM;
    return -ENOMEM;
}

/* s[0..n) equals @lower ignoring ASCII case (locale-independent). */
static inline bool
ascii_ieq(const char *s, const char *lower, size_t n)
{
    size_t i;
    char c;

    for (i = 0; i < n; i++) {
        c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return false;
        }
    }
    return true;
}

/* ---- numbers ---- */

/* Inf, Infinity (optionally signed) and NaN (unsigned), in any case, as Go accepts them. */
static int
parse_special(const char *c, const char *e, bool has_sign, bool neg, double *out)
{
    size_t n = (size_t)(e - c);

    if ((n == 3 && ascii_ieq(c, "inf", 3)) || (n == 8 && ascii_ieq(c, "infinity", 8))) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (!has_sign && n == 3 && ascii_ieq(c, "nan", 3)) {
        *out = NAN;
        return 0;
    }
    return -EINVAL;
}

/* strtod_l() on a NUL-terminated copy of a number whose syntax was already checked. */
static int
parse_float_slow(struct prom_parser *p, const char *s, const char *e, double *out)
{
    size_t n = (size_t)(e - s);
    char stackbuf[128], *buf = stackbuf, *end;
    double v;

    if (n >= sizeof(stackbuf)) {
        if (n + 1 > p->num_cap) {
            buf = grow(p->num, &p->num_cap, n + 1, 1, 256);
            if (buf == NULL) {
                return -ENOMEM;
            }
            p->num = buf;
        }
        buf = p->num;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    v = strtod_l(buf, &end, p->c_locale);
    if (end != buf + n) {
        return -EINVAL;
    }
    if (isinf(v)) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

/*
 * Parses [s, e) as Go's strconv.ParseFloat(s, 64) does, without hexadecimal floats and
 * underscores (Prometheus refuses those too). Returns 0, -EINVAL for bad syntax, -ERANGE when a
 * finite number overflows (Go's ErrRange; underflow is not an error), or -ENOMEM.
 */
static int
parse_float(struct prom_parser *p, const char *s, const char *e, double *out)
{
    const char *c = s;
    bool neg = false, any = false, trunc = false;
    uint64_t m = 0;
    int nd = 0;
    long x = 0, ev;
    unsigned d;
    double v;

    if (c < e && (*c == '+' || *c == '-')) {
        neg = *c == '-';
        c++;
    }
    if (c == e) {
        return -EINVAL;
    }
    if (!(CL(*c) & C_DIGIT) && *c != '.') {
        return parse_special(c, e, c != s, neg, out);
    }
    for (; c < e && (CL(*c) & C_DIGIT); c++) {
        d = (unsigned)(*c - '0');
        any = true;
        if (nd < 19) {
            if (m != 0 || d != 0) {
                m = m * 10 + d;
                nd++;
            }
        }
        else {
            x++;
            trunc |= d != 0;
        }
    }
    if (c < e && *c == '.') {
        for (c++; c < e && (CL(*c) & C_DIGIT); c++) {
            d = (unsigned)(*c - '0');
            any = true;
            if (nd < 19) {
                if (m != 0 || d != 0) {
                    m = m * 10 + d;
                    nd++;
                }
                x--;
            }
            else {
                trunc |= d != 0;
            }
        }
    }
    if (!any) {
        return -EINVAL;
    }
    if (c < e && (*c == 'e' || *c == 'E')) {
        bool eneg = false;

        c++;
        if (c < e && (*c == '+' || *c == '-')) {
            eneg = *c == '-';
            c++;
        }
        if (c == e || !(CL(*c) & C_DIGIT)) {
            return -EINVAL;
        }
        for (ev = 0; c < e && (CL(*c) & C_DIGIT); c++) {
            if (ev < 10000000) {
                ev = ev * 10 + (*c - '0');
            }
        }
        x += eneg ? -ev : ev;
    }
    if (c != e) {
        return -EINVAL;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    /* Clinger's fast path: both operands exact, so the one rounding is the correct one. */
    if (!trunc && m <= (UINT64_C(1) << 53) && x >= -22 && x <= 22) {
        v = (double)m;
        v = x >= 0 ? v * pow10_exact[x] : v / pow10_exact[-x];
        *out = neg ? -v : v;
        return 0;
    }
    return parse_float_slow(p, s, e, out);
}

/* Text timestamp: -?[0-9]+ milliseconds. Returns 0, -EINVAL or -ERANGE. */
static int
parse_int_ms(const char *s, const char *e, int64_t *out)
{
    const uint64_t lim = (uint64_t)INT64_MAX + 1;
    const char *c;
    bool neg = false;
    uint64_t v = 0;
    unsigned d;

    if (s < e && *s == '-') {
        neg = true;
        s++;
    }
    if (s == e) {
        return -EINVAL;
    }
    for (c = s; c < e; c++) {
        if (!(CL(*c) & C_DIGIT)) {
            return -EINVAL;
        }
    }
    for (c = s; c < e; c++) {
        d = (unsigned)(*c - '0');
        if (v > (lim - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    if (!neg && v == lim) {
        return -ERANGE;
    }
    *out = neg ? (v == lim ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

/*
 * OpenMetrics timestamp: seconds in float syntax (not NaN or Inf) to milliseconds, computed
 * exactly from the digits and truncated toward zero. Returns 0, -EINVAL or -ERANGE.
 */
static int
parse_om_ts(const char *s, const char *e, int64_t *out)
{
    const uint64_t lim = (uint64_t)INT64_MAX + 1;
    const char *ip, *fp = NULL, *c = s;
    size_t ni = 0, nf = 0, i, ndig;
    bool neg = false, eneg = false;
    long ev = 0, k, keep;
    uint64_t acc = 0;
    unsigned d;

    if (c < e && (*c == '+' || *c == '-')) {
        neg = *c == '-';
        c++;
    }
    ip = c;
    while (c < e && (CL(*c) & C_DIGIT)) {
        c++;
    }
    ni = (size_t)(c - ip);
    if (c < e && *c == '.') {
        fp = ++c;
        while (c < e && (CL(*c) & C_DIGIT)) {
            c++;
        }
        nf = (size_t)(c - fp);
    }
    if (ni + nf == 0) {
        return -EINVAL;
    }
    if (c < e && (*c == 'e' || *c == 'E')) {
        c++;
        if (c < e && (*c == '+' || *c == '-')) {
            eneg = *c == '-';
            c++;
        }
        if (c == e || !(CL(*c) & C_DIGIT)) {
            return -EINVAL;
        }
        for (; c < e && (CL(*c) & C_DIGIT); c++) {
            if (ev < 10000000) {
                ev = ev * 10 + (*c - '0');
            }
        }
    }
    if (c != e) {
        return -EINVAL;
    }
    /* value = digits * 10^(exp - nf); ms = trunc(digits * 10^k) */
    k = (eneg ? -ev : ev) - (long)nf + 3;
    ndig = ni + nf;
    keep = (long)ndig + k; /* how many leading digits are at or above the millisecond */
    for (i = 0; (long)i < keep && i < ndig; i++) {
        d = (unsigned)((i < ni ? ip[i] : fp[i - ni]) - '0');
        if (acc > (lim - d) / 10) {
            return -ERANGE;
        }
        acc = acc * 10 + d;
    }
    for (; acc != 0 && (long)i < keep; i++) {
        if (acc > lim / 10) {
            return -ERANGE;
        }
        acc *= 10;
    }
    if (!neg && acc == lim) {
        return -ERANGE;
    }
    *out = neg ? (acc == lim ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return 0;
}

/* ---- lines (the '#' lines are prom_parse_meta.c's) ---- */

static int
check_duplicates(struct prom_parser *p, size_t base)
{
    char q1[QUOTE_MAX];
    size_t n = p->nspans - base, i, j, ns, mask;
    const struct span *l;
    uint32_t h;

    if (n < 2) {
        return 0; /* and p->spans may still be NULL: no arithmetic on it */
    }
    l = p->spans + base;
    if (n <= DUP_PAIRWISE_MAX) {
        for (i = 1; i < n; i++) {
            for (j = 0; j < i; j++) {
                if (l[i].nlen == l[j].nlen && memcmp(l[i].name, l[j].name, l[i].nlen) == 0) {
                    return prom_parse_fail(p, "duplicate label %s",
                                           prom_parse_quote(q1, l[i].name, l[i].nlen));
                }
            }
        }
        return 0;
    }
    for (ns = 64; ns < 2 * n; ns *= 2) {
    }
    if (ns > p->dup_cap) {
        uint32_t *nd = grow(p->dup, &p->dup_cap, ns, sizeof(*p->dup), 64);

        if (nd == NULL) {
            return prom_parse_oom(p);
        }
        p->dup = nd;
    }
    memset(p->dup, 0, ns * sizeof(*p->dup));
    mask = ns - 1;
    for (i = 0; i < n; i++) {
        h = fnv1a(FNV_INIT, l[i].name, l[i].nlen);
        for (j = h & mask; p->dup[j] != 0; j = (j + 1) & mask) {
            const struct span *o = &l[p->dup[j] - 1];

            if (o->nlen == l[i].nlen && memcmp(o->name, l[i].name, o->nlen) == 0) {
                return prom_parse_fail(p, "duplicate label %s",
                                       prom_parse_quote(q1, l[i].name, l[i].nlen));
            }
        }
        p->dup[j] = (uint32_t)(i + 1);
    }
    return 0;
}

/*
 * Parses a label set. *ps points just after '{' and is left just after '}'. The labels are
 * appended to p->spans. @what names the owner for messages ("metric" or "exemplar of metric").
 */
static int
parse_labels(struct prom_parser *p, const char **ps, const char *e, const char *mname, size_t mlen,
             const char *what)
{
    const bool om = p->fmt == PROM_FORMAT_OPENMETRICS;
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const char *s = *ps, *ln, *v;
    size_t base = p->nspans, lnl;
    bool esc, hi;
    struct span *sp;
    char c;

    for (;;) {
        if (!om) {
            s = skip_blanks(s);
        }
        if (*s == '}') {
            s++;
            break;
        }
        if (!(CL(*s) & C_LNAME0)) {
            if (s == e) {
                return prom_parse_fail(p, "missing '}' after labels of %s %s", what,
                                       prom_parse_quote(q1, mname, mlen));
            }
            return prom_parse_fail(p, "expected label name or '}' in labels of %s %s, got %s", what,
                                   prom_parse_quote(q1, mname, mlen),
                                   prom_parse_quote(q2, s, (size_t)(e - s)));
        }
        ln = s;
        s = scan_name(s + 1, e, false);
        lnl = (size_t)(s - ln);
        if (!om) {
            s = skip_blanks(s);
        }
        if (*s != '=') {
            return prom_parse_fail(p, "expected '=' after label name %s",
                                   prom_parse_quote(q1, ln, lnl));
        }
        s++;
        if (!om) {
            s = skip_blanks(s);
        }
        if (*s != '"') {
            return prom_parse_fail(p, "expected '\"' to start the value of label %s, got %s",
                                   prom_parse_quote(q1, ln, lnl),
                                   prom_parse_quote(q2, s, (size_t)(e - s)));
        }
        v = ++s;
        esc = false;
        hi = false;
        for (;;) {
            while (!(CL(*s) & C_LVSTOP)) {
                s++;
            }
            c = *s;
            if (c == '"') {
                break;
            }
            if (c == '\\') {
                c = s[1];
                if (c == '\n') {
                    return prom_parse_fail(p, "unterminated label value for label %s",
                                           prom_parse_quote(q1, ln, lnl));
                }
                if (c != '\\' && c != '"' && c != 'n') {
                    /* Kept as the two characters, OpenMetrics too (ABNF: BS normal-char). */
                    if (c == '\0') {
                        return prom_parse_fail(p, "NUL byte in value of label %s",
                                               prom_parse_quote(q1, ln, lnl));
                    }
                    hi |= (unsigned char)c >= 0x80;
                }
                esc = true;
                s += 2;
                continue;
            }
            if (c == '\n') {
                return prom_parse_fail(p, "unterminated label value for label %s",
                                       prom_parse_quote(q1, ln, lnl));
            }
            if (c == '\0') {
                return prom_parse_fail(p, "NUL byte in value of label %s",
                                       prom_parse_quote(q1, ln, lnl));
            }
            hi = true;
            s++;
        }
        if (hi && !prom_parse_utf8_valid(v, (size_t)(s - v))) {
            return prom_parse_fail(p, "invalid UTF-8 in value of label %s",
                                   prom_parse_quote(q1, ln, lnl));
        }
        if (p->nspans + 1 > p->spans_cap) {
            sp = grow(p->spans, &p->spans_cap, p->nspans + 1, sizeof(*p->spans), 16);
            if (sp == NULL) {
                return prom_parse_oom(p);
            }
            p->spans = sp;
        }
        sp = &p->spans[p->nspans++];
        sp->name = ln;
        sp->nlen = (uint32_t)lnl;
        sp->value = v;
        sp->vlen = (uint32_t)(s - v);
        sp->esc = esc;
        s++;
        if (!om) {
            s = skip_blanks(s);
        }
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '}') {
            s++;
            break;
        }
        if (s == e) {
            return prom_parse_fail(p, "missing '}' after labels of %s %s", what,
                                   prom_parse_quote(q1, mname, mlen));
        }
        return prom_parse_fail(p, "expected ',' or '}' after value of label %s, got %s",
                               prom_parse_quote(q1, ln, lnl),
                               prom_parse_quote(q2, s, (size_t)(e - s)));
    }
    *ps = s;
    return check_duplicates(p, base);
}

/* OpenMetrics exemplar, @s at the '#' after the value or timestamp and a space. */
static int
parse_exemplar(struct prom_parser *p, const char *s, const char *e, const char *name, size_t nlen)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    size_t base = p->nspans;
    const char *tok;
    int64_t ts;
    double v;
    int rc;

    if (s[1] != ' ' || s[2] != '{') {
        return prom_parse_fail(p, "expected \"# {\" to start an exemplar after metric %s, got %s",
                               prom_parse_quote(q1, name, nlen),
                               prom_parse_quote(q2, s, (size_t)(e - s)));
    }
    s += 3;
    rc = parse_labels(p, &s, e, name, nlen, "exemplar of metric");
    if (rc == 0) {
        rc = prom_parse_om_exemplar_labels(p, base, name, nlen);
    }
    p->nspans = base;
    if (rc != 0) {
        return rc;
    }
    if (*s != ' ' || (CL(s[1]) & C_TEND_OM)) {
        if (s == e || s + 1 == e) {
            return prom_parse_fail(p, "missing exemplar value for metric %s",
                                   prom_parse_quote(q1, name, nlen));
        }
        return prom_parse_fail(
            p, "expected ' ' and a value after exemplar labels of metric %s, got %s",
            prom_parse_quote(q1, name, nlen), prom_parse_quote(q2, s, (size_t)(e - s)));
    }
    tok = ++s;
    while (!(CL(*s) & C_TEND_OM)) {
        s++;
    }
    rc = parse_float(p, tok, s, &v);
    if (rc == -ENOMEM) {
        return prom_parse_oom(p);
    }
    if (rc != 0) {
        return prom_parse_fail(p, "invalid exemplar value %s for metric %s",
                               prom_parse_quote(q1, tok, (size_t)(s - tok)),
                               prom_parse_quote(q2, name, nlen));
    }
    p->om_exemplar_value = v; /* a bucket's is checked against its le */
    if (s == e) {
        return 0;
    }
    tok = ++s;
    while (!(CL(*s) & C_TEND_OM)) {
        s++;
    }
    if (tok == s) {
        return prom_parse_fail(p, "unexpected whitespace after exemplar value of metric %s",
                               prom_parse_quote(q1, name, nlen));
    }
    rc = parse_om_ts(tok, s, &ts);
    if (rc != 0) {
        return prom_parse_fail(p, "invalid exemplar timestamp %s for metric %s",
                               prom_parse_quote(q1, tok, (size_t)(s - tok)),
                               prom_parse_quote(q2, name, nlen));
    }
    if (s != e) {
        return prom_parse_fail(p, "unexpected %s after exemplar of metric %s",
                               prom_parse_quote(q1, s, (size_t)(e - s)),
                               prom_parse_quote(q2, name, nlen));
    }
    return 0;
}

/*
 * Writes the label value s[0..n) to @d resolving escapes: \\ \" \n; any other pair is kept as it
 * is. Returns the length written (at most @n); no NUL is added.
 */
static size_t
unescape_to(char *d, const char *s, size_t n)
{
    const char *e = s + n, *bs;
    char *o = d;

    while (s < e) {
        bs = memchr(s, '\\', (size_t)(e - s));
        if (bs == NULL) {
            memcpy(o, s, (size_t)(e - s));
            o += e - s;
            break;
        }
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        /* A backslash is never last: it would have escaped the closing quote. */
        if (bs[1] == 'n') {
            *o++ = '\n';
        }
        else if (bs[1] == '\\' || bs[1] == '"') {
            *o++ = bs[1];
        }
        else {
            *o++ = '\\';
            *o++ = bs[1];
        }
        s = bs + 2;
    }
    return (size_t)(o - d);
}

/* Arena bytes for a label array of @nl labels (label_bytes; the strings come on top). */
#define LABELS_BYTES(nl) ((nl) * sizeof(struct label))

/*
 * Sets the SHARE_* bits of label @i of the current line, p->spans[i]: a name or value equal to
 * the previous sample's label @i (a value only when it has no escapes, so that the raw text is
 * the string), and adds the bytes of the strings that are not shared to *@bytes.
 */
static inline void
mark_label(struct prom_parser *p, size_t i, size_t *bytes)
{
    struct span *l = &p->spans[i];

    l->share = 0;
    if (i < p->last_nlabels) {
        if (l->nlen == p->last_lens[2 * i] && mem_eq(p->last_labels[i].name, l->name, l->nlen)) {
            l->share = SHARE_NAME;
        }
        if (!l->esc && l->vlen == p->last_lens[2 * i + 1] &&
            mem_eq(p->last_labels[i].value, l->value, l->vlen)) {
            l->share |= SHARE_VALUE;
        }
    }
    if (!(l->share & SHARE_NAME)) {
        *bytes += l->nlen + 1;
    }
    if (!(l->share & SHARE_VALUE) && l->vlen != 0) {
        *bytes += l->vlen + 1;
    }
}

/*
 * mark_label() for the @nl labels of the current line, then sets p->label_bytes: 0 when every
 * label equals the previous sample's (and there are as many), so that its array is shared.
 */
static void
mark_shared(struct prom_parser *p, size_t nl)
{
    size_t bytes = LABELS_BYTES(nl), i;
    bool all = p->last_nlabels == nl;

    for (i = 0; i < nl; i++) {
        mark_label(p, i, &bytes);
        all &= p->spans[i].share == (SHARE_NAME | SHARE_VALUE);
    }
    p->label_bytes = all ? 0 : bytes;
}

/*
 * The label array of the current line (marked by mark_shared() or the fast path) in the arena:
 * the previous sample's array when every label equals the previous one's, else a new array that
 * still points to the previous sample's strings where they are equal. One arena allocation holds
 * the array and the strings that are new; the lengths of its strings replace the previous
 * sample's in p->last_lens (entry i is read, for a shared value, before it is written). NULL when
 * out of memory.
 */
static const struct label *
build_labels(struct prom_parser *p, size_t nl)
{
    const struct label *prev = p->last_labels;
    struct label *arr;
    uint32_t *lens;
    size_t i, n;
    char *str;

    if (p->label_bytes == 0) {
        return prev;
    }
    if (nl > p->lens_cap) {
        size_t cap = p->lens_cap;
        uint32_t *nb = grow(p->last_lens, &cap, nl, 2 * sizeof(uint32_t), 16);
        if (nb == NULL) {
            return NULL;
        }
        p->last_lens = nb;
        p->lens_cap = cap;
    }
    arr = arena_alloc(&p->out->arena, p->label_bytes);
    if (arr == NULL) {
        return NULL;
    }
    lens = p->last_lens;
    str = (char *)(arr + nl);
    for (i = 0; i < nl; i++) {
        const struct span *l = &p->spans[i];

        if (l->share & SHARE_NAME) {
            arr[i].name = prev[i].name;
        }
        else {
            mem_copy(str, l->name, l->nlen);
            str[l->nlen] = '\0';
            arr[i].name = str;
            str += l->nlen + 1;
        }
        lens[2 * i] = l->nlen;
        if (l->share & SHARE_VALUE) {
            arr[i].value = prev[i].value; /* lens[2 * i + 1] is its length already */
        }
        else if (l->vlen == 0) {
            arr[i].value = "";
            lens[2 * i + 1] = 0;
        }
        else {
            n = l->esc ? unescape_to(str, l->value, l->vlen) : l->vlen;
            if (!l->esc) {
                mem_copy(str, l->value, n);
            }
            str[n] = '\0';
            arr[i].value = str;
            lens[2 * i + 1] = (uint32_t)n;
            str += n + 1;
        }
    }
    p->last_labels = arr;
    p->last_nlabels = (uint32_t)nl;
    return arr;
}

/*
 * Types the sample named name[0..nlen) whose labels are in p->spans (their SHARE_* bits set) and
 * appends it to the batch. The type is that of the current family (text) or comes from the
 * OpenMetrics family checks, which may fail; a sample named like the previous one with no '#'
 * line between them has the previous one's type.
 */
static inline __attribute__((always_inline)) int
emit(struct prom_parser *p, const char *name, size_t nlen, size_t nl, double v, bool has_ts,
     int64_t ts)
{
    const char *nm = p->last_name;
    const struct label *labels = NULL;
    bool same = nm != NULL && p->last_nlen == nlen && mem_eq(nm, name, nlen);
    struct batch *b = p->out;
    struct sample *smp;
    uint8_t type = SAMPLE_UNTYPED;
    int rc;

    if (same && p->last_type_ok) {
        type = p->last_type;
    }
    else {
        if (p->fmt == PROM_FORMAT_OPENMETRICS) {
            rc = prom_parse_meta_sample_family(p, name, nlen, &type);
            if (rc != 0) {
                return rc;
            }
        }
        else if (p->have_cur && ((p->cur_len == nlen && mem_eq(p->cur, name, nlen)) ||
                                 fam_match(p->cur, p->cur_len, p->cur_type, name, nlen, false))) {
            type = p->cur_type;
        }
        else {
            type = SAMPLE_UNTYPED;
        }
        p->last_type = type;
        p->last_type_ok = true;
    }
    if (p->fmt == PROM_FORMAT_OPENMETRICS && p->checked) {
        p->om_exemplar = false;
    }
    else if (p->fmt == PROM_FORMAT_OPENMETRICS) {
        rc = prom_parse_metric_sample(p, name, nlen, type, nl, has_ts, ts);
        if (rc == 0 && (p->om_point.open || p->om_exemplar ||
                        (type != SAMPLE_UNTYPED && type != SAMPLE_GAUGE))) {
            rc = prom_parse_om_check_value(p, name, nlen, type, nl, v, has_ts, ts);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (!same) {
        char *d = arena_alloc(&b->arena, nlen + 1);

        if (d == NULL) {
            return prom_parse_oom(p);
        }
        mem_copy(d, name, nlen);
        d[nlen] = '\0';
        nm = d;
        p->last_name = nm;
        p->last_nlen = nlen;
    }
    if (nl > 0) {
        labels = build_labels(p, nl);
        if (labels == NULL) {
            return prom_parse_oom(p);
        }
    }
    /* batch_push() when the array must grow; else the same, without the call. */
    if (b->nsamples < b->cap) {
        smp = &b->samples[b->nsamples++];
    }
    else {
        smp = batch_push(b);
        if (smp == NULL) {
            return prom_parse_oom(p);
        }
    }
    *smp = (struct sample){
        .name = nm,
        .labels = labels,
        .nlabels = (uint32_t)nl,
        .type = type,
        .has_ts = has_ts,
        .value = v,
        .ts_ms = has_ts ? ts : 0,
    };
    return 0;
}

/* A sample line; @s at its first non-blank byte. */
static int
parse_sample(struct prom_parser *p, const char *s, const char *e)
{
    const bool om = p->fmt == PROM_FORMAT_OPENMETRICS;
    const uint16_t tend = om ? C_TEND_OM : C_TEND_TEXT;
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const char *name = s, *tok, *t;
    bool has_ts = false;
    size_t nlen, nl = 0;
    int64_t ts = 0;
    double v;
    int rc;

    if (!(CL(*s) & C_NAME0)) {
        return prom_parse_fail(p, "expected a metric name at the start of the line, got %s",
                               prom_parse_quote(q1, s, (size_t)(e - s)));
    }
    s = scan_name(s + 1, e, true);
    nlen = (size_t)(s - name);
    p->nspans = 0;

    t = om ? s : skip_blanks(s);
    if (*t == '{') {
        s = t + 1;
        rc = parse_labels(p, &s, e, name, nlen, "metric");
        if (rc != 0) {
            return rc;
        }
        nl = p->nspans;
    }
    else if (s != e && !(CL(*s) & C_BLANK)) {
        return prom_parse_fail(p, "unexpected %s after metric name %s",
                               prom_parse_quote(q1, s, (size_t)(e - s)),
                               prom_parse_quote(q2, name, nlen));
    }

    /* The value. */
    if (om) {
        if (*s != ' ' || (CL(s[1]) & C_TEND_OM)) {
            if (s == e || s + 1 == e) {
                return prom_parse_fail(p, "missing value for metric %s",
                                       prom_parse_quote(q1, name, nlen));
            }
            return prom_parse_fail(p, "expected ' ' and a value after metric %s, got %s",
                                   prom_parse_quote(q1, name, nlen),
                                   prom_parse_quote(q2, s, (size_t)(e - s)));
        }
        s++;
    }
    else {
        s = skip_blanks(s);
    }
    tok = s;
    while (!(CL(*s) & tend)) {
        s++;
    }
    if (tok == s) {
        return prom_parse_fail(p, "missing value for metric %s", prom_parse_quote(q1, name, nlen));
    }
    rc = parse_float(p, tok, s, &v);
    if (rc == -ENOMEM) {
        return prom_parse_oom(p);
    }
    if (rc == -ERANGE) {
        return prom_parse_fail(p, "value %s out of range for metric %s",
                               prom_parse_quote(q1, tok, (size_t)(s - tok)),
                               prom_parse_quote(q2, name, nlen));
    }
    if (rc != 0) {
        return prom_parse_fail(p, "invalid value %s for metric %s",
                               prom_parse_quote(q1, tok, (size_t)(s - tok)),
                               prom_parse_quote(q2, name, nlen));
    }

    /* The timestamp, and in OpenMetrics the exemplar. */
    if (!om) {
        s = skip_blanks(s);
        if (s != e) {
            tok = s;
            while (!(CL(*s) & C_TEND_TEXT)) {
                s++;
            }
            rc = parse_int_ms(tok, s, &ts);
            if (rc == -ERANGE) {
                return prom_parse_fail(p, "timestamp %s out of range for metric %s",
                                       prom_parse_quote(q1, tok, (size_t)(s - tok)),
                                       prom_parse_quote(q2, name, nlen));
            }
            if (rc != 0) {
                return prom_parse_fail(p, "invalid timestamp %s for metric %s",
                                       prom_parse_quote(q1, tok, (size_t)(s - tok)),
                                       prom_parse_quote(q2, name, nlen));
            }
            has_ts = true;
            s = skip_blanks(s);
            if (s != e) {
                return prom_parse_fail(p, "unexpected %s after timestamp of metric %s",
                                       prom_parse_quote(q1, s, (size_t)(e - s)),
                                       prom_parse_quote(q2, name, nlen));
            }
        }
    }
    else if (s != e) {
        s++; /* the ' ' that ended the value */
        if (*s != '#') {
            tok = s;
            while (!(CL(*s) & C_TEND_OM)) {
                s++;
            }
            if (tok == s) {
                return prom_parse_fail(p, "unexpected whitespace after value of metric %s",
                                       prom_parse_quote(q1, name, nlen));
            }
            rc = parse_om_ts(tok, s, &ts);
            if (rc == -ERANGE) {
                return prom_parse_fail(p, "timestamp %s out of range for metric %s",
                                       prom_parse_quote(q1, tok, (size_t)(s - tok)),
                                       prom_parse_quote(q2, name, nlen));
            }
            if (rc != 0) {
                return prom_parse_fail(p, "invalid timestamp %s for metric %s",
                                       prom_parse_quote(q1, tok, (size_t)(s - tok)),
                                       prom_parse_quote(q2, name, nlen));
            }
            has_ts = true;
            if (s != e) {
                s++;
                if (*s != '#') {
                    return prom_parse_fail(p, "unexpected %s after timestamp of metric %s",
                                           prom_parse_quote(q1, s - 1, (size_t)(e - s + 1)),
                                           prom_parse_quote(q2, name, nlen));
                }
            }
        }
        if (s != e) {
            rc = parse_exemplar(p, s, e, name, nlen);
            if (rc != 0) {
                return rc;
            }
        }
    }

    mark_shared(p, nl);
    return emit(p, name, nlen, nl, v, has_ts, ts);
}

/*
 * The fast path of parse_float() for the usual plain decimal -?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?
 * of at most 19 digits (exponent: 3) whose value Clinger's fast path gives exactly, so the result
 * is parse_float()'s. Returns the end of the number, or NULL for anything else (parse_float()
 * decides then); the caller checks what follows.
 */
static inline const char *
parse_plain_decimal(const char *s, double *out)
{
    const char *c = s, *d;
    bool neg = false, eneg = false;
    uint64_t m = 0;
    size_t nd;
    int x = 0, ev = 0;
    double v;

    if (*c == '-') {
        neg = true;
        c++;
    }
    for (d = c; CL(*c) & C_DIGIT; c++) {
        m = m * 10 + (unsigned)(*c - '0'); /* wraps harmlessly past 19 digits: refused below */
    }
    nd = (size_t)(c - d);
    if (nd == 0) {
        return NULL;
    }
    if (*c == '.') {
        for (d = ++c; CL(*c) & C_DIGIT; c++) {
            m = m * 10 + (unsigned)(*c - '0');
        }
        x = -(int)(c - d);
        nd += (size_t)(c - d);
    }
    if (nd > 19) {
        return NULL;
    }
    if (*c == 'e' || *c == 'E') {
        c++;
        if (*c == '+' || *c == '-') {
            eneg = *c == '-';
            c++;
        }
        for (d = c; (CL(*c) & C_DIGIT) && c - d < 3; c++) {
            ev = ev * 10 + (*c - '0');
        }
        if (c == d || (CL(*c) & C_DIGIT)) {
            return NULL;
        }
        x += eneg ? -ev : ev;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return c;
    }
    if (m > (UINT64_C(1) << 53) || x < -22 || x > 22) {
        return NULL;
    }
    v = (double)m;
    v = x >= 0 ? v * pow10_exact[x] : v / pow10_exact[-x];
    *out = neg ? -v : v;
    return c;
}

/* A fast path's answer: not the usual line, the general path (parse_line()) must take it. */
#define FAST_NO 1

/*
 * The usual sample line in one pass, @s at its start and its name: labels (if any) without
 * escapes, bytes >= 0x80 or blanks (but after commas, in the text format), one ' ', a value and
 * the '\n', in the text format also ' ' and an integer timestamp before it. The line's end is
 * not known yet: @lim is a '\n' at or after it, and every scan stops at the first '\n'. Returns
 * FAST_NO, having changed nothing but p->spans, for any other line, for every error and for a
 * line longer than PROM_PARSE_LINE_MAX, so that the general path parses the line again and words
 * the error. Otherwise sets *@eol to the line's '\n' and returns the result of emit(). The
 * labels' SHARE_* bits are set while they are read: when every name equals the previous
 * sample's, no duplicate check is needed.
 */
static int
parse_sample_fast(struct prom_parser *p, const char *s, const char *lim, const char **eol)
{
    const bool om = p->fmt == PROM_FORMAT_OPENMETRICS;
    const char *name = s, *tok;
    bool names = true, all = true, has_ts = false;
    size_t nlen, nl = 0, bytes = 0, i, j;
    struct span *l;
    int64_t ts = 0;
    double v;

    s = scan_name(s + 1, lim, true);
    nlen = (size_t)(s - name);
    if (*s == '{') {
        s++;
        while (*s != '}') {
            if (!(CL(*s) & C_LNAME0) || nl == p->spans_cap) {
                return FAST_NO;
            }
            l = &p->spans[nl];
            l->name = s;
            s = scan_name(s + 1, lim, false);
            l->nlen = (uint32_t)(s - l->name);
            if (s[0] != '=' || s[1] != '"') {
                return FAST_NO;
            }
            s += 2;
            l->value = s;
            while (!(CL(*s) & C_LVSTOP)) {
                s++;
            }
            if (*s != '"') {
                return FAST_NO;
            }
            l->vlen = (uint32_t)(s - l->value);
            l->esc = false;
            mark_label(p, nl, &bytes);
            names &= l->share & SHARE_NAME;
            all &= l->share == (SHARE_NAME | SHARE_VALUE);
            nl++;
            s++;
            if (*s == ',') {
                s++;
                if (!om) {
                    s = skip_blanks(s); /* "a=\"1\", b=\"2\"" (VictoriaMetrics) */
                }
            }
            else if (*s != '}') {
                return FAST_NO;
            }
        }
        s++;
        if (!names) {
            if (nl > DUP_PAIRWISE_MAX) {
                return FAST_NO;
            }
            for (i = 1; i < nl; i++) {
                for (j = 0; j < i; j++) {
                    if (p->spans[i].nlen == p->spans[j].nlen &&
                        mem_eq(p->spans[i].name, p->spans[j].name, p->spans[i].nlen)) {
                        return FAST_NO;
                    }
                }
            }
        }
    }
    if (*s != ' ') {
        return FAST_NO;
    }
    tok = s + 1;
    s = parse_plain_decimal(tok, &v);
    if (s == NULL) {
        /* Any other number (NaN, 17 digits, ...): the token as parse_sample() delimits it. */
        for (s = tok; !(CL(*s) & (om ? C_TEND_OM : C_TEND_TEXT)); s++) {
        }
        if (s == tok || parse_float(p, tok, s, &v) != 0) {
            return FAST_NO;
        }
    }
    if (*s != '\n') {
        if (om || *s != ' ') {
            return FAST_NO;
        }
        tok = ++s;
        if (*s == '-') {
            s++;
        }
        while (CL(*s) & C_DIGIT) {
            s++;
        }
        if (*s != '\n' || parse_int_ms(tok, s, &ts) != 0) {
            return FAST_NO;
        }
        has_ts = true;
    }
    if ((size_t)(s - name) > p->line_max) {
        return FAST_NO;
    }
    *eol = s;
    p->nspans = nl;
    p->label_bytes = all && nl == p->last_nlabels ? 0 : bytes + LABELS_BYTES(nl);
    return emit(p, name, nlen, nl, v, has_ts, ts);
}

/*
 * The '\n' that ends the line at @s when the line has no byte >= 0x80, else NULL. @lim is a '\n'
 * at or after the end of the line. With SSE2 one pass looks for both, 16 bytes per step.
 */
static inline const char *
ascii_line_end(const char *s, const char *lim)
{
#if defined(__SSE2__)
    const __m128i newline = _mm_set1_epi8('\n');
    unsigned nl, hi;
    __m128i v;

    while (lim - s >= 15) {
        v = _mm_loadu_si128((const __m128i *)(const void *)s);
        nl = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, newline));
        hi = (unsigned)_mm_movemask_epi8(v);
        if (nl != 0) {
            nl &= -nl; /* the first '\n': only the bytes before it count */
            return (hi & (nl - 1)) == 0 ? s + __builtin_ctz(nl) : NULL;
        }
        if (hi != 0) {
            return NULL;
        }
        s += 16;
    }
    while (*s != '\n') {
        if ((unsigned char)*s >= 0x80) {
            return NULL;
        }
        s++;
    }
    return s;
#else
    const char *e = memchr(s, '\n', (size_t)(lim - s) + 1);

    return has_high_bytes((const unsigned char *)s, (size_t)(e - s)) ? NULL : e;
#endif
}

/*
 * Text format: the usual "# HELP name text" (ASCII text) and "# TYPE name type" lines, with
 * single spaces, in one pass, as parse_sample_fast() does for samples (same @lim, *@eol and
 * FAST_NO). Anything else, "# HELP" with non-ASCII text included, goes to
 * prom_parse_meta_text_line().
 */
static int
text_meta_fast(struct prom_parser *p, const char *s, const char *lim, const char **eol)
{
    const char *line = s, *name, *w;
    bool help;
    int type;

    if (lim - s < 8 || memcmp(s, "# ", 2) != 0 || s[6] != ' ') {
        return FAST_NO;
    }
    if (memcmp(s + 2, "HELP", 4) == 0) {
        help = true;
    }
    else if (memcmp(s + 2, "TYPE", 4) == 0) {
        help = false;
    }
    else {
        return FAST_NO;
    }
    name = s + 7;
    if (!(CL(*name) & C_NAME0)) {
        return FAST_NO;
    }
    s = scan_name(name + 1, lim, true);
    if (help) {
        if (*s == ' ') {
            s = ascii_line_end(s + 1, lim);
        }
        if (s == NULL || *s != '\n' || (size_t)(s - line) > p->line_max) {
            return FAST_NO;
        }
        *eol = s;
        return 0;
    }
    if (*s != ' ') {
        return FAST_NO;
    }
    w = s + 1;
    /*
     * The word and its '\n' as one constant-size compare (no byte past @lim is read); another
     * word, or blanks around it, go to prom_parse_meta_text_line().
     */
#define TYPE_IS(word, t)                                                                           \
    ((size_t)(lim - w) >= sizeof(word) - 2 && memcmp(w, word, sizeof(word) - 1) == 0               \
         ? (s = w + sizeof(word) - 2, (t))                                                         \
         : -1)
    switch (*w) {
    case 'c':
        type = TYPE_IS("counter\n", SAMPLE_COUNTER);
        break;
    case 'g':
        type = TYPE_IS("gauge\n", SAMPLE_GAUGE);
        break;
    case 'h':
        type = TYPE_IS("histogram\n", SAMPLE_HISTOGRAM);
        break;
    case 's':
        type = TYPE_IS("summary\n", SAMPLE_SUMMARY);
        break;
    case 'u':
        type = TYPE_IS("untyped\n", SAMPLE_UNTYPED);
        break;
    default:
        type = -1;
        break;
    }
#undef TYPE_IS
    if (type < 0 || (size_t)(s - line) > p->line_max) {
        return FAST_NO;
    }
    *eol = s;
    return prom_parse_meta_set_cur(p, name, (size_t)(w - 1 - name), (uint8_t)type);
}

/* One complete line, by the general path; s[len] is '\n'. */
static int
parse_line(struct prom_parser *p, const char *s, size_t len)
{
    const char *e = s + len;
    int rc;

    if (p->fmt == PROM_FORMAT_OPENMETRICS) {
        if (len == 0) {
            rc = prom_parse_fail(p, "empty line (not allowed in OpenMetrics)");
        }
        else if (*s == '#') {
            p->last_type_ok = false;
            rc = prom_parse_meta_om_line(p, s, e);
        }
        else {
            rc = parse_sample(p, s, e);
        }
    }
    else {
        s = skip_blanks(s);
        if (s == e) {
            rc = 0;
        }
        else if (*s == '#') {
            p->last_type_ok = false;
            rc = prom_parse_meta_text_line(p, s, e);
        }
        else {
            rc = parse_sample(p, s, e);
        }
    }
    if (rc == 0) {
        p->lineno++;
    }
    return rc;
}

static int
too_long(struct prom_parser *p)
{
    /* A limit, not a syntax error (issue 13): -E2BIG, which the job reports as reason limit. */
    snprintf(p->errmsg, sizeof(p->errmsg), "line %zu longer than %zu bytes", p->lineno,
             p->line_max);
    p->err = -E2BIG;
    return -E2BIG;
}

/*
 * Parses the complete lines from @s to @last, the chunk's last '\n'. The usual lines go to the
 * fast paths, which find their '\n' as they parse; the '\n' at @last bounds every scan. Any
 * other line is found with memchr() and parsed by parse_line(). 0 or the sticky error.
 */
static int
parse_lines(struct prom_parser *p, const char *s, const char *last)
{
    const bool om = p->fmt == PROM_FORMAT_OPENMETRICS;
    const char *eol;
    int rc;

    if (p->after_eof) {
        return prom_parse_fail(p, "unexpected data after \"# EOF\"");
    }
    while (s <= last) {
        if (CL(*s) & C_NAME0) {
            rc = parse_sample_fast(p, s, last, &eol);
        }
        else if (*s == '#' && !om) {
            p->last_type_ok = false;
            rc = text_meta_fast(p, s, last, &eol);
        }
        else {
            rc = FAST_NO;
        }
        if (rc == FAST_NO) {
            eol = memchr(s, '\n', (size_t)(last - s) + 1);
            if ((size_t)(eol - s) > p->line_max) {
                return too_long(p);
            }
            rc = parse_line(p, s, (size_t)(eol - s));
            /* Only this path can set after_eof ("# EOF"): nothing may follow it. */
            if (rc == 0 && p->after_eof && eol != last) {
                return prom_parse_fail(p, "unexpected data after \"# EOF\"");
            }
        }
        else if (rc == 0) {
            p->lineno++;
        }
        if (rc != 0) {
            return rc;
        }
        s = eol + 1;
    }
    return 0;
}

/* Appends to the unfinished line, keeping room for the '\n' sentinel. */
static int
tail_add(struct prom_parser *p, const char *s, size_t n)
{
    if (n > p->line_max - p->tail_len) {
        return too_long(p);
    }
    if (p->tail_len + n + 1 > p->tail_cap) {
        size_t cap = p->tail_cap != 0 ? p->tail_cap : TAIL_MIN;
        char *t;

        while (cap < p->tail_len + n + 1) {
            cap *= 2;
        }
        if (cap > p->line_max + 1) {
            cap = p->line_max + 1;
        }
        t = realloc(p->tail, cap);
        if (t == NULL) {
            return prom_parse_oom(p);
        }
        p->tail = t;
        p->tail_cap = cap;
    }
    memcpy(p->tail + p->tail_len, s, n);
    p->tail_len += n;
    return 0;
}

static int
parse_tail(struct prom_parser *p)
{
    size_t n = p->tail_len;

    p->tail[n] = '\n';
    p->tail_len = 0;
    return parse_line(p, p->tail, n);
}

static int
misuse(struct prom_parser *p, const char *what)
{
    snprintf(p->errmsg, sizeof(p->errmsg), "parser misuse: %s", what);
    p->err = -EINVAL;
    return -EINVAL;
}

/* ---- public API ---- */

/*
 * The body format for a Content-Type value (@ct may be NULL): only the media type counts, compared
 * without regard to ASCII case; parameters such as version= and charset= are ignored.
 */
enum prom_format
prom_parse_format_from_content_type(const char *ct)
{
    static const char om[] = "application/openmetrics-text";
    size_t n = sizeof(om) - 1;

    if (ct == NULL) {
        return PROM_FORMAT_TEXT;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    if (strnlen(ct, n) == n && ascii_ieq(ct, om, n) &&
        (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t')) {
        return PROM_FORMAT_OPENMETRICS;
    }
    return PROM_FORMAT_TEXT;
}

/* "prom"/"text" or "openmetrics" into *@out; 0, or -EINVAL (and *@out untouched) otherwise. */
int
prom_parse_format_from_name(const char *name, enum prom_format *out)
{
    if (name == NULL) {
        return -EINVAL;
    }
    if (strcmp(name, "prom") == 0 || strcmp(name, "text") == 0) {
        *out = PROM_FORMAT_TEXT;
        return 0;
    }
    if (strcmp(name, "openmetrics") == 0) {
        *out = PROM_FORMAT_OPENMETRICS;
        return 0;
    }
    return -EINVAL;
}

/* The name prom_parse_format_from_name() accepts for @fmt; static, never NULL. */
const char *
prom_parse_format_name(enum prom_format fmt)
{
    return fmt == PROM_FORMAT_OPENMETRICS ? "openmetrics" : "prom";
}

/*
 * An idle parser (feeding fails until prom_parser_reset()) owning only its C locale; buffers are
 * allocated on first use. Returns NULL when out of memory.
 */
struct prom_parser *
prom_parser_new(void)
{
    struct prom_parser *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (p->c_locale == (locale_t)0) {
        free(p);
        return NULL;
    }
    p->lineno = 1;
    p->line_max = PROM_PARSE_LINE_MAX;
    return p;
}

/* Sets the longest line accepted; 0 or more than PROM_PARSE_LINE_MAX means PROM_PARSE_LINE_MAX. */
void
prom_parser_set_line_max(struct prom_parser *p, size_t n)
{
    p->line_max = n == 0 || n > PROM_PARSE_LINE_MAX ? PROM_PARSE_LINE_MAX : n;
}

/* Frees @p and every buffer it owns; accepts NULL. Never touches the batch it was filling. */
void
prom_parser_free(struct prom_parser *p)
{
    if (p == NULL) {
        return;
    }
    free(p->tail);
    free(p->spans);
    free(p->last_lens);
    free(p->dup);
    free(p->num);
    free(p->cur);
    free(p->cut_name);
    free(p->fams);
    free(p->slots);
    free(p->names);
    free(p->om_mtab);
    free(p->om_ments);
    if (p->c_locale != (locale_t)0) {
        freelocale(p->c_locale);
    }
    free(p);
}

/*
 * Starts a body: forgets the error, the unfinished line, the families and the shared strings of
 * the previous body (@out may be a different batch), and gives back any buffer grown past its
 * keep size. Allocates nothing.
 */
void
prom_parser_reset(struct prom_parser *p, enum prom_format fmt, struct batch *out)
{
    p->fmt = fmt;
    p->out = out;
    p->base = 0;
    p->checked = false;
    p->cut_ok = false;
    p->cut_err = 0;
    p->err = 0;
    p->errmsg[0] = '\0';
    p->finished = false;
    p->after_eof = false;
    p->lineno = 1;
    p->tail_len = 0;
    p->nspans = 0;
    p->have_cur = false;
    p->cur_len = 0;
    p->cur_type = SAMPLE_UNTYPED;
    p->cur_idx = 0;
    p->nfams = 0;
    p->names_len = 0;
    prom_parse_forget_last(p);
    p->om_point.open = false;
    p->om_exemplar = false;
    prom_parse_metric_reset(p, false);

    SHRINK(p->tail, p->tail_cap, TAIL_KEEP);
    SHRINK(p->spans, p->spans_cap, SPANS_KEEP);
    SHRINK(p->last_lens, p->lens_cap, SPANS_KEEP);
    SHRINK(p->dup, p->dup_cap, SLOTS_KEEP);
    SHRINK(p->num, p->num_cap, TAIL_KEEP);
    SHRINK(p->cur, p->cur_cap, TAIL_KEEP);
    SHRINK(p->names, p->names_cap, NAMES_KEEP);
    SHRINK(p->fams, p->fams_cap, SLOTS_KEEP);
    SHRINK(p->slots, p->nslots, SLOTS_KEEP);
    if (p->nslots != 0) {
        memset(p->slots, 0, p->nslots * sizeof(*p->slots));
    }
}

/*
 * Frees the line tail of @p between scrapes (issue 16: TAIL_MIN bytes per waiting target, the
 * bulk of a parser's memory; the smaller buffers stay, as regrowing them every run costs more
 * CPU than they take). The next prom_parser_reset() starts it again.
 */
void
prom_parser_idle(struct prom_parser *p)
{
    SHRINK(p->tail, p->tail_cap, 0);
    p->tail_len = 0;
    prom_parse_metric_reset(p, true);
    p->out = NULL;
}

/*
 * Parses the complete lines of @data in place (each is followed by its '\n', the scanners'
 * sentinel) and copies only an unfinished last line into the tail, which the next chunk's first
 * '\n' completes. One memrchr() finds where the complete lines end. 0, or the sticky -EINVAL /
 * -ENOMEM.
 */
int
prom_parser_feed(struct prom_parser *p, const char *data, size_t len)
{
    const char *s = data, *end = data + len, *nl;
    int rc;

    if (p->err != 0) {
        return p->err;
    }
    if (p->out == NULL) {
        return misuse(p, "feed before prom_parser_reset()");
    }
    if (p->finished) {
        return misuse(p, "feed after prom_parser_finish()");
    }
    if (len == 0) {
        return 0;
    }
    if (p->tail_len > 0) {
        nl = memchr(s, '\n', len);
        if (nl == NULL) {
            return tail_add(p, s, len);
        }
        rc = tail_add(p, s, (size_t)(nl - s));
        if (rc == 0) {
            rc = parse_tail(p);
        }
        if (rc != 0) {
            return rc;
        }
        s = nl + 1;
    }
    if (s < end) {
        nl = memrchr(s, '\n', (size_t)(end - s));
        if (nl != NULL) {
            rc = parse_lines(p, s, nl);
            if (rc != 0) {
                return rc;
            }
            s = nl + 1;
        }
    }
    if (s < end) {
        if (p->after_eof) {
            return prom_parse_fail(p, "unexpected data after \"# EOF\"");
        }
        return tail_add(p, s, (size_t)(end - s));
    }
    return 0;
}

/* Parses the unterminated last line, if any, then checks OpenMetrics' "# EOF". 0 or the error. */
int
prom_parser_finish(struct prom_parser *p)
{
    int rc;

    if (p->err != 0) {
        return p->err;
    }
    if (p->out == NULL) {
        return misuse(p, "finish before prom_parser_reset()");
    }
    if (p->finished) {
        return misuse(p, "prom_parser_finish() called twice");
    }
    p->finished = true;
    if (p->tail_len > 0) {
        rc = parse_tail(p);
        if (rc != 0) {
            return rc;
        }
    }
    if (p->fmt == PROM_FORMAT_OPENMETRICS && !p->after_eof) {
        return prom_parse_fail(p, "missing \"# EOF\"");
    }
    return 0;
}

/* The message of the sticky error, "" when there is none; borrowed from @p. */
const char *
prom_parser_error(const struct prom_parser *p)
{
    return p->err != 0 ? p->errmsg : "";
}

/* The parser's own footprint: its struct and the capacity of each buffer it owns. */
size_t
prom_parser_mem_size(const struct prom_parser *p)
{
    return sizeof(*p) + p->tail_cap + p->spans_cap * sizeof(*p->spans) +
           p->dup_cap * sizeof(*p->dup) + p->num_cap + p->cur_cap + p->fams_cap * sizeof(*p->fams) +
           p->nslots * sizeof(*p->slots) + p->names_cap + p->lens_cap * 2 * sizeof(*p->last_lens) +
           p->om_mcap * sizeof(*p->om_mtab) + p->om_ments_cap * sizeof(*p->om_ments);
}
