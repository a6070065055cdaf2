/*
 * Staleness markers (stale.h): the per-target memory of the last run's series and the diff
 * that turns a vanished series into a marker.
 */
#include "build-config.h"

#include "stale.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "wordhash.h"

#define STALE_SEED_NAME UINT64_C(0x243f6a8885a308d3)
#define STALE_SEED_LABEL UINT64_C(0x13198a2e03707344)

struct stale_series {
    uint64_t *ids; /* owned: the last run's series, in batch order */
    size_t n;
    size_t cap;
    uint64_t *next; /* owned: scratch, this run's ids while the set changes (then ids), or NULL */
    size_t ncap;
    unsigned char *blob; /* owned: the last run's series, names and labels (see put_series()) */
    size_t blob_len;
    uint64_t *tab; /* owned: scratch, open addressing set of this run's ids (0 = empty) */
    size_t tabcap; /* a power of two */
    /* The run being added (a run in parts: stale_series_part(), then stale_series_track()). */
    bool run;         /* a part of it was added */
    bool failed;      /* adding a part ran out of memory: the run is not remembered */
    bool same;        /* its ids so far are the last run's first m, in order */
    size_t m;         /* its series so far */
    struct strbuf nb; /* owned: its series as a block, once the set changed */
};

double
stale_nan(void)
{
    uint64_t bits = STALE_NAN_BITS;
    double v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

bool
stale_is_marker(double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    return bits == STALE_NAN_BITS;
}

/* A fast string hash, eight bytes at a time (not for adversarial input: ids stay per target). */
static inline uint64_t
str_hash(const char *p, uint64_t h)
{
    size_t n = p != NULL ? strlen(p) : 0;
    uint64_t w;

    for (; n >= 8; n -= 8, p += 8) {
        memcpy(&w, p, 8);
        h = wordhash_step(h, w);
    }
    /* The last 0-7 bytes in registers, with their count. */
    return wordhash_step(h, wordhash_tail(p, n) ^ (uint64_t)n << 56);
}

/*
 * The last hashes series_id() computed, by string address: the parser shares a family's name
 * and a label's strings with the previous sample's (position by position), so most of a
 * sample's strings were hashed for the sample before. Valid for one batch (its strings stay
 * put while it is tracked).
 */
#define STALE_MEMO_LABELS 8
struct stale_memo {
    const char *name;
    uint64_t name_h;
    struct {
        const char *name, *value;
        uint64_t h;
    } l[STALE_MEMO_LABELS];
};

/* The hash of label @l, as series_id() sums them (mix of its value's over its name's). */
static inline uint64_t
label_hash(const struct label *l)
{
    return wordhash_mix(str_hash(l->value, str_hash(l->name, STALE_SEED_LABEL)));
}

/* The id of @s's series: its name and its labels, summed so label order does not matter. */
static uint64_t
series_id(const struct sample *s, struct stale_memo *m)
{
    if (s->name != m->name || m->name == NULL) {
        m->name = s->name;
        m->name_h = wordhash_mix(str_hash(s->name, STALE_SEED_NAME));
    }
    uint64_t id = m->name_h;

    for (uint32_t i = 0; i < s->nlabels; i++) {
        const struct label *l = &s->labels[i];
        if (i >= STALE_MEMO_LABELS) {
            id += label_hash(l);
            continue;
        }
        if (l->name != m->l[i].name || l->value != m->l[i].value || l->name == NULL ||
            l->value == NULL) {
            m->l[i].name = l->name;
            m->l[i].value = l->value;
            m->l[i].h = label_hash(l);
        }
        id += m->l[i].h;
    }
    return id != 0 ? id : 1; /* 0 marks an empty slot of the set */
}

struct stale_series *
stale_series_new(void)
{
    struct stale_series *s = calloc(1, sizeof(*s));

    if (s != NULL) {
        s->same = true;
        strbuf_init(&s->nb);
    }
    return s;
}

static void run_reset(struct stale_series *s);

void
stale_series_free(struct stale_series *s)
{
    if (s == NULL) {
        return;
    }
    run_reset(s);
    free(s->ids);
    free(s->tab);
    free(s->blob);
    free(s);
}

size_t
stale_series_count(const struct stale_series *s)
{
    return s->n;
}

static int
grow_u64(uint64_t **a, size_t *cap, size_t n)
{
    if (*cap >= n) {
        return 0;
    }
    size_t c = *cap > 0 ? *cap : 64;
    while (c < n) {
        c *= 2;
    }
    uint64_t *p = realloc(*a, c * sizeof(*p));
    if (p == NULL) {
        return -ENOMEM;
    }
    *a = p;
    *cap = c;
    return 0;
}

/* Moves the markers pushed after the first @n0 samples into b->nstale. */
static void
seal_markers(struct batch *b, size_t n0)
{
    b->nstale += b->nsamples - n0;
    b->nsamples = n0;
}

static bool
tab_has(const struct stale_series *s, uint64_t id)
{
    size_t mask = s->tabcap - 1;

    for (size_t i = (size_t)id & mask;; i = (i + 1) & mask) {
        if (s->tab[i] == id) {
            return true;
        }
        if (s->tab[i] == 0) {
            return false;
        }
    }
}

/* Fills the set with the @m ids in s->next. */
static int
tab_fill(struct stale_series *s, size_t m)
{
    size_t want = 16;

    while (want < 2 * m) {
        want *= 2;
    }
    if (want > s->tabcap) {
        uint64_t *t = realloc(s->tab, want * sizeof(*t));
        if (t == NULL) {
            return -ENOMEM;
        }
        s->tab = t;
        s->tabcap = want;
    }
    memset(s->tab, 0, s->tabcap * sizeof(*s->tab));
    size_t mask = s->tabcap - 1;
    for (size_t k = 0; k < m; k++) {
        size_t i = (size_t)s->next[k] & mask;
        while (s->tab[i] != 0 && s->tab[i] != s->next[k]) {
            i = (i + 1) & mask;
        }
        s->tab[i] = s->next[k];
    }
    return 0;
}

/*
 * The last run's series are kept for their markers in one block of the size it takes: per
 * series its label count, then its strings (name, each label's name and value), each as the
 * length of the prefix it shares with the same string of the series before and the rest
 * (LEB128 lengths, then the bytes). A series mostly shares its name and much of its labels with
 * the one before: about 10-20 bytes a node_exporter series, against about 90 as samples, label
 * arrays and strings (issue 16: at 500 targets those copies were a third of the agent's memory).
 * Markers are rare: the block is read in order, only when a series vanished.
 */
static void
put_varint(struct strbuf *sb, uint64_t v)
{
    while (v >= 0x80) {
        strbuf_putc(sb, (char)(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    strbuf_putc(sb, (char)v);
}

/* @str after the @prev string of the series before (NULL: none there). */
static void
put_field(struct strbuf *sb, const char *prev, const char *str)
{
    size_t p = 0;

    str = str != NULL ? str : "";
    if (prev != NULL) {
        while (str[p] != '\0' && str[p] == prev[p]) {
            p++;
        }
    }
    size_t n = strlen(str + p);
    put_varint(sb, p);
    put_varint(sb, n);
    strbuf_append(sb, str + p, n);
}

static void
put_series(struct strbuf *sb, const struct sample *x, const struct sample *ps)
{
    put_varint(sb, x->nlabels);
    put_field(sb, ps != NULL ? ps->name : NULL, x->name);
    for (uint32_t i = 0; i < x->nlabels; i++) {
        bool prev = ps != NULL && i < ps->nlabels;
        put_field(sb, prev ? ps->labels[i].name : NULL, x->labels[i].name);
        put_field(sb, prev ? ps->labels[i].value : NULL, x->labels[i].value);
    }
}

/* Reads the block in order: the strings of the current series (0 name, 1 + 2i, 2 + 2i labels). */
struct stale_dec {
    const unsigned char *p, *end;
    struct {
        char *s; /* owned */
        size_t len, cap;
    } * f;
    size_t nf;   /* allocated */
    size_t have; /* strings of the series before */
    uint32_t nl;
};

static int
get_varint(struct stale_dec *d, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && d->p < d->end; shift += 7) {
        unsigned char c = *d->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            return 0;
        }
    }
    return -EIO;
}

/* String @i of the next series. 0, -EIO (a block this file did not write) or -ENOMEM. */
static int
get_field(struct stale_dec *d, size_t i)
{
    uint64_t p, n;

    if (get_varint(d, &p) != 0 || get_varint(d, &n) != 0 || n > (size_t)(d->end - d->p) ||
        (p > 0 && (i >= d->have || p > d->f[i].len))) {
        return -EIO;
    }
    if (p + n + 1 > d->f[i].cap) {
        char *ns = realloc(d->f[i].s, p + n + 1);
        if (ns == NULL) {
            return -ENOMEM;
        }
        d->f[i].s = ns;
        d->f[i].cap = p + n + 1;
    }
    memcpy(d->f[i].s + p, d->p, n);
    d->f[i].s[p + n] = '\0';
    d->f[i].len = p + n;
    d->p += n;
    return 0;
}

static int
dec_next(struct stale_dec *d)
{
    uint64_t nl;
    size_t nf;
    int rc;

    if (get_varint(d, &nl) != 0 || nl > UINT32_MAX / 2) {
        return -EIO;
    }
    nf = 1 + 2 * (size_t)nl;
    if (nf > d->nf) {
        void *f = realloc(d->f, nf * sizeof(*d->f));
        if (f == NULL) {
            return -ENOMEM;
        }
        d->f = f;
        memset(d->f + d->nf, 0, (nf - d->nf) * sizeof(*d->f));
        d->nf = nf;
    }
    for (size_t i = 0; i < nf; i++) {
        if ((rc = get_field(d, i)) != 0) {
            return rc;
        }
    }
    d->have = nf;
    d->nl = (uint32_t)nl;
    return 0;
}

static void
dec_release(struct stale_dec *d)
{
    for (size_t i = 0; i < d->nf; i++) {
        free(d->f[i].s);
    }
    free(d->f);
}

/* Appends a marker for the series @d read last to @b (counted in b->nsamples for now). */
static int
push_marker(struct batch *b, const struct stale_dec *d, int64_t ts_ms)
{
    struct sample *m = batch_push(b);
    struct label *l = NULL;

    if (m == NULL) {
        return -ENOMEM;
    }
    /* The batch's arena: the marker outlives this memory's next rebuild. */
    memset(m, 0, sizeof(*m));
    m->name = arena_strndup(&b->arena, d->f[0].s, d->f[0].len);
    if (d->nl > 0) {
        l = arena_alloc(&b->arena, d->nl * sizeof(*l));
    }
    bool oom = m->name == NULL || (d->nl > 0 && l == NULL);
    for (uint32_t i = 0; i < d->nl && !oom; i++) {
        l[i].name = arena_strndup(&b->arena, d->f[1 + 2 * i].s, d->f[1 + 2 * i].len);
        l[i].value = arena_strndup(&b->arena, d->f[2 + 2 * i].s, d->f[2 + 2 * i].len);
        oom = l[i].name == NULL || l[i].value == NULL;
    }
    if (oom) {
        b->nsamples--;
        return -ENOMEM;
    }
    m->labels = l;
    m->nlabels = d->nl;
    m->type = SAMPLE_UNTYPED;
    m->value = stale_nan();
    m->has_ts = true;
    m->ts_ms = ts_ms;
    return 0;
}

/*
 * Markers, timestamped @ts_ms, for the remembered series whose ids are not in this run's set
 * (@all: every one, the target goes away).
 */
static int
push_markers(struct stale_series *s, struct batch *b, int64_t ts_ms, bool all)
{
    struct stale_dec d = {.p = s->blob, .end = s->blob + s->blob_len};
    int rc = 0;

    for (size_t k = 0; k < s->n && rc == 0; k++) {
        rc = dec_next(&d);
        if (rc == 0 && (all || !tab_has(s, s->ids[k]))) {
            rc = push_marker(b, &d, ts_ms);
        }
    }
    dec_release(&d);
    return rc;
}

/* Forgets the run being added (what is remembered stays). */
static void
run_reset(struct stale_series *s)
{
    s->run = false;
    s->failed = false;
    s->same = true;
    s->m = 0;
    strbuf_release(&s->nb);
    free(s->next); /* needed again only when the set changes again: 8 bytes a series less */
    s->next = NULL;
    s->ncap = 0;
}

/*
 * The run's series differ from the last run's from its series s->m on: the scratch takes the
 * ids before it and the block the series before it (the same bytes as the remembered block's).
 */
static int
run_diverge(struct stale_series *s)
{
    struct stale_dec d = {.p = s->blob, .end = s->blob + s->blob_len};
    int rc = 0;

    s->same = false;
    if (grow_u64(&s->next, &s->ncap, s->m > 0 ? s->m : 1) != 0) {
        return -ENOMEM;
    }
    if (s->m > 0) { /* s->ids is NULL before the first run */
        memcpy(s->next, s->ids, s->m * sizeof(*s->ids));
    }
    for (size_t k = 0; k < s->m && rc == 0; k++) {
        rc = dec_next(&d);
    }
    dec_release(&d);
    strbuf_reset(&s->nb);
    if (rc == 0 && d.p > s->blob) {
        strbuf_append(&s->nb, (const char *)s->blob, (size_t)(d.p - s->blob));
    }
    return rc != 0 ? rc : s->nb.oom ? -ENOMEM : 0;
}

/* Adds the untimestamped samples of @b (its first @n0) to the run being added. */
static int
run_add(struct stale_series *s, const struct batch *b, size_t n0)
{
    /* While the ids match the last run's, in order, nothing is stored: the scratch array
       (next) and the block are only needed, and only made, once the set changed. */
    struct stale_memo memo = {0};
    const struct sample *ps = NULL;

    s->run = true;
    for (size_t i = 0; i < n0; i++) {
        const struct sample *x = &b->samples[i];
        if (x->has_ts) {
            continue;
        }
        uint64_t id = series_id(x, &memo);
        if (s->same && s->m < s->n && s->ids[s->m] == id) {
            s->m++;
            continue;
        }
        if ((s->same && run_diverge(s) != 0) || grow_u64(&s->next, &s->ncap, s->m + 1) != 0) {
            return -ENOMEM;
        }
        s->next[s->m++] = id;
        /* Within a batch after the sample before; the first one of a part after none. */
        put_series(&s->nb, x, ps);
        ps = x;
    }
    return s->nb.oom ? -ENOMEM : 0;
}

/* The run's series become the remembered ones (scratch ids and block). */
static void
run_keep(struct stale_series *s)
{
    free(s->ids);
    s->ids = s->next;
    s->cap = s->ncap;
    s->next = NULL;
    s->ncap = 0;
    free(s->blob);
    /* The block of the size it takes (kept until the set changes again). */
    unsigned char *fit = s->nb.len > 0 ? realloc(s->nb.data, s->nb.len) : NULL;
    s->blob = fit != NULL ? fit : (unsigned char *)s->nb.data;
    s->blob_len = s->nb.len;
    if (s->nb.len == 0) {
        free(s->nb.data);
        s->blob = NULL;
    }
    strbuf_init(&s->nb); /* its data is the block now */
    s->n = s->m;
}

int
stale_series_part(struct stale_series *s, const struct batch *b)
{
    if (b->nforwarded > 0 && !s->run) {
        return 0; /* a memory made during the run (a reload) missed its first parts */
    }
    if (s->failed) {
        return 0; /* said once, at the part that failed (stale_series_track() says it again) */
    }
    s->run = true;
    if (run_add(s, b, b->nsamples) != 0) {
        s->failed = true;
        return -ENOMEM;
    }
    return 0;
}

int
stale_series_track(struct stale_series *s, struct batch *b)
{
    size_t n0 = b->nsamples;
    int rc = 0;

    if (b->nforwarded > 0 && !s->run) {
        return 0; /* a memory made during the run (a reload) missed its first parts */
    }
    if (s->failed || run_add(s, b, n0) != 0) {
        run_reset(s);
        return -ENOMEM;
    }
    if (s->same && s->m == s->n) {
        run_reset(s);
        return 0; /* the same series in the same order: nothing vanished, nothing to copy */
    }
    if (s->same && run_diverge(s) != 0) { /* fewer series, the first ones unchanged */
        run_reset(s);
        return -ENOMEM;
    }
    if (s->n > 0) {
        rc = tab_fill(s, s->m);
        if (rc == 0) {
            rc = push_markers(s, b, b->ts_ms, false);
        }
        seal_markers(b, n0);
        free(s->tab); /* needed again only when the set changes again */
        s->tab = NULL;
        s->tabcap = 0;
    }
    if (rc == 0) {
        run_keep(s);
    }
    run_reset(s);
    return rc;
}

int
stale_series_end(struct stale_series *s, struct batch *b, int64_t ts_ms)
{
    size_t n0 = b->nsamples;
    int rc;

    run_reset(s); /* a run in parts that will not end */
    rc = push_markers(s, b, ts_ms, true);

    seal_markers(b, n0);
    s->n = 0;
    free(s->blob);
    s->blob = NULL;
    s->blob_len = 0;
    return rc;
}
