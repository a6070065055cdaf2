/*
 * Targets in the config (see conf_targets.c): what a job kind's check hook calls to turn
 * static_configs, file_sd_configs or URLs into the targets of its job.
 */
#ifndef POLLSTER_CONF_TARGETS_H
#define POLLSTER_CONF_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "relabel.h"

/*
 * What a scrape job gives each of its discovered targets (Prometheus' PopulateLabels): the
 * labels job, __scheme__, __metrics_path__, __scrape_interval__, __scrape_timeout__ when the
 * target does not set them, __param_<name> (the first value of each param), and the
 * relabel_configs rules run on the result.
 */
struct conf_targets_defaults {
    const char *job;                   /* the job's name */
    const char *scheme;                /* "http" or "https" */
    const char *metrics_path;          /* starts with '/' */
    const struct config_param *params; /* sorted by name */
    size_t nparams;
    int64_t interval_ms;              /* the job's (resolved: > 0) */
    int64_t timeout_ms;               /* the job's (resolved: > 0) */
    const struct relabel_rule *rules; /* relabel_configs (borrowed) */
    size_t nrules;
    uint64_t keep_dropped; /* keep_dropped_targets: at most this many in job->dropped; 0 = all */
};

/*
 * The one path from discovery to a target, for every SD mechanism: @discovered is one target's
 * label set as found (its __address__, its group's labels, the mechanism's __meta_* labels;
 * empty values count as unset). Adds the job's labels (@d), runs relabel_configs, then, as
 * Prometheus does: a dropped target, or one whose __address__ is now empty, is kept in
 * job->dropped with the labels it had before relabeling; otherwise the scheme's default port is
 * added to an address without one, __scrape_interval__ / __scrape_timeout__ give the target's
 * schedule, __scheme__ / __address__ / __metrics_path__ / __param_<name> its URL, "instance"
 * defaults to the address, and the labels not starting with "__" are its labels.
 * Returns 0 (added, or the same as a target already there), 1 (dropped), -EINVAL (invalid after
 * relabeling; why in @err, nothing added) or -ENOMEM. Needs no load in progress: an SD that
 * refreshes at run time calls it on a job of its own.
 */
int conf_targets_from_labels(struct config_job *job, const struct conf_targets_defaults *d,
                             const struct label *discovered, size_t n, char *err, size_t errlen);
/* Frees @job's dropped targets. */
void conf_targets_dropped_release(struct config_job *job);

/* The sections of a static_configs item and of a file_sd_configs item (for the reference). */
extern const struct conf_section conf_targets_group_section;
extern const struct conf_section conf_targets_file_sd_section;

/*
 * Maps the target group @gnode (a static_configs item or a group in a file_sd file) and adds its
 * targets to @job through conf_targets_from_labels(), each with the group's labels and the
 * @nmeta labels @meta (the mechanism's __meta_* labels).
 */
void conf_targets_group_load(struct conf_ctx *x, struct config_job *job,
                             const struct conf_targets_defaults *d, const struct conf_node *gnode,
                             const struct label *meta, size_t nmeta, const char *path);
/*
 * Adds the targets of @root, a sequence of target groups (the root of a file_sd file or of an SD
 * cache file), to @job, each with the @nmeta labels @meta; anything else is an error at @root.
 */
void conf_targets_groups_load(struct conf_ctx *x, struct config_job *job,
                              const struct conf_targets_defaults *d, const struct conf_node *root,
                              const struct label *meta, size_t nmeta);
/*
 * Maps the file_sd_configs item @item: keeps its patterns (resolved) and refresh interval in @job,
 * reads the files that match now and adds their targets.
 */
void conf_targets_file_sd_load(struct conf_ctx *x, struct config_job *job,
                               const struct conf_targets_defaults *d, const struct conf_node *item,
                               const char *path);
/*
 * Adds the target of the URL scalar @un (probes, json jobs). Its instance is the job's "instance"
 * label, else with @by_host the URL's host[:port], else the URL without its userinfo.
 */
void conf_targets_url(struct conf_ctx *x, struct config_job *job, const struct conf_node *un,
                      bool by_host, const char *path);

/*
 * Checks @url with curl_url(): an http or https URL with a host. Returns NULL, or why not. With
 * @hostport, also returns "host[:port]" (caller frees) there.
 */
const char *conf_targets_url_check(const char *url, char **hostport);
/* The value of label @name in @l, or NULL. */
const char *conf_targets_label_get(const struct label *l, size_t n, const char *name);
/*
 * Adds a target to @job: copies @url, @instance and those of @labels (sorted by name) that are
 * neither "__" labels, nor "instance", nor empty; @interval_ms / @timeout_ms are its own
 * schedule (0: the job's). A target identical to one already there is dropped, as Prometheus
 * does. 0 or -ENOMEM.
 */
int conf_targets_add(struct config_job *job, const char *url, const char *instance,
                     const struct label *labels, size_t nlabels, int64_t interval_ms,
                     int64_t timeout_ms);
/* Frees what @t owns. */
void conf_targets_release(struct config_target *t);

#endif
