/*
 * The status pages for people; see status_page.h. Every dynamic string goes through html_escape();
 * the layout is one table per subject with a caption and header cells, so screen readers and
 * narrow screens (the tables scroll sideways inside their box) both work.
 */
#include "build-config.h"

#include "status_page.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_targets.h"
#include "clock.h"
#include "html.h"
#include "redact.h"
#include "stats.h"
#include "status_table.h"
#include "status_version.h"
#include "units.h"

#define PAGE_REFRESH_MAX_S 3600

static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "color:#1b1f24;background:#f6f7f9}"
    "header{background:#1f2a37;color:#fff;padding:.6em 1em}"
    "header h1{font-size:1.15em;margin:0 0 .3em}"
    "nav{display:flex;flex-wrap:wrap;gap:.2em 1.1em}"
    "nav a{color:#cfe3ff;text-decoration:none}"
    "nav a:hover,nav a:focus{text-decoration:underline}"
    "main{padding:0 1em 2em;max-width:80em}"
    "h2{font-size:1.05em;margin:1.4em 0 .5em}"
    ".box{overflow-x:auto;background:#fff;border:1px solid #d8dde3;border-radius:4px}"
    "table{border-collapse:collapse;width:100%}"
    "caption{text-align:left;font-weight:600;padding:.5em .6em}"
    "th,td{padding:.35em .6em;text-align:left;vertical-align:top;border-top:1px solid #e6e9ed}"
    "thead th{background:#eef1f4;font-weight:600;white-space:nowrap}"
    "tbody th[scope=rowgroup]{background:#f3f5f7}"
    "td.url{word-break:break-all;min-width:10em}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".up{color:#116329;font-weight:600}.down{color:#b42318;font-weight:600}"
    ".unknown{color:#6b7280;font-weight:600}"
    ".err{color:#b42318;word-break:break-word}"
    ".muted{color:#6b7280}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0;padding:.6em}"
    "dt{font-weight:600}dd{margin:0;word-break:break-word}"
    "pre{margin:0;padding:.6em;overflow-x:auto;font-size:13px}"
    "svg{vertical-align:middle}"
    ".sum{font-size:1.05em;margin:.8em 0}"
    "@media (max-width:40em){body{font-size:14px}th,td{padding:.3em .4em}}";

/* "2026-12-07 04:50:01 UTC" into @buf; "never" for 0. */
static const char *
fmt_time(int64_t ms, char *buf, size_t len)
{
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);

    if (ms <= 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    gmtime_r(&secs, &tm);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

/* "3s ago", "2m5s ago": the age of @ms at @now, whole seconds. */
static const char *
fmt_age(int64_t ms, int64_t now, char *buf, size_t len)
{
    char d[64];
    int64_t age = now - ms;

    if (ms <= 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    age = age < 1000 ? 0 : age - age % 1000;
    snprintf(buf, len, "%s ago", age < 1000 ? "<1s" : units_format_duration(age, d, sizeof(d)));
    return buf;
}

/* 1536 -> "1.5 KiB" */
static const char *
fmt_bytes(uint64_t b, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
    return buf;
}

static const char *
health_word(enum engine_health h)
{
    return h == ENGINE_HEALTH_UP ? "up" : h == ENGINE_HEALTH_DOWN ? "down" : "unknown";
}

/* The page's head, header and navigation; @refresh_s 0 = no auto-refresh. */
static void
page_open(struct strbuf *sb, const char *title, unsigned refresh_s)
{
    strbuf_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    if (refresh_s > 0) {
        strbuf_printf(sb, "<meta http-equiv=\"refresh\" content=\"%u\">", refresh_s);
    }
    strbuf_puts(sb, "<title>");
    html_escapef(sb, "%s - pollster", title);
    strbuf_printf(sb, "</title><style>%s</style></head><body><header><h1>pollster: ", page_css);
    html_escape(sb, title);
    strbuf_puts(sb, "</h1><nav aria-label=\"pages\"><a href=\"/\">Overview</a>"
                    "<a href=\"/targets\">Targets</a><a href=\"/outputs\">Outputs</a>"
                    "<a href=\"/config\">Config</a><a href=\"/metrics\">Metrics</a>"
                    "<a href=\"/api/v1/targets\">API</a></nav></header><main>");
}

static void
page_close(struct strbuf *sb, unsigned refresh_s)
{
    if (refresh_s > 0) {
        strbuf_printf(sb, "<p class=\"muted\">Refreshes every %us. <a href=\"?\">Stop</a></p>",
                      refresh_s);
    }
    else {
        strbuf_puts(sb, "<p class=\"muted\"><a href=\"?refresh=10\">Refresh every 10s</a></p>");
    }
    strbuf_puts(sb, "</main></body></html>\n");
}

/*
 * The duration history as an inline SVG bar chart: one bar per run, oldest left, failed runs in
 * red; its <title> says the same in words.
 */
static void
put_history(struct strbuf *sb, const struct engine_target_info *t)
{
    const double w = 3, gap = 1, h = 20;
    double max = 0;
    size_t failed = 0;
    char a[32];

    if (t->nhistory == 0) {
        strbuf_puts(sb, "<span class=\"muted\">no runs yet</span>");
        return;
    }
    for (size_t i = 0; i < t->nhistory; i++) {
        max = fmax(max, t->history_s[i]);
        failed += !t->history_ok[i];
    }
    strbuf_printf(sb,
                  "<svg role=\"img\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                  "xmlns=\"http://www.w3.org/2000/svg\"><title>",
                  (double)ENGINE_HISTORY * (w + gap), h, (double)ENGINE_HISTORY * (w + gap), h);
    html_escapef(sb, "last %zu runs, %zu failed, longest %s", t->nhistory, failed,
                 status_table_fmt_secs(max, a, sizeof(a)));
    strbuf_puts(sb, "</title>");
    for (size_t i = 0; i < t->nhistory; i++) {
        double bh = max > 0 ? fmax(1, t->history_s[i] / max * h) : 1;
        strbuf_printf(
            sb, "<rect x=\"%.0f\" y=\"%.2f\" width=\"%.0f\" height=\"%.2f\" fill=\"%s\"/>",
            (double)i * (w + gap), h - bh, w, bh, t->history_ok[i] ? "#3b82f6" : "#dc2626");
    }
    strbuf_puts(sb, "</svg>");
}

/* Counts of the targets by health. */
struct tally {
    size_t n, up, down, unknown;
};

static struct tally
count_targets(const struct engine *e)
{
    struct engine_target_info t;
    struct tally c = {0, 0, 0, 0};

    for (size_t i = 0; engine_target_info(e, i, &t) == 0; i++) {
        c.n++;
        c.up += t.health == ENGINE_HEALTH_UP;
        c.down += t.health == ENGINE_HEALTH_DOWN;
        c.unknown += t.health == ENGINE_HEALTH_UNKNOWN;
    }
    return c;
}

/* True when an earlier target than @i has @job (its group was written then). */
static bool
job_seen_before(const struct engine *e, size_t i, const char *job)
{
    struct engine_target_info t;

    for (size_t k = 0; k < i; k++) {
        if (engine_target_info(e, k, &t) == 0 && strcmp(t.job, job) == 0) {
            return true;
        }
    }
    return false;
}

static void
put_target_row(struct strbuf *sb, const struct engine_target_info *t, int64_t now, bool labels)
{
    char a[64], b[64];

    strbuf_puts(sb, "<tr><td class=\"url\">");
    html_escape(sb, t->display_url);
    if (labels && t->nlabels > 0) {
        strbuf_puts(sb, "<br><span class=\"muted\">");
        for (size_t k = 0; k < t->nlabels; k++) {
            html_escapef(sb, "%s%s=\"%s\"", k > 0 ? ", " : "", t->labels[k].name,
                         t->labels[k].value);
        }
        strbuf_puts(sb, "</span>");
    }
    strbuf_printf(sb, "</td><td class=\"%s\">%s</td><td>", health_word(t->health),
                  health_word(t->health));
    if (t->health == ENGINE_HEALTH_DOWN) {
        char why[BATCH_ERROR_MAX + 64];
        const char *r = reason_name(t->last_reason);
        strbuf_puts(sb, "<strong>");
        html_escape(sb, r);
        strbuf_puts(sb, "</strong>: <span class=\"err\">");
        html_escape(sb, status_table_why(t, why, sizeof(why)) + strlen(r) + 2);
        strbuf_puts(sb, "</span>");
    }
    else if (t->health == ENGINE_HEALTH_UNKNOWN) {
        strbuf_puts(sb, t->in_flight ? "<span class=\"muted\">first run in progress</span>"
                                     : "<span class=\"muted\">not collected yet</span>");
    }
    strbuf_puts(sb, "</td><td>");
    if (t->last_ts_ms > 0) {
        strbuf_printf(sb, "<time datetime=\"%lld\">", (long long)(t->last_ts_ms / 1000));
        html_escape(sb, fmt_time(t->last_ts_ms, a, sizeof(a)));
        strbuf_puts(sb, "</time><br><span class=\"muted\">");
        html_escape(sb, fmt_age(t->last_ts_ms, now, b, sizeof(b)));
        strbuf_puts(sb, "</span>");
    }
    else {
        strbuf_puts(sb, "<span class=\"muted\">never</span>");
    }
    strbuf_printf(sb, "</td><td class=\"num\">%s</td><td class=\"num\">%zu</td><td>",
                  t->last_ts_ms > 0 ? status_table_fmt_secs(t->last_duration_s, a, sizeof(a)) : "-",
                  t->last_samples);
    put_history(sb, t);
    strbuf_puts(sb, "</td><td>");
    html_escape(sb, t->kind);
    strbuf_puts(sb, "</td></tr>");
}

/* The targets table, one row group per job (in the order jobs first appear). */
static void
put_targets(struct strbuf *sb, const struct engine *e, bool labels)
{
    struct engine_target_info t, u;
    size_t n = engine_target_count(e);
    int64_t now = clock_wall_ms();

    struct tally c = count_targets(e);
    strbuf_printf(sb,
                  "<div class=\"box\"><table><caption>Targets: %zu (%zu up, %zu down, %zu "
                  "not collected yet)</caption>",
                  c.n, c.up, c.down, c.unknown);
    strbuf_puts(sb, "<thead><tr><th scope=\"col\">Target</th><th scope=\"col\">State</th>"
                    "<th scope=\"col\">Reason and error</th>"
                    "<th scope=\"col\">Last collection</th><th scope=\"col\">Duration</th>"
                    "<th scope=\"col\">Samples</th><th scope=\"col\">History</th>"
                    "<th scope=\"col\">Kind</th></tr></thead>");
    if (n == 0) {
        strbuf_puts(sb, "<tbody><tr><td colspan=\"8\" class=\"muted\">No targets.</td></tr>"
                        "</tbody>");
    }
    for (size_t i = 0; i < n; i++) {
        if (engine_target_info(e, i, &t) != 0 || job_seen_before(e, i, t.job)) {
            continue;
        }
        size_t up = 0, total = 0;
        for (size_t k = i; engine_target_info(e, k, &u) == 0; k++) {
            if (strcmp(u.job, t.job) == 0) {
                total++;
                up += u.health == ENGINE_HEALTH_UP;
            }
        }
        strbuf_puts(sb, "<tbody><tr><th scope=\"rowgroup\" colspan=\"8\" id=\"job-");
        html_escape(sb, t.job);
        strbuf_puts(sb, "\">Job ");
        html_escape(sb, t.job);
        strbuf_printf(sb, " <span class=\"muted\">(%zu/%zu up)</span></th></tr>", up, total);
        for (size_t k = i; engine_target_info(e, k, &u) == 0; k++) {
            if (strcmp(u.job, t.job) == 0) {
                put_target_row(sb, &u, now, labels);
            }
        }
        strbuf_puts(sb, "</tbody>");
    }
    strbuf_puts(sb, "</table></div>");
}

/* An output's state cell: ok, or failing since when and why. */
static void
put_output_state(struct strbuf *sb, const struct output_stats *st)
{
    char a[64], b[64];
    int64_t since = (int64_t)(st->failing_since * 1000);

    if (st->draining) {
        strbuf_puts(sb, "<td class=\"muted\">draining <span class=\"muted\">(removed by a "
                        "reload: sends what it holds, then goes)</span></td>");
        return;
    }
    if (!st->failing) {
        strbuf_puts(sb, "<td class=\"up\">ok</td>");
        return;
    }
    strbuf_puts(sb, "<td><span class=\"down\">failing</span>");
    if (since > 0) {
        strbuf_puts(sb, " since ");
        html_escape(sb, fmt_time(since, a, sizeof(a)));
        strbuf_puts(sb, " <span class=\"muted\">(");
        html_escape(sb, fmt_age(since, clock_wall_ms(), b, sizeof(b)));
        strbuf_puts(sb, ")</span>");
    }
    if (st->last_error[0] != '\0') {
        strbuf_puts(sb, ": <span class=\"err\">");
        html_escape(sb, st->last_error);
        strbuf_puts(sb, "</span>");
    }
    strbuf_puts(sb, "</td>");
}

/* The outputs table with their books. */
static void
put_outputs(struct strbuf *sb, const struct engine *e)
{
    size_t n = engine_output_count(e);
    char a[64], b[64];

    strbuf_printf(sb, "<div class=\"box\"><table><caption>Outputs: %zu</caption>", n);
    strbuf_puts(sb, "<thead><tr><th scope=\"col\">Output</th><th scope=\"col\">Format</th>"
                    "<th scope=\"col\">State</th><th scope=\"col\">Collected</th>"
                    "<th scope=\"col\">Delivered</th><th scope=\"col\">Dropped</th>"
                    "<th scope=\"col\">Pending</th><th scope=\"col\">Queue</th>"
                    "<th scope=\"col\">Spool</th><th scope=\"col\">Requests</th>"
                    "<th scope=\"col\">Last success</th></tr></thead><tbody>");
    if (n == 0) {
        strbuf_puts(sb, "<tr><td colspan=\"11\" class=\"muted\">No outputs.</td></tr>");
    }
    for (size_t i = 0; i < n; i++) {
        const char *name, *type, *format;
        struct output_stats st;
        if (engine_output_info(e, i, &name, &type, &format, &st) != 0) {
            break;
        }
        strbuf_puts(sb, "<tr><th scope=\"row\">");
        html_escape(sb, name);
        strbuf_puts(sb, " <span class=\"muted\">");
        html_escape(sb, type);
        strbuf_puts(sb, "</span></th><td>");
        html_escape(sb, format);
        strbuf_puts(sb, "</td>");
        if (st.type == NULL) {
            strbuf_puts(sb, "<td class=\"up\">writing</td><td colspan=\"8\" class=\"muted\">"
                            "writes as it goes; keeps no books</td></tr>");
            continue;
        }
        uint64_t dropped = 0;
        for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
            dropped += st.dropped[d];
        }
        put_output_state(sb, &st);
        strbuf_printf(sb, "<td class=\"num\">%llu</td>",
                      (unsigned long long)(st.collected + st.recovered));
        strbuf_printf(sb, "<td class=\"num\">%llu</td><td class=\"num\">%llu",
                      (unsigned long long)st.delivered, (unsigned long long)dropped);
        for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
            if (st.dropped[d] > 0) {
                strbuf_printf(sb, "<br><span class=\"err\">%s: %llu</span>",
                              output_drop_name((enum output_drop)d),
                              (unsigned long long)st.dropped[d]);
            }
        }
        strbuf_printf(sb, "</td><td class=\"num\">%llu</td><td class=\"num\">%s</td>",
                      (unsigned long long)st.pending_samples,
                      fmt_bytes(st.queue_bytes, a, sizeof(a)));
        strbuf_printf(sb,
                      "<td class=\"num\">%s</td><td class=\"num\">%llu ok, %llu failed, %llu "
                      "retries</td><td>",
                      fmt_bytes(st.spool_bytes, b, sizeof(b)), (unsigned long long)st.requests,
                      (unsigned long long)st.failed_requests, (unsigned long long)st.retries);
        html_escape(sb, fmt_time((int64_t)(st.last_success * 1000), a, sizeof(a)));
        strbuf_puts(sb, "</td></tr>");
    }
    strbuf_puts(sb, "</tbody></table></div>");
}

/* The configuration state: file, when it was loaded, the last reload and its result. */
static void
put_config_state(struct strbuf *sb, const struct status_page_view *v)
{
    char a[64];

    strbuf_puts(sb, "<div class=\"box\"><dl><dt>File</dt><dd>");
    if (v->config_path != NULL) {
        html_escape(sb, v->config_path);
    }
    else {
        strbuf_puts(sb, "<span class=\"muted\">none (targets from the command line)</span>");
    }
    strbuf_puts(sb, "</dd><dt>Loaded</dt><dd>");
    html_escape(sb, fmt_time(v->loaded_ms, a, sizeof(a)));
    strbuf_puts(sb, "</dd><dt>Last reload</dt><dd>");
    if (v->reload_ms == 0) {
        strbuf_puts(sb, "<span class=\"muted\">none since start</span>");
    }
    else {
        html_escape(sb, fmt_time(v->reload_ms, a, sizeof(a)));
        if (v->reload_ok) {
            strbuf_puts(sb, ": <span class=\"up\">successful</span>");
        }
        else {
            strbuf_puts(sb, ": <span class=\"down\">failed</span>, the previous configuration "
                            "stays in force: <span class=\"err\">");
            html_escape(sb, v->reload_error);
            strbuf_puts(sb, "</span>");
        }
    }
    strbuf_puts(sb, "</dd></dl></div>");
}

/* Build and runtime. */
static void
put_runtime(struct strbuf *sb, const struct status_page_view *v)
{
    char a[64], b[64];

    struct strbuf ver;
    strbuf_init(&ver);
    status_version_line(&ver);
    strbuf_puts(&ver, "\n");
    status_version_libraries(&ver);
    sb->oom |= ver.oom;
    char *nl = ver.data != NULL ? strchr(ver.data, '\n') : NULL;
    if (nl != NULL) {
        *nl = '\0';
        strbuf_puts(sb, "<div class=\"box\"><dl><dt>Version</dt><dd>");
        html_escape(sb, ver.data);
        strbuf_puts(sb, "</dd><dt>Libraries</dt><dd>");
        html_escape(sb, nl + 1);
    }
    strbuf_release(&ver);
    strbuf_puts(sb, "</dd><dt>Started</dt><dd>");
    html_escape(sb, fmt_time(v->started_ms, a, sizeof(a)));
    strbuf_puts(sb, " (");
    html_escape(sb, fmt_age(v->started_ms, clock_wall_ms(), b, sizeof(b)));
    strbuf_printf(sb, ")</dd><dt>Memory</dt><dd>%s resident, %.2fs CPU</dd></dl></div>",
                  fmt_bytes(stats_rss_bytes(), a, sizeof(a)), stats_cpu_seconds());
}

/* ?refresh=N, bounded; 0 when absent or not a number. */
static unsigned
query_refresh(const char *query)
{
    const char *p = strstr(query, "refresh=");

    if (p == NULL || (p != query && p[-1] != '&')) {
        return 0;
    }
    long v = strtol(p + 8, NULL, 10);
    return v <= 0 ? 0 : v > PAGE_REFRESH_MAX_S ? PAGE_REFRESH_MAX_S : (unsigned)v;
}

static void
render_index(struct strbuf *sb, const struct status_page_view *v, unsigned refresh)
{
    struct tally c = count_targets(v->engine);

    page_open(sb, "status", refresh);
    strbuf_printf(sb,
                  "<p class=\"sum\" role=\"status\">%zu targets: %zu up, %zu down, %zu not "
                  "collected yet. Configuration: %s.</p>",
                  c.n, c.up, c.down, c.unknown,
                  v->reload_ms == 0 || v->reload_ok ? "in force" : "last reload failed");
    strbuf_puts(sb, "<h2 id=\"targets\">Targets</h2>");
    put_targets(sb, v->engine, false);
    strbuf_puts(sb, "<h2 id=\"outputs\">Outputs</h2>");
    put_outputs(sb, v->engine);
    strbuf_puts(sb, "<h2 id=\"config\">Configuration</h2>");
    put_config_state(sb, v);
    strbuf_puts(sb, "<h2 id=\"runtime\">Build and runtime</h2>");
    put_runtime(sb, v);
    page_close(sb, refresh);
}

static void
render_config(struct strbuf *sb, const struct status_page_view *v, unsigned refresh)
{
    page_open(sb, "configuration", refresh);
    strbuf_puts(sb, "<h2>State</h2>");
    put_config_state(sb, v);
    strbuf_puts(sb, "<h2>Running configuration (secrets redacted)</h2><div class=\"box\"><pre>");
    if (v->config_text != NULL) {
        struct strbuf red;
        strbuf_init(&red);
        redact_yaml(&red, v->config_text, v->config_len);
        html_escape(sb, red.data);
        sb->oom |= red.oom;
        strbuf_release(&red);
    }
    else {
        strbuf_puts(sb, "<span class=\"muted\">no configuration file</span>");
    }
    strbuf_puts(sb, "</pre></div>");
    page_close(sb, refresh);
}

/* The status_page_fn; see status_page.h. */
const char *
status_page_cb(struct strbuf *sb, const char *path, const char *query, int *code, void *arg)
{
    static const char html[] = "text/html; charset=utf-8";
    const struct status_page_view *v = arg;
    unsigned refresh = query_refresh(query);

    if (strcmp(path, "/") == 0) {
        render_index(sb, v, refresh);
        return html;
    }
    if (strcmp(path, "/targets") == 0) {
        page_open(sb, "targets", refresh);
        put_targets(sb, v->engine, true);
        page_close(sb, refresh);
        return html;
    }
    if (strcmp(path, "/outputs") == 0) {
        page_open(sb, "outputs", refresh);
        put_outputs(sb, v->engine);
        page_close(sb, refresh);
        return html;
    }
    if (strcmp(path, "/config") == 0) {
        render_config(sb, v, refresh);
        return html;
    }
    if (strcmp(path, "/api/v1/targets") == 0) {
        char err[256];
        if (api_targets_render_query(sb, v->engine, query, err, sizeof(err)) != 0) {
            *code = 400;
            api_targets_render_error(sb, err);
        }
        return "application/json";
    }
    return NULL;
}

/* /metrics; see status_page.h. */
void
status_page_metrics_cb(struct strbuf *sb, void *arg)
{
    const struct status_page_view *v = arg;

    engine_render_metrics(sb, v->engine);
}
