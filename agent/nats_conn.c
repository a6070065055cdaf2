/* The connection settings the nats output and input share (nats_conn.h). */
#include "build-config.h"

#include "nats_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <nats/adapters/libevent.h> /* defines functions: included here only */

#include "conf_tree.h"
#include "log.h"

/* Whether @u is a URL libnats takes: nats://, tls:// (or ws://, wss://) with a host. */
static bool
url_ok(const char *u)
{
    static const char *const schemes[] = {"nats://", "tls://", "ws://", "wss://"};

    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t l = strlen(schemes[i]);
        if (strncmp(u, schemes[i], l) == 0) {
            return u[l] != '\0' && u[l] != '/' && u[l] != ':';
        }
    }
    return false;
}

/* Adds the URL scalar @v to c->urls, or reports why not. */
static void
url_add(struct conf_ctx *x, struct nats_conn_conf *c, const struct conf_node *v, const char *path)
{
    if (!conf_expect(x, v, CONF_NODE_SCALAR, "a URL", "url")) {
        return;
    }
    if (!url_ok(v->str)) {
        conf_err(x, v, "invalid NATS URL \"%s\" in %s (expected nats://HOST:PORT or tls://...)",
                 v->str, path);
        return;
    }
    char **arr = conf_grow(c->urls, c->nurls, sizeof(*arr));
    char *d = strdup(v->str);
    if (arr == NULL || d == NULL) {
        free(d);
        if (arr != NULL) {
            c->urls = arr;
        }
        conf_oom(x);
        return;
    }
    c->urls = arr;
    c->urls[c->nurls++] = d;
}

void
nats_conn_check(struct conf_ctx *x, struct nats_conn_conf *c, const struct conf_node *map,
                const char *path)
{
    const struct conf_node *u = conf_tree_get(map, "url");

    if (u != NULL && u->kind == CONF_NODE_SEQ) {
        if (u->n == 0) {
            conf_err(x, u, "url must name at least one server in %s", path);
        }
        for (size_t i = 0; i < u->n; i++) {
            url_add(x, c, u->kids[i], path);
        }
    }
    else if (u != NULL) {
        url_add(x, c, u, path);
    }
    if ((c->nkey != NULL) != (c->nkey_seed_file != NULL)) {
        conf_err(x, conf_tree_get(map, c->nkey != NULL ? "nkey" : "nkey_seed_file"),
                 "nkey and nkey_seed_file go together in %s", path);
    }
    if (c->password != NULL && c->user == NULL) {
        conf_err(x, conf_tree_get(map, "password"), "password needs user in %s", path);
    }
    if (c->timeout_ms == 0) {
        conf_err(x, conf_tree_get(map, "timeout"), "timeout must be greater than 0");
    }
}

void
nats_conn_release(struct nats_conn_conf *c)
{
    if (c != NULL) {
        conf_strv_free(c->urls, c->nurls);
        c->urls = NULL;
        c->nurls = 0;
    }
}

natsStatus
nats_conn_options(natsOptions *o, const struct nats_conn_conf *c, char *err, size_t errlen)
{
    natsStatus s = natsOptions_SetServers(o, (const char **)c->urls, (int)c->nurls);
    const char *call = "natsOptions_SetServers";

#define TRY(expr, name)                                                                            \
    do {                                                                                           \
        if (s == NATS_OK) {                                                                        \
            s = (expr);                                                                            \
            call = (name);                                                                         \
        }                                                                                          \
    } while (0)
    TRY(natsOptions_SetName(o, "pollster"), "natsOptions_SetName");
    TRY(natsOptions_SetMaxReconnect(o, -1), "natsOptions_SetMaxReconnect");
    TRY(natsOptions_SetReconnectWait(o, 500), "natsOptions_SetReconnectWait");
    TRY(natsOptions_SetTimeout(o, c->timeout_ms), "natsOptions_SetTimeout");
    if (c->user != NULL || c->password != NULL) {
        TRY(natsOptions_SetUserInfo(o, c->user, c->password), "natsOptions_SetUserInfo");
    }
    if (c->token != NULL) {
        TRY(natsOptions_SetToken(o, c->token), "natsOptions_SetToken");
    }
    if (c->creds_file != NULL) {
        TRY(natsOptions_SetUserCredentialsFromFiles(o, c->creds_file, NULL),
            "natsOptions_SetUserCredentialsFromFiles");
    }
    if (c->nkey_seed_file != NULL) {
        TRY(natsOptions_SetNKeyFromSeed(o, c->nkey, c->nkey_seed_file),
            "natsOptions_SetNKeyFromSeed");
    }
    if (c->tls.ca_file != NULL || c->tls.cert_file != NULL || c->tls.insecure_skip_verify) {
        TRY(natsOptions_SetSecure(o, true), "natsOptions_SetSecure");
    }
    if (c->tls.ca_file != NULL) {
        TRY(natsOptions_LoadCATrustedCertificates(o, c->tls.ca_file),
            "natsOptions_LoadCATrustedCertificates");
    }
    if (c->tls.cert_file != NULL) {
        TRY(natsOptions_LoadCertificatesChain(o, c->tls.cert_file, c->tls.key_file),
            "natsOptions_LoadCertificatesChain");
    }
    if (c->tls.insecure_skip_verify) {
        TRY(natsOptions_SkipServerVerification(o, true), "natsOptions_SkipServerVerification");
    }
#undef TRY
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s() failed: %s", call, natsStatus_GetText(s));
    }
    return s;
}

void
nats_conn_format_error(char *why, size_t len, natsStatus s, const char *e)
{
    if (s == NATS_OK) {
        snprintf(why, len, "not connected to NATS yet"); /* no error to tell (was "yetOK") */
        return;
    }
    snprintf(why, len, "not connected to NATS yet (%.200s)",
             e != NULL && e[0] != '\0' ? e : natsStatus_GetText(s));
}

void
nats_conn_last_error(natsConnection *nc, char *why, size_t len)
{
    const char *e = NULL;
    natsStatus s = natsConnection_GetLastError(nc, &e);

    nats_conn_format_error(why, len, s, e);
}

void
nats_conn_summary(FILE *f, const struct nats_conn_conf *c)
{
    for (size_t i = 0; i < c->nurls; i++) {
        fprintf(f, "%s%s", i > 0 ? ", " : "", c->urls[i]);
    }
}

void
nats_conn_identity(const struct nats_conn_conf *c, struct strbuf *sb)
{
    const char *const v[] = {c->user,        c->password,      c->token,
                             c->creds_file,  c->nkey,          c->nkey_seed_file,
                             c->tls.ca_file, c->tls.cert_file, c->tls.key_file};

    for (size_t i = 0; i < c->nurls; i++) {
        strbuf_printf(sb, "%s\x1f", c->urls[i]);
    }
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        strbuf_printf(sb, "%s\x1f", v[i] != NULL ? v[i] : "");
    }
    strbuf_printf(sb, "%lld\x1f%d", (long long)c->timeout_ms, (int)c->tls.insecure_skip_verify);
}

static unsigned holders;

void
nats_conn_hold(void)
{
    holders++;
}

void
nats_conn_drop(void)
{
    if (holders > 0 && --holders == 0) {
        nats_CloseAndWait(2000);
    }
}

natsStatus
nats_conn_set_loop(natsOptions *o, struct event_base *base)
{
    return natsOptions_SetEventLoop(o, base, natsLibevent_Attach, natsLibevent_Read,
                                    natsLibevent_Write, natsLibevent_Detach);
}

void
nats_worker_init(struct nats_worker *w)
{
    *w = (struct nats_worker){.efd = -1};
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
}

int
nats_worker_listen(struct nats_worker *w, struct event_base *base, event_callback_fn cb, void *arg,
                   char *err, size_t errlen)
{
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        snprintf(err, errlen, "eventfd() failed: %s", strerror(errno));
        return -1;
    }
    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, cb, arg);
    if (w->ev == NULL || event_add(w->ev, NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
nats_worker_start(struct nats_worker *w, void *(*fn)(void *), void *arg, char *err, size_t errlen)
{
    int rc = pthread_create(&w->thread, NULL, fn, arg);

    if (rc != 0) {
        snprintf(err, errlen, "pthread_create() failed: %s", strerror(rc));
        return -1;
    }
    w->started = true;
    return 0;
}

void
nats_worker_wake(struct nats_worker *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->efd, &one, sizeof(one));
    (void)r; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

void
nats_worker_woken(struct nats_worker *w, const char *what)
{
    uint64_t v;

    if (read(w->efd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
        log_err("%s: read() of the eventfd failed: %s", what, strerror(errno));
    }
}

void
nats_worker_nap_locked(struct nats_worker *w, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (!w->stopping) {
        pthread_cond_timedwait(&w->cond, &w->mu, &ts);
    }
}

void
nats_worker_stop(struct nats_worker *w, natsConnection *nc)
{
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stopping = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->mu);
    }
    if (nc != NULL) {
        natsConnection_Close(nc);
    }
    if (w->started) {
        pthread_join(w->thread, NULL);
        w->started = false;
    }
}

void
nats_worker_release(struct nats_worker *w)
{
    if (w->ev != NULL) {
        event_free(w->ev);
        w->ev = NULL;
    }
    if (w->efd >= 0) {
        close(w->efd);
        w->efd = -1;
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
}
