/*
 * Mode wiring: build the loop, the status server, the outputs and the targets a mode needs, run
 * it, tear everything down in a safe order, and say how it went as an exit code. The built-in
 * default (no targets given) serves the status endpoint and collects from its own /metrics, so a
 * new user sees real output with zero setup.
 */
#include "build-config.h"

#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "conf.h"
#include "config.h"
#include "daemon.h"
#include "enc_json.h"
#include "encoder.h"
#include "engine.h"
#include "job_json.h"
#include "job_prom.h"
#include "kinds.h"
#include "log.h"
#include "loop.h"
#include "out_file.h"
#include "out_stdout.h"
#include "probe_tcp.h"
#include "prom_parse.h"
#include "sample.h"
#include "setup.h"
#include "httpc.h"
#include "inputs.h"
#include "sdcache.h"
#include "sdrun.h"
#include "sdwatch.h"
#include "stats.h"
#include "status.h"
#include "status_page.h"
#include "status_table.h"
#include "strbuf.h"
#include "suggest.h"
#include "units.h"

void
run_opts_init(struct run_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = "probe";
    o->interval_ms = 15000;
    o->timeout_ms = 10000;
    o->body_limit = RUN_DEFAULT_BODY_LIMIT;
    o->shutdown_timeout_ms = RUN_DEFAULT_SHUTDOWN_TIMEOUT_MS;
}

/*
 * Checks that @url is an absolute http(s) URL with a host, and writes its "host[:port]" into
 * @instance (the Prometheus instance label). 0 or -EINVAL with @err set.
 */
static int
check_url(const char *url, char *instance, size_t instlen, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    /* Errors show the URL without its userinfo: a typo in the port must not print a password. */
    char *shown = httpc_redact_url_dup(url);
    int rc = -EINVAL;

    if (u == NULL || shown == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    if (strstr(url, "://") == NULL) {
        snprintf(err, errlen, "invalid URL \"%s\": no scheme: add http:// (http://%s)", shown,
                 shown);
        goto out;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        snprintf(err, errlen, "invalid URL \"%s\": %s", shown, curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "invalid URL \"%s\": only http and https are allowed", shown);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        snprintf(err, errlen, "invalid URL \"%s\": no host", shown);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
        snprintf(instance, instlen, "%s:%s", host, port);
    }
    else {
        snprintf(instance, instlen, "%s", host);
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    free(shown);
    return rc;
}

/*
 * The json kind's state from --metric NAME=PATH[@LABELS] options: LABELS (after the last '@',
 * when it is a comma-separated list of label names) names the wildcards of PATH.
 */
static void *
json_cli_state(const struct run_opts *o, char *err, size_t errlen)
{
    struct job_json_metric_opts m[RUN_MAX_METRICS];
    char *copies[RUN_MAX_METRICS];
    void *state = NULL;
    size_t n = 0;

    if (o->nmetrics == 0) {
        snprintf(err, errlen, "--kind json needs at least one --metric NAME=PATH");
        return NULL;
    }
    memset(m, 0, sizeof(m));
    for (; n < o->nmetrics; n++) {
        copies[n] = strdup(o->metrics[n]);
        if (copies[n] == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        char *eq = strchr(copies[n], '=');
        if (eq == NULL || eq == copies[n] || eq[1] == '\0') {
            snprintf(err, errlen, "--metric \"%s\": expected NAME=PATH[@LABELS]", o->metrics[n]);
            n++;
            goto out;
        }
        *eq = '\0';
        char *at = strrchr(eq + 1, '@');
        if (at != NULL && at[1] != '\0' &&
            strspn(at + 1, "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_,") == strlen(at + 1)) {
            *at = '\0';
            m[n].label = at + 1;
        }
        m[n].name = copies[n];
        m[n].path = eq + 1;
        m[n].type = SAMPLE_GAUGE;
    }
    state = job_json_new(m, n, err, errlen);
out:
    for (size_t i = 0; i < n; i++) {
        free(copies[i]);
    }
    return state;
}

/* The first line of @path without its line end, as a new string; NULL with the cause in @err. */
static char *
read_secret_file(const char *opt, const char *path, char *err, size_t errlen)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read %s: %s", opt, path, strerror(errno));
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    char *s = strdup(buf);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
    }
    return s;
}

/*
 * The HTTP settings of the command line's targets (--header, --basic-auth-user and
 * --password-file, --bearer-token-file, --ca-file, --insecure) into @h, owned: release it with
 * httpc_opts_release(). 0, or -EINVAL / -ENOMEM with the cause in @err.
 */
static int
cli_http_build(const struct run_opts *o, struct httpc_opts *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    h->follow_redirects = true;
    h->insecure_skip_verify = o->insecure_skip_verify;
    h->headers = calloc(o->nheaders + 1, sizeof(*h->headers));
    if (h->headers == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < o->nheaders; i++) {
        if ((h->headers[h->nheaders++] = strdup(o->headers[i])) == NULL) {
            goto oom;
        }
    }
    if (o->bearer_token_file != NULL) {
        char *token = read_secret_file("--bearer-token-file", o->bearer_token_file, err, errlen);
        if (token == NULL) {
            goto fail;
        }
        int rc = asprintf(&h->headers[h->nheaders], "Authorization: Bearer %s", token);
        free(token);
        if (rc < 0) {
            h->headers[h->nheaders] = NULL;
            goto oom;
        }
        h->nheaders++;
    }
    if (o->basic_auth_user != NULL) {
        h->username = strdup(o->basic_auth_user);
        h->password = o->password_file != NULL
                          ? read_secret_file("--password-file", o->password_file, err, errlen)
                          : strdup("");
        if (h->username == NULL || h->password == NULL) {
            if (o->password_file != NULL && h->password == NULL) {
                goto fail;
            }
            goto oom;
        }
    }
    if (o->ca_file != NULL) {
        if (access(o->ca_file, R_OK) != 0) {
            snprintf(err, errlen, "--ca-file: cannot read %s: %s", o->ca_file, strerror(errno));
            goto fail;
        }
        if ((h->ca_file = strdup(o->ca_file)) == NULL) {
            goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    httpc_opts_release(h);
    return -EINVAL;
}

/* Adds one ad-hoc target of the kind @o->kind (or the built-in default's self-scrape). */
static int
add_target(struct engine *e, const struct run_opts *o, const struct httpc_opts *http,
           const char *kind, const char *job, const char *url, int64_t interval_ms,
           int64_t timeout_ms)
{
    char err[512], instance[300];
    struct target_spec spec = {
        .job = job,
        .url = url,
        .interval_ms = interval_ms,
        .timeout_ms = timeout_ms,
        .body_limit = o->body_limit,
        .http = *http,
    };

    char *tcp_url = NULL;
    if (strcmp(kind, "tcp") == 0) { /* host:port, connected through an http(s) URL */
        const char *why = NULL;
        if ((tcp_url = probe_tcp_url_dup(url, false, &why)) == NULL) {
            fprintf(stderr, "pollster: --target: \"%s\": %s\n", url, why);
            return -EINVAL;
        }
        spec.url = url = tcp_url;
    }
    if (check_url(url, instance, sizeof(instance), err, sizeof(err)) != 0) {
        fprintf(stderr, "pollster: --target: %s\n", err);
        free(tcp_url);
        return -EINVAL;
    }
    if (tcp_url != NULL) {
        struct probe_tcp_opts to = {.preferred_ip = PROBE_CONN_IP6};
        spec.instance = instance;
        spec.kind = &probe_tcp;
        spec.kind_state = probe_tcp_new(&to, err, sizeof(err));
        spec.fresh_connect = true;
        spec.http.follow_redirects = false;
    }
    else if (strcmp(kind, "json") == 0) {
        spec.instance = instance;
        spec.kind = &job_json;
        spec.kind_state = json_cli_state(o, err, sizeof(err));
    }
    else if (strcmp(kind, "probe") == 0) {
        struct probe_opts po = o->probe;
        po.fail_if_body_matches = o->match[0] != NULL ? o->match : NULL;
        po.fail_if_body_not_matches = o->not_match[0] != NULL ? o->not_match : NULL;
        spec.kind = &job_probe;
        spec.kind_state = job_probe_new(&po, err, sizeof(err));
        spec.fresh_connect = true; /* time a full connection, as blackbox_exporter does */
    }
    else {
        struct prom_opts pr = {
            .honor_timestamps = true,
            .timeout_ms = timeout_ms,
        };
        spec.kind = &job_prom;
        spec.instance = instance;
        spec.kind_state = job_prom_new(&pr);
        snprintf(err, sizeof(err), "out of memory");
    }
    if (spec.kind_state == NULL) {
        fprintf(stderr, "pollster: %s\n", err);
        free(tcp_url);
        return -EINVAL;
    }
    int rc = engine_add_target(e, &spec, err, sizeof(err)); /* copies the URL */
    free(tcp_url);
    if (rc != 0) {
        fprintf(stderr, "pollster: %s\n", err);
        return -EINVAL;
    }
    return 0;
}

static void run_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A start-up failure, said once: on stderr as "pollster: ...", or in the log when the log is not
 * stderr (syslog after --daemonize, where stderr goes nowhere).
 */
static void
run_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_is_stderr()) {
        fprintf(stderr, "pollster: %s\n", msg);
    }
    else {
        log_err("run: %s", msg);
    }
}

/* What a reload needs: the file, the filter, and the config now in force (owned). */
struct run_ctx {
    const struct run_opts *opts;
    struct engine *engine;
    struct loop *loop;
    struct config *config;
    struct event *sd_timer; /* file_sd refresh */
    uint64_t sd_fp;         /* fingerprint of the file_sd files the running targets came from */
    struct sdrun *sd;       /* http_sd and dns_sd refreshers (daemon mode) */
    struct status_page_view page; /* what the status pages show beyond the engine */
    struct status *status;        /* owned: the status server (NULL in --once) */
    struct status *status_old;    /* owned: the server a reload moved away from, until retired */
    struct event *status_retire;  /* owned: frees status_old once its last reply went out */
    struct input *inputs; /* relays (daemon mode): opened after the outputs, closed before */
    size_t ninputs;
};

#define RUN_DIFF_LOG_MAX 50

/* One target in a reload's diff (borrowed from the engine while the reload is in progress). */
struct run_diff {
    const char *job, *instance, *url;
    const struct label *labels;
    size_t nlabels;
    int64_t interval_ms, timeout_ms;
};

static int
run_diff_cmp(const void *pa, const void *pb)
{
    const struct run_diff *a = pa, *b = pb;
    int c = strcmp(a->job, b->job);

    return c != 0 ? c : strcmp(a->instance, b->instance);
}

static const char *
run_label_value(const struct label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].name, name) == 0) {
            return l[i].value;
        }
    }
    return NULL;
}

/* ", label NAME OLD -> NEW" for each label that differs (at most 3, then ", ..."). */
static void
run_labels_diff(struct strbuf *sb, const struct run_diff *a, const struct run_diff *b)
{
    size_t shown = 0;

    for (size_t k = 0; k < a->nlabels + b->nlabels; k++) {
        const struct label *l = k < a->nlabels ? &a->labels[k] : &b->labels[k - a->nlabels];
        const char *va = run_label_value(a->labels, a->nlabels, l->name);
        const char *vb = run_label_value(b->labels, b->nlabels, l->name);
        if ((k >= a->nlabels && va != NULL) || (va != NULL && vb != NULL && strcmp(va, vb) == 0)) {
            continue; /* the same, or a name of both already seen among @a's */
        }
        if (++shown > 3) {
            strbuf_puts(sb, ", ...");
            return;
        }
        strbuf_printf(sb, ", label %s %s -> %s", l->name, va != NULL ? va : "(none)",
                      vb != NULL ? vb : "(none)");
    }
}

/* What differs between the old and the new target of one job/instance, into @buf. */
static const char *
run_diff_describe(const struct run_diff *a, const struct run_diff *b, char *buf, size_t len)
{
    struct strbuf sb;
    char x[32], y[32];

    strbuf_init(&sb);
    if (strcmp(a->url, b->url) != 0) {
        strbuf_printf(&sb, ", url %s -> %s", a->url, b->url);
    }
    if (a->interval_ms != b->interval_ms) {
        strbuf_printf(&sb, ", interval %s -> %s", units_format_duration(a->interval_ms, x, 32),
                      units_format_duration(b->interval_ms, y, 32));
    }
    if (a->timeout_ms != b->timeout_ms) {
        strbuf_printf(&sb, ", timeout %s -> %s", units_format_duration(a->timeout_ms, x, 32),
                      units_format_duration(b->timeout_ms, y, 32));
    }
    run_labels_diff(&sb, a, b);
    if (sb.len == 0 && !sb.oom) {
        strbuf_puts(&sb, ", other collection settings (client, auth, limits or the kind's)");
    }
    snprintf(buf, len, "%s", sb.oom || sb.len < 2 ? "its settings" : sb.data + 2);
    strbuf_release(&sb);
    return buf;
}

/*
 * Logs each target the reload in progress adds, removes or replaces because its settings changed,
 * saying which (at most RUN_DIFF_LOG_MAX lines of each). Call between setup_targets() and
 * engine_reload_end(), while the engine holds both the going and the coming targets. Returns the
 * number replaced (engine_reload_end counts each as one added and one removed).
 */
static size_t
run_reload_log_diff(struct run_ctx *ctx, const char *why)
{
    size_t n = engine_target_count(ctx->engine), nold = 0, nnew = 0;
    size_t added = 0, removed = 0, changed = 0;
    struct run_diff *old = calloc(n > 0 ? n : 1, sizeof(*old));
    struct run_diff *nu = calloc(n > 0 ? n : 1, sizeof(*nu));
    char what[512];

    for (size_t i = 0; old != NULL && nu != NULL && i < n; i++) {
        struct engine_target_info t;
        if (engine_target_info(ctx->engine, i, &t) != 0 || (!t.reload_going && !t.reload_coming)) {
            continue;
        }
        struct run_diff *d = t.reload_going ? &old[nold++] : &nu[nnew++];
        *d = (struct run_diff){t.job,     t.instance,    t.display_url, t.labels,
                               t.nlabels, t.interval_ms, t.timeout_ms};
    }
    if (old == NULL || nu == NULL) {
        log_info("config: %s: out of memory listing what changed", why);
        nold = nnew = 0;
    }
    qsort(old, nold, sizeof(*old), run_diff_cmp);
    qsort(nu, nnew, sizeof(*nu), run_diff_cmp);
    for (size_t i = 0, j = 0; i < nold || j < nnew;) {
        int c = i == nold ? 1 : j == nnew ? -1 : run_diff_cmp(&old[i], &nu[j]);
        if (c < 0 && ++removed <= RUN_DIFF_LOG_MAX) {
            log_info("config: %s: target removed: %s/%s", why, old[i].job, old[i].instance);
        }
        else if (c > 0 && ++added <= RUN_DIFF_LOG_MAX) {
            log_info("config: %s: target added: %s/%s", why, nu[j].job, nu[j].instance);
        }
        else if (c == 0 && ++changed <= RUN_DIFF_LOG_MAX) {
            log_info("config: %s: target changed: %s/%s: %s", why, nu[j].job, nu[j].instance,
                     run_diff_describe(&old[i], &nu[j], what, sizeof(what)));
        }
        i += c <= 0;
        j += c >= 0;
    }
    if (added > RUN_DIFF_LOG_MAX || removed > RUN_DIFF_LOG_MAX || changed > RUN_DIFF_LOG_MAX) {
        log_info("config: %s: %zu targets added, %zu removed and %zu changed in all", why, added,
                 removed, changed);
    }
    free(old);
    free(nu);
    return changed;
}

/* The status pages follow the configuration in force and the last reload's outcome. */
static void
page_note_reload(struct run_ctx *ctx, const char *why, bool ok, const char *err)
{
    if (strcmp(why, "reload") == 0) { /* not the SD refreshes: they re-read the same text */
        ctx->page.reload_ms = clock_wall_ms();
        ctx->page.reload_ok = ok;
        snprintf(ctx->page.reload_error, sizeof(ctx->page.reload_error), "%s", ok ? "" : err);
        if (ok) {
            ctx->page.loaded_ms = ctx->page.reload_ms;
        }
    }
    if (ok) {
        ctx->page.config_text = ctx->config->source;
        ctx->page.config_len = ctx->config->source_len;
    }
}

/* Logs every error of a failed load, one line each. */
static void
log_config_errors(const struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++) {
        log_err("config: %s", errs->v[i].text);
    }
    if (errs->dropped > 0) {
        log_err("config: %zu more errors not shown", errs->dropped);
    }
}

/* Logs every warning of a load (keys accepted but ignored), one line each. */
static void
log_config_warnings(const struct config_errors *errs)
{
    for (size_t i = 0; i < errs->nwarn; i++) {
        log_warn("config: %s", errs->warn[i].text);
    }
    if (errs->warn_dropped > 0) {
        log_warn("config: %zu more warnings not shown", errs->warn_dropped);
    }
}

static void sd_arm(struct run_ctx *ctx);
static status_reload_fn reload_hook;

static const struct status_hooks run_status_hooks = {
    .metrics = status_page_metrics_cb,
    .reload = reload_hook,
    .page = status_page_cb,
};

/* The server a reload moved away from has answered its last request (the reload's own). */
static void
status_retire_cb(evutil_socket_t fd, short what, void *arg)
{
    struct run_ctx *ctx = arg;

    (void)fd;
    (void)what;
    status_free(ctx->status_old);
    ctx->status_old = NULL;
}

/*
 * A reload with another status.listen: the new server is bound now (a failure refuses the
 * reload: 0 or -EINVAL with the cause in @err); run_status_move() switches to it.
 */
static int
run_status_open(struct run_ctx *ctx, const struct config *c, struct status **out, char *err,
                size_t errlen)
{
    char why[512];

    *out = NULL;
    if (ctx->status == NULL || ctx->opts->status_listen != NULL ||
        strcmp(ctx->config->status.listen, c->status.listen) == 0) {
        return 0;
    }
    *out = status_new(loop_base(ctx->loop), c->status.listen, &run_status_hooks, &ctx->page, why,
                      sizeof(why));
    if (*out == NULL) {
        snprintf(err, errlen, "status.listen: %s (the status server stays on %s)", why,
                 status_address(ctx->status));
        return -EINVAL;
    }
    return 0;
}

/* The status section's limits on @st (built-in defaults without a config). */
static void
run_status_limits(struct status *st, const struct config *c)
{
    struct status_limits lim = {.lifecycle = false,
                                .max_connections = STATUS_MAX_CONNECTIONS,
                                .request_timeout_ms = STATUS_REQUEST_TIMEOUT_MS};

    if (st == NULL) {
        return;
    }
    if (c != NULL) {
        lim.lifecycle = c->status.enable_lifecycle;
        lim.max_connections = (unsigned)c->status.max_connections;
        lim.request_timeout_ms = c->status.request_timeout_ms;
    }
    status_set_limits(st, &lim);
}

/* Serves from @next from now on; the old server answers what it is answering, then goes. */
static void
run_status_move(struct run_ctx *ctx, struct status *next)
{
    struct timeval tv = {.tv_sec = 1, .tv_usec = 0};

    if (next == NULL) {
        return;
    }
    log_info("config: status server moved from %s to %s", status_address(ctx->status),
             status_address(next));
    status_free(ctx->status_old);
    ctx->status_old = ctx->status;
    ctx->status = next;
    if (ctx->status_retire == NULL) {
        ctx->status_retire = evtimer_new(loop_base(ctx->loop), status_retire_cb, ctx);
    }
    if (ctx->status_retire == NULL || evtimer_add(ctx->status_retire, &tv) != 0) {
        status_retire_cb(-1, 0, ctx); /* no timer: at once (the reply may be cut short) */
    }
}

/*
 * Log level, format and target from the new config (unless --log-level or --log-format set them),
 * each change logged (in the old format: the line before the switch).
 */
static void
run_log_apply(struct run_ctx *ctx, const struct config *c)
{
    static const char *const words[] = {"error", "warn", "info", "debug"};
    static const char *const formats[] = {"text", "logfmt", "json"};

    if (!ctx->opts->log_level_set && c->log.level != ctx->config->log.level) {
        log_info("config: log level %s -> %s", words[ctx->config->log.level], words[c->log.level]);
        log_set_level(c->log.level);
    }
    if (!ctx->opts->log_format_set && c->log.format != ctx->config->log.format) {
        log_info("config: log format %s -> %s", formats[ctx->config->log.format],
                 formats[c->log.format]);
        log_set_format(c->log.format);
    }
    if (c->log.target != ctx->config->log.target && !ctx->opts->daemonize) {
        log_info("config: log target %s -> %s",
                 ctx->config->log.target == LOG_TARGET_SYSLOG ? "syslog" : "stderr",
                 c->log.target == LOG_TARGET_SYSLOG ? "syslog" : "stderr");
        log_set_target(c->log.target);
    }
}

struct run_outs;
static void run_outputs_undo(struct run_ctx *ctx, struct run_outs *ro);

/* A reload's outputs: opened (run_outputs_open, _handoff), then committed or undone. */
struct run_outs {
    bool active; /* the outputs change */
    struct setup_output_plan plan[ENGINE_MAX_OUTPUTS];
    struct engine_output_spec spec[ENGINE_MAX_OUTPUTS]; /* out.ops NULL: kept, or not open yet */
    bool stopped[ENGINE_MAX_OUTPUTS]; /* outputs of the old config closed for a hand-off */
    size_t n;
};

/*
 * The outputs the engine runs named @name (NULL: all), not those a reload removed that still
 * drain, nor one a refused reload could not reopen.
 */
static size_t
run_outputs_live(const struct engine *e, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < engine_output_count(e); i++) {
        const char *on, *type, *format;
        struct output_stats st;
        if (engine_output_info(e, i, &on, &type, &format, &st) == 0 && !st.draining &&
            (name == NULL || strcmp(on, name) == 0)) {
            n++;
        }
    }
    return n;
}

/*
 * Opens the outputs @c adds or changes, except those whose spool directory a running output
 * still locks (run_outputs_handoff). 0, or a negative errno with the cause in @err (nothing
 * left open).
 */
static int
run_outputs_open(struct run_ctx *ctx, const struct config *c, struct run_outs *ro, char *err,
                 size_t errlen)
{
    memset(ro, 0, sizeof(*ro));
    if (ctx->opts->format != NULL || ctx->opts->output_file != NULL ||
        (!setup_outputs_changed(ctx->config, c) &&
         run_outputs_live(ctx->engine, NULL) == c->noutputs)) {
        return 0; /* the command line's outputs stay, or nothing changed */
    }
    if (ctx->ninputs > 0) {
        snprintf(err, errlen,
                 "the outputs changed, but inputs relay records to them and acknowledge them by "
                 "each output's books: outputs are not replaced while inputs are configured "
                 "(nothing of the new file was applied)");
        return -EINVAL;
    }
    if (c->noutputs > ENGINE_MAX_OUTPUTS) {
        snprintf(err, errlen, "more than %d outputs", ENGINE_MAX_OUTPUTS);
        return -EINVAL;
    }
    ro->active = true;
    ro->n = c->noutputs;
    setup_outputs_plan(ctx->config, c, ro->plan);
    for (size_t i = 0; i < ro->n; i++) {
        struct setup_output_plan *p = &ro->plan[i];
        ro->spec[i] = (struct engine_output_spec){.name = p->co->name};
        if (p->change == SETUP_OUTPUT_KEEP && run_outputs_live(ctx->engine, p->co->name) == 0) {
            p->change = SETUP_OUTPUT_ADD; /* left out by a refused reload: opened again */
        }
        if (p->change == SETUP_OUTPUT_KEEP || p->after != NULL) {
            continue;
        }
        if (setup_output_open(p->co, ctx->loop, &ro->spec[i], err, errlen) != 0) {
            ro->spec[i].out.ops = NULL;
            run_outputs_undo(ctx, ro);
            return -EINVAL;
        }
    }
    return 0;
}

/*
 * The last fallible step: each running output that locks a spool directory a new one opens is
 * closed (its unacknowledged records stay on disk), then the new one opens it and sends them.
 * 0, or a negative errno with the cause in @err (then run_outputs_undo()).
 */
static int
run_outputs_handoff(struct run_ctx *ctx, struct run_outs *ro, char *err, size_t errlen)
{
    for (size_t i = 0; i < ro->n; i++) {
        const struct setup_output_plan *p = &ro->plan[i];
        if (p->after == NULL) {
            continue;
        }
        size_t k = (size_t)(p->after - ctx->config->outputs);
        if (!ro->stopped[k]) {
            engine_output_stop(ctx->engine, p->after->name,
                               strcmp(p->after->name, p->co->name) == 0);
            ro->stopped[k] = true;
        }
        if (setup_output_open(p->co, ctx->loop, &ro->spec[i], err, errlen) != 0) {
            ro->spec[i].out.ops = NULL;
            return -EINVAL;
        }
    }
    return 0;
}

/* The reload is refused: what was opened is closed, what was closed is opened again. */
static void
run_outputs_undo(struct run_ctx *ctx, struct run_outs *ro)
{
    char why[512];

    for (size_t i = 0; i < ro->n; i++) {
        const struct output *o = &ro->spec[i].out;
        if (o->ops != NULL && o->ops->free != NULL) {
            o->ops->free(o->state);
        }
        ro->spec[i].out.ops = NULL;
    }
    for (size_t k = 0; k < ctx->config->noutputs; k++) {
        const struct config_output *co = &ctx->config->outputs[k];
        struct engine_output_spec spec;
        if (!ro->stopped[k]) {
            continue;
        }
        if (setup_output_open(co, ctx->loop, &spec, why, sizeof(why)) != 0) {
            log_err("config: %s: cannot be opened again: %s; it is left out until the next "
                    "reload (its records stay in its spool)",
                    co->name, why);
            engine_output_restore(ctx->engine, co->name, NULL);
            continue;
        }
        engine_output_restore(ctx->engine, co->name, &spec.out);
    }
    ro->active = false;
}

/*
 * global.shutdown_timeout from the new config (unless --shutdown-timeout set it): how long the
 * drain at exit, and an output a reload replaces or removes, may take.
 */
static void
run_shutdown_apply(struct run_ctx *ctx, const struct config *c)
{
    char a[32], b[32];
    int64_t was = ctx->config->global.shutdown_timeout_ms;
    int64_t now = c->global.shutdown_timeout_ms;

    if (ctx->opts->shutdown_timeout_set || was == now) {
        return;
    }
    log_info("config: shutdown_timeout %s -> %s", conf_fmt_ms(was, a, sizeof(a)),
             conf_fmt_ms(now, b, sizeof(b)));
    engine_set_drain_timeout(ctx->engine, now);
}

/*
 * Builds a config from the file (@text NULL) or from @text (the file as last loaded), swaps it in
 * atomically, or keeps the old one and logs why.
 */
static int
apply(struct run_ctx *ctx, const char *text, size_t len, const char *why, char *err, size_t errlen)
{
    struct config_errors errs;
    size_t kept, added, removed;

    if (notify_enabled()) {
        notify_send("RELOADING=1");
    }
    config_errors_init(&errs);
    struct config *c = text != NULL ? config_load_string(ctx->opts->config_path, text, len, &errs)
                                    : config_load(ctx->opts->config_path, &errs);
    if (c == NULL) {
        log_err("config: %s of %s failed (%zu errors); keeping the running configuration", why,
                ctx->opts->config_path, errs.n + errs.dropped);
        log_config_errors(&errs);
        snprintf(err, errlen, "%s", errs.n > 0 ? errs.v[0].text : "cannot load the configuration");
        config_errors_release(&errs);
        stats_set_reload(false);
        page_note_reload(ctx, why, false, err);
        goto done;
    }
    if (text == NULL) {
        log_config_warnings(&errs); /* a file_sd refresh re-reads the same text: said already */
    }
    config_errors_release(&errs);
    struct status *moved = NULL;
    struct run_outs outs;
    /* Every fallible step before anything is committed: refused as a whole, or applied. */
    if (run_outputs_open(ctx, c, &outs, err, errlen) != 0) {
        goto refused;
    }
    if (run_status_open(ctx, c, &moved, err, errlen) != 0) {
        run_outputs_undo(ctx, &outs);
        goto refused;
    }
    engine_reload_begin(ctx->engine);
    if (setup_targets(ctx->engine, c, ctx->opts->only_job, err, errlen) != 0 ||
        run_outputs_handoff(ctx, &outs, err, errlen) != 0) {
        run_outputs_undo(ctx, &outs);
        engine_reload_abort(ctx->engine);
        status_free(moved);
        goto refused;
    }
    run_shutdown_apply(ctx, c);
    struct strbuf outlog;
    strbuf_init(&outlog);
    if (outs.active) {
        setup_outputs_describe(ctx->config, c, outs.plan, &outlog);
        engine_outputs_replace(ctx->engine, outs.spec, outs.n);
    }
    size_t changed = run_reload_log_diff(ctx, why);
    if (engine_reload_end(ctx->engine, &kept, &added, &removed) != 0) {
        /* The new configuration is in force, minus the targets named in the log. */
        log_err("config: %s: some new targets could not be scheduled (out of memory)", why);
    }
    run_status_move(ctx, moved);
    run_status_limits(ctx->status, c);
    run_log_apply(ctx, c);
    config_free(ctx->config);
    ctx->config = c;
    ctx->sd_fp = sdwatch_fingerprint(c);
    sd_arm(ctx);
    if (ctx->sd != NULL) {
        sdrun_sync(ctx->sd, c, ctx->opts->only_job);
    }
    stats_set_reload(true);
    page_note_reload(ctx, why, true, "");
    changed = changed <= added && changed <= removed ? changed : 0;
    log_info("config: %s of %s: %zu targets kept, %zu added, %zu removed, %zu changed%s%s", why,
             ctx->opts->config_path, kept, added - changed, removed - changed, changed,
             outlog.len > 0 ? "; outputs: " : "", outlog.len > 0 ? outlog.data : "");
    strbuf_release(&outlog);
    if (notify_enabled()) {
        notify_send("READY=1");
    }
    return 0;
refused:
    log_err("config: %s failed: %s; keeping the running configuration", why, err);
    config_free(c);
    stats_set_reload(false);
    page_note_reload(ctx, why, false, err);
done:
    if (notify_enabled()) {
        notify_send("READY=1");
    }
    return -EINVAL;
}

/* SIGHUP and POST /-/reload: read the file again. */
static int
run_reload(void *arg, char *err, size_t errlen)
{
    return apply(arg, NULL, 0, "reload", err, errlen);
}

/* Every refresh_interval: when the file_sd files changed, the targets are rebuilt from them. */
static void
sd_tick(evutil_socket_t fd, short what, void *arg)
{
    struct run_ctx *ctx = arg;
    char err[512];

    (void)fd;
    (void)what;
    uint64_t fp = sdwatch_fingerprint(ctx->config);
    if (fp != ctx->sd_fp) {
        log_info("config: file_sd files changed; rebuilding the targets");
        /* A broken file is reported once, not every tick: wait for the next change. */
        ctx->sd_fp = fp;
        apply(ctx, ctx->config->source, ctx->config->source_len, "file_sd refresh", err,
              sizeof(err));
    }
    sd_arm(ctx);
}

/* An http_sd or dns_sd list changed (sdrun.c stored it): rebuild the targets from the cache. */
static void
sd_changed(void *arg)
{
    struct run_ctx *ctx = arg;
    char err[512];

    if (engine_draining(ctx->engine)) {
        return; /* shutting down: no new targets (the list is cached for the next start) */
    }
    apply(ctx, ctx->config->source, ctx->config->source_len, "SD refresh", err, sizeof(err));
}

/* The drain started: discovery stops (its fetches in flight are cancelled, its lists stay). */
static void
sd_stop(void *arg)
{
    struct run_ctx *ctx = arg;

    sdrun_free(ctx->sd);
    ctx->sd = NULL;
}

/*
 * --once with http_sd or dns_sd: every item is refreshed on the loop before anything is
 * scraped, and the config is built again from the fresh lists (a failed refresh leaves the last
 * good one, from the state directory after a restart). Returns the number of failed refreshes.
 */
static size_t
sd_once(struct run_ctx *ctx, struct loop *l)
{
    struct sdrun *r;
    struct config_errors errs;
    struct config *c;
    size_t failed, items = 0;

    for (size_t j = 0; j < ctx->config->njobs; j++) {
        items += ctx->config->jobs[j].nsds;
    }
    if (items == 0) {
        return 0;
    }
    r = sdrun_new(l, NULL, NULL);
    if (r == NULL) {
        log_err("sd: out of memory");
        return 1;
    }
    failed = sdrun_once(r, ctx->config, ctx->opts->only_job);
    sdrun_free(r);
    config_errors_init(&errs);
    c = config_load_string(ctx->config->path, ctx->config->source, ctx->config->source_len, &errs);
    if (c == NULL) {
        log_config_errors(&errs);
        failed++;
    }
    else {
        config_free(ctx->config);
        ctx->config = c;
    }
    config_errors_release(&errs);
    return failed;
}

static void
sd_arm(struct run_ctx *ctx)
{
    int64_t ms = ctx->config != NULL ? sdwatch_period_ms(ctx->config) : 0;

    if (ctx->loop == NULL || ms <= 0) {
        if (ctx->sd_timer != NULL) {
            evtimer_del(ctx->sd_timer);
        }
        return;
    }
    if (ctx->sd_timer == NULL) {
        ctx->sd_timer = evtimer_new(loop_base(ctx->loop), sd_tick, ctx);
        if (ctx->sd_timer == NULL) {
            log_err("config: cannot arm the file_sd refresh timer");
            return;
        }
    }
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(ctx->sd_timer, &tv);
}

static int
reload_hook(void *arg, char *err, size_t errlen)
{
    const struct status_page_view *v = arg;

    return engine_reload(v->engine, err, errlen);
}

/*
 * The first load: errors go to stderr (all of them), exit 2. Warnings go to stderr too with
 * --check-config (@check), to the log otherwise.
 */
static struct config *
load_config(const char *path, bool check)
{
    struct config_errors errs;

    config_errors_init(&errs);
    struct config *c = config_load(path, &errs);
    if (check || c == NULL) {
        config_errors_print_warnings(stderr, &errs);
    }
    else {
        log_config_warnings(&errs);
    }
    if (c == NULL) {
        config_errors_print(stderr, &errs);
    }
    config_errors_release(&errs);
    return c;
}

int
run_check_config(const char *path)
{
    struct config *c = load_config(path, true);

    if (c == NULL) {
        return RUN_EXIT_USAGE;
    }
    config_summary(stdout, c);
    config_free(c);
    return RUN_EXIT_OK;
}

/*
 * The outputs: --output-file, else stdout when --format is given (it shows what the daemon would
 * send), else the config's, else stdout; --format (default json) picks the encoder of the first
 * two.
 */
static int
add_outputs(struct engine *e, struct loop *l, const struct run_opts *o, const struct config *c,
            bool table)
{
    char err[512];
    struct output out = {.ops = &out_stdout_ops};
    const struct encoder *enc = encoder_find(o->format != NULL && !table ? o->format : "json");

    if (o->output_file == NULL && (o->format == NULL || table) && c != NULL) {
        if (setup_outputs(e, l, c, err, sizeof(err)) != 0) {
            run_error("%s: %s", c->path, err);
            return -EINVAL;
        }
        return 0;
    }
    if (table) {
        return 0; /* the table is printed from the targets after the run */
    }
    if (o->output_file != NULL) {
        out.ops = &out_file_ops;
        out.state = out_file_new(o->output_file, OUT_FILE_FSYNC_NEVER, err, sizeof(err));
        if (out.state == NULL) {
            run_error("--output-file: %s", err);
            return -EINVAL;
        }
    }
    else {
        out.state = out_stdout_open(1, l, OUT_STDOUT_QUEUE_MAX);
    }
    if (out.state == NULL || engine_add_output(e, NULL, enc, &out) != 0) {
        fprintf(stderr, "pollster: out of memory\n");
        return -ENOMEM;
    }
    return 0;
}

int
run_main(const struct run_opts *o, bool *forked_parent)
{
    struct loop *l = NULL;
    struct engine *e = NULL;
    struct run_ctx ctx = {.opts = o};
    struct httpc_opts cli_http; /* owned: the HTTP settings of the command line's targets */
    int exit_code = RUN_EXIT_FAILED;
    char err[512];
    bool builtin = o->ntargets == 0 && o->config_path == NULL;

    *forked_parent = false;
    memset(&cli_http, 0, sizeof(cli_http));
    /*
     * In every mode, as --daemonize always did: what pollster creates (pidfile, spool, output
     * files, SD cache) is never writable by the group nor readable by others, whatever the
     * caller's umask.
     */
    umask(027);

    /* --once for people: a table on a terminal (or with --format table), JSON lines otherwise. */
    bool table_format = o->format != NULL && strcmp(o->format, "table") == 0;
    bool table =
        o->once &&
        (table_format || (o->format == NULL && o->output_file == NULL && isatty(STDOUT_FILENO)));
    if (table_format && (!o->once || o->output_file != NULL)) {
        fprintf(stderr, "pollster: --format table is for --once on stdout (the daemon and "
                        "--output-file write a data stream: JSON lines, e.g. | jq)\n");
        return RUN_EXIT_USAGE;
    }
    if (kinds_find(o->kind) == NULL ||
        (o->format != NULL && !table_format && encoder_find(o->format) == NULL)) {
        struct strbuf names;
        bool kind = kinds_find(o->kind) == NULL;
        strbuf_init(&names);
        if (kind) {
            kinds_names(&names);
        }
        else {
            encoder_names(&names);
        }
        struct suggest sg;
        suggest_init(&sg, kind ? o->kind : o->format);
        suggest_add_csv(&sg, names.data);
        char hint[SUGGEST_WORD_MAX + 32];
        fprintf(stderr, "pollster: unknown %s \"%s\" (%savailable: %s)\n",
                kind ? "--kind" : "--format", kind ? o->kind : o->format,
                suggest_phrase(&sg, "", hint, sizeof(hint)), names.data != NULL ? names.data : "?");
        strbuf_release(&names);
        return RUN_EXIT_USAGE;
    }
    for (size_t i = 0; i < o->ntargets; i++) {
        char instance[300];
        if (strcmp(o->kind, "tcp") == 0) { /* HOST:PORT, checked when the target is added */
            continue;
        }
        if (check_url(o->targets[i], instance, sizeof(instance), err, sizeof(err)) != 0) {
            fprintf(stderr, "pollster: --target: %s\n", err);
            return RUN_EXIT_USAGE;
        }
    }
    if (!o->once && o->ntargets > 0 && o->timeout_ms > o->interval_ms) {
        fprintf(stderr, "pollster: --timeout (%lld ms) must not exceed --interval (%lld ms)\n",
                (long long)o->timeout_ms, (long long)o->interval_ms);
        return RUN_EXIT_USAGE;
    }
    if (o->config_path != NULL) {
        ctx.config = load_config(o->config_path, false);
        if (ctx.config == NULL) {
            return RUN_EXIT_USAGE;
        }
        if (o->only_job != NULL && !setup_has_job(ctx.config, o->only_job)) {
            struct suggest sg;
            char hint[SUGGEST_WORD_MAX + 32];
            suggest_init(&sg, o->only_job);
            for (size_t i = 0; i < ctx.config->njobs; i++) {
                suggest_add(&sg, ctx.config->jobs[i].name);
            }
            fprintf(stderr, "pollster: --job: %s has no job named \"%s\"%s\n", o->config_path,
                    o->only_job, suggest_paren(&sg, "", hint, sizeof(hint)));
            config_free(ctx.config);
            return RUN_EXIT_USAGE;
        }
        if (!o->log_level_set) {
            log_set_level(ctx.config->log.level);
        }
        if (!o->log_format_set) {
            log_set_format(ctx.config->log.format);
        }
        log_set_target(ctx.config->log.target);
    }
    if (table && !o->log_level_set) {
        log_set_level(LOG_LVL_ERR); /* each failure is a row of the table: said once there */
    }
    if (!o->daemonize && o->pidfile != NULL && !o->once &&
        daemon_pidfile(o->pidfile, err, sizeof(err)) != 0) {
        fprintf(stderr, "pollster: %s\n", err);
        config_free(ctx.config);
        return RUN_EXIT_USAGE;
    }
    /* Before anything opens sockets or event bases: they must belong to the daemon. */
    if (o->daemonize) {
        int parent_exit;

        if (daemon_detach(o->pidfile, &parent_exit, err, sizeof(err)) != 0) {
            fprintf(stderr, "pollster: %s\n", err);
            config_free(ctx.config);
            return RUN_EXIT_USAGE;
        }
        if (parent_exit >= 0) {
            /* Not the daemon: release our memory only, and let main() end us (daemon.h). */
            config_free(ctx.config);
            *forked_parent = true;
            return parent_exit;
        }
        log_set_target(LOG_TARGET_SYSLOG);
    }
    /* CURLOPT_NOSIGNAL is set on every handle: a peer closing a socket must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "pollster: curl_global_init() failed\n");
        config_free(ctx.config);
        return RUN_EXIT_FAILED;
    }
    if (httpc_check_curl() != 0) {
        goto out;
    }
    l = loop_new();
    e = l != NULL ? engine_new(l) : NULL;
    if (e == NULL) {
        fprintf(stderr, "pollster: cannot set up the event loop\n");
        goto out;
    }
    ctx.engine = e;
    if (add_outputs(e, l, o, ctx.config, table) != 0) {
        exit_code = RUN_EXIT_USAGE;
        goto out;
    }
    /* The status server runs in daemon mode, and in once mode when it is the target. */
    if (!o->once || builtin) {
        const char *listen = o->status_listen;
        if (listen == NULL) {
            listen = o->once              ? "127.0.0.1:0"
                     : ctx.config != NULL ? ctx.config->status.listen
                                          : RUN_DEFAULT_STATUS_LISTEN;
        }
        ctx.page.engine = e;
        ctx.page.started_ms = clock_wall_ms();
        ctx.page.loaded_ms = ctx.page.started_ms;
        if (ctx.config != NULL) {
            ctx.page.config_path = o->config_path;
            ctx.page.config_text = ctx.config->source;
            ctx.page.config_len = ctx.config->source_len;
        }
        ctx.status =
            status_new(loop_base(l), listen, &run_status_hooks, &ctx.page, err, sizeof(err));
        if (ctx.status == NULL) {
            run_error("status server: %s", err);
            exit_code = RUN_EXIT_USAGE;
            goto out;
        }
        run_status_limits(ctx.status, ctx.config);
    }
    if (cli_http_build(o, &cli_http, err, sizeof(err)) != 0) {
        run_error("%s", err);
        exit_code = RUN_EXIT_USAGE;
        goto out;
    }
    if (builtin) {
        char url[400];
        snprintf(url, sizeof(url), "http://%s/metrics", status_address(ctx.status));
        /* Its own defaults, unless --interval or --timeout say otherwise. */
        int64_t interval = o->interval_set ? o->interval_ms : RUN_DEFAULT_INTERVAL_MS;
        int64_t timeout = o->timeout_set ? o->timeout_ms : RUN_DEFAULT_TIMEOUT_MS;
        timeout = !o->timeout_set && timeout > interval ? interval : timeout;
        if (add_target(e, o, &cli_http, "prometheus", "pollster", url, interval, timeout) != 0) {
            exit_code = RUN_EXIT_USAGE;
            goto out;
        }
    }
    size_t sd_failed = 0;
    if (ctx.config != NULL && o->once) {
        sd_failed = sd_once(&ctx, l);
    }
    if (ctx.config != NULL) {
        if (setup_targets(e, ctx.config, o->only_job, err, sizeof(err)) != 0) {
            run_error("%s: %s", o->config_path, err);
            exit_code = RUN_EXIT_USAGE;
            goto out;
        }
        engine_set_reload(e, run_reload, &ctx);
        if (!o->once) {
            ctx.loop = l;
            ctx.sd_fp = sdwatch_fingerprint(ctx.config);
            sd_arm(&ctx);
            ctx.sd = sdrun_new(l, sd_changed, &ctx);
            if (ctx.sd == NULL) {
                fprintf(stderr, "pollster: out of memory\n");
                goto out;
            }
            sdrun_sync(ctx.sd, ctx.config, o->only_job);
            engine_set_drain_hook(e, sd_stop, &ctx);
            if (setup_inputs(e, l, ctx.config, &ctx.inputs, &ctx.ninputs, err, sizeof(err)) != 0) {
                fprintf(stderr, "pollster: %s: %s\n", o->config_path, err);
                log_err("run: %s: %s", o->config_path, err);
                exit_code = RUN_EXIT_USAGE;
                goto out;
            }
        }
    }
    for (size_t i = 0; i < o->ntargets; i++) {
        const char *job = o->job != NULL ? o->job : o->kind;
        if (add_target(e, o, &cli_http, o->kind, job, o->targets[i], o->once ? 0 : o->interval_ms,
                       o->timeout_ms) != 0) {
            exit_code = RUN_EXIT_USAGE;
            goto out;
        }
    }
    int64_t drain = ctx.config != NULL && !o->shutdown_timeout_set
                        ? ctx.config->global.shutdown_timeout_ms
                        : o->shutdown_timeout_ms;
    if (o->once) {
        engine_set_drain_timeout(e, drain);
        int failed = engine_run_once(e);
        uint64_t dropped = engine_outputs_dropped(e);
        exit_code = failed == 0 && sd_failed == 0 ? RUN_EXIT_OK : RUN_EXIT_FAILED;
        /* Lost data outranks a failed run: a cron job must notice it above all. */
        if (dropped > 0) {
            log_err("once: the outputs dropped %llu samples; exiting with %d",
                    (unsigned long long)dropped, RUN_EXIT_DROPPED);
            exit_code = RUN_EXIT_DROPPED;
        }
        if (table) {
            struct strbuf sb;
            strbuf_init(&sb);
            status_table_render(&sb, e);
            fwrite(sb.data != NULL ? sb.data : "", 1, sb.len, stdout);
            fflush(stdout);
            strbuf_release(&sb);
        }
    }
    else {
        exit_code = engine_run(e, drain) == 0 ? RUN_EXIT_OK : RUN_EXIT_FAILED;
    }
out:
    /* A daemon that failed before its loop ran tells the waiting parent (no-op otherwise). */
    daemon_started(false);
    /* Targets (and their easy handles) before the loop: the multi handle must still exist. */
    if (ctx.sd_timer != NULL) {
        event_free(ctx.sd_timer);
    }
    sdrun_free(ctx.sd);
    /* inputs hand records to the outputs: closed first (what they did not acknowledge stays) */
    setup_inputs_free(ctx.inputs, ctx.ninputs);
    engine_free(e);
    if (ctx.status_retire != NULL) {
        event_free(ctx.status_retire);
    }
    httpc_opts_release(&cli_http);
    status_free(ctx.status_old);
    status_free(ctx.status);
    loop_free(l);
    config_free(ctx.config);
    sdcache_free_all();
    curl_global_cleanup();
    stats_free_all();
    arena_free_cache();
    job_prom_free_cache();
    daemon_cleanup();
    return exit_code;
}

int
run_parse(const char *path, const char *format)
{
    enum prom_format fmt = PROM_FORMAT_TEXT;
    struct prom_parser *p = NULL;
    struct batch b;
    struct strbuf out;
    char buf[65536];
    int fd, rc = 0, exit_code = RUN_EXIT_FAILED;
    ssize_t n;

    if (format != NULL && prom_parse_format_from_name(format, &fmt) != 0) {
        struct suggest sg;
        char hint[SUGGEST_WORD_MAX + 32];
        suggest_init(&sg, format);
        suggest_add_csv(&sg, "prom, openmetrics");
        fprintf(stderr, "pollster: --format \"%s\": %sexpected prom or openmetrics with --parse\n",
                format, suggest_phrase(&sg, "", hint, sizeof(hint)));
        return RUN_EXIT_USAGE;
    }
    fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pollster: %s: %s\n", path, strerror(errno));
        return RUN_EXIT_USAGE;
    }
    batch_init(&b);
    strbuf_init(&out);
    p = prom_parser_new();
    if (p == NULL) {
        fprintf(stderr, "pollster: out of memory\n");
        goto done;
    }
    prom_parser_reset(p, fmt, &b);
    while (rc == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "pollster: %s: read failed: %s\n", path, strerror(errno));
            goto done;
        }
        rc = prom_parser_feed(p, buf, (size_t)n);
    }
    if (rc == 0) {
        rc = prom_parser_finish(p);
    }
    if (rc != 0) {
        fprintf(stderr, "pollster: %s: %s\n", path, prom_parser_error(p));
        goto done;
    }
    for (size_t i = 0; i < b.nsamples; i++) {
        enc_json_sample(&out, &b.samples[i]);
        strbuf_putc(&out, '\n');
        if (out.len >= 65536 || i + 1 == b.nsamples) {
            if (out.oom || fwrite(out.data, 1, out.len, stdout) != out.len) {
                fprintf(stderr, "pollster: writing the samples failed\n");
                goto done;
            }
            strbuf_reset(&out);
        }
    }
    exit_code = fflush(stdout) == 0 ? RUN_EXIT_OK : RUN_EXIT_FAILED;
done:
    if (fd > 0) {
        close(fd);
    }
    prom_parser_free(p);
    strbuf_release(&out);
    batch_release(&b);
    arena_free_cache();
    return exit_code;
}
