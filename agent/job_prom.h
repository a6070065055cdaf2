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

#include "job.h"
#include "relabel.h"

struct prom_opts {
    bool honor_labels;
    bool honor_timestamps;
    uint64_t sample_limit;      /* 0 = none */
    uint64_t label_limit;       /* 0 = none */
    int64_t timeout_ms;         /* sent as X-Prometheus-Scrape-Timeout-Seconds */
    struct relabel_rule *rules; /* ownership passes to the state, also on failure */
    size_t nrules;
};

extern const struct job_kind job_prom;

/* The per-target state; NULL when out of memory (the rules are released then too). */
void *job_prom_new(const struct prom_opts *opts);

#endif
