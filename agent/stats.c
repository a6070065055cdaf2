/*
 * Self metrics registry and its Prometheus text rendering. Names are prefixed pollster_ except
 * the process_* family, which follows the Prometheus client library conventions so standard
 * dashboards pick them up.
 */
#include "build-config.h"

#include "stats.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static const double duration_bounds[STATS_DURATION_BUCKETS - 1] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static struct stats_job *jobs;

/* One SD item's refreshes: per (job, mechanism). */
struct stats_sd {
    char *job;  /* owned */
    char *mech; /* owned */
    uint64_t ok, failed;
    struct stats_sd *next;
};
static struct stats_sd *sds;
static int64_t start_wall_ms;
static bool reload_ok = true;
static int64_t reload_ok_ms; /* last successful load (the start counts as one) */

struct stats_job *
stats_job_get(const char *job)
{
    struct stats_job **pp = &jobs;

    if (start_wall_ms == 0) {
        start_wall_ms = clock_wall_ms();
    }
    /* Kept sorted by name so /metrics output is stable. */
    while (*pp != NULL) {
        int c = strcmp((*pp)->job, job);
        if (c == 0) {
            return *pp;
        }
        if (c > 0) {
            break;
        }
        pp = &(*pp)->next;
    }
    struct stats_job *sj = calloc(1, sizeof(*sj));
    if (sj == NULL || (sj->job = strdup(job)) == NULL) {
        free(sj);
        return NULL;
    }
    sj->next = *pp;
    *pp = sj;
    return sj;
}

void
stats_record_lag(struct stats_job *sj, double lag_s)
{
    if (sj == NULL) {
        return;
    }
    if (lag_s < 0) {
        lag_s = 0;
    }
    sj->lag_sum += lag_s;
    sj->lag_count++;
    if (lag_s > sj->lag_max) {
        sj->lag_max = lag_s;
    }
}

void
stats_record_run(struct stats_job *sj, const struct batch *b)
{
    size_t i;

    if (sj == NULL) {
        return;
    }
    if (b->ok) {
        sj->runs_ok++;
    }
    else {
        sj->runs_failed++;
        sj->failures[b->reason < REASON__COUNT ? b->reason : REASON_INTERNAL]++;
    }
    sj->samples += b->nforwarded + b->nsamples;
    sj->duration_sum += b->duration_s;
    for (i = 0; i < STATS_DURATION_BUCKETS - 1 && b->duration_s > duration_bounds[i]; i++) {
    }
    sj->duration_buckets[i]++;
}

void
stats_set_reload(bool ok)
{
    reload_ok = ok;
    if (ok) {
        reload_ok_ms = clock_wall_ms();
    }
}

void
stats_free_all(void)
{
    while (jobs != NULL) {
        struct stats_job *next = jobs->next;
        free(jobs->job);
        free(jobs);
        jobs = next;
    }
    while (sds != NULL) {
        struct stats_sd *next = sds->next;
        free(sds->job);
        free(sds->mech);
        free(sds);
        sds = next;
    }
}

void
stats_record_sd(const char *job, const char *mech, bool ok)
{
    struct stats_sd *e = sds;

    while (e != NULL && (strcmp(e->job, job) != 0 || strcmp(e->mech, mech) != 0)) {
        e = e->next;
    }
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || (e->job = strdup(job)) == NULL || (e->mech = strdup(mech)) == NULL) {
            if (e != NULL) {
                free(e->job);
                free(e);
            }
            return;
        }
        e->next = sds;
        sds = e;
    }
    if (ok) {
        e->ok++;
    }
    else {
        e->failed++;
    }
}

uint64_t
stats_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;

    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &size, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

double
stats_cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Job names come from users: escape them as Prometheus label values. */
static void
put_label_value(struct strbuf *sb, const char *s)
{
    strbuf_putc(sb, '"');
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"') {
            strbuf_putc(sb, '\\');
            strbuf_putc(sb, *s);
        }
        else if (*s == '\n') {
            strbuf_puts(sb, "\\n");
        }
        else {
            strbuf_putc(sb, *s);
        }
    }
    strbuf_putc(sb, '"');
}

static void
header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
stats_clear_targets(void)
{
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        j->targets_set = false;
    }
}

void
stats_set_targets(const char *job, uint64_t seen, uint64_t owned)
{
    struct stats_job *sj = stats_job_get(job);

    if (sj != NULL) {
        sj->targets_set = true;
        sj->targets_seen = seen;
        sj->targets_owned = owned;
    }
}

/* A gauge per job of the configuration in force (targets_set), at @offset in struct stats_job. */
static void
per_job_target_gauge(struct strbuf *sb, const char *name, const char *help, size_t offset)
{
    header(sb, name, "gauge", help);
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        if (j->targets_set) {
            strbuf_printf(sb, "%s{job=", name);
            put_label_value(sb, j->job);
            strbuf_printf(sb, "} %" PRIu64 "\n", *(const uint64_t *)((const char *)j + offset));
        }
    }
}

static void
per_job_counter(struct strbuf *sb, const char *name, const char *help, size_t offset)
{
    header(sb, name, "counter", help);
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        strbuf_printf(sb, "%s{job=", name);
        put_label_value(sb, j->job);
        strbuf_printf(sb, "} %" PRIu64 "\n", *(const uint64_t *)((const char *)j + offset));
    }
}

void
stats_render(struct strbuf *sb, unsigned in_flight)
{
    if (start_wall_ms == 0) {
        start_wall_ms = clock_wall_ms();
    }
    if (reload_ok_ms == 0) {
        reload_ok_ms = start_wall_ms;
    }
    header(sb, "pollster_config_last_reload_successful", "gauge",
           "Whether the last configuration reload attempt was successful.");
    strbuf_printf(sb, "pollster_config_last_reload_successful %d\n", reload_ok ? 1 : 0);
    header(sb, "pollster_config_last_reload_success_timestamp_seconds", "gauge",
           "Timestamp of the last successful configuration load.");
    strbuf_printf(sb, "pollster_config_last_reload_success_timestamp_seconds %.3f\n",
                  (double)reload_ok_ms / 1000.0);
    header(sb, "pollster_build_info", "gauge", "pollster version.");
    strbuf_printf(sb, "pollster_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);

    header(sb, "pollster_runs_total", "counter", "Collection runs by job and result.");
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        strbuf_puts(sb, "pollster_runs_total{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, ",result=\"ok\"} %" PRIu64 "\n", j->runs_ok);
        strbuf_puts(sb, "pollster_runs_total{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, ",result=\"failed\"} %" PRIu64 "\n", j->runs_failed);
    }

    header(sb, "pollster_collect_failures_total", "counter", "Failed runs by job and reason.");
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        for (int r = 1; r < REASON__COUNT; r++) {
            strbuf_puts(sb, "pollster_collect_failures_total{job=");
            put_label_value(sb, j->job);
            strbuf_printf(sb, ",reason=\"%s\"} %" PRIu64 "\n", reason_name((enum reason)r),
                          j->failures[r]);
        }
    }

    per_job_counter(sb, "pollster_skipped_overlaps_total",
                    "Ticks skipped because the previous run of the target was still in flight.",
                    offsetof(struct stats_job, skipped_overlap));
    per_job_counter(sb, "pollster_skipped_late_total",
                    "Ticks missed because the event loop was late by a whole interval or more.",
                    offsetof(struct stats_job, skipped_late));
    per_job_counter(sb, "pollster_samples_total", "Samples collected, synthetic ones included.",
                    offsetof(struct stats_job, samples));
    per_job_target_gauge(sb, "pollster_targets_seen",
                         "Targets after relabeling, before the shard filter (global.shard).",
                         offsetof(struct stats_job, targets_seen));
    per_job_target_gauge(sb, "pollster_targets_owned",
                         "Targets this agent collects: its shard's share of those seen.",
                         offsetof(struct stats_job, targets_owned));
    per_job_counter(sb, "pollster_connections_opened_total",
                    "Connections opened by the job's scrapes (kept alive between scrapes).",
                    offsetof(struct stats_job, connections));

    header(sb, "pollster_run_duration_seconds", "histogram", "Duration of collection runs.");
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        uint64_t cum = 0;
        for (size_t i = 0; i < STATS_DURATION_BUCKETS; i++) {
            cum += j->duration_buckets[i];
            strbuf_puts(sb, "pollster_run_duration_seconds_bucket{job=");
            put_label_value(sb, j->job);
            if (i < STATS_DURATION_BUCKETS - 1) {
                strbuf_printf(sb, ",le=\"%g\"} %" PRIu64 "\n", duration_bounds[i], cum);
            }
            else {
                strbuf_printf(sb, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
            }
        }
        strbuf_puts(sb, "pollster_run_duration_seconds_sum{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, "} %.9g\n", j->duration_sum);
        strbuf_puts(sb, "pollster_run_duration_seconds_count{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, "} %" PRIu64 "\n", cum);
    }

    header(sb, "pollster_schedule_lag_seconds", "summary",
           "How late runs started after their scheduled tick.");
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        strbuf_puts(sb, "pollster_schedule_lag_seconds_sum{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, "} %.6f\n", j->lag_sum);
        strbuf_puts(sb, "pollster_schedule_lag_seconds_count{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, "} %" PRIu64 "\n", j->lag_count);
    }
    header(sb, "pollster_schedule_lag_max_seconds", "gauge",
           "The latest a run has started after its scheduled tick.");
    for (struct stats_job *j = jobs; j != NULL; j = j->next) {
        strbuf_puts(sb, "pollster_schedule_lag_max_seconds{job=");
        put_label_value(sb, j->job);
        strbuf_printf(sb, "} %.6f\n", j->lag_max);
    }

    header(sb, "pollster_sd_refreshes_total", "counter",
           "Service discovery refreshes (http_sd, dns_sd) by job and mechanism.");
    for (const struct stats_sd *e = sds; e != NULL; e = e->next) {
        strbuf_puts(sb, "pollster_sd_refreshes_total{job=");
        put_label_value(sb, e->job);
        strbuf_printf(sb, ",mechanism=\"%s\"} %" PRIu64 "\n", e->mech, e->ok + e->failed);
    }
    header(sb, "pollster_sd_refresh_failures_total", "counter",
           "Failed service discovery refreshes (the last good list stays) by job and mechanism.");
    for (const struct stats_sd *e = sds; e != NULL; e = e->next) {
        strbuf_puts(sb, "pollster_sd_refresh_failures_total{job=");
        put_label_value(sb, e->job);
        strbuf_printf(sb, ",mechanism=\"%s\"} %" PRIu64 "\n", e->mech, e->failed);
    }

    header(sb, "pollster_transfers_in_flight", "gauge", "HTTP transfers in flight now.");
    strbuf_printf(sb, "pollster_transfers_in_flight %u\n", in_flight);
    header(sb, "pollster_log_lines_suppressed_total", "counter",
           "Log lines suppressed by per-target rate limiting.");
    strbuf_printf(sb, "pollster_log_lines_suppressed_total %" PRIu64 "\n", log_suppressed_total());

    header(sb, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent.");
    strbuf_printf(sb, "process_cpu_seconds_total %.6f\n", stats_cpu_seconds());
    header(sb, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    strbuf_printf(sb, "process_resident_memory_bytes %" PRIu64 "\n", stats_rss_bytes());
    header(sb, "process_start_time_seconds", "gauge", "Start time of the process since epoch.");
    strbuf_printf(sb, "process_start_time_seconds %.3f\n", (double)start_wall_ms / 1000.0);
}
