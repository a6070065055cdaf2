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

#include "prom_parse.h"
#include "scrape.h"

struct prom_job {
    struct prom_parser *parser; /* owned */
    struct prom_opts opts;      /* rules owned */
    bool parsing;               /* the body is being parsed (2xx response) */
};

static void
prom_free(void *state)
{
    struct prom_job *j = state;

    if (j == NULL) {
        return;
    }
    prom_parser_free(j->parser);
    for (size_t i = 0; i < j->opts.nrules; i++) {
        relabel_rule_release(&j->opts.rules[i]);
    }
    free(j->opts.rules);
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
        for (size_t i = 0; i < opts->nrules; i++) {
            relabel_rule_release(&opts->rules[i]);
        }
        free(opts->rules);
        return NULL;
    }
    j->opts = *opts;
    j->parser = prom_parser_new();
    if (j->parser == NULL) {
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

    snprintf(accept, sizeof(accept), "Accept: %s", PROM_PARSE_ACCEPT);
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
    (void)b;
    j->parsing = false;
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
    prom_parser_reset(j->parser, prom_parse_format_from_content_type(ct), b);
    j->parsing = true;
    return 0;
}

static int
prom_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct prom_job *j = state;

    if (!j->parsing) {
        return 0;
    }
    int rc = prom_parser_feed(j->parser, data, len);
    if (rc != 0) {
        batch_fail(b, rc == -ENOMEM ? REASON_INTERNAL : REASON_PARSE, "%s",
                   prom_parser_error(j->parser));
        return rc;
    }
    /* Without relabel rules the limit can stop a huge body early. */
    if (j->opts.sample_limit > 0 && j->opts.nrules == 0 && b->nsamples > j->opts.sample_limit) {
        batch_fail(b, REASON_LIMIT, "sample_limit exceeded: more than %llu samples",
                   (unsigned long long)j->opts.sample_limit);
        return -E2BIG;
    }
    return 0;
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

/* One pass over the samples: relabel, drop, rename conflicts, timestamps, limits. */
static void
apply_semantics(struct prom_job *j, struct batch *b)
{
    size_t kept = 0;

    b->samples_scraped = (int64_t)b->nsamples;
    for (size_t i = 0; i < b->nsamples; i++) {
        struct sample *s = &b->samples[i];
        if (j->opts.nrules > 0 && !relabel_apply(j->opts.rules, j->opts.nrules, s, &b->arena)) {
            continue;
        }
        if (!j->opts.honor_labels && s->nlabels > 0 && rename_conflicts(s, b) != 0) {
            batch_fail(b, REASON_INTERNAL, "out of memory applying honor_labels");
            b->nsamples = 0;
            return;
        }
        if (!j->opts.honor_timestamps) {
            s->has_ts = false;
        }
        if (j->opts.label_limit > 0 && s->nlabels > j->opts.label_limit) {
            batch_fail(b, REASON_LIMIT, "label_limit exceeded: %s has %u labels (limit %llu)",
                       s->name, s->nlabels, (unsigned long long)j->opts.label_limit);
            b->nsamples = 0;
            return;
        }
        b->samples[kept++] = *s;
    }
    b->nsamples = kept;
    if (j->opts.nrules > 0) {
        b->samples_post_relabel = (int64_t)kept;
    }
    if (j->opts.sample_limit > 0 && kept > j->opts.sample_limit) {
        batch_fail(b, REASON_LIMIT, "sample_limit exceeded: %zu samples (limit %llu)", kept,
                   (unsigned long long)j->opts.sample_limit);
        b->nsamples = 0;
    }
}

static void
prom_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct prom_job *j = state;

    if (b->ok && scrape_reason_for_status(res->http_status) != REASON_NONE) {
        batch_fail(b, scrape_reason_for_status(res->http_status), "HTTP %ld", res->http_status);
    }
    if (b->ok && !j->parsing) {
        /* 2xx with an empty body: no write callback ran. Parse the empty body. */
        prom_parser_reset(j->parser, prom_parse_format_from_content_type(res->content_type), b);
        j->parsing = true;
    }
    if (b->ok) {
        int rc = prom_parser_finish(j->parser);
        if (rc != 0) {
            batch_fail(b, rc == -ENOMEM ? REASON_INTERNAL : REASON_PARSE, "%s",
                       prom_parser_error(j->parser));
        }
    }
    j->parsing = false;
    if (!b->ok) {
        /* A failed scrape forwards no partial samples (and, as in Prometheus, counts none). */
        b->samples_scraped = 0;
        b->nsamples = 0;
        return;
    }
    apply_semantics(j, b);
}

const struct job_kind job_prom = {
    .name = "prometheus",
    .add_headers = prom_add_headers,
    .prepare = prom_prepare,
    .body_start = prom_body_start,
    .feed = prom_feed,
    .finish = prom_finish,
    .free = prom_free,
};
