/*
 * prometheus: one scrape of an exposition endpoint. The body format comes from the response's
 * Content-Type (OpenMetrics or text 0.0.4, asked for in Accept the way Prometheus asks), the
 * parser fills the batch as bytes arrive, and at the end the scrape semantics users rely on are
 * applied in one pass over the samples: relabeling, target-label conflicts, limits.
 */
#include "build-config.h"

#include "job_prom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "conf_http.h"
#include "conf_relabel.h"
#include "conf_sd.h"
#include "conf_targets.h"
#include "prom_parse.h"
#include "scrape.h"

struct prom_job {
    struct prom_parser *parser; /* owned while a body is parsed (parser_take), else NULL */
    char *accept;               /* owned: the Accept header value, or NULL */
    struct prom_opts opts;      /* rules owned */
    bool parsing;               /* the body is being parsed (2xx response) */
    /* finish's pass over the samples, in slices: the next sample, those kept before it. */
    bool semantics; /* a pass is in progress */
    size_t next, kept;
    size_t kept_before; /* kept in the windows before this one (a body in windows), else 0 */

    /*
     * A big body in windows (issue 13: memory per scrape at most 3x the body). When the batch
     * may come in parts (b->parts_ok) and a body passes PROM_WINDOW samples, the
     * first window stays in the batch with its semantics applied, the parser goes on into a
     * scratch batch that is checked and emptied every PROM_WINDOW samples (so every limit and
     * error is known before anything is handed on: a failed scrape still forwards nothing), and
     * the body from the end of the first window is kept. Once the body is complete the first
     * window is handed on as a part, and the kept rest is parsed again from the mark, a window
     * at a time, each handed on as a part but the last, which ends the run. Held: the body once,
     * about two windows, never the whole batch.
     */
    bool windowed;               /* the body passed a window: first pass in windows */
    struct batch *scratch;       /* owned: first pass, the window after the first */
    struct prom_parse_mark mark; /* owned: where the kept body starts */
    char *keep;                  /* owned: the body from the mark on */
    size_t keep_len, keep_cap, keep_off;
    size_t parsed;  /* samples parsed in the windows before the current one */
    size_t rest;    /* first pass: samples parsed after the first window */
    bool again;     /* second pass: the first window is to be handed on, or was */
    bool resumed;   /* second pass: the parser goes on from the mark */
    bool handed;    /* the batch holds a part handed on: it is dropped at the next call */
    bool body_done; /* second pass: the kept body is parsed to its end */
};

/* Samples between two looks at the clock in a slice of the pass. */
#define PROM_SLICE_CHECK 256
/* Samples of a window of a big body (about 1-2 ms of semantics and encoding on the loop). */
#define PROM_WINDOW 8192
/* Kept body bytes parsed per call in the second pass (a slice is checked between calls). */
#define PROM_PIECE 16384

/*
 * Parsers are taken for a body and given back once it is parsed, so only the runs being parsed
 * hold one: one per target was ~0.7 MiB of the agent's ~20 MiB at 500 targets (issue 16). The
 * free list is process-wide and used on the loop only, as the arenas' block cache.
 */
#define PROM_PARSER_POOL 16
static struct prom_parser *parser_pool[PROM_PARSER_POOL];
static size_t parser_npool;

/* A parser for a body of @j, from the free list or new; NULL when out of memory. */
static struct prom_parser *
parser_take(const struct prom_job *j)
{
    struct prom_parser *p = parser_npool > 0 ? parser_pool[--parser_npool] : prom_parser_new();

    if (p != NULL) {
        prom_parser_set_line_max(p,
                                 j->opts.line_size_limit > 0 ? (size_t)j->opts.line_size_limit : 0);
    }
    return p;
}

/* Gives @j's parser back (it keeps nothing of the body: the samples are in the batch). */
static void
parser_give_back(struct prom_job *j)
{
    if (j->parser == NULL) {
        return;
    }
    prom_parser_idle(j->parser);
    if (parser_npool < PROM_PARSER_POOL) {
        parser_pool[parser_npool++] = j->parser;
    }
    else {
        prom_parser_free(j->parser);
    }
    j->parser = NULL;
}

void
job_prom_free_cache(void)
{
    while (parser_npool > 0) {
        prom_parser_free(parser_pool[--parser_npool]);
    }
}

size_t
job_prom_cached_parsers(void)
{
    return parser_npool;
}

/* Starts parsing a body into @b with a parser taken for it; false (@b failed) without memory. */
static void windows_end(struct prom_job *j);

static bool
parse_start(struct prom_job *j, const char *content_type, struct batch *b)
{
    if (j->windowed) {
        windows_end(j); /* left by a run that was cancelled */
    }
    if (j->parser == NULL && (j->parser = parser_take(j)) == NULL) {
        batch_fail(b, REASON_INTERNAL, "out of memory for the parser");
        return false;
    }
    prom_parser_reset(j->parser, prom_parse_format_from_content_type(content_type), b);
    j->parsing = true;
    j->kept_before = 0;
    j->parsed = 0;
    return true;
}

/* Frees the first pass's scratch batch (accepts none). */
static void
scratch_free(struct prom_job *j)
{
    if (j->scratch != NULL) {
        batch_release(j->scratch);
        free(j->scratch);
        j->scratch = NULL;
    }
}

/* Ends a body in windows (any stage; also when there was none) and gives the parser back. */
static void
windows_end(struct prom_job *j)
{
    scratch_free(j);
    prom_parse_mark_release(&j->mark);
    free(j->keep);
    j->keep = NULL;
    j->keep_len = j->keep_cap = j->keep_off = 0;
    j->windowed = j->again = j->resumed = j->handed = j->body_done = false;
    j->parsed = j->rest = 0;
    parser_give_back(j);
}

/* Appends @len body bytes to the kept body. 0 or -ENOMEM. */
static int
keep_add(struct prom_job *j, const char *data, size_t len)
{
    if (j->keep_len + len > j->keep_cap) {
        size_t cap = j->keep_cap > 0 ? j->keep_cap : 65536;
        while (cap < j->keep_len + len) {
            cap *= 2;
        }
        char *k = realloc(j->keep, cap);
        if (k == NULL) {
            return -ENOMEM;
        }
        j->keep = k;
        j->keep_cap = cap;
    }
    if (len > 0) {
        memcpy(j->keep + j->keep_len, data, len);
        j->keep_len += len;
    }
    return 0;
}

static void
prom_free(void *state)
{
    struct prom_job *j = state;

    if (j == NULL) {
        return;
    }
    windows_end(j);
    free(j->accept);
    conf_relabel_rules_free(j->opts.rules, j->opts.nrules);
    free(j);
}

/* Appends @line to *@h; on failure *@h is unchanged (and still owned by the caller). */
static bool
slist_add(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);

    if (n == NULL) {
        return false;
    }
    *h = n;
    return true;
}

void *
job_prom_new(const struct prom_opts *opts)
{
    struct prom_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        conf_relabel_rules_free(opts->rules, opts->nrules);
        return NULL;
    }
    j->opts = *opts;
    j->opts.accept = NULL;
    if (opts->accept != NULL && (j->accept = strdup(opts->accept)) == NULL) {
        prom_free(j);
        return NULL;
    }
    return j;
}

/* Prometheus' request headers, before the target's own (auth, custom) in scrape.c's list. */
static int
prom_add_headers(void *state, struct curl_slist **headers)
{
    struct prom_job *j = state;
    char accept[512], tmo[96];

    snprintf(accept, sizeof(accept), "Accept: %s",
             j->accept != NULL ? j->accept : PROM_PARSE_ACCEPT);
    snprintf(tmo, sizeof(tmo), "X-Prometheus-Scrape-Timeout-Seconds: %g",
             (double)j->opts.timeout_ms / 1000.0);
    if (!slist_add(headers, accept) || !slist_add(headers, tmo)) {
        return -ENOMEM;
    }
    return 0;
}

static int
prom_prepare(void *state, CURL *easy, struct batch *b)
{
    struct prom_job *j = state;

    (void)easy;
    j->parsing = false;
    if (j->opts.target_limit > 0) {
        /* Prometheus' words; the run fails before any request, as Prometheus' does. */
        batch_fail(b, REASON_LIMIT, "target_limit exceeded (number of targets: %zu, limit: %llu)",
                   j->opts.target_limit_ntargets, (unsigned long long)j->opts.target_limit);
        return -E2BIG;
    }
    return 0;
}

static int
prom_body_start(void *state, CURL *easy, struct batch *b)
{
    struct prom_job *j = state;
    long status = 0;
    char *ct = NULL;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        return 0; /* not metrics: the status fails the scrape in finish */
    }
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
    return parse_start(j, ct, b) ? 0 : -ENOMEM;
}

/* The reason of a parser failure: a line over line_size_limit is a limit (issue 13). */
static enum reason
parse_reason(int rc)
{
    return rc == -ENOMEM ? REASON_INTERNAL : rc == -E2BIG ? REASON_LIMIT : REASON_PARSE;
}

static bool
is_target_label(const struct batch *b, const char *name)
{
    if (strcmp(name, "job") == 0 || strcmp(name, "instance") == 0) {
        return true;
    }
    for (uint32_t i = 0; i < b->ntarget_labels; i++) {
        if (strcmp(b->target_labels[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

static bool
has_label(const struct sample *s, const char *name)
{
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * honor_labels: false renames an exposed label that collides with a target label to
 * exported_<name>, repeating the prefix while the new name is taken by a target label or
 * another exposed label, as Prometheus does.
 */
static int
rename_conflicts(struct sample *s, struct batch *b)
{
    struct label *l = NULL;

    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (!is_target_label(b, s->labels[i].name)) {
            continue;
        }
        if (l == NULL) {
            l = arena_alloc(&b->arena, sizeof(*l) * s->nlabels);
            if (l == NULL) {
                return -ENOMEM;
            }
            memcpy(l, s->labels, sizeof(*l) * s->nlabels);
        }
        char name[256];
        snprintf(name, sizeof(name), "exported_%s", s->labels[i].name);
        while ((is_target_label(b, name) || has_label(s, name)) &&
               strlen(name) + 9 < sizeof(name)) {
            memmove(name + 9, name, strlen(name) + 1);
            memcpy(name, "exported_", 9);
        }
        l[i].name = arena_strdup(&b->arena, name);
        if (l[i].name == NULL) {
            return -ENOMEM;
        }
    }
    if (l != NULL) {
        s->labels = l;
    }
    return 0;
}

/* The label @name=@value against the length limits; false (and @b failed) when over one. */
static bool
label_fits(const struct prom_opts *o, const struct sample *s, const char *name, const char *value,
           struct batch *b)
{
    size_t nl = strlen(name), vl = strlen(value);

    if (o->label_name_length_limit > 0 && nl > o->label_name_length_limit) {
        batch_fail(b, REASON_LIMIT,
                   "label_name_length_limit exceeded (metric: %.50s, label name: %.50s, length: "
                   "%zu, limit: %llu)",
                   s->name, name, nl, (unsigned long long)o->label_name_length_limit);
        return false;
    }
    if (o->label_value_length_limit > 0 && vl > o->label_value_length_limit) {
        batch_fail(b, REASON_LIMIT,
                   "label_value_length_limit exceeded (metric: %.50s, label name: %.50s, value: "
                   "\"%.50s\", length: %zu, limit: %llu)",
                   s->name, name, value, vl, (unsigned long long)o->label_value_length_limit);
        return false;
    }
    return true;
}

/*
 * Prometheus' label limits on the series as it would store it: __name__, the sample's labels and
 * the target labels (job, instance, the target's) the sample does not carry itself. False (and
 * @b failed with Prometheus' message) when the sample breaks one.
 */
static bool
labels_fit(const struct prom_opts *o, const struct sample *s, struct batch *b)
{
    const char *tn[2] = {"job", "instance"}, *tv[2] = {b->job, b->instance};
    uint64_t n = 1 + s->nlabels;

    if (o->label_limit == 0 && o->label_name_length_limit == 0 &&
        o->label_value_length_limit == 0) {
        return true;
    }
    /* Twice over the target labels: the count comes first, as in Prometheus. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < 2 + b->ntarget_labels; i++) {
            const char *name = i < 2 ? tn[i] : b->target_labels[i - 2].name;
            const char *value = i < 2 ? tv[i] : b->target_labels[i - 2].value;
            if (value == NULL || value[0] == '\0' || has_label(s, name)) {
                continue;
            }
            if (pass == 0) {
                n++;
            }
            else if (!label_fits(o, s, name, value, b)) {
                return false;
            }
        }
        if (pass == 0 && o->label_limit > 0 && n > o->label_limit) {
            batch_fail(b, REASON_LIMIT,
                       "label_limit exceeded (metric: %.50s, number of labels: %llu, limit: %llu)",
                       s->name, (unsigned long long)n, (unsigned long long)o->label_limit);
            return false;
        }
    }
    if (!label_fits(o, s, "__name__", s->name, b)) {
        return false;
    }
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (!label_fits(o, s, s->labels[i].name, s->labels[i].value, b)) {
            return false;
        }
    }
    return true;
}

/*
 * A label with an empty value is no label in Prometheus (its series never has it): such labels
 * leave the sample, with a new array from @a only when there is one. false when out of memory.
 */
static bool
drop_empty_labels(struct sample *s, struct arena *a)
{
    uint32_t n = 0;
    struct label *l;

    for (n = 0; n < s->nlabels && s->labels[n].value[0] != '\0'; n++) {
    }
    if (n == s->nlabels) {
        return true;
    }
    l = arena_alloc(a, sizeof(*l) * s->nlabels);
    if (l == NULL) {
        return false;
    }
    memcpy(l, s->labels, sizeof(*l) * n);
    for (uint32_t i = n + 1; i < s->nlabels; i++) {
        if (s->labels[i].value[0] != '\0') {
            l[n++] = s->labels[i];
        }
    }
    s->labels = l;
    s->nlabels = n;
    return true;
}

/*
 * One pass over the samples: empty labels, relabel, drop, conflicts, timestamps, limits. A big
 * batch takes it a slice at a time (issue 13 item 2): semantics_step() does the samples from
 * j->next on for about SCRAPE_SLICE_S and says whether some are left.
 */
static bool
semantics_step(struct prom_job *j, struct batch *b)
{
    double t0 = clock_mono_s();
    size_t kept = j->kept;

    for (size_t i = j->next; i < b->nsamples; i++) {
        struct sample *s = &b->samples[i];
        if ((i - j->next) % PROM_SLICE_CHECK == PROM_SLICE_CHECK - 1 &&
            clock_mono_s() - t0 >= SCRAPE_SLICE_S) {
            j->next = i;
            j->kept = kept;
            return true;
        }
        if (!drop_empty_labels(s, &b->arena)) {
            batch_fail(b, REASON_INTERNAL, "out of memory dropping empty labels");
            b->nsamples = 0;
            return false;
        }
        if (j->opts.nrules > 0 && !relabel_apply(j->opts.rules, j->opts.nrules, s, &b->arena)) {
            continue;
        }
        if (s->name[0] == '\0') {
            /* Prometheus fails the scrape the same way ("missing metric name"). */
            batch_fail(b, REASON_PARSE,
                       "metric_relabel_configs removed the metric name (__name__) of a sample");
            b->nsamples = 0;
            return false;
        }
        if (!j->opts.honor_labels && s->nlabels > 0 && rename_conflicts(s, b) != 0) {
            batch_fail(b, REASON_INTERNAL, "out of memory applying honor_labels");
            b->nsamples = 0;
            return false;
        }
        if (!j->opts.honor_timestamps) {
            s->has_ts = false;
        }
        if (!labels_fit(&j->opts, s, b)) {
            b->nsamples = 0;
            return false;
        }
        b->samples[kept++] = *s;
    }
    b->nsamples = kept;
    kept += j->kept_before;
    if (j->opts.nrules > 0) {
        b->samples_post_relabel = (int64_t)kept;
    }
    if (j->opts.sample_limit > 0 && kept > j->opts.sample_limit) {
        if (j->windowed) { /* found in a window: the body may hold more */
            batch_fail(b, REASON_LIMIT, "sample_limit exceeded: more than %llu samples",
                       (unsigned long long)j->opts.sample_limit);
        }
        else {
            batch_fail(b, REASON_LIMIT, "sample_limit exceeded: %zu samples (limit %llu)", kept,
                       (unsigned long long)j->opts.sample_limit);
        }
        b->nsamples = 0;
    }
    return false;
}

/*
 * The whole pass over @b's samples at once (a window: bounded). Whether it broke no rule (@b is
 * not ok yet while its body arrives: the reason says).
 */
static bool
semantics_all(struct prom_job *j, struct batch *b)
{
    j->next = 0;
    j->kept = 0;
    while (semantics_step(j, b)) {
    }
    return b->reason == REASON_NONE;
}

/* The parser leaves its batch for @out, before those samples change: 0, or @b failed. */
static int
parser_move(struct prom_job *j, struct batch *out, struct batch *b)
{
    int rc = prom_parser_set_out(j->parser, out);

    if (rc != 0) {
        batch_fail(b, parse_reason(rc), "%s", prom_parser_error(j->parser));
    }
    return rc;
}

/* A window of the first pass is checked and dropped; @b is failed when it breaks a rule. */
static int
window_check(struct prom_job *j, struct batch *b)
{
    struct batch *w = j->scratch;
    size_t n = w->nsamples;
    int rc = parser_move(j, w, b);

    if (rc != 0) {
        return rc;
    }
    if (!semantics_all(j, w)) {
        batch_fail(b, w->reason, "%s", w->error);
        return -E2BIG;
    }
    j->parsed += n;
    j->rest += n;
    j->kept_before += w->nsamples;
    w->nsamples = 0;
    arena_release(&w->arena);
    return 0;
}

/*
 * The body passed its first window: the parse goes on into a scratch batch, the body kept from
 * here (the unfinished line first), and the first window's semantics are applied where it lies.
 */
static int
windows_start(struct prom_job *j, struct batch *b)
{
    size_t n = b->nsamples, tail_len;
    const char *tail;
    int rc;

    j->windowed = true;
    j->scratch = malloc(sizeof(*j->scratch));
    if (j->scratch == NULL) {
        batch_fail(b, REASON_INTERNAL, "out of memory keeping a big body");
        return -ENOMEM;
    }
    batch_init(j->scratch);
    j->scratch->job = b->job;
    j->scratch->instance = b->instance;
    j->scratch->url = b->url;
    j->scratch->target_labels = b->target_labels;
    j->scratch->ntarget_labels = b->ntarget_labels;
    rc = parser_move(j, j->scratch, b);
    if (rc != 0) {
        return rc;
    }
    if (prom_parser_mark(j->parser, &j->mark, &tail, &tail_len) != 0 ||
        keep_add(j, tail, tail_len) != 0) {
        batch_fail(b, REASON_INTERNAL, "out of memory keeping a big body");
        return -ENOMEM;
    }
    if (!semantics_all(j, b)) {
        return -E2BIG;
    }
    j->parsed = n;
    j->kept_before = b->nsamples;
    return 0;
}

static int
prom_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct prom_job *j = state;

    if (!j->parsing) {
        return 0;
    }
    struct batch *cur = j->scratch != NULL ? j->scratch : b;
    int rc = prom_parser_feed(j->parser, data, len);
    if (rc != 0) {
        batch_fail(b, parse_reason(rc), "%s", prom_parser_error(j->parser));
        return rc;
    }
    if (j->scratch != NULL && keep_add(j, data, len) != 0) {
        batch_fail(b, REASON_INTERNAL, "out of memory keeping a big body");
        return -ENOMEM;
    }
    /* Without relabel rules the limit can stop a huge body early. */
    if (j->opts.sample_limit > 0 && j->opts.nrules == 0 &&
        j->parsed + cur->nsamples > j->opts.sample_limit) {
        batch_fail(b, REASON_LIMIT, "sample_limit exceeded: more than %llu samples",
                   (unsigned long long)j->opts.sample_limit);
        return -E2BIG;
    }
    if (cur->nsamples >= PROM_WINDOW && b->parts_ok) {
        return j->scratch == NULL ? windows_start(j, b) : window_check(j, b);
    }
    return 0;
}

static void
prom_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct prom_job *j = state;

    j->semantics = false;
    if (b->ok && scrape_reason_for_status(res->http_status) != REASON_NONE) {
        batch_fail(b, scrape_reason_for_status(res->http_status), "HTTP %ld", res->http_status);
    }
    if (b->ok && !j->parsing) {
        /* 2xx with an empty body: no write callback ran. Parse the empty body. */
        parse_start(j, res->content_type, b);
    }
    if (b->ok) {
        int rc = prom_parser_finish(j->parser);
        if (rc != 0) {
            batch_fail(b, parse_reason(rc), "%s", prom_parser_error(j->parser));
        }
        else if (j->scratch != NULL) {
            window_check(j, b); /* the last window of the first pass */
        }
    }
    j->parsing = false;
    if (!b->ok) {
        /* A failed scrape forwards no partial samples (and, as in Prometheus, counts none). */
        windows_end(j);
        b->samples_scraped = 0;
        b->nsamples = 0;
        return;
    }
    if (j->windowed) {
        b->samples_scraped = (int64_t)j->parsed;
        if (j->rest == 0) {
            windows_end(j); /* nothing after the first window: it is the run */
            return;
        }
        scratch_free(j);
        j->kept_before = 0; /* the second pass counts again, from the first window's hand-on */
        j->again = true;    /* prom_finish_more() hands the windows on */
        return;
    }
    parser_give_back(j); /* the samples are in @b's arena: none in the parser */
    b->samples_scraped = (int64_t)b->nsamples;
    j->next = 0;
    j->kept = 0;
    j->semantics = true; /* prom_finish_more() makes the pass */
}

/*
 * The window in @b is handed on as a part (not when relabeling left it empty: no empty batch
 * reaches the outputs); the next step drops it. True: more steps follow.
 */
static bool
hand_on(struct prom_job *j, struct batch *b)
{
    b->part = b->nsamples > 0;
    j->handed = true;
    return true;
}

/*
 * The second pass over a body in windows, a bounded step: drops the part handed on, parses a
 * piece of the kept body and, when a window is full or the body ends, starts its semantics.
 */
static bool
windows_step(struct prom_job *j, struct batch *b)
{
    if (j->handed) {
        j->handed = false;
        j->kept_before += b->nsamples;
        b->nforwarded += b->nsamples;
        b->nsamples = 0;
        arena_release(&b->arena);
        if (!j->resumed) {
            j->resumed = true;
            if (prom_parser_resume(j->parser, &j->mark, b) != 0) {
                batch_fail(b, REASON_INTERNAL, "out of memory parsing a big body");
                windows_end(j);
                return false;
            }
        }
        else if (parser_move(j, b, b) != 0) {
            b->nsamples = 0;
            windows_end(j);
            return false;
        }
    }
    else if (!j->resumed) {
        return hand_on(j, b); /* the first window */
    }
    size_t n = j->keep_len - j->keep_off < PROM_PIECE ? j->keep_len - j->keep_off : PROM_PIECE;
    int rc = prom_parser_feed(j->parser, j->keep + j->keep_off, n);

    j->keep_off += n;
    if (rc == 0 && j->keep_off == j->keep_len) {
        rc = prom_parser_finish(j->parser);
        j->body_done = true;
    }
    if (rc != 0) {
        /* The first pass parsed the same bytes: only memory can fail here. */
        batch_fail(b, parse_reason(rc), "%s (parsing a big body again)",
                   prom_parser_error(j->parser));
        b->nsamples = 0;
        windows_end(j);
        return false;
    }
    if (b->nsamples >= PROM_WINDOW || j->body_done) {
        j->next = 0;
        j->kept = 0;
        j->semantics = true;
    }
    return true;
}

/* The semantics of a big batch, a slice more, or the next step of a body in windows (job.h). */
static bool
prom_finish_more(void *state, struct batch *b)
{
    struct prom_job *j = state;

    if (j->semantics) {
        j->semantics = semantics_step(j, b);
        if (j->semantics || !j->again) {
            return j->semantics;
        }
        if (b->ok && !j->body_done) {
            return hand_on(j, b);
        }
        windows_end(j); /* the last window ends the run */
        return false;
    }
    return j->again && windows_step(j, b);
}

const struct job_kind job_prom = {
    .name = "prometheus",
    .add_headers = prom_add_headers,
    .prepare = prom_prepare,
    .body_start = prom_body_start,
    .feed = prom_feed,
    .finish = prom_finish,
    .finish_more = prom_finish_more,
    .free = prom_free,
};

/* The prometheus kind in the config: scrape_configs */

static const struct conf_choice scheme_choices[] = {{"http", JOB_PROM_SCHEME_HTTP, false},
                                                    {"https", JOB_PROM_SCHEME_HTTPS, false},
                                                    {NULL, 0, false}};

_Static_assert(sizeof(enum job_prom_scheme) == sizeof(int), "enum size");

static void prom_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);
static void prom_conf_release(void *base);

/* Known Prometheus scrape_config keys pollster rejects (fnmatch patterns). */
static const char *const scrape_unsupported[] = {
    "*_sd_configs",
    "scrape_classic_histograms",
    "always_scrape_classic_histograms",
    "native_histogram_*",
    "convert_classic_histograms_to_nhcb",
    "scrape_native_histograms",
    "fallback_scrape_protocol",
    "track_timestamps_staleness",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
    "scrape_failure_log_file",
    NULL,
};

#define SC(k, t, m, ...) CONF_FLD(k, t, struct config_job, m, __VA_ARGS__)
/*
 * A Prometheus SD mechanism that needs a cloud or cluster API: known, so that prom_check can say
 * which job uses it and what to use instead (CLOUD_SD_DESC), rather than "unknown key".
 */
static const char cloud_sd_desc[] =
    "Not supported (needs a cloud or cluster API): use http_sd_configs or file_sd_configs.";
#define CLOUD_SD(m) SC(m "_sd_configs", CONF_FT_DEFER, name, .desc = cloud_sd_desc)
/* A key of the prometheus kind's own struct, with flags @fl besides CONF_F_OPTS. */
#define PO(k, t, m, fl, ...)                                                                       \
    CONF_FLD(k, t, struct job_prom_conf, m, .flags = CONF_F_OPTS | (fl), __VA_ARGS__)
static const struct conf_field scrape_fields[] = {
    SC("job_name", CONF_FT_STR, name, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("scrape_interval", CONF_FT_DURATION, interval_ms,
       .desc = "Default: global scrape_interval."),
    SC("scrape_timeout", CONF_FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to scrape_interval."),
    PO("metrics_path", CONF_FT_STR, metrics_path, CONF_F_NONEMPTY, .def = "/metrics",
       .desc = "Path of the targets' metrics."),
    PO("scheme", CONF_FT_ENUM, scheme, 0, .def = "http", .choices = scheme_choices,
       .desc = "http or https."),
    CONF_FLDN("params", CONF_FT_PARAMS, struct job_prom_conf, params, nparams, .flags = CONF_F_OPTS,
              .desc = "Query parameters: name: [values]."),
    SC("static_configs", CONF_FT_DEFER, name, .sub = &conf_targets_group_section,
       .desc = "Target groups: [{targets: [...], labels: {}}]."),
    SC("file_sd_configs", CONF_FT_DEFER, name, .sub = &conf_targets_file_sd_section,
       .desc = "Files of target groups: [{files: [globs]}]."),
    SC("http_sd_configs", CONF_FT_DEFER, name, .sub = &conf_sd_http_section,
       .desc = "Target groups fetched from URLs: [{url: ...}]."),
    SC("dns_sd_configs", CONF_FT_DEFER, name, .sub = &conf_sd_dns_section,
       .desc = "Targets from DNS SRV, A, AAAA or MX records: [{names: [...]}]."),
    CLOUD_SD("azure"),
    CLOUD_SD("consul"),
    CLOUD_SD("digitalocean"),
    CLOUD_SD("docker"),
    CLOUD_SD("dockerswarm"),
    CLOUD_SD("ec2"),
    CLOUD_SD("eureka"),
    CLOUD_SD("gce"),
    CLOUD_SD("hetzner"),
    CLOUD_SD("ionos"),
    CLOUD_SD("kubernetes"),
    CLOUD_SD("kuma"),
    CLOUD_SD("lightsail"),
    CLOUD_SD("linode"),
    CLOUD_SD("marathon"),
    CLOUD_SD("nerve"),
    CLOUD_SD("nomad"),
    CLOUD_SD("openstack"),
    CLOUD_SD("ovhcloud"),
    CLOUD_SD("puppetdb"),
    CLOUD_SD("scaleway"),
    CLOUD_SD("serverset"),
    CLOUD_SD("triton"),
    CLOUD_SD("uyuni"),
    CLOUD_SD("vultr"),
    PO("honor_labels", CONF_FT_BOOL, honor_labels, 0, .def = "false",
       .desc = "Keep scraped labels that clash with target labels."),
    PO("honor_timestamps", CONF_FT_BOOL, honor_timestamps, 0, .def = "true",
       .desc = "Keep the timestamps in the scraped data."),
    PO("enable_compression", CONF_FT_BOOL, enable_compression, 0, .def = "true",
       .desc = "Ask targets for gzip (Accept-Encoding); false saves the decompression CPU "
               "for targets on fast local links."),
    PO("sample_limit", CONF_FT_INT, sample_limit, 0, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Fail a scrape with more samples (0: no limit)."),
    PO("label_limit", CONF_FT_INT, label_limit, 0, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Fail a scrape with a series of more labels, __name__ and target labels "
               "counted, as Prometheus counts them (0: no limit)."),
    PO("label_name_length_limit", CONF_FT_INT, label_name_length_limit, 0, .def = "0", .min = 0,
       .max = INT64_MAX, .desc = "Fail a scrape with a longer label name (0: no limit)."),
    PO("label_value_length_limit", CONF_FT_INT, label_value_length_limit, 0, .def = "0", .min = 0,
       .max = INT64_MAX,
       .desc = "Fail a scrape with a longer label value, the metric name included (0: no "
               "limit)."),
    PO("line_size_limit", CONF_FT_SIZE, line_size_limit, 0, .def = "1MiB",
       .desc = "pollster: fail a scrape with a longer line of the body (reason limit; at most "
               "1MiB)."),
    CONF_FLDN("scrape_protocols", CONF_FT_STRLIST, struct job_prom_conf, scrape_protocols,
              nscrape_protocols, .flags = CONF_F_OPTS | CONF_F_NONEMPTY,
              .desc = "Formats asked for, most wanted first: OpenMetricsText1.0.0, "
                      "OpenMetricsText0.0.1, PrometheusText1.0.0, PrometheusText0.0.4 (not "
                      "PrometheusProto). Unset: OpenMetrics 1.0.0, then 0.0.1, then text 0.0.4."),
    SC("body_size_limit", CONF_FT_SIZE, body_size_limit, .def = "0",
       .desc = "Largest uncompressed body (0: pollster's default, 10MiB)."),
    CONF_HTTP_CLIENT_FIELDS(struct config_job, http),
    CONF_FLDN("relabel_configs", CONF_FT_LIST, struct job_prom_conf, target_relabels,
              ntarget_relabels, .flags = CONF_F_OPTS, .sub = &conf_relabel_section,
              .desc = "Rules applied to each discovered target's labels (dropped targets are "
                      "listed in /api/v1/targets)."),
    CONF_FLDN("metric_relabel_configs", CONF_FT_LIST, struct job_prom_conf, relabels, nrelabels,
              .flags = CONF_F_OPTS, .sub = &conf_relabel_section,
              .desc = "Rules applied to scraped samples."),
    PO("keep_dropped_targets", CONF_FT_INT, keep_dropped_targets, 0, .def = "0", .min = 0,
       .max = INT64_MAX,
       .desc = "At most this many dropped targets are kept for /api/v1/targets (0: all)."),
    PO("target_limit", CONF_FT_INT, target_limit, 0, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "More targets than this after relabeling fail every scrape of the job, as in "
               "Prometheus (0: no limit)."),
};
#undef SC
#undef PO
#undef CLOUD_SD
static const struct conf_section scrape_section = {.name = "scrape_configs[]",
                                                   CONF_FIELDS(scrape_fields),
                                                   .unsupported = scrape_unsupported,
                                                   .opts_off = offsetof(struct config_job, opts),
                                                   .opts_size = sizeof(struct job_prom_conf),
                                                   .check = prom_check,
                                                   .release = prom_conf_release};

static void
prom_conf_release(void *base)
{
    struct config_job *job = base;
    struct job_prom_conf *pc = job->opts;

    if (pc != NULL) {
        conf_relabel_rules_free(pc->target_rules, pc->ntarget_rules);
        pc->target_rules = NULL;
        pc->ntarget_rules = 0;
    }
}

void
job_prom_target_defaults(const struct config_job *job, int64_t interval_ms, int64_t timeout_ms,
                         struct conf_targets_defaults *d)
{
    const struct job_prom_conf *pc = job->opts;

    *d = (struct conf_targets_defaults){
        .job = job->name,
        .scheme = pc->scheme == JOB_PROM_SCHEME_HTTPS ? "https" : "http",
        .metrics_path = pc->metrics_path,
        .params = pc->params,
        .nparams = pc->nparams,
        .interval_ms = interval_ms,
        .timeout_ms = timeout_ms,
        .rules = pc->target_rules,
        .nrules = pc->ntarget_rules,
        .keep_dropped = (uint64_t)pc->keep_dropped_targets,
    };
}

/*
 * The interval and timeout the job will have (config.c resolves them after this hook, by the same
 * rules: the global ones, the timeout capped to the interval), for __scrape_interval__ and
 * __scrape_timeout__.
 */
static void
prom_schedule(const struct conf_ctx *x, const struct config_job *job, int64_t *iv, int64_t *tv)
{
    const struct config_global *g = &x->cfg->global;

    *iv = job->interval_ms > 0 ? job->interval_ms : g->scrape_interval_ms;
    *tv = job->timeout_ms > 0          ? job->timeout_ms
          : g->scrape_timeout_ms < *iv ? g->scrape_timeout_ms
                                       : *iv;
}

/* scrape_protocols: Prometheus' names and media types (config.ScrapeProtocolsHeaders). */
static const struct {
    const char *name, *media;
} protocols[] = {
    {"PrometheusProto", NULL}, /* known, refused: pollster parses no protobuf */
    {"PrometheusText0.0.4", "text/plain;version=0.0.4"},
    {"PrometheusText1.0.0", "text/plain;version=1.0.0"},
    {"OpenMetricsText0.0.1", "application/openmetrics-text;version=0.0.1"},
    {"OpenMetricsText1.0.0", "application/openmetrics-text;version=1.0.0"},
};
#define NPROTOCOLS (sizeof(protocols) / sizeof(protocols[0]))

void
job_prom_accept(struct strbuf *sb, char *const *protos, size_t n)
{
    /* Prometheus' weights: one more than the protocols it knows, down by one each. */
    size_t w = NPROTOCOLS + 1;

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < NPROTOCOLS; k++) {
            if (protocols[k].media != NULL && strcmp(protocols[k].name, protos[i]) == 0) {
                strbuf_printf(sb, "%s;q=0.%zu,", protocols[k].media, w > 0 ? w-- : 0);
            }
        }
    }
    strbuf_printf(sb, "*/*;q=0.%zu", w);
}

/* The scrape keys a job leaves out take global's value, as in Prometheus. */
static void
inherit_global(struct conf_ctx *x, struct config_job *job, const struct conf_node *map)
{
    const struct config_global *g = &x->cfg->global;
    struct job_prom_conf *pc = job->opts;

    if (conf_tree_get(map, "body_size_limit") == NULL) {
        job->body_size_limit = g->body_size_limit;
    }
    if (conf_tree_get(map, "sample_limit") == NULL) {
        pc->sample_limit = g->sample_limit;
    }
    if (conf_tree_get(map, "label_limit") == NULL) {
        pc->label_limit = g->label_limit;
    }
    if (conf_tree_get(map, "label_name_length_limit") == NULL) {
        pc->label_name_length_limit = g->label_name_length_limit;
    }
    if (conf_tree_get(map, "label_value_length_limit") == NULL) {
        pc->label_value_length_limit = g->label_value_length_limit;
    }
    if (conf_tree_get(map, "target_limit") == NULL) {
        pc->target_limit = g->target_limit;
    }
    if (conf_tree_get(map, "keep_dropped_targets") == NULL) {
        pc->keep_dropped_targets = g->keep_dropped_targets;
    }
    if (conf_tree_get(map, "scrape_protocols") == NULL && g->nscrape_protocols > 0) {
        pc->scrape_protocols = calloc(g->nscrape_protocols, sizeof(char *));
        if (pc->scrape_protocols == NULL) {
            conf_oom(x);
            return;
        }
        for (size_t i = 0; i < g->nscrape_protocols; i++) {
            pc->scrape_protocols[i] = strdup(g->scrape_protocols[i]);
            pc->nscrape_protocols++;
            if (pc->scrape_protocols[i] == NULL) {
                conf_oom(x);
                return;
            }
        }
    }
}

/*
 * Checks the scrape_protocols of @pc: those of the job's @list, or inherited from global (errors
 * then at the job's @map, naming global).
 */
static void
protocols_check(struct conf_ctx *x, const struct job_prom_conf *pc, const struct conf_node *list,
                const struct conf_node *map)
{
    for (size_t i = 0; i < pc->nscrape_protocols; i++) {
        const char *p = pc->scrape_protocols[i];
        const struct conf_node *at = list == NULL ? map : i < list->n ? list->kids[i] : list;
        const char *where = list == NULL ? "global " : "";
        size_t k = 0;
        while (k < NPROTOCOLS && strcmp(protocols[k].name, p) != 0) {
            k++;
        }
        if (k == NPROTOCOLS) {
            conf_err(x, at,
                     "unknown %sscrape protocol \"%s\" (OpenMetricsText1.0.0, "
                     "OpenMetricsText0.0.1, PrometheusText1.0.0, PrometheusText0.0.4)",
                     where, p);
        }
        else if (protocols[k].media == NULL) {
            conf_err(x, at,
                     "%sscrape protocol \"%s\" is not supported: pollster parses the text "
                     "formats only (OpenMetricsText1.0.0, OpenMetricsText0.0.1, "
                     "PrometheusText1.0.0, PrometheusText0.0.4)",
                     where, p);
        }
        for (size_t d = 0; d < i; d++) {
            if (strcmp(pc->scrape_protocols[d], p) == 0) {
                conf_err(x, at, "duplicate %sscrape protocol \"%s\"", where, p);
                break;
            }
        }
    }
}

/*
 * Resolves the job's targets: static_configs, file_sd_configs and the cached lists of
 * http_sd_configs and dns_sd_configs, as Prometheus does.
 */
static void
prom_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_job *job = base;
    struct job_prom_conf *pc = job->opts;
    const struct conf_node *n = conf_tree_get(map, "metrics_path");
    struct conf_targets_defaults d;
    char sub[CONF_PATH_MAX + 40], err[300];
    int64_t iv, tv;

    for (size_t i = 0; i < conf_tree_len(map); i++) {
        const struct conf_node *k = conf_tree_key(map, i);
        const struct conf_field *f = conf_field_find(&scrape_section, k->str);
        if (f != NULL && f->desc == cloud_sd_desc) {
            conf_err(x, k,
                     "job \"%s\": %s is not supported: pollster has no %.*s client; use "
                     "http_sd_configs or file_sd_configs (and a tool that writes the targets)",
                     job->name != NULL ? job->name : "", k->str,
                     (int)(strlen(k->str) - strlen("_sd_configs")), k->str);
        }
    }
    if (n != NULL && pc->metrics_path != NULL && pc->metrics_path[0] != '/') {
        conf_err(x, n, "metrics_path \"%s\" must start with /", pc->metrics_path);
        return;
    }
    if (pc->line_size_limit == 0 || pc->line_size_limit > PROM_PARSE_LINE_MAX) {
        conf_err(x, conf_tree_get(map, "line_size_limit"),
                 "line_size_limit must be between 1 byte and 1MiB (%llu given)",
                 (unsigned long long)pc->line_size_limit);
    }
    inherit_global(x, job, map);
    protocols_check(x, pc, conf_tree_get(map, "scrape_protocols"), map);
    /* Not with a refused rule: its regex must not reach regcomp (its size may be the reason). */
    for (size_t i = 0; i < pc->ntarget_relabels; i++) {
        if (pc->target_relabels[i].refused) {
            return;
        }
    }
    if (conf_relabel_rules(pc->target_relabels, pc->ntarget_relabels, &pc->target_rules,
                           &pc->ntarget_rules, err, sizeof(err)) != 0) {
        conf_err(x, conf_tree_get(map, "relabel_configs"), "%s.relabel_configs%s", path, err);
        return;
    }
    prom_schedule(x, job, &iv, &tv);
    if (job->name == NULL || iv <= 0 || tv <= 0 || tv > iv) {
        return; /* config.c reports the missing job_name or the schedule */
    }
    job_prom_target_defaults(job, iv, tv, &d);
    n = conf_tree_get(map, "static_configs");
    if (n != NULL && conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "static_configs")) {
        for (size_t i = 0; i < n->n; i++) {
            snprintf(sub, sizeof(sub), "%s.static_configs[%zu]", path, i);
            conf_targets_group_load(x, job, &d, n->kids[i], NULL, 0, sub);
        }
    }
    n = conf_tree_get(map, "file_sd_configs");
    if (n != NULL && conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "file_sd_configs")) {
        for (size_t i = 0; i < n->n; i++) {
            snprintf(sub, sizeof(sub), "%s.file_sd_configs[%zu]", path, i);
            conf_targets_file_sd_load(x, job, &d, n->kids[i], sub);
        }
    }
    n = conf_tree_get(map, "http_sd_configs");
    if (n != NULL && conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "http_sd_configs")) {
        for (size_t i = 0; i < n->n; i++) {
            snprintf(sub, sizeof(sub), "%s.http_sd_configs[%zu]", path, i);
            conf_sd_load(x, job, &d, CONFIG_SD_HTTP, n->kids[i], sub);
        }
    }
    n = conf_tree_get(map, "dns_sd_configs");
    if (n != NULL && conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "dns_sd_configs")) {
        for (size_t i = 0; i < n->n; i++) {
            snprintf(sub, sizeof(sub), "%s.dns_sd_configs[%zu]", path, i);
            conf_sd_load(x, job, &d, CONFIG_SD_DNS, n->kids[i], sub);
        }
    }
}

static void *
prom_state_new(const struct config_job *job, char *err, size_t errlen)
{
    const struct job_prom_conf *sc = job->opts;
    struct prom_opts po = {
        .honor_labels = sc->honor_labels,
        .honor_timestamps = sc->honor_timestamps,
        .sample_limit = (uint64_t)sc->sample_limit,
        .label_limit = (uint64_t)sc->label_limit,
        .label_name_length_limit = (uint64_t)sc->label_name_length_limit,
        .label_value_length_limit = (uint64_t)sc->label_value_length_limit,
        .line_size_limit = sc->line_size_limit,
        .timeout_ms = job->timeout_ms,
    };
    struct strbuf accept;
    char why[300];

    if (sc->target_limit > 0 && job->ntargets > (uint64_t)sc->target_limit) {
        /* Prometheus fails every scrape of the pool with this error (a "forced error"). */
        po.target_limit_ntargets = job->ntargets;
        po.target_limit = (uint64_t)sc->target_limit;
    }
    if (conf_relabel_rules(sc->relabels, sc->nrelabels, &po.rules, &po.nrules, why, sizeof(why)) !=
        0) {
        snprintf(err, errlen, "job \"%s\": metric_relabel_configs%s", job->name, why);
        return NULL;
    }
    strbuf_init(&accept);
    if (sc->nscrape_protocols > 0) {
        job_prom_accept(&accept, sc->scrape_protocols, sc->nscrape_protocols);
        po.accept = accept.oom ? NULL : accept.data;
    }
    /* Out of memory for the Accept value: the state takes the rules and is freed at once. */
    void *state = job_prom_new(&po);
    if (state != NULL && sc->nscrape_protocols > 0 && po.accept == NULL) {
        prom_free(state);
        state = NULL;
    }
    if (state == NULL) {
        snprintf(err, errlen, "out of memory");
    }
    strbuf_release(&accept);
    return state;
}

static void
prom_identity(const struct config_job *job, struct strbuf *sb)
{
    const struct job_prom_conf *sc = job->opts;

    strbuf_printf(sb, "S%d%d%d%lld,%lld,%lld,%lld\x1f", sc->honor_labels, sc->honor_timestamps,
                  sc->enable_compression, (long long)sc->sample_limit, (long long)sc->label_limit,
                  (long long)sc->label_name_length_limit, (long long)sc->label_value_length_limit);
    strbuf_printf(sb, "L%llu\x1f", (unsigned long long)sc->line_size_limit);
    for (size_t i = 0; i < sc->nscrape_protocols; i++) {
        strbuf_printf(sb, "p%s\x1f", sc->scrape_protocols[i]);
    }
    if (sc->target_limit > 0 && job->ntargets > (uint64_t)sc->target_limit) {
        strbuf_printf(sb, "TL%zu,%lld\x1f", job->ntargets, (long long)sc->target_limit);
    }
    conf_relabel_identity(sc->relabels, sc->nrelabels, sb);
}

static void
prom_client(const struct config_job *job, struct httpc_opts *h, bool *fresh_connect)
{
    const struct job_prom_conf *sc = job->opts;

    h->no_compression = !sc->enable_compression;
    (void)fresh_connect;
}

const struct kind job_prom_kind = {
    .name = "prometheus",
    .section = "scrape_configs",
    .name_key = "job_name",
    .interval_key = "scrape_interval",
    .timeout_key = "scrape_timeout",
    .desc = "Prometheus scrape jobs (a subset of prometheus.yml).",
    .conf = &scrape_section,
    .ops = &job_prom,
    .state_new = prom_state_new,
    .identity = prom_identity,
    .client = prom_client,
};
