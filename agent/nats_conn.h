/*
 * What the nats output and the nats input share: the connection settings of their config
 * sections (url, one server or a cluster's list; credentials; TLS; timeout), their checks, and
 * the libnats options they make.
 */
#ifndef POLLSTER_NATS_CONN_H
#define POLLSTER_NATS_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <nats/nats.h>

#include "conf.h"
#include "conf_http.h"
#include "config.h"
#include "strbuf.h"

struct event_base;

struct nats_conn_conf {
    char **urls; /* owned (nats_conn_release): url, one or a list */
    size_t nurls;
    int64_t timeout_ms; /* publish acknowledgements, JetStream API answers */
    char *user;
    char *password; /* secret */
    char *token;    /* secret */
    char *creds_file;
    char *nkey;
    char *nkey_seed_file;
    struct config_tls tls;
};

/* The connection keys of a section whose opts struct @st holds a struct nats_conn_conf @m. */
#define NATS_CONN_FIELDS(st, m)                                                                    \
    CONF_FLD("url", CONF_FT_DEFER, st, m.urls, .flags = CONF_F_OPTS | CONF_F_REQUIRED,             \
             .desc = "The NATS server (nats://HOST:PORT, tls://HOST:PORT), or a list of a "        \
                     "cluster's servers."),                                                        \
        CONF_FLD("timeout", CONF_FT_DURATION, st, m.timeout_ms, .flags = CONF_F_OPTS,              \
                 .def = "10s",                                                                     \
                 .desc = "Wait for a publish acknowledgement and for JetStream API answers."),     \
        CONF_FLD("user", CONF_FT_STR, st, m.user, .flags = CONF_F_OPTS,                            \
                 .desc = "User name (with password)."),                                            \
        CONF_FLD("password", CONF_FT_STR, st, m.password, .flags = CONF_F_OPTS | CONF_F_SECRET,    \
                 .desc = "Password."),                                                             \
        CONF_FLD("token", CONF_FT_STR, st, m.token, .flags = CONF_F_OPTS | CONF_F_SECRET,          \
                 .desc = "Authentication token."),                                                 \
        CONF_FLD("creds_file", CONF_FT_PATH, st, m.creds_file,                                     \
                 .flags = CONF_F_OPTS | CONF_F_NONEMPTY,                                           \
                 .desc = "A .creds file (user JWT and NKey seed)."),                               \
        CONF_FLD("nkey", CONF_FT_STR, st, m.nkey, .flags = CONF_F_OPTS | CONF_F_NONEMPTY,          \
                 .desc = "The user's public NKey (with nkey_seed_file)."),                         \
        CONF_FLD("nkey_seed_file", CONF_FT_PATH, st, m.nkey_seed_file,                             \
                 .flags = CONF_F_OPTS | CONF_F_NONEMPTY,                                           \
                 .desc = "The file of the user's NKey seed (with nkey)."),                         \
        CONF_FLD("tls_config", CONF_FT_SECTION, st, m.tls, .flags = CONF_F_OPTS,                   \
                 .sub = &conf_http_tls_section,                                                    \
                 .desc = "TLS: ca_file, cert_file, key_file, insecure_skip_verify.")

/*
 * A section's check hook calls this: reads url from @map (a scalar or a sequence) into @c,
 * reports bad URLs, nkey without nkey_seed_file (or the reverse), password without user and a
 * zero timeout, each at its place.
 */
void nats_conn_check(struct conf_ctx *x, struct nats_conn_conf *c, const struct conf_node *map,
                     const char *path);
/* Frees what nats_conn_check added (the URLs); accepts NULL. */
void nats_conn_release(struct nats_conn_conf *c);
/*
 * The libnats options of @c: servers, name, reconnecting forever, timeout, credentials, TLS.
 * NATS_OK, or the failing call's status with "CALL() failed: text" in @err.
 */
natsStatus nats_conn_options(natsOptions *o, const struct nats_conn_conf *c, char *err,
                             size_t errlen);
/* "not connected to NATS yet", with @nc's last error (wrong credentials...), into @why. */
void nats_conn_last_error(natsConnection *nc, char *why, size_t len);
/* The same from a last error's status @s and text @e (NULL or "": the status's text). */
void nats_conn_format_error(char *why, size_t len, natsStatus s, const char *e);
/*
 * Counts the users of libnats (the loop's thread only): call nats_conn_hold() before the first
 * libnats call of an output or input, nats_conn_drop() after its last; the last one closes
 * libnats (its threads and global state), which the next libnats call opens again.
 */
void nats_conn_hold(void);
void nats_conn_drop(void);
/* Runs connections made with @o on the loop's @base (libnats' libevent adapter). */
natsStatus nats_conn_set_loop(natsOptions *o, struct event_base *base);
/* Prints the URLs, comma-separated, to @f. */
void nats_conn_summary(FILE *f, const struct nats_conn_conf *c);
/* Appends every setting (secrets too: compared, never shown) to @sb. */
void nats_conn_identity(const struct nats_conn_conf *c, struct strbuf *sb);

/*
 * The thread an output or input runs beside the loop for what libnats only does blocking
 * (JetStream fetches, stream setup): the mutex and condition of the state both share, the stop
 * flag, and an eventfd whose event runs a callback on the loop when the thread wakes it.
 */
struct nats_worker {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping; /* under mu */
    pthread_t thread;
    bool started;
    int efd;
    struct event *ev; /* on efd */
};

/* Makes the mutex and condition (nothing else yet; nats_worker_release() is then safe). */
void nats_worker_init(struct nats_worker *w);
/* Runs @cb(@arg) on @base's loop whenever the thread calls nats_worker_wake(). 0 or -1 (@err). */
int nats_worker_listen(struct nats_worker *w, struct event_base *base, event_callback_fn cb,
                       void *arg, char *err, size_t errlen);
/* Starts the thread @fn(@arg). 0 or -1 (@err). */
int nats_worker_start(struct nats_worker *w, void *(*fn)(void *), void *arg, char *err,
                      size_t errlen);
/* Wakes the loop (any thread). */
void nats_worker_wake(struct nats_worker *w);
/* On the loop, in the callback: takes the wake-up (@what names the owner in the log). */
void nats_worker_woken(struct nats_worker *w, const char *what);
/* Waits up to @ms or until stopping (the thread, holding mu). */
void nats_worker_nap_locked(struct nats_worker *w, int64_t ms);
/* Stops and joins the thread; closes @nc (may be NULL) first, which ends a call it waits in. */
void nats_worker_stop(struct nats_worker *w, natsConnection *nc);
/* Frees the event, eventfd, mutex and condition (after nats_worker_stop). */
void nats_worker_release(struct nats_worker *w);

#endif
