/*
 * Internals of the exposition-format parser, shared by its two files and by nothing else:
 * prom_parse.c (streaming, sample lines, labels, numbers, public API) and prom_parse_meta.c (the
 * '#' lines, the metric families and their types). The file comment of prom_parse.c describes the
 * grammar and the design. Here: struct prom_parser, the byte classes, and the small helpers both
 * files use. Those on the per-sample path (scan_name(), mem_eq(), fam_match(), ...) are static
 * inline here rather than functions of one file, so that splitting the parser adds no calls to it.
 */
#ifndef PROM_PARSE_INTERNAL_H
#define PROM_PARSE_INTERNAL_H

#include "prom_parse.h"

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Quoted excerpts in error messages: at most this many bytes including quotes and NUL. */
#define QUOTE_MAX 64

/* Character classes, indexed by byte. */
enum {
    C_NAME0 = 1 << 0,  /* starts a metric name: [a-zA-Z_:] */
    C_NAME = 1 << 1,   /* continues a metric name: [a-zA-Z0-9_:] */
    C_LNAME0 = 1 << 2, /* starts a label name: [a-zA-Z_] */
    C_LNAME = 1 << 3,  /* continues a label name: [a-zA-Z0-9_] */
    C_BLANK = 1 << 4,  /* ' ' '\t' */
    C_LVSTOP = 1 << 5, /* stops the plain label value scan: '"' '\\' '\n' NUL and bytes >= 0x80 */
    C_DIGIT = 1 << 6,  /* [0-9] */
    C_TEND_TEXT = 1 << 7, /* ends a value or timestamp token in the text format */
    C_TEND_OM = 1 << 8,   /* ends a value or timestamp token in OpenMetrics */
};

#define C_NAMECHARS (C_NAME0 | C_NAME | C_LNAME0 | C_LNAME)

static const uint16_t cls[256] = {
    [0] = C_LVSTOP,
    ['\t'] = C_BLANK | C_TEND_TEXT,
    ['\n'] = C_LVSTOP | C_TEND_TEXT | C_TEND_OM,
    [' '] = C_BLANK | C_TEND_TEXT | C_TEND_OM,
    ['"'] = C_LVSTOP,
    ['\\'] = C_LVSTOP,
    ['0' ... '9'] = C_NAME | C_LNAME | C_DIGIT,
    [':'] = C_NAME0 | C_NAME,
    ['A' ... 'Z'] = C_NAMECHARS,
    ['_'] = C_NAMECHARS,
    ['a' ... 'z'] = C_NAMECHARS,
    [0x80 ... 0xff] = C_LVSTOP,
};

#define CL(c) (cls[(unsigned char)(c)])

/* Metadata line kinds; also the flag bits of a family. */
enum { META_HELP = 1, META_TYPE = 2, META_UNIT = 4, FAM_SAMPLES = 8, FAM_UNIT = 16 };

/* One label of the line being parsed, pointing into the line. */
struct span {
    const char *name;
    const char *value; /* raw: escapes not resolved */
    uint32_t nlen;
    uint32_t vlen;
    bool esc;      /* the value contains a backslash */
    uint8_t share; /* SHARE_*: equal to the previous sample's label at the same index */
};

enum { SHARE_NAME = 1, SHARE_VALUE = 2 };

/* An OpenMetrics Metric seen in the current body (prom_parse_metric.c). */
struct om_metric_ent {
    uint64_t key;    /* the hash of its LabelSet (a window's cut took its sample: compared) */
    uint32_t tag;    /* its tag in prom_parser.om_mtab */
    uint32_t sample; /* index in the body of its first sample (prom_parser.base) */
    uint32_t lineno; /* of its first sample */
    uint32_t fam;    /* its family's index in fams */
};

/* OpenMetrics: the Metric being read and its current MetricPoint (prom_parse_metric.c). */
struct om_metric_state {
    bool open;
    size_t fam;    /* index in fams */
    uint64_t key;  /* hash of its LabelSet */
    size_t sample; /* index in the body of its first sample */
    size_t lineno; /* of its first sample */
    uint32_t seen; /* kinds of sample (by suffix) of its MetricPoint so far */
    bool has_ts;   /* the MetricPoint's timestamp, ts */
    int64_t ts;
    size_t pt_lineno; /* of the MetricPoint's first sample */
    size_t pt_sample; /* index in the body of the MetricPoint's first sample */
    /* The last noted Metric is not looked up yet (prom_parse_metric_flush()). */
    bool pending;
    size_t pend_fam;         /* its family's index in fams */
    size_t pend_prev_lineno; /* of the first sample of the Metric before it */
};

/* An OpenMetrics metric family seen in the current body. */
struct fam {
    uint32_t off; /* of the name in prom_parser.names */
    uint32_t len;
    uint32_t hash;
    uint8_t type;  /* enum sample_type */
    uint8_t flags; /* META_* | FAM_SAMPLES | FAM_UNIT (a unit that is not empty) */
};

struct prom_parser {
    enum prom_format fmt;
    struct batch *out; /* borrowed: set by reset */
    /*
     * Samples of the body handed on before the first one in out (prom_parser_set_out): body
     * sample i is out->samples[i - base]. checked: the body was checked in a first pass (a
     * second pass from a mark): OpenMetrics' rules across lines are not applied again.
     */
    size_t base;
    bool checked;
    int err;         /* sticky: 0, -EINVAL, -E2BIG (line too long) or -ENOMEM */
    size_t line_max; /* longest line, <= PROM_PARSE_LINE_MAX (prom_parser_set_line_max) */
    bool finished;
    bool after_eof; /* OpenMetrics: "# EOF" seen */
    size_t lineno;  /* of the line being parsed */
    char errmsg[BATCH_ERROR_MAX];

    char *tail; /* owned: the unfinished last line, plus room for a '\n' */
    size_t tail_len;
    size_t tail_cap;

    struct span *spans; /* owned: labels of the current line (then of its exemplar) */
    size_t nspans;
    size_t spans_cap;
    uint32_t *dup; /* owned: hash slots for the duplicate check of large label sets */
    size_t dup_cap;
    char *num; /* owned: NUL-terminated copy of a long number for strtod_l */
    size_t num_cap;
    locale_t c_locale; /* owned */

    /* The current family: of the last TYPE line (text) or of the last line (OpenMetrics). */
    char *cur; /* owned: its name */
    size_t cur_len;
    size_t cur_cap;
    bool have_cur;
    uint8_t cur_type;
    size_t cur_idx; /* OpenMetrics: its index in fams */

    /* OpenMetrics: every family of the body, in an open-addressing hash table. */
    struct fam *fams; /* owned */
    size_t nfams;
    size_t fams_cap;
    uint32_t *slots; /* owned: 0 empty, else index in fams + 1 */
    size_t nslots;   /* 0 or a power of two */
    char *names;     /* owned: family names, back to back */
    size_t names_len;
    size_t names_cap;

    /*
     * The previous sample's strings in the batch's arena, shared when equal, and the lengths of
     * its label strings (name, value, name, value, ...), kept here rather than beside every
     * label array in the arena: only the last sample's are ever read (8 bytes a label less).
     */
    const char *last_name;
    size_t last_nlen;
    const struct label *last_labels;
    uint32_t *last_lens; /* owned: 2 * lens_cap; valid for last_nlabels labels */
    size_t lens_cap;
    uint32_t last_nlabels;
    /* The previous sample's type, valid while no '#' line came since: same name, same type. */
    bool last_type_ok;
    uint8_t last_type;
    /* Arena bytes for the current line's label array, its lengths and new strings; 0: share. */
    size_t label_bytes;

    /*
     * OpenMetrics: the histogram or gauge histogram MetricPoint being read (prom_parse_om.c):
     * its samples are contiguous, so one is enough.
     */
    struct {
        bool open;
        size_t fam;   /* index in fams */
        uint64_t key; /* labels but le */
        bool has_ts;  /* a sample of it had a timestamp, ts */
        int64_t ts;
        size_t lineno;   /* of its first sample */
        bool any_bucket; /* le and bucket below are the last bucket's */
        double le;
        double bucket;
        bool inf; /* its +Inf bucket was seen, with inf_value */
        double inf_value;
        bool count; /* its _count / _gcount was seen, with count_value */
        double count_value;
        bool sum; /* its _sum / _gsum was seen, with sum_value */
        double sum_value;
        bool neg_le; /* a bucket with a negative threshold was seen */
    } om_point;
    bool om_exemplar; /* the sample being parsed has an exemplar (checked and cleared by emit) */
    /*
     * OpenMetrics: the body's Metrics, in order, and their tags (upper half of the hash of the
     * LabelSet, | 1; 0: empty) in an open-addressing table, slot (tag >> 1) & (om_mcap - 1).
     */
    struct om_metric_ent *om_ments; /* owned */
    size_t om_ments_cap;
    size_t om_mn;
    size_t om_mlast;       /* om_mn of the previous body */
    bool om_mbody;         /* a body runs: reset, not idle since */
    uint64_t om_mkey_drop; /* bits cleared from every LabelSet hash: 0 (tests force collisions) */
    /*
     * OpenMetrics: the last sample before a window's cut (prom_parser_set_out), for the next
     * line's "same series again" test: its name, label count and the hash of its labels.
     */
    bool cut_ok;
    char *cut_name; /* owned */
    size_t cut_nlen, cut_cap;
    uint32_t cut_nl;
    uint64_t cut_key;
    /*
     * The error the lookup of the last noted Metric found at a cut (it needs that Metric's
     * sample), reported where the parse of a whole body reports it: at the next lookup.
     */
    int cut_err;
    char cut_msg[BATCH_ERROR_MAX];
    uint32_t *om_mtab; /* owned */
    size_t om_mcap;    /* 0 or a power of two */
    struct om_metric_state om_metric;
    double om_exemplar_value;
};

/* Suffixes whose samples belong to a family of the given type, OpenMetrics flavour. */
static const char *const om_sfx_counter[] = {"_total", "_created", NULL};
static const char *const om_sfx_histogram[] = {"_bucket", "_sum", "_count", "_created", NULL};
static const char *const om_sfx_gaugehistogram[] = {"_bucket", "_gsum", "_gcount", NULL};
static const char *const om_sfx_summary[] = {"_sum", "_count", "_created", NULL};
static const char *const om_sfx_info[] = {"_info", NULL};
static const char *const om_sfx_none[] = {NULL};
static const char *const text_sfx_histogram[] = {"_bucket", "_sum", "_count", NULL};
static const char *const text_sfx_summary[] = {"_sum", "_count", NULL};

/* ---- small helpers ---- */

static inline const char *
skip_blanks(const char *s)
{
    while (CL(*s) & C_BLANK) {
        s++;
    }
    return s;
}

/*
 * The first byte at or after @s that is not a metric-name byte [a-zA-Z0-9_:] (with @colon false,
 * a label-name byte [a-zA-Z0-9_]). The line's '\n' at @e stops the scan, so it never passes @e.
 * Names are most of a line's bytes, so with SSE2 (every x86-64) 16 bytes are classified per step
 * while s[0..15] lies within the line and its '\n'; the table handles the rest.
 */
static inline const char *
scan_name(const char *s, const char *e, bool colon)
{
    const uint16_t mask = colon ? C_NAME : C_LNAME;

#if defined(__SSE2__)
    const __m128i case_bit = _mm_set1_epi8(0x20);
    const __m128i letter_off = _mm_set1_epi8((char)(0x80 - 'a'));
    const __m128i letter_lim = _mm_set1_epi8((char)(-128 + 26));
    const __m128i digit_off = _mm_set1_epi8((char)(0x80 - '0'));
    const __m128i digit_lim = _mm_set1_epi8((char)(-128 + (colon ? 11 : 10))); /* ':' follows '9' */
    const __m128i underscore = _mm_set1_epi8('_');
    __m128i v, ok;
    unsigned bad;

    while (e - s >= 15) {
        v = _mm_loadu_si128((const __m128i *)(const void *)s);
        /* Unsigned range checks as signed compares after moving the range's start to -128. */
        ok = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, case_bit), letter_off), letter_lim);
        ok = _mm_or_si128(ok, _mm_cmplt_epi8(_mm_add_epi8(v, digit_off), digit_lim));
        ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, underscore));
        bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
        if (bad != 0) {
            return s + __builtin_ctz(bad);
        }
        s += 16;
    }
#endif
    while (CL(*s) & mask) {
        s++;
    }
    return s;
}

/*
 * Reallocates @buf to hold at least @need elements of @elem bytes (doubling from @min); returns
 * the new buffer and updates *cap, or returns NULL and leaves both alone.
 */
static inline void *
grow(void *buf, size_t *cap, size_t need, size_t elem, size_t min)
{
    size_t ncap = *cap != 0 ? *cap : min;
    void *nb;

    while (ncap < need) {
        ncap *= 2;
    }
    nb = realloc(buf, ncap * elem);
    if (nb != NULL) {
        *cap = ncap;
    }
    return nb;
}

/* a[0..alen) == b, where b is NUL-terminated. */
static inline bool
span_is(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/*
 * a[0..n) == b[0..n), inline for the short strings that names and label values usually are:
 * overlapping loads from both ends cover up to 32 bytes without a call.
 */
static inline bool
mem_eq(const char *a, const char *b, size_t n)
{
    uint64_t x[4], y[4];
    uint32_t u, v, u2, v2;

    if (n >= 8) {
        if (n > 32) {
            return memcmp(a, b, n) == 0;
        }
        if (n > 16) {
            memcpy(x, a, 16);
            memcpy(y, b, 16);
            memcpy(x + 2, a + n - 16, 16);
            memcpy(y + 2, b + n - 16, 16);
            return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
        }
        memcpy(x, a, 8);
        memcpy(y, b, 8);
        memcpy(x + 1, a + n - 8, 8);
        memcpy(y + 1, b + n - 8, 8);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
    }
    if (n >= 4) {
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        memcpy(&u2, a + n - 4, 4);
        memcpy(&v2, b + n - 4, 4);
        return ((u ^ v) | (u2 ^ v2)) == 0;
    }
    if (n == 0) {
        return true;
    }
    /* 1 to 3 bytes: the first, the middle and the last one. */
    return a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1];
}

/* Copies s[0..n) to @d: like mem_eq(), without a call for up to 32 bytes. */
static inline void
mem_copy(char *d, const char *s, size_t n)
{
    uint64_t x[4];
    uint32_t u, u2;

    if (n >= 8) {
        if (n > 32) {
            memcpy(d, s, n);
        }
        else if (n > 16) {
            memcpy(x, s, 16);
            memcpy(x + 2, s + n - 16, 16);
            memcpy(d, x, 16);
            memcpy(d + n - 16, x + 2, 16);
        }
        else {
            memcpy(x, s, 8);
            memcpy(x + 1, s + n - 8, 8);
            memcpy(d, x, 8);
            memcpy(d + n - 8, x + 1, 8);
        }
    }
    else if (n >= 4) {
        memcpy(&u, s, 4);
        memcpy(&u2, s + n - 4, 4);
        memcpy(d, &u, 4);
        memcpy(d + n - 4, &u2, 4);
    }
    else if (n > 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

static inline uint32_t
fnv1a(uint32_t h, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

#define FNV_INIT 2166136261u

/* ---- families ---- */

/* n[0..nl) == f[0..fl) followed by @sfx. */
static inline bool
name_is(const char *n, size_t nl, const char *f, size_t fl, const char *sfx)
{
    size_t sl = strlen(sfx);

    return nl == fl + sl && memcmp(n, f, fl) == 0 && memcmp(n + fl, sfx, sl) == 0;
}

static inline const char *const *
type_suffixes(uint8_t type, bool om)
{
    switch (type) {
    case SAMPLE_COUNTER:
        return om_sfx_counter; /* only used for OpenMetrics: fam_match() handles counters */
    case SAMPLE_HISTOGRAM:
        return om ? om_sfx_histogram : text_sfx_histogram;
    case SAMPLE_GAUGEHISTOGRAM:
        return om_sfx_gaugehistogram;
    case SAMPLE_SUMMARY:
        return om ? om_sfx_summary : text_sfx_summary;
    case SAMPLE_INFO:
        return om_sfx_info;
    default:
        return om_sfx_none;
    }
}

/*
 * Whether a sample named n[0..nl) belongs to the family f[0..fl) of @type: the same name, or the
 * family name plus a suffix of that type. Like Prometheus' isSeriesPartOfFamily(), a counter
 * family may itself be named with _total (and an info family with _info).
 */
static inline bool
fam_match(const char *f, size_t fl, uint8_t type, const char *n, size_t nl, bool om)
{
    const char *const *sfx;

    if (nl == fl && memcmp(n, f, nl) == 0) {
        return true;
    }
    if (type == SAMPLE_COUNTER || type == SAMPLE_INFO) {
        const char *strip = type == SAMPLE_COUNTER ? "_total" : "_info";
        size_t sl = strlen(strip);

        if (fl > sl && memcmp(f + fl - sl, strip, sl) == 0) {
            fl -= sl;
        }
        return (nl == fl && memcmp(n, f, nl) == 0) || name_is(n, nl, f, fl, strip) ||
               (om && type == SAMPLE_COUNTER && name_is(n, nl, f, fl, "_created"));
    }
    if (nl <= fl || memcmp(n, f, fl) != 0) {
        return false;
    }
    for (sfx = type_suffixes(type, om); *sfx != NULL; sfx++) {
        if (span_is(n + fl, nl - fl, *sfx)) {
            return true;
        }
    }
    return false;
}

/* ---- prom_parse.c: errors and UTF-8 ---- */

int prom_parse_fail(struct prom_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int prom_parse_oom(struct prom_parser *p);
const char *prom_parse_quote(char *buf, const char *s, size_t n);
bool prom_parse_utf8_valid(const char *str, size_t n);

/* ---- prom_parse_meta.c: '#' lines and families ---- */

/* Forgets the previous sample (its strings in the batch are no longer shared or compared). */
static inline void
prom_parse_forget_last(struct prom_parser *p)
{
    p->last_name = NULL;
    p->last_nlen = 0;
    p->last_labels = NULL;
    p->last_nlabels = 0;
    p->last_type_ok = false;
}

int prom_parse_meta_set_cur(struct prom_parser *p, const char *name, size_t nlen, uint8_t type);
int prom_parse_meta_restore_cur(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                                uint8_t flags);
int prom_parse_meta_sample_family(struct prom_parser *p, const char *name, size_t nlen,
                                  uint8_t *type);
int prom_parse_meta_text_line(struct prom_parser *p, const char *s, const char *e);
int prom_parse_meta_om_line(struct prom_parser *p, const char *s, const char *e);

/* ---- prom_parse_om.c: OpenMetrics value rules ---- */

/*
 * OpenMetrics: checks the value @v of sample @name[@nlen] (labels in p->spans[0..@nl), its
 * timestamp @ts when @has_ts) of the current family p->cur, of type @type, against the rules of
 * OpenMetrics 1.0: those of single values, and those of a histogram MetricPoint's buckets
 * (sorted, cumulative, +Inf present and equal to the count). Called for every sample of a type
 * other than untyped and gauge, and for any sample while a MetricPoint is open. 0, or the error
 * (prom_parse_fail()).
 */
int prom_parse_om_check_value(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                              size_t nl, double v, bool has_ts, int64_t ts);
/*
 * The labels p->spans[@from..p->nspans) of an exemplar of metric @name[@nlen]: at most 128 UTF-8
 * characters of names and values together. Notes the exemplar for the sample's check. 0, or the
 * error.
 */
int prom_parse_om_exemplar_labels(struct prom_parser *p, size_t from, const char *name,
                                  size_t nlen);
/* "# EOF": ends the open MetricPoint. 0, or the error. */
int prom_parse_om_end(struct prom_parser *p);

/* ---- prom_parse_metric.c: OpenMetrics Metrics and MetricPoints ---- */

/*
 * OpenMetrics: sample @name[@nlen] (labels in p->spans[0..@nl), SHARE_* bits and label_bytes set,
 * timestamp @ts when @has_ts) of the current family, of type @type, before it is appended to the
 * batch: its Metric does not come back after another one (not interleaved), and it starts a
 * MetricPoint only with a timestamp above the previous MetricPoint's. 0, or the error.
 */
int prom_parse_metric_sample(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                             size_t nl, bool has_ts, int64_t ts);
/*
 * Looks up the Metric that the last sample started, if not yet: one line late, so that its slot
 * of the table is in the cache by then. The error is given at that Metric's line. 0, or the
 * error. Called for each sample (first) and at "# EOF".
 */
int prom_parse_metric_flush(struct prom_parser *p);
/* A window's cut: notes the batch's last sample for the line after it (0 or -ENOMEM). */
int prom_parse_metric_cut(struct prom_parser *p);
/*
 * Forgets the body's Metrics (at reset; @idle between scrapes), giving back a large table, and
 * when @idle one that was not used.
 */
void prom_parse_metric_reset(struct prom_parser *p, bool idle);

#endif /* PROM_PARSE_INTERNAL_H */
