/*
 * probe: turns one HTTP transfer into blackbox_exporter's probe_* series. The body is read only
 * when body regexes are configured (then kept, up to the scrape's body limit, for matching);
 * otherwise it is counted and discarded. Probes use a fresh connection each run so the phase
 * timings describe a full DNS + connect + TLS + request cycle, as blackbox_exporter's do.
 */
#include "build-config.h"

#include "job_probe.h"

#include <errno.h>
#include <stdio.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "conf_http.h"
#include "conf_targets.h"
#include "scrape.h"
#include "strbuf.h"

/* A body buffer larger than this is freed after the run instead of kept for the next one. */
#define PROBE_BODY_KEEP (256 * 1024)

struct probe_regex {
    regex_t re;
    char *text; /* owned: for the error message */
};

struct probe {
    int codes[JOB_PROBE_MAX_CODES];
    size_t ncodes;
    struct probe_regex *match; /* owned: fail if the body matches any */
    size_t nmatch;
    struct probe_regex *not_match; /* owned: fail if the body matches none... of each */
    size_t nnot_match;
    struct strbuf body; /* owned: only filled when regexes are set */
};

static void
probe_free(void *state)
{
    struct probe *p = state;

    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nmatch; i++) {
        regfree(&p->match[i].re);
        free(p->match[i].text);
    }
    for (size_t i = 0; i < p->nnot_match; i++) {
        regfree(&p->not_match[i].re);
        free(p->not_match[i].text);
    }
    free(p->match);
    free(p->not_match);
    strbuf_release(&p->body);
    free(p);
}

static int
compile_list(const char *const *src, struct probe_regex **out, size_t *n, const char *what,
             char *err, size_t errlen)
{
    size_t count = 0;

    while (src != NULL && src[count] != NULL) {
        count++;
    }
    if (count == 0) {
        return 0;
    }
    *out = calloc(count, sizeof(**out));
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        int rc = regcomp(&(*out)[i].re, src[i], REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &(*out)[i].re, msg, sizeof(msg));
            snprintf(err, errlen, "%s: invalid regular expression \"%s\": %s", what, src[i], msg);
            return -EINVAL;
        }
        (*out)[i].text = strdup(src[i]);
        (*n)++; /* counted once compiled, so probe_free frees exactly these */
        if ((*out)[i].text == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

void *
job_probe_new(const struct probe_opts *opts, char *err, size_t errlen)
{
    struct probe *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    strbuf_init(&p->body);
    p->ncodes = opts->n_valid_status_codes;
    if (p->ncodes > JOB_PROBE_MAX_CODES) {
        p->ncodes = JOB_PROBE_MAX_CODES;
    }
    memcpy(p->codes, opts->valid_status_codes, p->ncodes * sizeof(p->codes[0]));
    if (compile_list(opts->fail_if_body_matches, &p->match, &p->nmatch,
                     "fail_if_body_matches_regexp", err, errlen) != 0 ||
        compile_list(opts->fail_if_body_not_matches, &p->not_match, &p->nnot_match,
                     "fail_if_body_not_matches_regexp", err, errlen) != 0) {
        probe_free(p);
        return NULL;
    }
    return p;
}

/* Empties the body buffer; one above PROBE_BODY_KEEP (a big body's) is freed, not kept. */
static void
probe_body_reset(struct probe *p)
{
    if (p->body.cap > PROBE_BODY_KEEP) {
        strbuf_release(&p->body);
    }
    else {
        strbuf_reset(&p->body);
    }
}

static int
probe_prepare(void *state, CURL *easy, struct batch *b)
{
    struct probe *p = state;

    probe_body_reset(p);
    curl_easy_setopt(easy, CURLOPT_CERTINFO, 1L);
    return 0;
}

static int
probe_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct probe *p = state;

    if (p->nmatch + p->nnot_match > 0) {
        strbuf_append(&p->body, data, len);
        if (p->body.oom) {
            batch_fail(b, REASON_INTERNAL, "out of memory buffering the body for regexes");
            return -ENOMEM;
        }
    }
    return 0;
}

static bool
status_valid(const struct probe *p, long status)
{
    if (p->ncodes == 0) {
        return status >= 200 && status < 300;
    }
    for (size_t i = 0; i < p->ncodes; i++) {
        if (p->codes[i] == status) {
            return true;
        }
    }
    return false;
}

int
job_probe_parse_cert_time(const char *s, int64_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%b %d %H:%M:%S %Y GMT", &tm);
    if (end == NULL || *end != '\0') {
        return -EINVAL;
    }
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* Earliest "Expire date" over the peer's chain, or -1 when curl gave no certificate info. */
static int64_t
earliest_expiry(CURL *easy)
{
    struct curl_certinfo *ci = NULL;
    int64_t best = -1;

    if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL) {
        return -1;
    }
    for (int i = 0; i < ci->num_of_certs; i++) {
        for (struct curl_slist *l = ci->certinfo[i]; l != NULL; l = l->next) {
            int64_t t;
            if (strncmp(l->data, "Expire date:", 12) == 0 &&
                job_probe_parse_cert_time(l->data + 12, &t) == 0 && (best < 0 || t < best)) {
                best = t;
            }
        }
    }
    return best;
}

static double
secs(curl_off_t us)
{
    return (double)us / 1e6;
}

static void
add_phases(CURL *easy, struct batch *b)
{
    curl_off_t dns = 0, conn = 0, tls = 0, pre = 0, first = 0, total = 0;

    curl_easy_getinfo(easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &conn);
    curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &tls);
    curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total);
    /* Phases end where the next begins; a phase not reached has length 0. */
    double resolve = secs(dns);
    double connect = conn > dns ? secs(conn - dns) : 0;
    double handshake = tls > conn && conn > 0 ? secs(tls - conn) : 0;
    double processing = first > pre && pre > 0 ? secs(first - pre) : 0;
    double transfer = total > first && first > 0 ? secs(total - first) : 0;
    static const char *const names[] = {"resolve", "connect", "tls", "processing", "transfer"};
    double values[] = {resolve, connect, handshake, processing, transfer};
    for (size_t i = 0; i < 5; i++) {
        batch_add(b, "probe_http_duration_seconds", SAMPLE_GAUGE, values[i], 1, "phase", names[i]);
    }
}

/* Runs the regexes; fails the batch and returns true when one says so. */
static bool
regex_failed(struct probe *p, struct batch *b)
{
    const char *body = p->body.data != NULL ? p->body.data : "";

    for (size_t i = 0; i < p->nmatch; i++) {
        if (regexec(&p->match[i].re, body, 0, NULL, 0) == 0) {
            batch_fail(b, REASON_PARSE, "body matched fail_if_body_matches_regexp \"%s\"",
                       p->match[i].text);
            return true;
        }
    }
    for (size_t i = 0; i < p->nnot_match; i++) {
        if (regexec(&p->not_match[i].re, body, 0, NULL, 0) != 0) {
            batch_fail(b, REASON_PARSE, "body did not match fail_if_body_not_matches_regexp \"%s\"",
                       p->not_match[i].text);
            return true;
        }
    }
    return false;
}

static void
probe_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct probe *p = state;
    curl_off_t clen = -1, total = 0;
    long redirects = 0, version = 0;
    char *scheme = NULL;
    bool regex_fail = false;
    bool https;

    if (b->ok && !status_valid(p, res->http_status)) {
        enum reason r = scrape_reason_for_status(res->http_status);
        if (r == REASON_NONE) {
            r = REASON_INTERNAL; /* a 2xx outside valid_status_codes: no better reason */
        }
        batch_fail(b, r, "HTTP %ld is not a valid status code", res->http_status);
    }
    if (b->ok && p->nmatch + p->nnot_match > 0) {
        regex_fail = regex_failed(p, b);
    }
    probe_body_reset(p); /* matched: a big body is not kept until the next run */
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme);
    https = scheme != NULL && strcasecmp(scheme, "https") == 0;

    batch_add(b, "probe_success", SAMPLE_GAUGE, b->ok ? 1 : 0, 0);
    batch_add(b, "probe_duration_seconds", SAMPLE_GAUGE, total > 0 ? secs(total) : res->duration_s,
              0);
    batch_add(b, "probe_http_status_code", SAMPLE_GAUGE, (double)res->http_status, 0);
    batch_add(b, "probe_http_content_length", SAMPLE_GAUGE, (double)clen, 0);
    batch_add(b, "probe_http_uncompressed_body_length", SAMPLE_GAUGE, (double)res->body_bytes, 0);
    batch_add(b, "probe_http_redirects", SAMPLE_GAUGE, (double)redirects, 0);
    batch_add(b, "probe_http_ssl", SAMPLE_GAUGE, https && res->http_status > 0 ? 1 : 0, 0);
    double v = version == CURL_HTTP_VERSION_1_0   ? 1.0
               : version == CURL_HTTP_VERSION_1_1 ? 1.1
               : version == CURL_HTTP_VERSION_2_0 ? 2.0
               : version == CURL_HTTP_VERSION_3   ? 3.0
                                                  : 0;
    batch_add(b, "probe_http_version", SAMPLE_GAUGE, v, 0);
    add_phases(easy, b);
    if (https) {
        int64_t expiry = earliest_expiry(easy);
        if (expiry >= 0) {
            batch_add(b, "probe_ssl_earliest_cert_expiry", SAMPLE_GAUGE, (double)expiry, 0);
        }
    }
    if (p->nmatch + p->nnot_match > 0) {
        batch_add(b, "probe_failed_due_to_regex", SAMPLE_GAUGE, regex_fail ? 1 : 0, 0);
    }
}

const struct job_kind job_probe = {
    .name = "probe",
    .prepare = probe_prepare,
    .feed = probe_feed,
    .finish = probe_finish,
    .free = probe_free,
};

/* The probe kind in the config: probes */

static const struct conf_choice method_choices[] = {
    {"GET", JOB_PROBE_METHOD_GET, false}, {"HEAD", JOB_PROBE_METHOD_HEAD, false}, {NULL, 0, false}};

_Static_assert(sizeof(enum job_probe_method) == sizeof(int), "enum size");

static void probe_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                        const char *path);

#define SC(k, t, m, ...) CONF_FLD(k, t, struct config_job, m, __VA_ARGS__)
static const struct conf_field probe_fields[] = {
    SC("name", CONF_FT_STR, name, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("urls", CONF_FT_DEFER, name, .flags = CONF_F_REQUIRED,
       .desc = "http or https URLs to check."),
    SC("interval", CONF_FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("timeout", CONF_FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to interval."),
    CONF_FLDN("valid_status_codes", CONF_FT_INTLIST, struct job_probe_conf, valid_status_codes,
              nvalid_status_codes, .flags = CONF_F_OPTS, .min = 100, .max = 599,
              .desc = "Default: any 2xx."),
    CONF_FLDN("fail_if_body_matches_regexp", CONF_FT_REGEXES, struct job_probe_conf,
              fail_if_body_matches, nfail_if_body_matches, .flags = CONF_F_OPTS,
              .desc = "Fail when the body matches any (POSIX ERE)."),
    CONF_FLDN("fail_if_body_not_matches_regexp", CONF_FT_REGEXES, struct job_probe_conf,
              fail_if_body_not_matches, nfail_if_body_not_matches, .flags = CONF_F_OPTS,
              .desc = "Fail when the body does not match one of them (POSIX ERE)."),
    CONF_FLD("method", CONF_FT_ENUM, struct job_probe_conf, method, .flags = CONF_F_OPTS,
             .def = "GET", .choices = method_choices, .desc = "GET or HEAD."),
    CONF_HTTP_JOB_FIELDS,
    CONF_FLDN("labels", CONF_FT_LABELS, struct config_job, labels, nlabels,
              .desc = "Labels of every target."),
};
#undef SC
static const struct conf_section probe_section = {.name = "probes[]",
                                                  CONF_FIELDS(probe_fields),
                                                  .opts_off = offsetof(struct config_job, opts),
                                                  .opts_size = sizeof(struct job_probe_conf),
                                                  .check = probe_check};

/* One target per URL. */
static void
probe_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_job *job = base;
    const struct conf_node *n = conf_tree_get(map, "urls");

    if (n != NULL && conf_expect(x, n, CONF_NODE_SEQ, "a sequence", "urls")) {
        if (n->n == 0) {
            conf_err(x, n, "urls must not be empty in %s", path);
        }
        for (size_t i = 0; i < n->n; i++) {
            conf_targets_url(x, job, n->kids[i], false, path);
        }
    }
}

static void *
probe_state_new(const struct config_job *job, char *err, size_t errlen)
{
    const struct job_probe_conf *pc = job->opts;
    struct probe_opts po;
    const char **match = calloc(pc->nfail_if_body_matches + 1, sizeof(*match));
    const char **not_match = calloc(pc->nfail_if_body_not_matches + 1, sizeof(*not_match));
    void *state = NULL;

    memset(&po, 0, sizeof(po));
    if (match == NULL || not_match == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (pc->nvalid_status_codes > JOB_PROBE_MAX_CODES) {
        snprintf(err, errlen, "probe \"%s\": at most %d valid_status_codes", job->name,
                 JOB_PROBE_MAX_CODES);
        goto out;
    }
    for (size_t i = 0; i < pc->nvalid_status_codes; i++) {
        po.valid_status_codes[po.n_valid_status_codes++] = pc->valid_status_codes[i];
    }
    for (size_t i = 0; i < pc->nfail_if_body_matches; i++) {
        match[i] = pc->fail_if_body_matches[i];
    }
    for (size_t i = 0; i < pc->nfail_if_body_not_matches; i++) {
        not_match[i] = pc->fail_if_body_not_matches[i];
    }
    po.fail_if_body_matches = match;
    po.fail_if_body_not_matches = not_match;
    state = job_probe_new(&po, err, errlen);
out:
    free(match);
    free(not_match);
    return state;
}

static void
probe_identity(const struct config_job *job, struct strbuf *sb)
{
    const struct job_probe_conf *p = job->opts;

    strbuf_printf(sb, "P%d|", (int)p->method);
    for (size_t i = 0; i < p->nvalid_status_codes; i++) {
        strbuf_printf(sb, "%d,", p->valid_status_codes[i]);
    }
    for (size_t i = 0; i < p->nfail_if_body_matches; i++) {
        strbuf_printf(sb, "m%s\x1e", p->fail_if_body_matches[i]);
    }
    for (size_t i = 0; i < p->nfail_if_body_not_matches; i++) {
        strbuf_printf(sb, "n%s\x1e", p->fail_if_body_not_matches[i]);
    }
}

static void
probe_client(const struct config_job *job, struct httpc_opts *h, bool *fresh_connect)
{
    const struct job_probe_conf *p = job->opts;

    h->head = p->method == JOB_PROBE_METHOD_HEAD;
    *fresh_connect = true; /* time a full connection, as blackbox_exporter does */
}

const struct kind job_probe_kind = {
    .name = "probe",
    .section = "probes",
    .name_key = "name",
    .interval_key = "interval",
    .timeout_key = "timeout",
    .desc = "Blackbox-style HTTP checks.",
    .conf = &probe_section,
    .ops = &job_probe,
    .state_new = probe_state_new,
    .identity = probe_identity,
    .client = probe_client,
};
