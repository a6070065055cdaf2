/*
 * The prometheus job kind: scrapes a Prometheus text 0.0.4 or OpenMetrics 1.0 endpoint with the
 * streaming parser, fed chunk by chunk from the transfer, and applies Prometheus' scrape
 * semantics: honor_labels conflict handling (exported_ prefix), honor_timestamps, sample_limit,
 * label_limit and metric_relabel_configs. A failed scrape forwards no partial samples.
 */
#ifndef POLLSTER_JOB_PROM_H
#define POLLSTER_JOB_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"
#include "job.h"
#include "kinds.h"
#include "relabel.h"

struct prom_opts {
    bool honor_labels;
    bool honor_timestamps;
    uint64_t sample_limit; /* 0 = none */
    uint64_t label_limit;  /* 0 = none: labels of a sample, __name__ and target labels in */
    uint64_t label_name_length_limit;  /* 0 = none */
    uint64_t label_value_length_limit; /* 0 = none (the metric name is __name__'s value) */
    uint64_t line_size_limit;          /* longest line of the body; 0 = PROM_PARSE_LINE_MAX */
    const char *accept;                /* the Accept header value; NULL: PROM_PARSE_ACCEPT */
    int64_t timeout_ms;                /* sent as X-Prometheus-Scrape-Timeout-Seconds */
    struct relabel_rule *rules;        /* ownership passes to the state, also on failure */
    size_t nrules;
    uint64_t target_limit;        /* > 0: the job is over its target_limit, every run fails */
    size_t target_limit_ntargets; /* the job's targets (for the message) */
};

extern const struct job_kind job_prom;

/* The prometheus kind's row in the kinds registry (scrape_configs). */
extern const struct kind job_prom_kind;

enum job_prom_scheme { JOB_PROM_SCHEME_HTTP = 0, JOB_PROM_SCHEME_HTTPS };

/* A scrape job's own settings: config_job.opts of a prometheus job. */
struct job_prom_conf {
    char *metrics_path;          /* default "/metrics"; starts with '/' */
    enum job_prom_scheme scheme; /* default http */
    struct config_param *params; /* sorted by name */
    size_t nparams;
    bool honor_labels;
    bool honor_timestamps;            /* default true */
    bool enable_compression;          /* default true: Accept-Encoding gzip */
    int64_t sample_limit;             /* 0 = no limit */
    int64_t label_limit;              /* 0 = no limit */
    int64_t label_name_length_limit;  /* 0 = no limit */
    int64_t label_value_length_limit; /* 0 = no limit */
    uint64_t line_size_limit;         /* pollster: longest body line (default and max 1MiB) */
    char **scrape_protocols;          /* Prometheus names, in preference order; none: default */
    size_t nscrape_protocols;
    struct config_relabel *relabels; /* metric_relabel_configs, in order */
    size_t nrelabels;
    struct config_relabel *target_relabels; /* relabel_configs, in order */
    size_t ntarget_relabels;
    struct relabel_rule *target_rules; /* relabel_configs built (owned), for every SD */
    size_t ntarget_rules;
    int64_t target_limit;         /* 0 = no limit */
    int64_t keep_dropped_targets; /* 0 = keep every dropped target */
};

struct conf_targets_defaults;

/*
 * What the prometheus job @job gives each discovered target (conf_targets_from_labels), with
 * @interval_ms / @timeout_ms as its resolved schedule (a loaded job's interval_ms, timeout_ms).
 * Borrows from @job.
 */
void job_prom_target_defaults(const struct config_job *job, int64_t interval_ms, int64_t timeout_ms,
                              struct conf_targets_defaults *d);

/*
 * The per-target state; NULL when out of memory (the rules are released then too). @opts->accept
 * is copied.
 */
void *job_prom_new(const struct prom_opts *opts);

/*
 * Frees the process-wide free list of parsers (called at exit, and by tests, so valgrind sees
 * nothing left); jobs keep working afterwards. The second returns how many it holds.
 */
void job_prom_free_cache(void);
size_t job_prom_cached_parsers(void);

/*
 * The Accept header value for the scrape_protocols @protos (Prometheus names, validated) in
 * preference order, with Prometheus' q-values: the first gets q=0.6, each next one 0.1 less,
 * then "*" "/" "*" with the next one. Appended to @sb.
 */
struct strbuf;
void job_prom_accept(struct strbuf *sb, char *const *protos, size_t n);

#endif
