/*
 * The config loader: the top of the file (global, the jobs of every registered kind, outputs of
 * every registered type, status, log), what every job and every output shares, loading, freeing,
 * the --check-config summary and the reference text. The tree is conf_tree.c's, the mapping
 * machinery conf.c's; each kind and output type owns its section (kinds.c, outputs.c list them).
 *
 * All of this is blocking file I/O, done at start-up or reload, never on the loop.
 */
#include "build-config.h"

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_http.h"
#include "conf_include.h"
#include "conf_sd.h"
#include "conf_targets.h"
#include "encoder.h"
#include "httpc.h"
#include "inputs.h"
#include "kinds.h"
#include "output.h"
#include "outputs.h"
#include "strbuf.h"
#include "suggest.h"
#include "units.h"

#define SUMMARY_MAX_URLS 3 /* target URLs shown per job by config_summary */

static bool expand_env = true; /* config_set_expand_env */

void
config_set_expand_env(bool on)
{
    expand_env = on;
}

/* Errors */

void
config_errors_init(struct config_errors *e)
{
    memset(e, 0, sizeof(*e));
}

static void errors_append(struct config_error **v, size_t *n, size_t *dropped, const char *file,
                          int line, int col, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 8, 0)));

/* Appends "FILE:LINE:COL: @prefix message" to @v (or counts it in @dropped). */
static void
errors_append(struct config_error **v, size_t *n, size_t *dropped, const char *file, int line,
              int col, const char *prefix, const char *fmt, va_list ap)
{
    char *msg, *text;

    if (*n >= CONFIG_ERRORS_MAX) {
        (*dropped)++;
        return;
    }
    msg = conf_vprintf(fmt, ap);
    if (msg == NULL) {
        (*dropped)++;
        return;
    }
    if (file == NULL) {
        file = "<config>";
    }
    if (line > 0 && col > 0) {
        text = conf_printf("%s:%d:%d: %s%s", file, line, col, prefix, msg);
    }
    else if (line > 0) {
        text = conf_printf("%s:%d: %s%s", file, line, prefix, msg);
    }
    else {
        text = conf_printf("%s: %s%s", file, prefix, msg);
    }
    free(msg);
    struct config_error *nv = conf_grow(*v, *n, sizeof(**v));
    char *fcopy = strdup(file);
    if (text == NULL || nv == NULL || fcopy == NULL) {
        free(text);
        free(fcopy);
        if (nv != NULL) {
            *v = nv;
        }
        (*dropped)++;
        return;
    }
    *v = nv;
    nv[*n].text = text;
    nv[*n].file = fcopy;
    nv[*n].line = line;
    nv[*n].col = col;
    (*n)++;
}

void
config_errors_add(struct config_errors *e, const char *file, int line, int col, const char *fmt,
                  ...)
{
    va_list ap;

    if (e == NULL) {
        return;
    }
    va_start(ap, fmt);
    errors_append(&e->v, &e->n, &e->dropped, file, line, col, "", fmt, ap);
    va_end(ap);
}

void
config_errors_warn(struct config_errors *e, const char *file, int line, int col, const char *fmt,
                   ...)
{
    va_list ap;

    if (e == NULL) {
        return;
    }
    va_start(ap, fmt);
    errors_append(&e->warn, &e->nwarn, &e->warn_dropped, file, line, col, "warning: ", fmt, ap);
    va_end(ap);
}

void
config_errors_print_warnings(FILE *f, const struct config_errors *e)
{
    for (size_t i = 0; i < e->nwarn; i++) {
        fprintf(f, "%s\n", e->warn[i].text);
    }
    if (e->warn_dropped > 0) {
        fprintf(f, "%zu more warning%s not shown\n", e->warn_dropped,
                e->warn_dropped == 1 ? "" : "s");
    }
}

void
config_errors_print(FILE *f, const struct config_errors *e)
{
    for (size_t i = 0; i < e->n; i++) {
        fprintf(f, "%s\n", e->v[i].text);
    }
    if (e->dropped > 0) {
        fprintf(f, "%zu more error%s not shown\n", e->dropped, e->dropped == 1 ? "" : "s");
    }
}

void
config_errors_release(struct config_errors *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].text);
        free(e->v[i].file);
    }
    free(e->v);
    for (size_t i = 0; i < e->nwarn; i++) {
        free(e->warn[i].text);
        free(e->warn[i].file);
    }
    free(e->warn);
    memset(e, 0, sizeof(*e));
}

/* The rank of @v[i]'s file among the files of v[from..]: the order of first mention. */
static size_t
error_file_rank(const struct config_error *v, size_t from, size_t i)
{
    size_t rank = 0;

    for (size_t j = from; j < i; j++) {
        bool first = true;
        for (size_t k = from; k < j; k++) {
            if (strcmp(v[k].file, v[j].file) == 0) {
                first = false;
                break;
            }
        }
        if (strcmp(v[j].file, v[i].file) == 0) {
            return rank;
        }
        rank += first;
    }
    return rank;
}

/*
 * Sorts the errors (or warnings) @v[@from..@total) by file and position (stable: insertion sort,
 * as there are at most CONFIG_ERRORS_MAX). Check hooks run after a section's keys are mapped, so
 * without this their errors would come after those of the section's nested keys.
 */
static void
errors_sort(struct config_error *v, size_t total, size_t from)
{
    size_t n = total - from;
    size_t *rank = calloc(n + 1, sizeof(*rank));

    if (rank == NULL) {
        return; /* unsorted is still correct */
    }
    for (size_t i = 0; i < n; i++) {
        rank[i] = error_file_rank(v, from, from + i);
    }
    for (size_t i = 1; i < n; i++) {
        struct config_error t = v[from + i];
        size_t r = rank[i];
        size_t j = i;
        while (j > 0) {
            const struct config_error *p = &v[from + j - 1];
            if (rank[j - 1] < r || (rank[j - 1] == r &&
                                    (p->line < t.line || (p->line == t.line && p->col <= t.col)))) {
                break;
            }
            v[from + j] = *p;
            rank[j] = rank[j - 1];
            j--;
        }
        v[from + j] = t;
        rank[j] = r;
    }
    free(rank);
}

/* The top of the file */

static const struct conf_choice log_level_choices[] = {{"error", LOG_LVL_ERR, false},
                                                       {"warn", LOG_LVL_WARN, false},
                                                       {"info", LOG_LVL_INFO, false},
                                                       {"debug", LOG_LVL_DEBUG, false},
                                                       {NULL, 0, false}};

static const struct conf_choice log_target_choices[] = {
    {"stderr", LOG_TARGET_STDERR, false}, {"syslog", LOG_TARGET_SYSLOG, false}, {NULL, 0, false}};

static const struct conf_choice log_format_choices[] = {{"text", LOG_FORMAT_TEXT, false},
                                                        {"logfmt", LOG_FORMAT_LOGFMT, false},
                                                        {"json", LOG_FORMAT_JSON, false},
                                                        {NULL, 0, false}};

_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_target) == sizeof(int), "enum size");

static void global_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                         const char *path);
static void status_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                         const char *path);
static void top_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                      const char *path);

#define GL(k, t, m, ...) CONF_FLD(k, t, struct config_global, m, __VA_ARGS__)
static const struct conf_field global_fields[] = {
    GL("scrape_interval", CONF_FT_DURATION, scrape_interval_ms,
       .def = CONFIG_DEFAULT_SCRAPE_INTERVAL, .desc = "Default interval of every job."),
    GL("scrape_timeout", CONF_FT_DURATION, scrape_timeout_ms, .def = CONFIG_DEFAULT_SCRAPE_TIMEOUT,
       .desc = "Default timeout of every job (capped to the interval when not set)."),
    CONF_FLDN("external_labels", CONF_FT_LABELS, struct config_global, external_labels,
              nexternal_labels, .desc = "Labels the outputs add to every batch."),
    GL("shutdown_timeout", CONF_FT_DURATION, shutdown_timeout_ms,
       .def = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT,
       .desc = "pollster: how long SIGTERM waits for runs and outputs."),
    GL("body_size_limit", CONF_FT_SIZE, body_size_limit, .def = "0",
       .desc = "Default body_size_limit of scrape_configs."),
    GL("sample_limit", CONF_FT_INT, sample_limit, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Default sample_limit of scrape_configs."),
    GL("label_limit", CONF_FT_INT, label_limit, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Default label_limit of scrape_configs."),
    GL("label_name_length_limit", CONF_FT_INT, label_name_length_limit, .def = "0", .min = 0,
       .max = INT64_MAX, .desc = "Default label_name_length_limit of scrape_configs."),
    GL("label_value_length_limit", CONF_FT_INT, label_value_length_limit, .def = "0", .min = 0,
       .max = INT64_MAX, .desc = "Default label_value_length_limit of scrape_configs."),
    GL("target_limit", CONF_FT_INT, target_limit, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "Default target_limit of scrape_configs."),
    GL("keep_dropped_targets", CONF_FT_INT, keep_dropped_targets, .def = "0", .min = 0,
       .max = INT64_MAX, .desc = "Default keep_dropped_targets of scrape_configs."),
    CONF_FLDN("scrape_protocols", CONF_FT_STRLIST, struct config_global, scrape_protocols,
              nscrape_protocols, .flags = CONF_F_NONEMPTY,
              .desc = "Default scrape_protocols of scrape_configs."),
    GL("state_dir", CONF_FT_PATH, state_dir, .flags = CONF_F_NONEMPTY,
       .desc = "pollster: directory where http_sd and dns_sd keep their last good target lists "
               "(default: $STATE_DIRECTORY, which systemd's StateDirectory= sets; else memory "
               "only)."),
    GL("shard", CONF_FT_SECTION, shard, .flags = CONF_F_DEFAULTS, .sub = &shard_section,
       .desc = "pollster: this agent's share of the targets when several agents share them "
               "(rendezvous hashing over each target's final labels; see shard.h)."),
};
#undef GL
static const char *const global_unsupported[] = {
    "scrape_failure_log_file",          "extra_scrape_metrics",
    "metric_name_validation_scheme",    "metric_name_escaping_scheme",
    "always_scrape_classic_histograms", "convert_classic_histograms_to_nhcb",
    "scrape_native_histograms",         NULL,
};
/* Rule evaluation and the PromQL query log: a Prometheus server's, accepted with a warning. */
static const char *const global_server_only[] = {
    "evaluation_interval",
    "rule_query_offset",
    "query_log_file",
    NULL,
};
static const struct conf_section global_section = {.name = "global",
                                                   CONF_FIELDS(global_fields),
                                                   .unsupported = global_unsupported,
                                                   .server_only = global_server_only,
                                                   .check = global_check};

static const struct conf_field status_fields[] = {
    CONF_FLD("listen", CONF_FT_STR, struct config_status, listen,
             .def = CONFIG_DEFAULT_STATUS_LISTEN, .flags = CONF_F_NONEMPTY,
             .desc = "ADDR:PORT or [V6ADDR]:PORT of the status server."),
    CONF_FLD("enable_lifecycle", CONF_FT_BOOL, struct config_status, enable_lifecycle,
             .def = "false",
             .desc = "Serve POST /-/reload (as Prometheus' --web.enable-lifecycle); else 403."),
    CONF_FLD("max_connections", CONF_FT_INT, struct config_status, max_connections, .def = "64",
             .min = 1, .max = 65535,
             .desc = "Connections open at once; more are closed as they come."),
    CONF_FLD("request_timeout", CONF_FT_DURATION, struct config_status, request_timeout_ms,
             .def = "30s",
             .desc = "Longest time one request may take, headers, body and reply included."),
};
static const struct conf_section status_section = {
    .name = "status", CONF_FIELDS(status_fields), .check = status_check};

static const struct conf_field log_fields[] = {
    CONF_FLD("level", CONF_FT_ENUM, struct config_log, level, .def = "info",
             .choices = log_level_choices, .desc = "error, warn, info or debug."),
    CONF_FLD("target", CONF_FT_ENUM, struct config_log, target, .def = "stderr",
             .choices = log_target_choices, .desc = "stderr or syslog."),
    CONF_FLD("format", CONF_FT_ENUM, struct config_log, format, .def = "text",
             .choices = log_format_choices,
             .desc = "text, logfmt or json: the shape of a line on stderr (--log-format wins)."),
};
static const struct conf_section log_section = {.name = "log", CONF_FIELDS(log_fields)};

#define TOP(k, t, m, ...) CONF_FLD(k, t, struct config, m, __VA_ARGS__)
static const struct conf_field top_fields[] = {
    TOP("global", CONF_FT_SECTION, global, .flags = CONF_F_FIRST | CONF_F_DEFAULTS,
        .sub = &global_section, .desc = "Defaults of every job."),
    CONF_FLDN("outputs", CONF_FT_DEFER, struct config, outputs, noutputs,
              .desc = "Where batches go (default: stdout, json)."),
    CONF_FLDN("inputs", CONF_FT_DEFER, struct config, inputs, ninputs,
              .desc = "pollster: relays: records brought from elsewhere to the outputs (type "
                      "nats: a JetStream stream)."),
    CONF_FLDN("remote_write", CONF_FT_DEFER, struct config, outputs, noutputs,
              .desc = "Prometheus' remote_write list: each item is an output of type remote_write "
                      "(after those of outputs)."),
    TOP("status", CONF_FT_SECTION, status, .flags = CONF_F_DEFAULTS, .sub = &status_section,
        .desc = "The status server."),
    TOP("log", CONF_FT_SECTION, log, .flags = CONF_F_DEFAULTS, .sub = &log_section,
        .desc = "Logging."),
    CONF_FLDN("scrape_config_files", CONF_FT_STRLIST, struct config, scrape_config_files,
              nscrape_config_files, .flags = CONF_F_NONEMPTY,
              .desc = "Globs of files with more scrape_configs (Prometheus' key)."),
};
#undef TOP
static const char *const top_unsupported[] = {NULL};
/*
 * What only a Prometheus server does with a prometheus.yml (rules, alerting, its TSDB, remote
 * read, tracing of its own requests, its Go runtime, its OTLP receiver): accepted with a warning
 * so a pasted file loads (Prometheus' config.Config lists the top-level keys).
 */
static const char *const top_server_only[] = {"rule_files", "alerting", "remote_read", "storage",
                                              "tracing",    "otlp",     "runtime",     NULL};
static const struct conf_section top_section = {.name = "",
                                                CONF_FIELDS(top_fields),
                                                .unsupported = top_unsupported,
                                                .server_only = top_server_only,
                                                .check = top_check};

/* Jobs: what every kind shares */

static void
job_release(struct config_job *j)
{
    if (j->kind != NULL) {
        conf_release(j->kind->conf, j);
    }
    conf_http_release(&j->http);
    for (size_t i = 0; i < j->ntargets; i++) {
        conf_targets_release(&j->targets[i]);
    }
    free(j->targets);
    j->targets = NULL;
    j->ntargets = 0;
    conf_targets_dropped_release(j);
    conf_strv_free(j->file_sd_globs, j->nfile_sd_globs);
    j->file_sd_globs = NULL;
    j->nfile_sd_globs = 0;
    free(j->file);
    j->file = NULL;
    conf_sd_free(j->sds, j->nsds);
    j->sds = NULL;
    j->nsds = 0;
}

/* Interval and timeout: Prometheus' defaults and rules, with @ikey / @tkey as the keys. */
static void
schedule_resolve(struct conf_ctx *x, struct config_job *job, const struct conf_node *map,
                 const char *ikey, const char *tkey)
{
    const struct config_global *g = &x->cfg->global;
    const struct conf_node *iv = conf_tree_get(map, ikey), *tv = conf_tree_get(map, tkey);
    char b1[32], b2[32];

    if (job->interval_ms < 0) {
        job->interval_ms = g->scrape_interval_ms;
    }
    else if (job->interval_ms == 0) {
        conf_err(x, iv, "%s must be greater than 0", ikey);
        job->interval_ms = g->scrape_interval_ms;
    }
    if (job->timeout_ms < 0) {
        job->timeout_ms =
            g->scrape_timeout_ms < job->interval_ms ? g->scrape_timeout_ms : job->interval_ms;
    }
    else if (job->timeout_ms == 0) {
        conf_err(x, tv, "%s must be greater than 0", tkey);
    }
    else if (job->timeout_ms > job->interval_ms) {
        conf_err(x, tv, "%s (%s) must not exceed %s (%s) for job \"%s\"", tkey,
                 conf_fmt_ms(job->timeout_ms, b1, sizeof(b1)), ikey,
                 conf_fmt_ms(job->interval_ms, b2, sizeof(b2)), job->name != NULL ? job->name : "");
    }
}

/*
 * What every job needs once its kind's section is mapped: a name unique across all kinds, the
 * interval and timeout (Prometheus' rules), the body size limit and the HTTP client settings.
 */
static void
job_resolve(struct conf_ctx *x, struct config_job *job, const struct conf_node *map)
{
    const char *key = job->kind->name_key;
    const struct conf_node *nn = conf_tree_get(map, key);

    if (nn != NULL && job->name != NULL) {
        job->line = nn->line;
        job->file = strdup(nn->file != NULL ? nn->file : "");
        if (job->file == NULL) {
            conf_oom(x);
            return;
        }
        for (size_t i = 0; i + 1 < x->cfg->njobs; i++) {
            const struct config_job *o = &x->cfg->jobs[i];
            if (o == job || o->name == NULL || strcmp(o->name, job->name) != 0) {
                continue;
            }
            if (o->file != NULL && strcmp(o->file, job->file) != 0) {
                conf_err(x, nn, "duplicate %s \"%s\" (first defined at %s:%d)", key, job->name,
                         o->file, o->line);
            }
            else {
                conf_err(x, nn, "duplicate %s \"%s\" (first defined at line %d)", key, job->name,
                         o->line);
            }
            break;
        }
    }
    schedule_resolve(x, job, map, job->kind->interval_key, job->kind->timeout_key);
    if (job->body_size_limit == 0) {
        job->body_size_limit = CONFIG_DEFAULT_BODY_SIZE_LIMIT;
    }
    conf_http_resolve(x, &job->http, map);
}

/* Maps the list @v of kind @k's jobs (the top-level key @k->section), in document order. */
static void
jobs_map(struct conf_ctx *x, const struct kind *k, const struct conf_node *v)
{
    struct config *c = x->cfg;

    if (!conf_expect(x, v, CONF_NODE_SEQ, "a sequence", k->section)) {
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        char path[CONF_PATH_MAX];
        struct config_job *jobs = conf_grow(c->jobs, c->njobs, sizeof(*jobs));
        if (jobs == NULL) {
            conf_oom(x);
            return;
        }
        c->jobs = jobs;
        struct config_job *job = &c->jobs[c->njobs++];
        job->kind = k;
        snprintf(path, sizeof(path), "%s[%zu]", k->section, i);
        conf_map(x, k->conf, job, v->kids[i], path);
        if (v->kids[i]->kind == CONF_NODE_MAP) {
            job_resolve(x, job, v->kids[i]);
        }
    }
}

/* The top-level keys beyond the table, for did-you-mean: the kinds' sections. */
static void
top_names(struct suggest *sg)
{
    for (size_t i = 0; i < kinds_count; i++) {
        suggest_add(sg, kinds_table[i]->section);
    }
}

/* Top-level keys beyond the table: the job lists of the registered kinds. */
static bool
top_foreign(struct conf_ctx *x, const struct conf_node *key, const struct conf_node *v,
            const char *where)
{
    const struct kind *k = kinds_find_section(key->str);

    if (k == NULL) {
        return false;
    }
    if (!conf_tree_is_null(v)) {
        jobs_map(x, k, v);
    }
    return true;
}

/* Outputs: what every type shares */

static void
output_release(struct config_output *o)
{
    if (o->type != NULL) {
        conf_release(o->type->conf, o);
    }
    free(o->format);
    o->format = NULL;
}

/* A key of another output type than @o's: says so, rather than "unknown key". */
static bool
output_foreign(struct conf_ctx *x, const struct conf_node *key, const struct conf_node *v,
               const char *where)
{
    const struct config_output *o = x->foreign_arg;

    for (size_t i = 0; i < outputs_count; i++) {
        if (outputs_table[i] != o->type &&
            conf_field_find(outputs_table[i]->conf, key->str) != NULL) {
            conf_err(x, key, "key \"%s\" does not apply to output type %s %s", key->str,
                     o->type->name, where);
            return true;
        }
    }
    return false;
}

/* "invalid @what \"NAME\" (did you mean ...? expected one of: @names)" at @n (NAME: @n's). */
static void
name_err(struct conf_ctx *x, const struct conf_node *n, const char *what, const char *names)
{
    struct suggest sg;

    suggest_init(&sg, n->str);
    suggest_add_csv(&sg, names);
    conf_err_name(x, n, what, n->str, &sg, names);
}

/* The format of an output, checked by its node so that it is checked whatever its type. */
static void
format_check(struct conf_ctx *x, const struct conf_node *item)
{
    const struct conf_node *fn = conf_tree_get(item, "format");
    struct strbuf names;

    if (fn == NULL || fn->kind != CONF_NODE_SCALAR || encoder_find(fn->str) != NULL) {
        return; /* absent, or not a string: the mapping says so */
    }
    strbuf_init(&names);
    encoder_names(&names);
    name_err(x, fn, "format", names.data);
    strbuf_release(&names);
}

/* Maps outputs[@i], @item, into @o: its type first, then the type's section. */
static void
output_map(struct conf_ctx *x, struct config_output *o, const struct conf_node *item, size_t i)
{
    const struct conf_node *tn = conf_tree_get(item, "type");
    char path[CONF_PATH_MAX];

    snprintf(path, sizeof(path), "outputs[%zu]", i);
    if (item->kind != CONF_NODE_MAP) {
        conf_err(x, item, "expected a mapping for %s, got a %s", path, conf_tree_kind_name(item));
        return;
    }
    format_check(x, item);
    if (tn == NULL) {
        conf_err(x, item, "missing required key \"type\" in %s", path);
        return;
    }
    if (!conf_expect(x, tn, CONF_NODE_SCALAR, "a string", "type")) {
        return;
    }
    o->type = outputs_find(tn->str);
    if (o->type == NULL) {
        struct strbuf names;
        strbuf_init(&names);
        outputs_names(&names);
        name_err(x, tn, "type", names.data);
        strbuf_release(&names);
        return;
    }
    x->foreign_for = o->type->conf;
    x->foreign = output_foreign;
    x->foreign_arg = o;
    conf_map(x, o->type->conf, o, item, path);
    x->foreign_for = NULL;
    x->foreign = NULL;
}

static void
outputs_map(struct conf_ctx *x, const struct conf_node *v)
{
    struct config *c = x->cfg;

    if (!conf_expect(x, v, CONF_NODE_SEQ, "a sequence", "outputs")) {
        return;
    }
    if (v->n == 0) {
        conf_err(x, v, "outputs must not be empty (leave it out for one stdout output)");
        return;
    }
    c->outputs = calloc(v->n, sizeof(*c->outputs));
    if (c->outputs == NULL) {
        conf_oom(x);
        return;
    }
    c->noutputs = v->n;
    for (size_t i = 0; i < v->n; i++) {
        output_map(x, &c->outputs[i], v->kids[i], i);
    }
}

void
config_free(struct config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->njobs; i++) {
        job_release(&c->jobs[i]);
    }
    free(c->jobs);
    for (size_t i = 0; i < c->noutputs; i++) {
        output_release(&c->outputs[i]);
    }
    free(c->outputs);
    c->outputs = NULL;
    c->noutputs = 0;
    for (size_t i = 0; i < c->ninputs; i++) {
        if (c->inputs[i].type != NULL) {
            conf_release(c->inputs[i].type->conf, &c->inputs[i]);
        }
        free(c->inputs[i].format);
    }
    free(c->inputs);
    c->inputs = NULL;
    c->ninputs = 0;
    conf_release(&top_section, c);
    free(c->source);
    free(c->path);
    free(c);
}

/* Checks */

static void
global_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_global *g = base;
    const struct conf_node *iv = conf_tree_get(map, "scrape_interval"),
                           *tv = conf_tree_get(map, "scrape_timeout");
    char b1[32], b2[32];
    int64_t def;

    if (g->scrape_interval_ms == 0) {
        conf_err(x, iv, "scrape_interval must be greater than 0");
        units_parse_duration(CONFIG_DEFAULT_SCRAPE_INTERVAL, &g->scrape_interval_ms);
    }
    if (tv == NULL || tv->kind != CONF_NODE_SCALAR || units_parse_duration(tv->str, &def) != 0) {
        /* unset (or invalid, already reported): the default, capped to the interval */
        units_parse_duration(CONFIG_DEFAULT_SCRAPE_TIMEOUT, &def);
        g->scrape_timeout_ms = def < g->scrape_interval_ms ? def : g->scrape_interval_ms;
    }
    else if (g->scrape_timeout_ms == 0) {
        conf_err(x, tv, "scrape_timeout must be greater than 0");
    }
    else if (g->scrape_timeout_ms > g->scrape_interval_ms) {
        conf_err(x, tv, "scrape_timeout (%s) must not exceed scrape_interval (%s) in global",
                 conf_fmt_ms(g->scrape_timeout_ms, b1, sizeof(b1)),
                 conf_fmt_ms(g->scrape_interval_ms, b2, sizeof(b2)));
    }
}

static void
status_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_status *s = base;
    const struct conf_node *n = conf_tree_get(map, "listen");
    char host[256], err[512];
    unsigned port;

    if (n != NULL && s->listen != NULL &&
        units_parse_listen(s->listen, host, sizeof(host), &port, err, sizeof(err)) != 0) {
        conf_err(x, n, "%s", err);
    }
    if (s->request_timeout_ms == 0) {
        conf_err(x, conf_tree_get(map, "request_timeout"),
                 "request_timeout must be greater than 0");
    }
}

/* The scrape_configs of a file named by scrape_config_files. */
static void
include_map(struct conf_ctx *x, const struct conf_node *list)
{
    const struct kind *k = kinds_find_section("scrape_configs");

    if (k != NULL) {
        jobs_map(x, k, list);
    }
}

/*
 * A prometheus.yml's top-level remote_write list (@v): each item is mapped as an output of type
 * remote_write (no `type:` needed), appended after those of `outputs`.
 */
static void
remote_write_map(struct conf_ctx *x, const struct conf_node *v)
{
    struct config *c = x->cfg;
    const struct output_type *t = outputs_find("remote_write");
    char path[CONF_PATH_MAX];

    if (!conf_expect(x, v, CONF_NODE_SEQ, "a sequence", "remote_write") || v->n == 0 || t == NULL) {
        return;
    }
    struct config_output *grown = realloc(c->outputs, (c->noutputs + v->n) * sizeof(*grown));
    if (grown == NULL) {
        conf_oom(x);
        return;
    }
    c->outputs = grown;
    for (size_t i = 0; i < v->n; i++) {
        struct config_output *o = &c->outputs[c->noutputs++];
        memset(o, 0, sizeof(*o));
        o->type = t;
        snprintf(path, sizeof(path), "remote_write[%zu]", i);
        if (v->kids[i]->kind != CONF_NODE_MAP) {
            conf_err(x, v->kids[i], "expected a mapping for %s, got a %s", path,
                     conf_tree_kind_name(v->kids[i]));
            conf_defaults(x, t->conf, o);
            continue;
        }
        conf_map(x, t->conf, o, v->kids[i], path);
    }
}

/*
 * Keeps in every job only the targets this agent owns (shard_filter_job): after every job's
 * targets are final, scrape_config_files' too. global.shard was checked (with --shard applied)
 * when it was mapped; without it, only --shard can set the shard, and replication is 1.
 */
static void
shard_apply(struct conf_ctx *x, struct config *c)
{
    struct shard *s = &c->global.shard;

    shard_override_apply(s);
    for (size_t i = 0; i < c->njobs; i++) {
        if (shard_filter_job(&c->jobs[i], s) != 0) {
            conf_oom(x);
            return;
        }
    }
}

/* Maps inputs[@i], @item, into @in: its type first, then the type's section. */
static void
input_map(struct conf_ctx *x, struct config_input *in, const struct conf_node *item, size_t i)
{
    const struct conf_node *tn = conf_tree_get(item, "type");
    char path[CONF_PATH_MAX];

    snprintf(path, sizeof(path), "inputs[%zu]", i);
    if (item->kind != CONF_NODE_MAP) {
        conf_err(x, item, "expected a mapping for %s, got a %s", path, conf_tree_kind_name(item));
        return;
    }
    if (tn == NULL) {
        conf_err(x, item, "missing required key \"type\" in %s", path);
        return;
    }
    if (!conf_expect(x, tn, CONF_NODE_SCALAR, "a string", "type")) {
        return;
    }
    in->type = inputs_find(tn->str);
    if (in->type == NULL) {
        struct strbuf names;
        strbuf_init(&names);
        inputs_names(&names);
        name_err(x, tn, "type", names.data);
        strbuf_release(&names);
        return;
    }
    conf_map(x, in->type->conf, in, item, path);
}

static void
inputs_map(struct conf_ctx *x, const struct conf_node *v)
{
    struct config *c = x->cfg;

    if (!conf_expect(x, v, CONF_NODE_SEQ, "a sequence", "inputs") || v->n == 0) {
        return;
    }
    c->inputs = calloc(v->n, sizeof(*c->inputs));
    if (c->inputs == NULL) {
        conf_oom(x);
        return;
    }
    c->ninputs = v->n;
    for (size_t i = 0; i < v->n; i++) {
        input_map(x, &c->inputs[i], v->kids[i], i);
    }
}

/* The item of output @i: outputs' items come first, then remote_write's (NULL: the default). */
static const struct conf_node *
output_item(const struct conf_node *outs, const struct conf_node *rw, size_t i)
{
    size_t nouts = outs != NULL && outs->kind == CONF_NODE_SEQ ? outs->n : 0;

    if (i < nouts) {
        return outs->kids[i];
    }
    if (rw != NULL && rw->kind == CONF_NODE_SEQ && i - nouts < rw->n) {
        return rw->kids[i - nouts];
    }
    return NULL;
}

/* A name a label value, a log line and a page can carry as written (not one of the defaults). */
static bool
output_name_ok(const char *s)
{
    if (strlen(s) > OUTPUT_NAME_MAX) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\' || *s == '[' || *s == ']') {
            return false;
        }
    }
    return true;
}

/*
 * Names every output: a written name is checked (characters, length, unique); the others get
 * "TYPE[N]", N counting the outputs of that type before them.
 */
static void
outputs_name(struct conf_ctx *x, struct config *c, const struct conf_node *outs,
             const struct conf_node *rw)
{
    for (size_t i = 0; i < c->noutputs; i++) {
        struct config_output *o = &c->outputs[i];
        const struct conf_node *item = output_item(outs, rw, i);
        const struct conf_node *nn = item != NULL ? conf_tree_get(item, "name") : NULL;
        size_t same = 0;
        if (o->type == NULL) {
            continue;
        }
        if (o->name != NULL) {
            o->named = true;
            if (!output_name_ok(o->name)) {
                conf_err(x, nn != NULL ? nn : item,
                         "invalid output name \"%s\": at most %d printable ASCII characters, "
                         "without quotes, backslashes or brackets",
                         o->name, OUTPUT_NAME_MAX);
            }
            for (size_t k = 0; k < i; k++) {
                if (c->outputs[k].name != NULL && strcmp(c->outputs[k].name, o->name) == 0) {
                    conf_err(x, nn != NULL ? nn : item,
                             "output name \"%s\" is used twice: each output needs its own",
                             o->name);
                    break;
                }
            }
            continue;
        }
        for (size_t k = 0; k < i; k++) {
            same += c->outputs[k].type == o->type;
        }
        char def[OUTPUT_NAME_MAX + 1];
        snprintf(def, sizeof(def), "%s[%zu]", o->type->name, same);
        o->name = strdup(def);
        if (o->name == NULL) {
            conf_oom(x);
        }
    }
}

static void
top_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config *c = base;
    const struct conf_node *n = conf_tree_get(map, "outputs");
    const struct conf_node *rw = conf_tree_get(map, "remote_write");

    /* after the main file's jobs, as in Prometheus */
    conf_include_scrape_files(x, conf_tree_get(map, "scrape_config_files"), expand_env,
                              include_map);
    shard_apply(x, c);

    if (n != NULL) {
        outputs_map(x, n);
    }
    if (rw != NULL) {
        remote_write_map(x, rw);
    }
    if (conf_tree_get(map, "inputs") != NULL) {
        inputs_map(x, conf_tree_get(map, "inputs"));
    }
    if (c->noutputs == 0 && n == NULL) {
        /* none: one output of the first registered type (stdout), with its defaults */
        c->outputs = calloc(1, sizeof(*c->outputs));
        if (c->outputs == NULL) {
            conf_oom(x);
            return;
        }
        c->noutputs = 1;
        c->outputs[0].type = outputs_table[0];
        conf_defaults(x, outputs_table[0]->conf, &c->outputs[0]);
    }
    outputs_name(x, c, n, rw);
}

/* Loading */

static struct config *
load_buffer(const char *name, const char *buf, size_t len, struct config_errors *errs)
{
    struct config_errors local;
    struct conf_ctx x = {0};
    struct conf_doc d = {0};
    struct config *c;
    const char *slash = strrchr(name, '/');
    size_t first_error, first_warning;

    config_errors_init(&local);
    x.errs = errs != NULL ? errs : &local;
    first_error = x.errs->n;
    first_warning = x.errs->nwarn;
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->path = strdup(name)) == NULL || (d.file = strdup(name)) == NULL) {
        config_errors_add(x.errs, name, 0, 0, "out of memory");
        free(d.file);
        config_free(c);
        config_errors_release(&local);
        return NULL;
    }
    x.cfg = c;
    if (slash != NULL) {
        x.dir = slash == name ? strdup("/") : strndup(name, (size_t)(slash - name));
        if (x.dir == NULL) {
            conf_oom(&x);
        }
    }
    if (!x.oom && conf_tree_parse(&x, &d, buf, len) == 0) {
        static const struct conf_node empty = {.kind = CONF_NODE_MAP, .line = 1, .col = 1};
        struct conf_node root = empty;
        root.file = d.file;
        x.foreign_for = &top_section;
        x.foreign = top_foreign;
        x.foreign_names = top_names;
        if (expand_env && d.root != NULL) {
            conf_tree_expand_env(&x, d.root);
        }
        if (x.nerr == 0) { /* an unexpanded ${VAR} would only cause more errors */
            conf_map(&x, &top_section, c, d.root != NULL ? d.root : &root, "");
        }
    }
    conf_tree_release(&d);
    free(x.dir);
    conf_claims_release(&x);
    errors_sort(x.errs->v, x.errs->n, first_error);
    errors_sort(x.errs->warn, x.errs->nwarn, first_warning);
    config_errors_release(&local);
    if (x.nerr > 0) {
        config_free(c);
        return NULL;
    }
    return c;
}

/* load_buffer(), keeping a copy of the text in the config (what a file_sd refresh re-parses). */
static struct config *
load_keep(const char *name, const char *yaml, size_t len, struct config_errors *errs)
{
    struct config *c = load_buffer(name, yaml, len, errs);

    if (c != NULL) {
        c->source = malloc(len + 1);
        if (c->source == NULL) {
            config_errors_add(errs, name, 0, 0, "out of memory");
            config_free(c);
            return NULL;
        }
        memcpy(c->source, yaml, len);
        c->source[len] = '\0';
        c->source_len = len;
    }
    return c;
}

struct config *
config_load_string(const char *name, const char *yaml, size_t len, struct config_errors *errs)
{
    return load_keep(name, yaml, len, errs);
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
    struct config *c;
    char *buf = NULL;
    size_t len = 0;
    int rc = conf_tree_read_file(path, CONF_FILE_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        config_errors_add(errs, path, 0, 0, "cannot read config file: %s",
                          rc == -EFBIG ? "file too large" : strerror(-rc));
        return NULL;
    }
    c = load_keep(path, buf, len, errs);
    free(buf);
    return c;
}

/* Queries and printing */

size_t
config_target_count(const struct config *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->njobs; i++) {
        n += c->jobs[i].ntargets;
    }
    return n;
}

static void
summary_url(FILE *f, const char *prefix, const char *url)
{
    char *red = httpc_redact_url_dup(url);

    fprintf(f, "%s%s\n", prefix, red != NULL ? red : "<out of memory>");
    free(red);
}

void
config_summary(FILE *f, const struct config *c)
{
    size_t ntargets = config_target_count(c);
    char b1[32], b2[32];

    fprintf(f, "%s: %zu job%s, %zu target%s, %zu output%s\n", c->path, c->njobs,
            c->njobs == 1 ? "" : "s", ntargets, ntargets == 1 ? "" : "s", c->noutputs,
            c->noutputs == 1 ? "" : "s");
    if (c->global.shard.count > 1) {
        fprintf(f, "shard %lld of %lld (replication %lld): this agent's targets only\n",
                (long long)c->global.shard.index, (long long)c->global.shard.count,
                (long long)c->global.shard.replication);
    }
    for (size_t i = 0; i < c->njobs; i++) {
        const struct config_job *j = &c->jobs[i];
        fprintf(f, "job %s (%s): interval %s, timeout %s, %zu target%s", j->name, j->kind->name,
                conf_fmt_ms(j->interval_ms, b1, sizeof(b1)),
                conf_fmt_ms(j->timeout_ms, b2, sizeof(b2)), j->ntargets,
                j->ntargets == 1 ? "" : "s");
        size_t nshard = j->nseen > j->ntargets ? j->nseen - j->ntargets : 0;
        if (j->ndropped > nshard) {
            fprintf(f, " (%zu dropped by relabel_configs)", j->ndropped - nshard);
        }
        if (nshard > 0) {
            fprintf(f, " (%zu of other shards: this is %lld/%lld)", nshard,
                    (long long)c->global.shard.index, (long long)c->global.shard.count);
        }
        if (j->http.basic_auth.username != NULL) {
            fprintf(f, ", basic auth");
        }
        if (j->http.authorization.type != NULL) {
            fprintf(f, ", %s auth", j->http.authorization.type);
        }
        if (j->http.oauth2.token_url != NULL) {
            fprintf(f, ", oauth2 auth");
        }
        if (j->http.proxy.url != NULL || j->http.proxy.from_env) {
            fprintf(f, ", %s", j->http.proxy.url != NULL ? "proxy" : "proxy from environment");
        }
        if (j->http.tls.insecure_skip_verify) {
            fprintf(f, ", TLS verification off");
        }
        fprintf(f, "\n");
        for (size_t t = 0; t < j->ntargets && t < SUMMARY_MAX_URLS; t++) {
            summary_url(f, "  ", j->targets[t].url);
        }
        if (j->ntargets > SUMMARY_MAX_URLS) {
            fprintf(f, "  ... and %zu more\n", j->ntargets - SUMMARY_MAX_URLS);
        }
        conf_sd_summary(f, c, j);
    }
    for (size_t i = 0; i < c->noutputs; i++) {
        const struct config_output *o = &c->outputs[i];
        fprintf(f, "output %s (%s)", o->type->name, o->format);
        if (o->named) {
            fprintf(f, " \"%s\"", o->name);
        }
        if (o->type->summary != NULL) {
            o->type->summary(f, o);
        }
        else {
            fprintf(f, "\n");
        }
    }
    for (size_t i = 0; i < c->ninputs; i++) {
        const struct config_input *in = &c->inputs[i];
        fprintf(f, "input %s (%s)", in->type->name, in->format);
        if (in->type->summary != NULL) {
            in->type->summary(f, in);
        }
        else {
            fprintf(f, "\n");
        }
    }
    fprintf(f, "status listen %s\n", c->status.listen);
}

void
config_reference(FILE *f)
{
    fprintf(f, "%-32s %-9s %-9s %s\n", "key", "type", "default", "description");
    conf_reference(f, &top_section, 0);
    for (size_t i = 0; i < kinds_count; i++) {
        const struct kind *k = kinds_table[i];
        fprintf(f, "%-32s %-9s %-9s %s\n", k->section, "list", "-", k->desc);
        conf_reference(f, k->conf, 2);
    }
    /* The keys of every output type under "outputs", each once, saying which types take it. */
    fprintf(f, "%-32s %-9s %-9s %s\n", "outputs", "list", "-",
            "Where batches go (default: stdout, json); the keys by type:");
    for (size_t i = 0; i < outputs_count; i++) {
        const struct conf_section *s = outputs_table[i]->conf;
        for (size_t k = 0; k < s->nfields; k++) {
            const struct conf_field *fl = &s->fields[k];
            char prefix[128];
            size_t off = 0, ntypes = 0;
            bool earlier = false;
            for (size_t j = 0; j < outputs_count; j++) {
                if (conf_field_find(outputs_table[j]->conf, fl->key) == NULL) {
                    continue;
                }
                earlier = earlier || j < i;
                ntypes++;
                int w = snprintf(prefix + off, sizeof(prefix) - off, "%s%s", off > 0 ? ", " : "",
                                 outputs_table[j]->name);
                off = w > 0 && (size_t)w < sizeof(prefix) - off ? off + (size_t)w : off;
            }
            if (earlier) {
                continue; /* printed with the first type that has it */
            }
            snprintf(prefix + off, sizeof(prefix) - off, ": ");
            conf_reference_field(f, fl, 2, ntypes == outputs_count ? "" : prefix);
        }
    }
    for (size_t i = 0; i < inputs_count; i++) {
        fprintf(f, "%-32s %-9s %-9s type %s: %s\n", "inputs", "list", "-", inputs_table[i]->name,
                inputs_table[i]->desc);
        conf_reference(f, inputs_table[i]->conf, 2);
    }
}
