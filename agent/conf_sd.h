/*
 * http_sd_configs and dns_sd_configs in the config (see conf_sd.c): their sections, and the load
 * hook a job kind calls for each item. An item's targets come from its last good list in the SD
 * cache (sdcache.h), read through the target group code file_sd uses (conf_targets.h); sdrun.c
 * refreshes the lists on the loop.
 */
#ifndef POLLSTER_CONF_SD_H
#define POLLSTER_CONF_SD_H

#include "conf.h"
#include "conf_targets.h"

extern const struct conf_section conf_sd_http_section;
extern const struct conf_section conf_sd_dns_section;

/*
 * Maps the http_sd_configs (@mech CONFIG_SD_HTTP) or dns_sd_configs item @item of @job, keeps it
 * in @job->sds and adds the targets of its cached list (if any). A cached list that no longer
 * makes targets (say, an address the job's scheme cannot use) loses those targets with a warning
 * in the log, never the config: it is data, not configuration.
 */
void conf_sd_load(struct conf_ctx *x, struct config_job *job, const struct conf_targets_defaults *d,
                  enum config_sd_mech mech, const struct conf_node *item, const char *path);

/* "http" or "dns": the mechanism label of the SD self metrics and messages. */
const char *conf_sd_mech_name(enum config_sd_mech mech);

/*
 * Prints one --check-config summary line per SD item of @job: mechanism, URL (redacted) or
 * names, refresh interval, and where its last good list is kept.
 */
void conf_sd_summary(FILE *f, const struct config *c, const struct config_job *job);

/* Frees @n items of @sds and the array. */
void conf_sd_free(struct config_sd *sds, size_t n);

#endif
