/*
 * The '#' lines of the exposition-format parser and the metric families they declare: which
 * family a sample belongs to and so its type. In the text format that is only the family of the
 * latest TYPE line. In OpenMetrics every family of the body goes into an open-addressing hash
 * table of struct fam, so that the ordering rules (metadata first, each kind once, families
 * contiguous) can be enforced. The grammar and the design are described in prom_parse.c; the
 * shared struct and helpers are in prom_parse-internal.h.
 */
#include "build-config.h"

#include "prom_parse-internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every suffix of the tables in prom_parse-internal.h: a sample name ending in one may belong to
 * an earlier family.
 */
static const char *const all_sfx[] = {"_total", "_created", "_bucket", "_sum", "_count",
                                      "_gsum",  "_gcount",  "_info",   NULL};

/* ---- the family table (OpenMetrics) ---- */

/* The family named a[0..alen) + b[0..blen) with hash @h, or -1. */
static long
fam_find(const struct prom_parser *p, const char *a, size_t alen, const char *b, size_t blen,
         uint32_t h)
{
    size_t mask = p->nslots - 1, i;
    const struct fam *f;
    uint32_t slot;

    if (p->nslots == 0) {
        return -1;
    }
    for (i = h & mask;; i = (i + 1) & mask) {
        slot = p->slots[i];
        if (slot == 0) {
            return -1;
        }
        f = &p->fams[slot - 1];
        if (f->hash == h && f->len == alen + blen && memcmp(p->names + f->off, a, alen) == 0 &&
            memcmp(p->names + f->off + alen, b, blen) == 0) {
            return (long)(slot - 1);
        }
    }
}

static void
slots_insert(uint32_t *slots, size_t nslots, uint32_t h, uint32_t val)
{
    size_t mask = nslots - 1, i;

    for (i = h & mask; slots[i] != 0; i = (i + 1) & mask) {
    }
    slots[i] = val;
}

/* Adds a family (not present yet); returns its index or -ENOMEM. */
static long
fam_insert(struct prom_parser *p, const char *name, size_t nlen, uint32_t h)
{
    struct fam *f;
    size_t i;

    if (p->nfams >= UINT32_MAX - 1 || p->names_len + nlen > UINT32_MAX) {
        return -ENOMEM;
    }
    if ((p->nfams + 1) * 2 > p->nslots) {
        size_t ns = p->nslots != 0 ? p->nslots * 2 : 64;
        uint32_t *slots = calloc(ns, sizeof(*slots));

        if (slots == NULL) {
            return -ENOMEM;
        }
        for (i = 0; i < p->nfams; i++) {
            slots_insert(slots, ns, p->fams[i].hash, (uint32_t)(i + 1));
        }
        free(p->slots);
        p->slots = slots;
        p->nslots = ns;
    }
    if (p->nfams + 1 > p->fams_cap) {
        f = grow(p->fams, &p->fams_cap, p->nfams + 1, sizeof(*p->fams), 64);
        if (f == NULL) {
            return -ENOMEM;
        }
        p->fams = f;
    }
    if (p->names_len + nlen > p->names_cap) {
        char *nb = grow(p->names, &p->names_cap, p->names_len + nlen, 1, 4096);

        if (nb == NULL) {
            return -ENOMEM;
        }
        p->names = nb;
    }
    memcpy(p->names + p->names_len, name, nlen);
    f = &p->fams[p->nfams];
    f->off = (uint32_t)p->names_len;
    f->len = (uint32_t)nlen;
    f->hash = h;
    f->type = SAMPLE_UNTYPED;
    f->flags = 0;
    p->names_len += nlen;
    slots_insert(p->slots, p->nslots, h, (uint32_t)(p->nfams + 1));
    return (long)p->nfams++;
}

/* ---- families and types ---- */

/*
 * Makes name[0..nlen) of @type the current family (a copy: @name may point into the line) and
 * forgets the previous sample's type. Called for a text TYPE line and for a new OpenMetrics
 * family. 0, or -ENOMEM recorded as the sticky error.
 */
int
prom_parse_meta_set_cur(struct prom_parser *p, const char *name, size_t nlen, uint8_t type)
{
    char *nb;

    if (nlen > p->cur_cap) {
        nb = grow(p->cur, &p->cur_cap, nlen, 1, 128);
        if (nb == NULL) {
            return prom_parse_oom(p);
        }
        p->cur = nb;
    }
    mem_copy(p->cur, name, nlen);
    p->cur_len = nlen;
    p->cur_type = type;
    p->have_cur = true;
    p->last_type_ok = false;
    return 0;
}

/* A second pass from a mark: the current family as it was there (prom_parser_resume()). */
int
prom_parse_meta_restore_cur(struct prom_parser *p, const char *name, size_t nlen, uint8_t type,
                            uint8_t flags)
{
    long idx = fam_insert(p, name, nlen, fnv1a(FNV_INIT, name, nlen));

    if (idx < 0) {
        return prom_parse_oom(p);
    }
    p->fams[idx].type = type;
    p->fams[idx].flags = flags;
    p->cur_idx = (size_t)idx;
    return prom_parse_meta_set_cur(p, name, nlen, type);
}

static const char *
meta_keyword(int kind)
{
    return kind == META_HELP ? "HELP" : kind == META_TYPE ? "TYPE" : "UNIT";
}

/*
 * OpenMetrics: a family named @name[@nlen] would clash with the samples of an existing family
 * (a gauge "foo_created" and a counter "foo", which writes "foo_created"): that family's index,
 * or -1.
 */
static long
clashing_base(struct prom_parser *p, const char *name, size_t nlen)
{
    for (const char *const *sfx = all_sfx; *sfx != NULL; sfx++) {
        size_t sl = strlen(*sfx);
        if (nlen > sl && memcmp(name + nlen - sl, *sfx, sl) == 0) {
            long idx = fam_find(p, name, nlen - sl, "", 0, fnv1a(FNV_INIT, name, nlen - sl));
            if (idx >= 0 && fam_match(name, nlen - sl, p->fams[idx].type, name, nlen, true)) {
                return idx;
            }
        }
    }
    return -1;
}

/* OpenMetrics: a HELP/TYPE/UNIT line for family @name; @type only for TYPE. */
static int
om_family_meta(struct prom_parser *p, int kind, const char *name, size_t nlen, uint8_t type,
               bool unit)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const char *const *sfx;
    struct fam *f;
    long idx, sidx;
    uint32_t h;
    int rc;

    if (p->have_cur && p->cur_len == nlen && mem_eq(p->cur, name, nlen)) {
        idx = (long)p->cur_idx;
        h = p->fams[idx].hash; /* the current family's name is @name: no need to hash it again */
    }
    else {
        h = fnv1a(FNV_INIT, name, nlen);
        idx = fam_find(p, name, nlen, "", 0, h);
        if (idx >= 0 && (p->fams[idx].flags & (FAM_SAMPLES | kind)) == 0) {
            return prom_parse_fail(p, "metric family %s is interleaved with another family",
                                   prom_parse_quote(q1, name, nlen));
        }
        if (idx < 0 && (sidx = clashing_base(p, name, nlen)) >= 0) {
            const struct fam *bf = &p->fams[sidx];
            return prom_parse_fail(p, "metric family %s clashes with the samples of family %s",
                                   prom_parse_quote(q1, name, nlen),
                                   prom_parse_quote(q2, p->names + bf->off, bf->len));
        }
        if (idx < 0) {
            idx = fam_insert(p, name, nlen, h);
            if (idx < 0) {
                return prom_parse_oom(p);
            }
            rc = prom_parse_meta_set_cur(p, name, nlen, SAMPLE_UNTYPED);
            if (rc != 0) {
                return rc;
            }
            p->cur_idx = (size_t)idx;
        }
    }
    f = &p->fams[idx];
    if (f->flags & FAM_SAMPLES) {
        return prom_parse_fail(p, "# %s line for metric %s after its samples", meta_keyword(kind),
                               prom_parse_quote(q1, name, nlen));
    }
    if (f->flags & kind) {
        return prom_parse_fail(p, "duplicate # %s line for metric %s", meta_keyword(kind),
                               prom_parse_quote(q1, name, nlen));
    }
    if (kind == META_TYPE) {
        for (sfx = type_suffixes(type, true); *sfx != NULL; sfx++) {
            sidx = fam_find(p, name, nlen, *sfx, strlen(*sfx), fnv1a(h, *sfx, strlen(*sfx)));
            if (sidx >= 0) {
                const struct fam *sf = &p->fams[sidx];

                if (sf->flags & FAM_SAMPLES) {
                    return prom_parse_fail(p, "# TYPE line for metric %s after samples of %s",
                                           prom_parse_quote(q1, name, nlen),
                                           prom_parse_quote(q2, p->names + sf->off, sf->len));
                }
                return prom_parse_fail(p, "metric family %s clashes with the samples of family %s",
                                       prom_parse_quote(q1, p->names + sf->off, sf->len),
                                       prom_parse_quote(q2, name, nlen));
            }
        }
        f->type = type;
        p->cur_type = type;
    }
    /* "MetricFamilies of type StateSet [Info] MUST have an empty Unit string." */
    if (((kind == META_TYPE && (f->flags & FAM_UNIT)) ||
         (kind == META_UNIT && unit && (f->flags & META_TYPE))) &&
        (f->type == SAMPLE_STATESET || f->type == SAMPLE_INFO)) {
        return prom_parse_fail(p, "%s family %s must not have a unit",
                               f->type == SAMPLE_INFO ? "info" : "stateset",
                               prom_parse_quote(q1, name, nlen));
    }
    f->flags |= (uint8_t)(kind | (unit ? FAM_UNIT : 0));
    return 0;
}

/*
 * OpenMetrics: the type of the sample named name[0..nlen) into *@type, after checking that its
 * family is contiguous; a sample of no family seen yet starts an untyped one. Called for each
 * sample whose name differs from the previous sample's (or after a '#' line). 0, or the sticky
 * -EINVAL / -ENOMEM.
 */
int
prom_parse_meta_sample_family(struct prom_parser *p, const char *name, size_t nlen, uint8_t *type)
{
    char q1[QUOTE_MAX];
    const char *const *sfx;
    uint32_t h;
    size_t sl;
    long idx;
    int rc;

    if (p->have_cur && fam_match(p->cur, p->cur_len, p->cur_type, name, nlen, true)) {
        p->fams[p->cur_idx].flags |= FAM_SAMPLES;
        *type = p->cur_type;
        return 0;
    }
    /* A new family: it must not be one that ended already. */
    h = fnv1a(FNV_INIT, name, nlen);
    if (fam_find(p, name, nlen, "", 0, h) >= 0) {
        return prom_parse_fail(p, "metric family %s is interleaved with another family",
                               prom_parse_quote(q1, name, nlen));
    }
    for (sfx = all_sfx; *sfx != NULL; sfx++) {
        sl = strlen(*sfx);
        if (nlen > sl && memcmp(name + nlen - sl, *sfx, sl) == 0) {
            idx = fam_find(p, name, nlen - sl, "", 0, fnv1a(FNV_INIT, name, nlen - sl));
            if (idx >= 0 && fam_match(name, nlen - sl, p->fams[idx].type, name, nlen, true)) {
                return prom_parse_fail(p, "metric family %s is interleaved with another family",
                                       prom_parse_quote(q1, name, nlen - sl));
            }
        }
    }
    idx = fam_insert(p, name, nlen, h);
    if (idx < 0) {
        return prom_parse_oom(p);
    }
    p->fams[idx].flags = FAM_SAMPLES;
    rc = prom_parse_meta_set_cur(p, name, nlen, SAMPLE_UNTYPED);
    if (rc != 0) {
        return rc;
    }
    p->cur_idx = (size_t)idx;
    *type = SAMPLE_UNTYPED;
    return 0;
}

/* The type named by the word s[0..n) of a TYPE line, or -1; some words only exist in one format. */
static int
type_from_word(const char *s, size_t n, bool om)
{
    /* By length, so that each memcmp() has a constant size and becomes a few compares. */
    switch (n) {
    case 4:
        return om && memcmp(s, "info", 4) == 0 ? SAMPLE_INFO : -1;
    case 5:
        return memcmp(s, "gauge", 5) == 0 ? SAMPLE_GAUGE : -1;
    case 7:
        if (memcmp(s, "counter", 7) == 0) {
            return SAMPLE_COUNTER;
        }
        if (memcmp(s, "summary", 7) == 0) {
            return SAMPLE_SUMMARY;
        }
        return memcmp(s, om ? "unknown" : "untyped", 7) == 0 ? SAMPLE_UNTYPED : -1;
    case 8:
        return om && memcmp(s, "stateset", 8) == 0 ? SAMPLE_STATESET : -1;
    case 9:
        return memcmp(s, "histogram", 9) == 0 ? SAMPLE_HISTOGRAM : -1;
    case 14:
        return om && memcmp(s, "gaugehistogram", 14) == 0 ? SAMPLE_GAUGEHISTOGRAM : -1;
    default:
        return -1;
    }
}

/* ---- lines ---- */

/*
 * Text format: a line starting with '#', @s at the '#' and @e at the line's '\n'. A HELP line is
 * checked, a TYPE line makes its family current, any other line is a comment. Called by the
 * general line parser (a line the fast path did not take). 0, or the sticky -EINVAL / -ENOMEM.
 */
int
prom_parse_meta_text_line(struct prom_parser *p, const char *s, const char *e)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    const char *name, *kw, *te;
    size_t nlen;
    int kind, type;

    s++;
    if (!(CL(*s) & C_BLANK)) {
        return 0;
    }
    s = skip_blanks(s);
    if (e - s < 5 || !(CL(s[4]) & C_BLANK)) {
        return 0;
    }
    if (memcmp(s, "HELP", 4) == 0) {
        kind = META_HELP;
    }
    else if (memcmp(s, "TYPE", 4) == 0) {
        kind = META_TYPE;
    }
    else {
        return 0;
    }
    kw = meta_keyword(kind);
    s = skip_blanks(s + 4);
    name = s;
    if (CL(*s) & C_NAME0) {
        s = scan_name(s + 1, e, true);
    }
    if (s == name || (s != e && !(CL(*s) & C_BLANK))) {
        return prom_parse_fail(p, "expected a metric name after \"# %s\", got %s", kw,
                               prom_parse_quote(q1, name, (size_t)(e - name)));
    }
    nlen = (size_t)(s - name);
    s = skip_blanks(s);
    if (kind == META_HELP) {
        if (!prom_parse_utf8_valid(s, (size_t)(e - s))) {
            return prom_parse_fail(p, "help text of metric %s is not valid UTF-8",
                                   prom_parse_quote(q1, name, nlen));
        }
        return 0;
    }
    for (te = e; te > s && (CL(te[-1]) & C_BLANK); te--) {
    }
    type = type_from_word(s, (size_t)(te - s), false);
    if (type < 0) {
        return prom_parse_fail(p, "invalid metric type %s for metric %s",
                               prom_parse_quote(q1, s, (size_t)(te - s)),
                               prom_parse_quote(q2, name, nlen));
    }
    return prom_parse_meta_set_cur(p, name, nlen, (uint8_t)type);
}

/*
 * OpenMetrics: a line starting with '#' ("# HELP", "# TYPE", "# UNIT" or "# EOF"), @s at the '#'
 * and @e at the line's '\n'; records the metadata in the family table, or sets after_eof. Called
 * by the general line parser. 0, or the sticky -EINVAL / -ENOMEM.
 */
int
prom_parse_meta_om_line(struct prom_parser *p, const char *s, const char *e)
{
    char q1[QUOTE_MAX], q2[QUOTE_MAX];
    size_t len = (size_t)(e - s), nlen, i;
    const char *name, *kw, *t;
    int kind, type = SAMPLE_UNTYPED;

    if (len == 5 && memcmp(s, "# EOF", 5) == 0) {
        p->after_eof = true;
        return prom_parse_om_end(p);
    }
    if (len >= 7 && memcmp(s, "# HELP ", 7) == 0) {
        kind = META_HELP;
    }
    else if (len >= 7 && memcmp(s, "# TYPE ", 7) == 0) {
        kind = META_TYPE;
    }
    else if (len >= 7 && memcmp(s, "# UNIT ", 7) == 0) {
        kind = META_UNIT;
    }
    else {
        return prom_parse_fail(
            p, "invalid line %s: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF",
            prom_parse_quote(q1, s, len));
    }
    kw = meta_keyword(kind);
    s += 7;
    name = s;
    if (!(CL(*s) & C_NAME0)) {
        return prom_parse_fail(p, "expected a metric name after \"# %s \", got %s", kw,
                               prom_parse_quote(q1, s, (size_t)(e - s)));
    }
    s = scan_name(s + 1, e, true);
    nlen = (size_t)(s - name);
    if (*s != ' ') {
        return prom_parse_fail(p, "expected ' ' after metric name %s in # %s line, got %s",
                               prom_parse_quote(q1, name, nlen), kw,
                               prom_parse_quote(q2, s, (size_t)(e - s)));
    }
    s++;
    len = (size_t)(e - s);
    switch (kind) {
    case META_TYPE:
        type = type_from_word(s, len, true);
        if (type < 0) {
            return prom_parse_fail(p, "invalid metric type %s for metric %s",
                                   prom_parse_quote(q1, s, len), prom_parse_quote(q2, name, nlen));
        }
        break;
    case META_UNIT:
        for (i = 0; i < len; i++) {
            if (!(CL(s[i]) & C_NAME)) {
                return prom_parse_fail(p, "invalid unit %s for metric %s",
                                       prom_parse_quote(q1, s, len),
                                       prom_parse_quote(q2, name, nlen));
            }
        }
        if (len > 0 && !(nlen > len && name[nlen - len - 1] == '_' &&
                         memcmp(name + nlen - len, s, len) == 0)) {
            return prom_parse_fail(p, "unit %s is not a suffix of metric %s",
                                   prom_parse_quote(q1, s, len), prom_parse_quote(q2, name, nlen));
        }
        break;
    default:
        /* An unknown escape is kept literally (ABNF: BS normal-char); a lone last one is not. */
        for (t = memchr(s, '\\', len); t != NULL; t = memchr(t, '\\', (size_t)(e - t))) {
            if (t + 1 >= e) {
                return prom_parse_fail(p, "invalid escape %s in help text of metric %s",
                                       prom_parse_quote(q1, t, 1),
                                       prom_parse_quote(q2, name, nlen));
            }
            t += 2;
        }
        if (!prom_parse_utf8_valid(s, len)) {
            return prom_parse_fail(p, "help text of metric %s is not valid UTF-8",
                                   prom_parse_quote(q1, name, nlen));
        }
        break;
    }
    return om_family_meta(p, kind, name, nlen, (uint8_t)type, kind == META_UNIT && len > 0);
}
