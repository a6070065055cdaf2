/* Service discovery refreshers on the loop (sdrun.h). */
#include "build-config.h"

#include "sdrun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf_sd.h"
#include "clock.h"
#include "conf.h"
#include "config.h"
#include "httpc.h"
#include "log.h"
#include "loop.h"
#include "sdcache.h"
#include "sddns.h"
#include "sdhttp.h"
#include "stats.h"
#include "strbuf.h"

struct refresher {
    struct sdrun *r;        /* borrowed: the owner */
    char *key;              /* owned: the cache key */
    char *identity;         /* owned: every setting (secrets too: compared, never shown) */
    char *job;              /* owned */
    char *shown;            /* owned: the URL redacted, or the names */
    char *prefix;           /* owned: "sd: job \"J\": http_sd URL", what log lines start with */
    struct log_limit limit; /* failure lines: at once, then at growing intervals */
    enum config_sd_mech mech;
    int64_t refresh_ms;
    struct sdhttp *http; /* owned: http */
    struct sddns *dns;   /* owned: dns */
    struct event *timer; /* owned */
    bool busy;           /* a refresh is in flight */
    bool once_pending;   /* --once: not answered yet */
    bool keep;           /* sdrun_sync: still in the config */
    struct refresher *next;
};

struct sdrun {
    struct loop *loop; /* borrowed */
    struct refresher *list;
    struct event *changed_ev; /* owned: calls changed outside the fetch callbacks */
    sdrun_changed_fn *changed;
    void *arg;
    char *dir;        /* owned: the state directory of the config in force, or NULL */
    bool once;        /* in sdrun_once */
    size_t once_left; /* refreshers still to answer */
    size_t once_failed;
};

static void
refresher_free(struct refresher *f)
{
    if (f == NULL) {
        return;
    }
    sdhttp_free(f->http);
    sddns_free(f->dns);
    if (f->timer != NULL) {
        event_free(f->timer);
    }
    free(f->key);
    free(f->identity);
    free(f->job);
    free(f->shown);
    free(f->prefix);
    free(f);
}

/* A failure's cause for the rate limiter: its text up to the first ':' ("connect"), hashed. */
static int
cause_of(const char *error)
{
    unsigned h = 5381;

    for (const char *p = error; *p != '\0' && *p != ':'; p++) {
        h = h * 33 + (unsigned char)*p;
    }
    return (int)(h % 1000000u) + 1;
}

/* Called from the loop after every fetch: keep a good list, count and log. */
static void
result_cb(void *arg, const char *text, size_t len, const char *error)
{
    struct refresher *f = arg;
    struct sdrun *r = f->r;
    const char *mech = conf_sd_mech_name(f->mech);

    f->busy = false;
    stats_record_sd(f->job, mech, text != NULL);
    if (text == NULL) {
        error = error != NULL ? error : "unknown error";
        log_complain(&f->limit, clock_mono_ms(), cause_of(error), f->prefix,
                     "refresh failed: %s; keeping the last good target list", error);
        if (r->once && f->once_pending) {
            r->once_failed++;
        }
    }
    else {
        int rc = sdcache_put(r->dir, f->key, text, len);
        log_debug("%s: refreshed: %zu bytes, %s", f->prefix, len,
                  rc > 0    ? "the target list changed"
                  : rc == 0 ? "unchanged"
                            : "not written to the cache");
        log_release(&f->limit, clock_mono_ms(), f->prefix);
        if (rc < 0) {
            char *path = sdcache_path_dup(r->dir, f->key);
            log_warn("sd: job \"%s\": cannot write %s: %s (the list is kept in memory)", f->job,
                     path != NULL ? path : "the SD cache file", strerror(-rc));
            free(path);
        }
        if (rc != 0 && !r->once) {
            log_info("%s: the target list changed; rebuilding the targets", f->prefix);
            event_active(r->changed_ev, EV_TIMEOUT, 0);
        }
    }
    if (r->once && f->once_pending) {
        f->once_pending = false;
        if (--r->once_left == 0) {
            loop_stop(r->loop);
        }
    }
}

static void
refresh_start(struct refresher *f)
{
    int rc;

    if (f->busy) {
        return; /* the previous refresh is still running: its deadline ends it */
    }
    f->busy = true;
    rc = f->http != NULL ? sdhttp_start(f->http) : sddns_start(f->dns);
    if (rc != 0) {
        f->busy = false;
        result_cb(f, NULL, 0, rc == -ENOMEM ? "out of memory" : "cannot start the refresh");
    }
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct refresher *f = arg;
    struct timeval tv = {.tv_sec = f->refresh_ms / 1000, .tv_usec = (f->refresh_ms % 1000) * 1000};

    (void)fd;
    (void)what;
    evtimer_add(f->timer, &tv);
    refresh_start(f);
}

static void
changed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sdrun *r = arg;

    (void)fd;
    (void)what;
    if (r->changed != NULL) {
        r->changed(r->arg);
    }
}

struct sdrun *
sdrun_new(struct loop *l, sdrun_changed_fn *changed, void *arg)
{
    struct sdrun *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->loop = l;
    r->changed = changed;
    r->arg = arg;
    r->changed_ev = event_new(loop_base(l), -1, 0, changed_cb, r);
    if (r->changed_ev == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void
sdrun_free(struct sdrun *r)
{
    if (r == NULL) {
        return;
    }
    while (r->list != NULL) {
        struct refresher *f = r->list;
        r->list = f->next;
        refresher_free(f);
    }
    event_free(r->changed_ev);
    free(r->dir);
    free(r);
}

static void
put_str(struct strbuf *sb, const char *s)
{
    strbuf_puts(sb, s != NULL ? s : "\x01");
    strbuf_putc(sb, '\x1f');
}

/* Every setting of @sd, so that a reload that changes any of them restarts the refresher. */
static char *
identity_dup(const struct config_sd *sd)
{
    const struct config_http *h = &sd->http;
    struct strbuf sb;

    strbuf_init(&sb);
    strbuf_printf(&sb, "%d|%lld|%d|%lld|%d|%d|", (int)sd->mech, (long long)sd->refresh_ms,
                  (int)sd->type, (long long)sd->port, h->tls.insecure_skip_verify,
                  h->follow_redirects);
    put_str(&sb, sd->key);
    put_str(&sb, sd->url);
    for (size_t i = 0; i < sd->nnames; i++) {
        put_str(&sb, sd->names[i]);
    }
    put_str(&sb, h->basic_auth.username);
    put_str(&sb, h->basic_auth.password);
    put_str(&sb, h->authorization.type);
    put_str(&sb, h->authorization.credentials);
    put_str(&sb, h->tls.ca_file);
    put_str(&sb, h->tls.cert_file);
    put_str(&sb, h->tls.key_file);
    put_str(&sb, h->tls.server_name);
    for (size_t i = 0; i < h->nheaders; i++) {
        put_str(&sb, h->headers[i].name);
        put_str(&sb, h->headers[i].value);
    }
    if (sb.oom) {
        strbuf_release(&sb);
        return NULL;
    }
    return sb.data != NULL ? sb.data : strdup("");
}

/* What messages show of @sd: the URL without userinfo, or the names. */
static char *
shown_dup(const struct config_sd *sd)
{
    struct strbuf sb;

    if (sd->mech == CONFIG_SD_HTTP) {
        return httpc_redact_url_dup(sd->url);
    }
    strbuf_init(&sb);
    for (size_t i = 0; i < sd->nnames; i++) {
        strbuf_puts(&sb, i > 0 ? "," : "");
        strbuf_puts(&sb, sd->names[i]);
    }
    if (sb.oom) {
        strbuf_release(&sb);
        return NULL;
    }
    return sb.data != NULL ? sb.data : strdup("");
}

static struct refresher *
refresher_new(struct sdrun *r, const struct config_job *job, const struct config_sd *sd,
              char *identity)
{
    struct refresher *f = calloc(1, sizeof(*f));
    char err[512];

    if (f == NULL) {
        free(identity);
        log_err("sd: job \"%s\": out of memory", job->name);
        return NULL;
    }
    f->r = r;
    f->identity = identity;
    f->mech = sd->mech;
    f->refresh_ms = sd->refresh_ms;
    f->key = strdup(sd->key);
    f->job = strdup(job->name);
    f->shown = shown_dup(sd);
    f->prefix = f->shown != NULL ? conf_printf("sd: job \"%s\": %s_sd %s", job->name,
                                               conf_sd_mech_name(sd->mech), f->shown)
                                 : NULL;
    f->timer = evtimer_new(loop_base(r->loop), tick_cb, f);
    if (f->key == NULL || f->job == NULL || f->prefix == NULL || f->timer == NULL) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    if (sd->mech == CONFIG_SD_HTTP) {
        f->http = sdhttp_new(r->loop, sd, job->name, result_cb, f, err, sizeof(err));
    }
    else {
        f->dns = sddns_new(loop_base(r->loop), sd, job->name, result_cb, f, err, sizeof(err));
    }
    if (f->http == NULL && f->dns == NULL) {
        goto fail;
    }
    return f;
fail:
    log_err("sd: job \"%s\": %s_sd: cannot start: %s", job->name, conf_sd_mech_name(sd->mech), err);
    refresher_free(f);
    return NULL;
}

/* Finds the refresher of @identity among those not claimed yet. */
static struct refresher *
find_unclaimed(struct sdrun *r, const char *identity)
{
    for (struct refresher *f = r->list; f != NULL; f = f->next) {
        if (!f->keep && strcmp(f->identity, identity) == 0) {
            return f;
        }
    }
    return NULL;
}

size_t
sdrun_sync(struct sdrun *r, const struct config *c, const char *only_job)
{
    const char *dir = sdcache_dir(c);
    struct refresher *added = NULL;
    size_t n = 0;

    free(r->dir);
    r->dir = dir != NULL ? strdup(dir) : NULL;
    for (struct refresher *f = r->list; f != NULL; f = f->next) {
        f->keep = false;
    }
    for (size_t j = 0; j < c->njobs; j++) {
        const struct config_job *job = &c->jobs[j];
        if (only_job != NULL && strcmp(job->name, only_job) != 0) {
            continue;
        }
        for (size_t i = 0; i < job->nsds; i++) {
            char *id = identity_dup(&job->sds[i]);
            struct refresher *f;
            if (id == NULL) {
                log_err("sd: job \"%s\": out of memory", job->name);
                continue;
            }
            n++;
            f = find_unclaimed(r, id);
            if (f != NULL) {
                free(id);
                f->keep = true;
                continue;
            }
            f = refresher_new(r, job, &job->sds[i], id);
            if (f != NULL) {
                f->keep = true;
                f->next = added;
                added = f;
            }
        }
    }
    /* Drop what the config no longer has, then start the new ones at once. */
    for (struct refresher **pp = &r->list; *pp != NULL;) {
        struct refresher *f = *pp;
        if (!f->keep) {
            *pp = f->next;
            refresher_free(f);
        }
        else {
            pp = &f->next;
        }
    }
    while (added != NULL) {
        struct refresher *f = added;
        struct timeval now = {0, 0};
        added = f->next;
        f->next = r->list;
        r->list = f;
        evtimer_add(f->timer, &now);
    }
    return n;
}

size_t
sdrun_once(struct sdrun *r, const struct config *c, const char *only_job)
{
    if (sdrun_sync(r, c, only_job) == 0) {
        return 0;
    }
    r->once = true;
    r->once_left = 0;
    r->once_failed = 0;
    for (struct refresher *f = r->list; f != NULL; f = f->next) {
        evtimer_del(f->timer);
        f->once_pending = true;
        r->once_left++;
    }
    for (struct refresher *f = r->list; f != NULL; f = f->next) {
        refresh_start(f);
    }
    if (r->once_left > 0) {
        loop_run(r->loop);
    }
    r->once = false;
    return r->once_failed;
}
