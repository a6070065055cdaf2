/*
 * The status pages for people, served by the status server (status.c) through its page hook:
 * `/` (targets grouped by job, outputs with their books, config state, build and runtime),
 * `/targets`, `/outputs`, `/config` (the running configuration, secrets redacted) and
 * `/api/v1/targets` with Prometheus' filters. Server-rendered HTML and CSS, no script, no external
 * asset; `?refresh=N` adds an auto-refresh.
 */
#ifndef POLLSTER_STATUS_PAGE_H
#define POLLSTER_STATUS_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "strbuf.h"

/* What the pages show beyond the engine; its owner (run.c) keeps it up to date. */
struct status_page_view {
    struct engine *engine;   /* borrowed */
    const char *config_path; /* borrowed; NULL when targets came from the command line */
    const char *config_text; /* borrowed: the configuration in force, as loaded; may be NULL */
    size_t config_len;
    int64_t started_ms;     /* wall clock at start */
    int64_t loaded_ms;      /* when the configuration in force was loaded */
    int64_t reload_ms;      /* the last reload attempt; 0 = none yet */
    bool reload_ok;         /* its result */
    char reload_error[512]; /* why it failed ("" when it did not) */
};

/* The status_page_fn of status.h: @arg is a struct status_page_view. */
const char *status_page_cb(struct strbuf *sb, const char *path, const char *query, int *code,
                           void *arg);

/* The /metrics status_render_fn with a struct status_page_view as @arg. */
void status_page_metrics_cb(struct strbuf *sb, void *arg);

#endif
