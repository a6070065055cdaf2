/*
 * probe_tcp: the tcp job kind (see probe_tcp.h). The transfer is a connect-only libcurl
 * transfer on an http(s) URL: libcurl resolves, connects and (https) handshakes, then stops
 * before sending anything. The connection is shut down when the run is done, so the target sees
 * a connect and a close, as with blackbox_exporter.
 */
#include "build-config.h"

#include "probe_tcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "conf.h"
#include "conf_http.h"
#include "conf_targets.h"
#include "conf_tree.h"
#include "probe_tls.h"

struct tcp_probe {
    enum probe_conn_ip preferred_ip;
    bool ip_fallback;
    struct probe_tls tls;   /* this run's handshake */
    struct probe_conn conn; /* this run's address */
};

void *
probe_tcp_new(const struct probe_tcp_opts *opts, char *err, size_t errlen)
{
    struct tcp_probe *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->preferred_ip = opts->preferred_ip;
    p->ip_fallback = !opts->no_ip_fallback;
    return p;
}

static void
tcp_free(void *state)
{
    free(state);
}

static int
tcp_prepare(void *state, CURL *easy, struct batch *b)
{
    struct tcp_probe *p = state;

    probe_tls_prepare(&p->tls, easy); /* no OpenSSL backend: no TLS metrics */
    probe_conn_prepare(&p->conn, easy, p->preferred_ip, p->ip_fallback);
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
    return 0;
}

static void
tcp_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct tcp_probe *p = state;
    curl_off_t total = 0;
    curl_socket_t fd = CURL_SOCKET_BAD;

    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total);
    batch_add(b, "probe_success", SAMPLE_GAUGE, b->ok ? 1 : 0, 0);
    batch_add(b, "probe_duration_seconds", SAMPLE_GAUGE,
              total > 0 ? (double)total / 1e6 : res->duration_s, 0);
    probe_conn_add(&p->conn, easy, b);
    probe_tls_add(&p->tls, b);
    batch_add(b, "probe_failed_due_to_regex", SAMPLE_GAUGE, 0, 0);
    /* libcurl keeps a connect-only connection for the handle: close it at the TCP level now. */
    if (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD) {
        shutdown(fd, SHUT_RDWR);
    }
}

const struct job_kind probe_tcp = {
    .name = "tcp",
    .prepare = tcp_prepare,
    .finish = tcp_finish,
    .free = tcp_free,
};

char *
probe_tcp_url_dup(const char *hostport, bool tls, const char **why)
{
    const char *colon = strrchr(hostport, ':');
    char *end = NULL, *url;
    long port;

    if (colon == NULL || colon == hostport) {
        *why = "not host:port";
        return NULL;
    }
    if (strchr(hostport, ':') != colon && (hostport[0] != '[' || colon[-1] != ']')) {
        *why = "an IPv6 address must be in brackets: [::1]:port";
        return NULL;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
        *why = "the port must be a number in 1..65535";
        return NULL;
    }
    if (strpbrk(hostport, "/?#@ ") != NULL) {
        *why = "not host:port";
        return NULL;
    }
    url = malloc(strlen(hostport) + sizeof("https:///"));
    if (url == NULL) {
        *why = "out of memory";
        return NULL;
    }
    sprintf(url, "%s://%s/", tls ? "https" : "http", hostport);
    return url;
}

/* The tcp kind in the config: tcp_probes */

static const struct conf_choice ip_choices[] = {
    {"ip6", PROBE_CONN_IP6, false}, {"ip4", PROBE_CONN_IP4, false}, {NULL, 0, false}};

static void tcp_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                      const char *path);

/* blackbox_exporter tcp module keys pollster does not do (yet). */
static const char *const tcp_unsupported[] = {"query_response", "source_ip_address", NULL};

#define SC(k, t, m, ...) CONF_FLD(k, t, struct config_job, m, __VA_ARGS__)
#define PO(k, t, m, ...) CONF_FLD(k, t, struct probe_tcp_conf, m, .flags = CONF_F_OPTS, __VA_ARGS__)
static const struct conf_field tcp_fields[] = {
    SC("name", CONF_FT_STR, name, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Job name, unique across all jobs."),
    SC("targets", CONF_FT_DEFER, name, .flags = CONF_F_REQUIRED,
       .desc = "host:port addresses to connect to ([::1]:port for IPv6)."),
    SC("interval", CONF_FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("timeout", CONF_FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to interval."),
    PO("tls", CONF_FT_BOOL, tls, .def = "false",
       .desc = "Complete a TLS handshake after connecting (probe_ssl_* metrics)."),
    SC("tls_config", CONF_FT_SECTION, http.tls, .sub = &conf_http_tls_section,
       .desc = "TLS settings (with tls: true)."),
    PO("preferred_ip_protocol", CONF_FT_ENUM, preferred_ip_protocol, .def = "ip6",
       .choices = ip_choices, .desc = "ip4 or ip6 (blackbox_exporter's default: ip6)."),
    PO("ip_protocol_fallback", CONF_FT_BOOL, ip_protocol_fallback, .def = "true",
       .desc = "Use the other family when the preferred one has no address."),
    CONF_FLDN("labels", CONF_FT_LABELS, struct config_job, labels, nlabels,
              .desc = "Labels of every target."),
};
#undef SC
#undef PO
static const struct conf_section tcp_section = {.name = "tcp_probes[]",
                                                CONF_FIELDS(tcp_fields),
                                                .unsupported = tcp_unsupported,
                                                .opts_off = offsetof(struct config_job, opts),
                                                .opts_size = sizeof(struct probe_tcp_conf),
                                                .check = tcp_check};

/* One target per host:port; its instance is the host:port (or the job's instance label). */
static void
tcp_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_job *job = base;
    const struct probe_tcp_conf *pc = job->opts;
    const struct conf_node *n = conf_tree_get(map, "targets");
    const char *inst = conf_targets_label_get(job->labels, job->nlabels, "instance");

    if (n == NULL || !conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "targets")) {
        return;
    }
    if (n->n == 0) {
        conf_err(x, n, "targets must not be empty in %s", path);
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct conf_node *t = n->kids[i];
        const char *why = NULL;
        char *url;
        if (!conf_expect(x, t, CONF_NODE_SCALAR, "a string", "targets")) {
            continue;
        }
        url = probe_tcp_url_dup(t->str, pc != NULL && pc->tls, &why);
        if (url == NULL) {
            conf_err(x, t, "%s.targets[%zu]: \"%s\": %s", path, i, t->str, why);
            continue;
        }
        if (conf_targets_add(job, url, inst != NULL ? inst : t->str, job->labels, job->nlabels, 0,
                             0) != 0) {
            conf_oom(x);
        }
        free(url);
    }
}

static void *
tcp_state_new(const struct config_job *job, char *err, size_t errlen)
{
    const struct probe_tcp_conf *pc = job->opts;
    struct probe_tcp_opts o = {.preferred_ip = pc->preferred_ip_protocol,
                               .no_ip_fallback = !pc->ip_protocol_fallback};

    return probe_tcp_new(&o, err, errlen);
}

static void
tcp_identity(const struct config_job *job, struct strbuf *sb)
{
    const struct probe_tcp_conf *p = job->opts;

    strbuf_printf(sb, "T%d%d%d", (int)p->tls, (int)p->preferred_ip_protocol,
                  (int)p->ip_protocol_fallback);
}

static void
tcp_client(const struct config_job *job, struct httpc_opts *h, bool *fresh_connect)
{
    h->follow_redirects = false;
    h->http1_only = true;  /* no ALPN for h2: the handshake is all there is */
    *fresh_connect = true; /* time a full connection, as blackbox_exporter does */
}

const struct kind probe_tcp_kind = {
    .name = "tcp",
    .section = "tcp_probes",
    .name_key = "name",
    .interval_key = "interval",
    .timeout_key = "timeout",
    .desc = "Blackbox-style TCP connect checks (blackbox_exporter's tcp prober), optionally with "
            "a TLS handshake.",
    .conf = &tcp_section,
    .ops = &probe_tcp,
    .state_new = tcp_state_new,
    .identity = tcp_identity,
    .client = tcp_client,
};
