/*
 * The agent's own metrics (self-observability): per job, runs by result, failures by reason,
 * skipped ticks, samples and a run-duration histogram; process CPU and memory. Rendered in the
 * Prometheus text format for the status server's /metrics. One process-wide registry: counters
 * survive config reloads, as Prometheus users expect of counters.
 */
#ifndef POLLSTER_STATS_H
#define POLLSTER_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"
#include "strbuf.h"

#define STATS_DURATION_BUCKETS 12

struct stats_job {
    char *job; /* owned */
    uint64_t runs_ok;
    uint64_t runs_failed;
    uint64_t failures[REASON__COUNT];
    uint64_t skipped_overlap;
    uint64_t skipped_late;
    uint64_t samples;
    uint64_t connections; /* TCP connections opened by the job's scrapes */
    double lag_sum;       /* schedule lag of started runs, seconds */
    uint64_t lag_count;
    double lag_max;
    double duration_sum;
    uint64_t duration_buckets[STATS_DURATION_BUCKETS]; /* cumulative at render time, not here */
    bool targets_set;       /* the job is in the configuration in force (stats_set_targets) */
    uint64_t targets_seen;  /* its targets before the shard filter */
    uint64_t targets_owned; /* those this agent collects */
    struct stats_job *next;
};

/* The entry for @job, created on first use. NULL only when out of memory. */
struct stats_job *stats_job_get(const char *job);
/* Records how late a run started after its scheduled tick. Accepts NULL. */
void stats_record_lag(struct stats_job *sj, double lag_s);
/* Records one finished run. Accepts a NULL @sj (out of memory earlier): does nothing. */
void stats_record_run(struct stats_job *sj, const struct batch *b);
/* Appends every self metric in Prometheus text format 0.0.4. */
void stats_render(struct strbuf *sb, unsigned in_flight);
/*
 * Records one refresh of an SD item of @job by mechanism @mech ("http", "dns"):
 * pollster_sd_refreshes_total and pollster_sd_refresh_failures_total.
 */
void stats_record_sd(const char *job, const char *mech, bool ok);
/*
 * The target counts of the configuration in force: stats_clear_targets() forgets those of the
 * previous one, then stats_set_targets() once per job: @seen targets after relabeling, @owned of
 * them this agent's shard (pollster_targets_seen / pollster_targets_owned). Out of memory, the
 * job is left out.
 */
void stats_clear_targets(void);
void stats_set_targets(const char *job, uint64_t seen, uint64_t owned);
/* Records the outcome of a configuration reload (pollster_config_last_reload_*). */
void stats_set_reload(bool ok);

/* Frees the registry (at exit). */
void stats_free_all(void);

/* Current resident set size in bytes (from /proc/self/statm), 0 if unknown. */
uint64_t stats_rss_bytes(void);
/* User + system CPU seconds used by the process so far. */
double stats_cpu_seconds(void);

#endif
