/*
 * Targets in the config (see conf_targets.c): what a job kind's check hook calls to turn
 * static_configs, file_sd_configs or URLs into the targets of its job.
 */
#ifndef POLLSTER_CONF_TARGETS_H
#define POLLSTER_CONF_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* What a target group's labels can override: the job's scheme, metrics path and params. */
struct conf_targets_defaults {
    const char *scheme;                /* "http" or "https" */
    const char *metrics_path;          /* starts with '/' */
    const struct config_param *params; /* sorted by name */
    size_t nparams;
};

/* The sections of a static_configs item and of a file_sd_configs item (for the reference). */
extern const struct conf_section conf_targets_group_section;
extern const struct conf_section conf_targets_file_sd_section;

/*
 * Maps the target group @gnode (a static_configs item or a group in a file_sd file) and adds its
 * targets to @job, as Prometheus resolves them with @d.
 */
void conf_targets_group_load(struct conf_ctx *x, struct config_job *job,
                             const struct conf_targets_defaults *d, const struct conf_node *gnode,
                             const char *path);
/*
 * Adds the targets of @root, a sequence of target groups (the root of a file_sd file or of an SD
 * cache file), to @job; anything else is an error at @root.
 */
void conf_targets_groups_load(struct conf_ctx *x, struct config_job *job,
                              const struct conf_targets_defaults *d, const struct conf_node *root);
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
 * neither "__" labels, nor "instance", nor empty. A target identical to one already there is
 * dropped, as Prometheus does. 0 or -ENOMEM.
 */
int conf_targets_add(struct config_job *job, const char *url, const char *instance,
                     const struct label *labels, size_t nlabels);
/* Frees what @t owns. */
void conf_targets_release(struct config_target *t);

#endif
