/*
 * Service discovery on the loop: one refresher per http_sd_configs / dns_sd_configs item of the
 * running config, each on its own refresh_interval. A good answer is stored in the SD cache
 * (sdcache.h); when it differs from the cached list, the owner is told (from a deferred event,
 * never from inside a fetch) and reloads the config, which reads the cached lists like file_sd
 * files: targets that SD adds or removes join or leave the engine as in any reload, unchanged ones
 * keep their schedule. A failed refresh keeps the last good list, is counted
 * (pollster_sd_refresh_failures_total{job,mechanism}) and logged with the job, the URL (redacted)
 * or the names, and the cause.
 */
#ifndef POLLSTER_SDRUN_H
#define POLLSTER_SDRUN_H

#include <stddef.h>

struct config;
struct loop;
struct sdrun;

/* A cached list changed: reload the config. */
typedef void sdrun_changed_fn(void *arg);

/* NULL when out of memory. @l is borrowed. */
struct sdrun *sdrun_new(struct loop *l, sdrun_changed_fn *changed, void *arg);
/* Stops every refresher (fetches in flight are cancelled). Accepts NULL. */
void sdrun_free(struct sdrun *r);

/*
 * Makes the refreshers match the SD items of @c (only job @only_job's when not NULL): an item
 * whose settings are unchanged keeps its refresher and schedule, a new or changed one refreshes
 * at once, the others stop. Call after every successful (re)load. Returns the number of items.
 */
size_t sdrun_sync(struct sdrun *r, const struct config *c, const char *only_job);

/*
 * --once: refreshes every SD item of @c now and runs the loop until each has answered (every
 * fetch is bounded by its timeout). The changed callback is not called: the caller reloads.
 * Returns the number of failed refreshes.
 */
size_t sdrun_once(struct sdrun *r, const struct config *c, const char *only_job);

#endif
