/*
 * The /api/v1/targets renderer (see api_targets.h): one JSON document per request, written with
 * jsonw from the engine's target views and its dropped targets. The field order and formats are an
 * API: tests/check_cli.c, tests/check_status.c, tests/check_prom_relabel.c and tests/check_shard.c
 * read them.
 */
#include "build-config.h"

#include "api_targets.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dropped.h"
#include "jsonw.h"
#include "units.h"

/* "key":"value", or "key":null when @value is NULL. */
static void
put_key(struct strbuf *sb, const char *key, const char *value)
{
    strbuf_putc(sb, '"');
    strbuf_puts(sb, key);
    strbuf_puts(sb, "\":");
    jsonw_cstr_or_null(sb, value);
}

/* "key":{"name":"value",...} */
static void
put_labels(struct strbuf *sb, const char *key, const struct label *l, size_t n)
{
    strbuf_printf(sb, "\"%s\":{", key);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            strbuf_putc(sb, ',');
        }
        put_key(sb, l[i].name, l[i].value);
    }
    strbuf_putc(sb, '}');
}

/* RFC 3339 UTC with milliseconds, as Prometheus' API writes times; null when @ms <= 0. */
static void
put_time(struct strbuf *sb, const char *key, int64_t ms)
{
    char buf[96];
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);

    if (ms <= 0) {
        put_key(sb, key, NULL);
        return;
    }
    gmtime_r(&secs, &tm);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    put_key(sb, key, buf);
}

static const char *
health_name(enum engine_health h)
{
    switch (h) {
    case ENGINE_HEALTH_UP:
        return "up";
    case ENGINE_HEALTH_DOWN:
        return "down";
    case ENGINE_HEALTH_UNKNOWN:
        break;
    }
    return "unknown";
}

/* One target object. */
static void
put_target(struct strbuf *sb, const struct engine_target_info *t)
{
    strbuf_putc(sb, '{');
    put_key(sb, "job", t->job);
    strbuf_putc(sb, ',');
    put_key(sb, "scrapePool", t->job);
    strbuf_putc(sb, ',');
    put_key(sb, "kind", t->kind);
    strbuf_putc(sb, ',');
    put_key(sb, "scrapeUrl", t->display_url);
    strbuf_putc(sb, ',');
    put_key(sb, "instance", t->instance);
    strbuf_putc(sb, ',');
    put_labels(sb, "discoveredLabels", t->discovered, t->ndiscovered);
    strbuf_putc(sb, ',');
    put_labels(sb, "labels", t->labels, t->nlabels);
    strbuf_putc(sb, ',');
    put_key(sb, "health", health_name(t->health));
    strbuf_putc(sb, ',');
    put_time(sb, "lastScrape", t->last_ts_ms);
    strbuf_puts(sb, ",\"lastScrapeDuration\":");
    jsonw_double(sb, t->last_duration_s);
    strbuf_printf(sb, ",\"lastSamples\":%zu,", t->last_samples);
    put_key(sb, "reason", t->health == ENGINE_HEALTH_DOWN ? reason_name(t->last_reason) : NULL);
    strbuf_putc(sb, ',');
    put_key(sb, "lastError", t->last_error);
    strbuf_putc(sb, ',');
    put_key(sb, "lastWarning", t->last_warning);
    strbuf_putc(sb, ',');
    put_time(sb, "nextScrape", t->next_ts_ms);
    char iv[32], to[32];
    strbuf_printf(sb, ",\"scrapeInterval\":\"%s\",\"scrapeTimeout\":\"%s\"",
                  units_format_duration(t->interval_ms, iv, sizeof(iv)),
                  units_format_duration(t->timeout_ms, to, sizeof(to)));
    strbuf_printf(sb, ",\"inFlight\":%s,\"skippedOverlaps\":%llu,\"skippedLate\":%llu}",
                  t->in_flight ? "true" : "false", (unsigned long long)t->skipped_overlap,
                  (unsigned long long)t->skipped_late);
}

/* What ?state= and ?scrapePool= select. */
struct filter {
    bool active, dropped;
    const char *pool; /* NULL = every job */
};

static void
render(struct strbuf *sb, const struct engine *e, const struct filter *f)
{
    struct engine_target_info info;
    size_t n = engine_target_count(e);
    bool first = true;

    strbuf_puts(sb, "{\"status\":\"success\",\"data\":{\"activeTargets\":[");
    for (size_t i = 0; f->active && i < n; i++) {
        if (engine_target_info(e, i, &info) != 0) {
            break;
        }
        if (f->pool != NULL && strcmp(f->pool, info.job) != 0) {
            continue;
        }
        if (!first) {
            strbuf_putc(sb, ',');
        }
        first = false;
        put_target(sb, &info);
    }
    /* Prometheus' shape: {"discoveredLabels":{...}}, plus the job (scrapePool in later versions)
       and why: "relabeling", or "shard" for another agent's target */
    strbuf_puts(sb, "],\"droppedTargets\":[");
    const struct dropped_set *d = engine_dropped(e);
    first = true;
    for (size_t i = 0; f->dropped && i < d->n; i++) {
        const struct dropped_target *t = &d->v[i];
        if (f->pool != NULL && strcmp(f->pool, t->job) != 0) {
            continue;
        }
        strbuf_puts(sb, first ? "{" : ",{");
        first = false;
        put_key(sb, "job", t->job);
        strbuf_putc(sb, ',');
        put_key(sb, "scrapePool", t->job);
        strbuf_putc(sb, ',');
        put_labels(sb, "discoveredLabels", t->labels, t->nlabels);
        strbuf_putc(sb, ',');
        put_key(sb, "reason", t->reason); /* ours: "relabeling", or "shard" (another agent's) */
        strbuf_putc(sb, '}');
    }
    strbuf_puts(sb, "]}}");
}

/* Renders /api/v1/targets; see api_targets.h. */
void
api_targets_render(struct strbuf *sb, const struct engine *e)
{
    static const struct filter all = {.active = true, .dropped = true, .pool = NULL};

    render(sb, e, &all);
}

/* Renders /api/v1/targets?QUERY; see api_targets.h. */
int
api_targets_render_query(struct strbuf *sb, const struct engine *e, const char *query, char *err,
                         size_t errlen)
{
    struct evkeyvalq q;
    struct filter f = {.active = true, .dropped = true, .pool = NULL};
    int rc = 0;

    TAILQ_INIT(&q);
    if (query != NULL && *query != '\0' && evhttp_parse_query_str(query, &q) != 0) {
        snprintf(err, errlen, "cannot parse the query string");
        return -EINVAL;
    }
    const char *state = evhttp_find_header(&q, "state");
    if (state != NULL && *state != '\0' && strcasecmp(state, "any") != 0) {
        f.active = strcasecmp(state, "active") == 0;
        f.dropped = strcasecmp(state, "dropped") == 0;
        if (!f.active && !f.dropped) {
            snprintf(err, errlen, "state=%.64s: expected active, dropped or any", state);
            rc = -EINVAL;
        }
    }
    f.pool = evhttp_find_header(&q, "scrapePool");
    if (f.pool != NULL && *f.pool == '\0') {
        f.pool = NULL;
    }
    if (rc == 0) {
        render(sb, e, &f);
    }
    evhttp_clear_headers(&q);
    return rc;
}

/* The error document Prometheus' API answers bad parameters with. */
void
api_targets_render_error(struct strbuf *sb, const char *msg)
{
    strbuf_puts(sb, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":");
    jsonw_cstr_or_null(sb, msg);
    strbuf_puts(sb, "}");
}

/* The status_render_fn for GET /api/v1/targets; see api_targets.h. */
void
api_targets_render_cb(struct strbuf *sb, void *engine)
{
    api_targets_render(sb, engine);
}
