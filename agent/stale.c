/*
 * Staleness markers (stale.h): the per-target memory of the last run's series and the diff
 * that turns a vanished series into a marker.
 */
#include "build-config.h"

#include "stale.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wordhash.h"

#define STALE_SEED_NAME UINT64_C(0x243f6a8885a308d3)
#define STALE_SEED_LABEL UINT64_C(0x13198a2e03707344)

struct stale_series {
    uint64_t *ids; /* owned: the last run's series, in batch order */
    size_t n;
    size_t cap;
    uint64_t *next; /* owned: scratch, this run's ids (swapped with ids when remembered) */
    size_t ncap;
    struct sample *kept; /* owned: the last run's series (name and labels; n of them) */
    size_t kcap;
    char *blob;    /* owned: kept's label arrays and strings, in one block of the size they take */
    uint64_t *tab; /* owned: scratch, open addressing set of this run's ids (0 = empty) */
    size_t tabcap; /* a power of two */
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

static inline uint64_t
mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
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
    return mix(str_hash(l->value, str_hash(l->name, STALE_SEED_LABEL)));
}

/* The id of @s's series: its name and its labels, summed so label order does not matter. */
static uint64_t
series_id(const struct sample *s, struct stale_memo *m)
{
    if (s->name != m->name || m->name == NULL) {
        m->name = s->name;
        m->name_h = mix(str_hash(s->name, STALE_SEED_NAME));
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

    return s;
}

void
stale_series_free(struct stale_series *s)
{
    if (s == NULL) {
        return;
    }
    free(s->ids);
    free(s->next);
    free(s->kept);
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

/* Copies @src's name and labels into @a as @dst (value, type and timestamp are not copied). */
static int
copy_series(struct sample *dst, const struct sample *src, struct arena *a)
{
    struct label *l = NULL;

    memset(dst, 0, sizeof(*dst));
    dst->name = arena_strdup(a, src->name != NULL ? src->name : "");
    if (dst->name == NULL) {
        return -ENOMEM;
    }
    if (src->nlabels > 0) {
        l = arena_alloc(a, src->nlabels * sizeof(*l));
        if (l == NULL) {
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < src->nlabels; i++) {
            l[i].name = arena_strdup(a, src->labels[i].name != NULL ? src->labels[i].name : "");
            l[i].value = arena_strdup(a, src->labels[i].value != NULL ? src->labels[i].value : "");
            if (l[i].name == NULL || l[i].value == NULL) {
                return -ENOMEM;
            }
        }
    }
    dst->labels = l;
    dst->nlabels = src->nlabels;
    return 0;
}

/* Where remember() puts the copies: counting (base NULL), then filling an exact block. */
struct keep_buf {
    char *base;
    size_t off;
};

static void *
keep_take(struct keep_buf *k, size_t n, size_t align)
{
    k->off = (k->off + align - 1) & ~(align - 1);
    void *p = k->base != NULL ? k->base + k->off : NULL;
    k->off += n;
    return p;
}

/* @have when @same (the copy kept for an equal pointer), else a copy of @str. */
static const char *
keep_str(struct keep_buf *k, bool same, const char *have, const char *str)
{
    if (same) {
        return have;
    }
    str = str != NULL ? str : "";
    size_t n = strlen(str) + 1;
    char *p = keep_take(k, n, 1);
    if (p != NULL) {
        memcpy(p, str, n);
    }
    return p;
}

/*
 * Copies @src's name and labels into @k as @dst, or only counts their bytes (k->base NULL).
 * @ps, when not NULL, is the sample kept just before as @pd: the strings and the label array
 * @src shares with it (the parser shares a family's name and a label's strings with the
 * previous sample's, position by position) are shared with @pd's copies, not copied again.
 */
static void
keep_series(struct sample *dst, const struct sample *src, const struct sample *ps,
            const struct sample *pd, struct keep_buf *k)
{
    bool fill = k->base != NULL;
    const char *name = keep_str(k, ps != NULL && src->name == ps->name,
                                fill && ps != NULL ? pd->name : NULL, src->name);

    if (fill) {
        memset(dst, 0, sizeof(*dst));
        dst->name = name;
        dst->nlabels = src->nlabels;
    }
    if (src->nlabels == 0) {
        return;
    }
    if (ps != NULL && src->labels == ps->labels && src->nlabels == ps->nlabels) {
        if (fill) {
            dst->labels = pd->labels;
        }
        return;
    }
    struct label *l = keep_take(k, src->nlabels * sizeof(*l), _Alignof(struct label));
    for (uint32_t i = 0; i < src->nlabels; i++) {
        const struct label *sl = &src->labels[i];
        bool prev = ps != NULL && i < ps->nlabels;
        const char *n = keep_str(k, prev && sl->name == ps->labels[i].name,
                                 fill && prev ? pd->labels[i].name : NULL, sl->name);
        const char *v = keep_str(k, prev && sl->value == ps->labels[i].value,
                                 fill && prev ? pd->labels[i].value : NULL, sl->value);
        if (fill) {
            l[i] = (struct label){n, v};
        }
    }
    if (fill) {
        dst->labels = l;
    }
}

/* Appends a marker for the remembered series @k to @b (counted in b->nsamples for now). */
static int
push_marker(struct batch *b, const struct sample *k, int64_t ts_ms)
{
    struct sample *m = batch_push(b);

    if (m == NULL) {
        return -ENOMEM;
    }
    /* The batch's arena: the marker outlives this memory's next rebuild. */
    if (copy_series(m, k, &b->arena) != 0) {
        b->nsamples--;
        return -ENOMEM;
    }
    m->type = SAMPLE_UNTYPED;
    m->value = stale_nan();
    m->has_ts = true;
    m->ts_ms = ts_ms;
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

/* Remembers the untimestamped samples of @b (its first @n0) as the last run's series. */
static int
remember(struct stale_series *s, const struct batch *b, size_t n0, size_t m)
{
    uint64_t *t = s->ids;
    size_t tc = s->cap;

    s->ids = s->next;
    s->cap = s->ncap;
    s->next = t;
    s->ncap = tc;
    s->n = 0;
    free(s->blob);
    s->blob = NULL;
    if (m > s->kcap) {
        struct sample *k = realloc(s->kept, m * sizeof(*k));
        if (k == NULL) {
            return -ENOMEM;
        }
        s->kept = k;
        s->kcap = m;
    }
    /* Twice: the bytes the copies take, then the copies into one block of that size. */
    struct keep_buf k = {0};
    for (int pass = 0; pass < 2; pass++) {
        const struct sample *ps = NULL;
        size_t j = 0;
        if (pass == 1 && k.off > 0) {
            s->blob = malloc(k.off);
            if (s->blob == NULL) {
                return -ENOMEM;
            }
            k = (struct keep_buf){.base = s->blob};
        }
        for (size_t i = 0; i < n0; i++) {
            if (b->samples[i].has_ts) {
                continue;
            }
            keep_series(&s->kept[j], &b->samples[i], ps, j > 0 ? &s->kept[j - 1] : NULL, &k);
            ps = &b->samples[i];
            j++;
        }
    }
    s->n = m;
    return 0;
}

int
stale_series_track(struct stale_series *s, struct batch *b)
{
    size_t n0 = b->nsamples, m = 0;
    int rc = 0;

    /* While the ids match the last run's, in order, nothing is stored: the scratch array
       (next) is only needed, and only allocated, once the set changed. */
    struct stale_memo memo = {0};
    bool same = true;
    for (size_t i = 0; i < n0; i++) {
        if (b->samples[i].has_ts) {
            continue;
        }
        uint64_t id = series_id(&b->samples[i], &memo);
        if (same && m < s->n && s->ids[m] == id) {
            m++;
            continue;
        }
        if (same) {
            same = false;
            if (grow_u64(&s->next, &s->ncap, n0) != 0) {
                return -ENOMEM;
            }
            if (m > 0) { /* s->ids is NULL before the first run */
                memcpy(s->next, s->ids, m * sizeof(*s->ids));
            }
        }
        s->next[m++] = id;
    }
    if (same && m == s->n) {
        return 0; /* the same series in the same order: nothing vanished, nothing to copy */
    }
    if (same) { /* fewer series, the first ones unchanged */
        if (grow_u64(&s->next, &s->ncap, m > 0 ? m : 1) != 0) {
            return -ENOMEM;
        }
        if (m > 0) {
            memcpy(s->next, s->ids, m * sizeof(*s->ids));
        }
    }
    if (s->n > 0) {
        rc = tab_fill(s, m);
        for (size_t k = 0; k < s->n && rc == 0; k++) {
            if (!tab_has(s, s->ids[k])) {
                rc = push_marker(b, &s->kept[k], b->ts_ms);
            }
        }
        seal_markers(b, n0);
        free(s->tab); /* needed again only when the set changes again */
        s->tab = NULL;
        s->tabcap = 0;
    }
    if (rc == 0) {
        rc = remember(s, b, n0, m);
    }
    return rc;
}

int
stale_series_end(struct stale_series *s, struct batch *b, int64_t ts_ms)
{
    size_t n0 = b->nsamples;
    int rc = 0;

    for (size_t k = 0; k < s->n && rc == 0; k++) {
        rc = push_marker(b, &s->kept[k], ts_ms);
    }
    seal_markers(b, n0);
    s->n = 0;
    free(s->blob);
    s->blob = NULL;
    return rc;
}
