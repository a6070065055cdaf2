/* dns_sd_configs refreshes with c-ares on the loop (sddns.h). */
#include "build-config.h"

#include "sddns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "jsonw.h"
#include "strbuf.h"

#define SDDNS_TIMEOUT_MS 2000 /* per try */
#define SDDNS_TRIES 2
/* Addresses taken from one A/AAAA answer (a 64 KiB TCP answer holds at most ~4000; real ones, far
 * fewer). */
#define SDDNS_MAX_ADDRS 256

/* One socket c-ares asked us to watch. */
struct sock {
    ares_socket_t fd;
    struct event *ev; /* owned */
    struct sock *next;
};

/* One discovered target. */
struct rec {
    char *addr;   /* owned: host:port */
    char *target; /* owned: SRV and MX only, with the final dot */
    int port;     /* SRV only (0 for MX) */
};

/* The answers of one name. */
struct name_result {
    struct sddns *d;
    size_t idx;
    struct rec *recs; /* owned */
    size_t nrecs;
};

struct sddns {
    struct event_base *base; /* borrowed */
    ares_channel ch;
    bool ch_ok;
    struct event *timer;  /* owned: c-ares' next timeout */
    struct event *finish; /* owned: delivers the result outside c-ares */
    struct sock *socks;   /* owned */
    char *job;            /* owned */
    char **names;         /* owned */
    size_t nnames;
    enum config_sd_dns_type type;
    int port;
    struct name_result *results; /* owned, one per name, during a refresh */
    size_t pending;              /* names not answered yet */
    bool running;
    bool destroying;
    char error[256]; /* the first failure of the refresh, "" when none */
    struct strbuf out;
    sddns_done_fn *done;
    void *arg;
};

static void arm_timer(struct sddns *d);

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sddns *d = arg;

    ares_process_fd(d->ch, (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
    arm_timer(d);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sddns *d = arg;

    (void)fd;
    (void)what;
    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer(d);
}

static void
arm_timer(struct sddns *d)
{
    struct timeval tv, *t;

    if (d->destroying) {
        return;
    }
    t = ares_timeout(d->ch, NULL, &tv);
    if (t == NULL) {
        evtimer_del(d->timer);
    }
    else {
        evtimer_add(d->timer, t);
    }
}

/* c-ares' socket state callback: watch @fd for what it wants, or stop watching it. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct sddns *d = data;
    struct sock **pp = &d->socks, *s;

    while (*pp != NULL && (*pp)->fd != fd) {
        pp = &(*pp)->next;
    }
    s = *pp;
    if (s != NULL) {
        event_free(s->ev);
        s->ev = NULL;
    }
    if (!readable && !writable) {
        if (s != NULL) {
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            return; /* the query times out */
        }
        s->fd = fd;
        s->next = d->socks;
        d->socks = s;
    }
    s->ev =
        event_new(d->base, (evutil_socket_t)fd,
                  EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0), sock_cb, d);
    if (s->ev != NULL) {
        event_add(s->ev, NULL);
    }
}

static int
rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    int c = strcmp(x->addr, y->addr);

    if (c != 0) {
        return c;
    }
    return strcmp(x->target != NULL ? x->target : "", y->target != NULL ? y->target : "");
}

static void
results_free(struct sddns *d)
{
    for (size_t i = 0; d->results != NULL && i < d->nnames; i++) {
        for (size_t k = 0; k < d->results[i].nrecs; k++) {
            free(d->results[i].recs[k].addr);
            free(d->results[i].recs[k].target);
        }
        free(d->results[i].recs);
    }
    free(d->results);
    d->results = NULL;
}

static int
rec_add(struct name_result *r, const char *addr, const char *target, int port)
{
    struct rec *v = realloc(r->recs, (r->nrecs + 1) * sizeof(*v));

    if (v == NULL) {
        return -ENOMEM;
    }
    r->recs = v;
    v[r->nrecs].addr = strdup(addr);
    v[r->nrecs].target = target != NULL ? strdup(target) : NULL;
    v[r->nrecs].port = port;
    r->nrecs++;
    if (v[r->nrecs - 1].addr == NULL || (target != NULL && v[r->nrecs - 1].target == NULL)) {
        return -ENOMEM;
    }
    return 0;
}

/* The length of @host without its final dots (rooted names look unusual in an address). */
static int
host_trim(const char *host)
{
    size_t n = strlen(host);

    while (n > 0 && host[n - 1] == '.') {
        n--;
    }
    return (int)(n < 250 ? n : 250);
}

/* The records of one answer into @r. 0, or an ARES_* status. */
static int
answer_parse(struct sddns *d, struct name_result *r, const unsigned char *abuf, int alen)
{
    char addr[INET6_ADDRSTRLEN + 16], ip[INET6_ADDRSTRLEN];

    if (d->type == CONFIG_SD_DNS_MX) {
        struct ares_mx_reply *mx = NULL;
        int st = ares_parse_mx_reply(abuf, alen, &mx);
        if (st != ARES_SUCCESS) {
            return st;
        }
        for (struct ares_mx_reply *p = mx; p != NULL; p = p->next) {
            char target[300];
            int n = host_trim(p->host);
            snprintf(addr, sizeof(addr), "%.*s:%d", n, p->host, d->port);
            snprintf(target, sizeof(target), "%.*s.", n, p->host);
            if (rec_add(r, addr, target, 0) != 0) {
                ares_free_data(mx);
                return ARES_ENOMEM;
            }
        }
        ares_free_data(mx);
        return ARES_SUCCESS;
    }
    if (d->type == CONFIG_SD_DNS_SRV) {
        struct ares_srv_reply *srv = NULL;
        int st = ares_parse_srv_reply(abuf, alen, &srv);
        if (st != ARES_SUCCESS) {
            return st;
        }
        for (struct ares_srv_reply *p = srv; p != NULL; p = p->next) {
            char target[300];
            int n = host_trim(p->host);
            snprintf(addr, sizeof(addr), "%.*s:%u", n, p->host, (unsigned)p->port);
            snprintf(target, sizeof(target), "%.*s.", n, p->host);
            if (rec_add(r, addr, target, p->port) != 0) {
                ares_free_data(srv);
                return ARES_ENOMEM;
            }
        }
        ares_free_data(srv);
        return ARES_SUCCESS;
    }
    if (d->type == CONFIG_SD_DNS_A) {
        struct ares_addrttl a[SDDNS_MAX_ADDRS];
        int n = SDDNS_MAX_ADDRS;
        int st = ares_parse_a_reply(abuf, alen, NULL, a, &n);
        if (st != ARES_SUCCESS) {
            return st;
        }
        for (int i = 0; i < n; i++) {
            inet_ntop(AF_INET, &a[i].ipaddr, ip, sizeof(ip));
            snprintf(addr, sizeof(addr), "%s:%d", ip, d->port);
            if (rec_add(r, addr, NULL, 0) != 0) {
                return ARES_ENOMEM;
            }
        }
        return ARES_SUCCESS;
    }
    struct ares_addr6ttl a6[SDDNS_MAX_ADDRS];
    int n = SDDNS_MAX_ADDRS;
    int st = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
    if (st != ARES_SUCCESS) {
        return st;
    }
    for (int i = 0; i < n; i++) {
        inet_ntop(AF_INET6, &a6[i].ip6addr, ip, sizeof(ip));
        snprintf(addr, sizeof(addr), "[%s]:%d", ip, d->port);
        if (rec_add(r, addr, NULL, 0) != 0) {
            return ARES_ENOMEM;
        }
    }
    return ARES_SUCCESS;
}

/* c-ares' answer to one name. */
static void
query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct name_result *r = arg;
    struct sddns *d = r->d;

    (void)timeouts;
    if (d->destroying) {
        return;
    }
    if (status == ARES_SUCCESS) {
        status = answer_parse(d, r, abuf, alen);
    }
    /* No such name, or no record of the type: no targets, as in Prometheus. */
    if (status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA &&
        d->error[0] == '\0') {
        static const char *const names[] = {[CONFIG_SD_DNS_SRV] = "SRV",
                                            [CONFIG_SD_DNS_A] = "A",
                                            [CONFIG_SD_DNS_AAAA] = "AAAA",
                                            [CONFIG_SD_DNS_MX] = "MX"};
        snprintf(d->error, sizeof(d->error), "%s lookup of \"%s\" failed: %s", names[d->type],
                 d->names[r->idx], ares_strerror(status));
    }
    if (--d->pending == 0) {
        event_active(d->finish, EV_TIMEOUT, 0);
    }
}

/* Writes the groups of every name, in the order of the names. */
static void
write_groups(struct sddns *d)
{
    bool first = true;

    strbuf_reset(&d->out);
    strbuf_putc(&d->out, '[');
    for (size_t i = 0; i < d->nnames; i++) {
        struct name_result *r = &d->results[i];
        if (r->nrecs > 1) {
            qsort(r->recs, r->nrecs, sizeof(*r->recs), rec_cmp); /* NULL recs when none */
        }
        for (size_t k = 0; k < r->nrecs; k++) {
            if (k > 0 && rec_cmp(&r->recs[k - 1], &r->recs[k]) == 0) {
                continue;
            }
            strbuf_puts(&d->out, first ? "\n" : ",\n");
            first = false;
            strbuf_puts(&d->out, "{\"targets\":[");
            jsonw_cstr(&d->out, r->recs[k].addr);
            strbuf_puts(&d->out, "],\"labels\":{\"__meta_dns_name\":");
            jsonw_cstr(&d->out, d->names[i]);
            if (r->recs[k].target != NULL && d->type == CONFIG_SD_DNS_MX) {
                strbuf_puts(&d->out, ",\"__meta_dns_mx_record_target\":");
                jsonw_cstr(&d->out, r->recs[k].target);
            }
            else if (r->recs[k].target != NULL) {
                strbuf_puts(&d->out, ",\"__meta_dns_srv_record_target\":");
                jsonw_cstr(&d->out, r->recs[k].target);
                strbuf_printf(&d->out, ",\"__meta_dns_srv_record_port\":\"%d\"", r->recs[k].port);
            }
            strbuf_puts(&d->out, "}}");
        }
    }
    strbuf_puts(&d->out, "]\n");
}

/* Every name answered: the result, outside c-ares' callbacks. */
static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sddns *d = arg;

    (void)fd;
    (void)what;
    d->running = false;
    if (d->error[0] == '\0') {
        write_groups(d);
        if (d->out.oom) {
            snprintf(d->error, sizeof(d->error), "out of memory");
        }
    }
    results_free(d);
    if (d->error[0] != '\0') {
        d->done(d->arg, NULL, 0, d->error);
    }
    else {
        d->done(d->arg, d->out.data, d->out.len, NULL);
    }
}

struct sddns *
sddns_new(struct event_base *base, const struct config_sd *sd, const char *job, sddns_done_fn *done,
          void *arg, char *err, size_t errlen)
{
    struct sddns *d = calloc(1, sizeof(*d));
    struct ares_options ao = {0};
    const char *servers = getenv("POLLSTER_TEST_DNS_SERVER");
    int st;

    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    strbuf_init(&d->out);
    d->base = base;
    d->done = done;
    d->arg = arg;
    d->type = sd->type;
    d->port = (int)sd->port;
    d->job = strdup(job);
    d->names = calloc(sd->nnames + 1, sizeof(*d->names));
    d->timer = evtimer_new(base, timer_cb, d);
    d->finish = event_new(base, -1, 0, finish_cb, d);
    if (d->job == NULL || d->names == NULL || d->timer == NULL || d->finish == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (; d->nnames < sd->nnames; d->nnames++) {
        d->names[d->nnames] = strdup(sd->names[d->nnames]);
        if (d->names[d->nnames] == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    st = ares_library_init(ARES_LIB_INIT_ALL);
    if (st != ARES_SUCCESS) {
        snprintf(err, errlen, "ares_library_init() failed: %s", ares_strerror(st));
        goto fail;
    }
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = d;
    ao.timeout = SDDNS_TIMEOUT_MS;
    ao.tries = SDDNS_TRIES;
    st = ares_init_options(&d->ch, &ao,
                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (st != ARES_SUCCESS) {
        ares_library_cleanup();
        snprintf(err, errlen, "ares_init_options() failed: %s", ares_strerror(st));
        goto fail;
    }
    d->ch_ok = true;
    if (servers != NULL && servers[0] != '\0') {
        st = ares_set_servers_ports_csv(d->ch, servers);
        if (st != ARES_SUCCESS) {
            snprintf(err, errlen, "ares_set_servers_ports_csv(\"%s\") failed: %s", servers,
                     ares_strerror(st));
            goto fail;
        }
    }
    return d;
fail:
    sddns_free(d);
    return NULL;
}

int
sddns_start(struct sddns *d)
{
    static const int types[] = {[CONFIG_SD_DNS_SRV] = 33,
                                [CONFIG_SD_DNS_A] = 1,
                                [CONFIG_SD_DNS_AAAA] = 28,
                                [CONFIG_SD_DNS_MX] = 15};

    if (d->running) {
        return -EBUSY;
    }
    d->results = calloc(d->nnames, sizeof(*d->results));
    if (d->results == NULL) {
        return -ENOMEM;
    }
    d->error[0] = '\0';
    d->running = true;
    d->pending = d->nnames;
    for (size_t i = 0; i < d->nnames; i++) {
        d->results[i].d = d;
        d->results[i].idx = i;
    }
    /* Answers may come at once (a cached failure): count them all as pending first. */
    for (size_t i = 0; i < d->nnames; i++) {
        ares_search(d->ch, d->names[i], 1 /* C_IN */, types[d->type], query_cb, &d->results[i]);
    }
    arm_timer(d);
    return 0;
}

void
sddns_free(struct sddns *d)
{
    if (d == NULL) {
        return;
    }
    d->destroying = true;
    if (d->ch_ok) {
        ares_destroy(d->ch);
        ares_library_cleanup();
    }
    while (d->socks != NULL) {
        struct sock *s = d->socks;
        d->socks = s->next;
        if (s->ev != NULL) {
            event_free(s->ev);
        }
        free(s);
    }
    if (d->timer != NULL) {
        event_free(d->timer);
    }
    if (d->finish != NULL) {
        event_free(d->finish);
    }
    results_free(d);
    for (size_t i = 0; d->names != NULL && i < d->nnames; i++) {
        free(d->names[i]);
    }
    free(d->names);
    free(d->job);
    strbuf_release(&d->out);
    free(d);
}
