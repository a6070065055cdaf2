/*
 * The registry of job kinds: one const row per kind, in kinds.c, the only place that lists them.
 * A row ties a kind's config section (its list at the top of the config file and the keys of one
 * job) to its runtime interface (struct job_kind) and to what turns one configured job into
 * per-target state. The config core, setup and the command line find kinds here, by name.
 */
#ifndef POLLSTER_KINDS_H
#define POLLSTER_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "job.h"
#include "httpc.h"
#include "strbuf.h"

struct conf_section;

struct kind {
    const char *name;         /* "prometheus": the job_kind name, --kind, the summary */
    const char *section;      /* "scrape_configs": its list at the top of the config */
    const char *name_key;     /* "job_name": the key of the job's name */
    const char *interval_key; /* "scrape_interval" */
    const char *timeout_key;  /* "scrape_timeout" */
    const char *desc;         /* of the list, for the reference text */
    /*
     * The keys of one job: offsets into struct config_job, CONF_F_OPTS ones into the kind's opts
     * struct (opts_off = offsetof(struct config_job, opts)). Its check hook resolves the job's
     * targets; the core then resolves name, schedule, body limit and HTTP client settings.
     */
    const struct conf_section *conf;
    const struct job_kind *ops; /* the runtime interface */
    /*
     * The per-target state of a target of @job (freed by ops->free), or NULL with the cause in
     * @err. Called by setup for every target, at start-up and reload.
     */
    void *(*state_new)(const struct config_job *job, char *err, size_t errlen);
    /*
     * Appends every kind setting that shapes a run to @sb (a reload keeps a target whose identity
     * did not change). Never printed: may hold secrets.
     */
    void (*identity)(const struct config_job *job, struct strbuf *sb);
    /*
     * Optional: kind settings of the HTTP request (HEAD, no compression) in @h, and whether each
     * run needs a fresh connection.
     */
    void (*client)(const struct config_job *job, struct httpc_opts *h, bool *fresh_connect);
};

/* The kinds, in the order the reference text lists them; kinds_count of them. */
extern const struct kind *const kinds_table[];
extern const size_t kinds_count;

/* The kind named @name ("prometheus", "probe", "json"), or NULL. */
const struct kind *kinds_find(const char *name);
/* The kind whose list is the top-level key @section ("scrape_configs", ...), or NULL. */
const struct kind *kinds_find_section(const char *section);
/* Appends "prometheus, probe, json" to @sb (for messages). */
void kinds_names(struct strbuf *sb);

#endif
