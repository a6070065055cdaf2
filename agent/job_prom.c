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

#include "conf.h"
#include "conf_http.h"
#include "conf_relabel.h"
#include "conf_sd.h"
#include "conf_targets.h"
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

/* The prometheus kind in the config: scrape_configs */

static const struct conf_choice scheme_choices[] = {{"http", JOB_PROM_SCHEME_HTTP, false},
                                                    {"https", JOB_PROM_SCHEME_HTTPS, false},
                                                    {NULL, 0, false}};

_Static_assert(sizeof(enum job_prom_scheme) == sizeof(int), "enum size");

static void prom_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);

/* Known Prometheus scrape_config keys pollster rejects (fnmatch patterns). */
static const char *const scrape_unsupported[] = {
    "relabel_configs",
    "*_sd_configs",
    "oauth2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "enable_http2",
    "http_headers",
    "scrape_classic_histograms",
    "always_scrape_classic_histograms",
    "native_histogram_*",
    "convert_classic_histograms_to_nhcb",
    "scrape_native_histograms",
    "scrape_protocols",
    "fallback_scrape_protocol",
    "target_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
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
       .desc = "Fail a scrape with a sample with more labels (0: no limit)."),
    SC("body_size_limit", CONF_FT_SIZE, body_size_limit, .def = "0",
       .desc = "Largest uncompressed body (0: pollster's default, 10MiB)."),
    CONF_HTTP_PROM_FIELDS(struct config_job, http),
    CONF_FLDN("metric_relabel_configs", CONF_FT_LIST, struct job_prom_conf, relabels, nrelabels,
              .flags = CONF_F_OPTS, .sub = &conf_relabel_section,
              .desc = "Rules applied to scraped samples."),
};
#undef SC
#undef PO
#undef CLOUD_SD
static const struct conf_section scrape_section = {.name = "scrape_configs[]",
                                                   CONF_FIELDS(scrape_fields),
                                                   .unsupported = scrape_unsupported,
                                                   .opts_off = offsetof(struct config_job, opts),
                                                   .opts_size = sizeof(struct job_prom_conf),
                                                   .check = prom_check};

/*
 * Resolves the job's targets: static_configs, file_sd_configs and the cached lists of
 * http_sd_configs and dns_sd_configs, as Prometheus does.
 */
static void
prom_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_job *job = base;
    const struct job_prom_conf *pc = job->opts;
    const struct conf_node *n = conf_tree_get(map, "metrics_path");
    struct conf_targets_defaults d;
    char sub[CONF_PATH_MAX + 40];

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
    d = (struct conf_targets_defaults){
        .scheme = pc->scheme == JOB_PROM_SCHEME_HTTPS ? "https" : "http",
        .metrics_path = pc->metrics_path,
        .params = pc->params,
        .nparams = pc->nparams,
    };
    n = conf_tree_get(map, "static_configs");
    if (n != NULL && conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "static_configs")) {
        for (size_t i = 0; i < n->n; i++) {
            snprintf(sub, sizeof(sub), "%s.static_configs[%zu]", path, i);
            conf_targets_group_load(x, job, &d, n->kids[i], sub);
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
    struct relabel_rule *rules = NULL;
    struct prom_opts po = {
        .honor_labels = sc->honor_labels,
        .honor_timestamps = sc->honor_timestamps,
        .sample_limit = (uint64_t)sc->sample_limit,
        .label_limit = (uint64_t)sc->label_limit,
        .timeout_ms = job->timeout_ms,
    };

    if (sc->nrelabels > 0) {
        rules = calloc(sc->nrelabels, sizeof(*rules));
        if (rules == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
    }
    for (size_t i = 0; i < sc->nrelabels; i++) {
        const struct config_relabel *r = &sc->relabels[i];
        char why[256];
        /* The enums share their order (config.h and relabel.h). */
        if (relabel_rule_init(&rules[i], (enum relabel_action)r->action,
                              (const char *const *)r->source_labels, r->nsource_labels,
                              r->separator, r->regex, r->target_label, r->replacement, why,
                              sizeof(why)) != 0) {
            snprintf(err, errlen, "job \"%s\": metric_relabel_configs[%zu]: %s", job->name, i, why);
            for (size_t k = 0; k < i; k++) {
                relabel_rule_release(&rules[k]);
            }
            free(rules);
            return NULL;
        }
        po.nrules++;
    }
    po.rules = rules;
    void *state = job_prom_new(&po);
    if (state == NULL) {
        snprintf(err, errlen, "out of memory");
    }
    return state;
}

static void
prom_identity(const struct config_job *job, struct strbuf *sb)
{
    const struct job_prom_conf *sc = job->opts;

    strbuf_printf(sb, "S%d%d%d%lld,%lld\x1f", sc->honor_labels, sc->honor_timestamps,
                  sc->enable_compression, (long long)sc->sample_limit, (long long)sc->label_limit);
    for (size_t i = 0; i < sc->nrelabels; i++) {
        const struct config_relabel *r = &sc->relabels[i];
        strbuf_printf(sb, "M%d|%s|%s|%s|%s|", (int)r->action, r->separator ? r->separator : "",
                      r->regex ? r->regex : "", r->target_label ? r->target_label : "",
                      r->replacement ? r->replacement : "");
        for (size_t k = 0; k < r->nsource_labels; k++) {
            strbuf_printf(sb, "%s,", r->source_labels[k]);
        }
        strbuf_putc(sb, '\x1f');
    }
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
