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

#include "conf.h"
#include "conf_http.h"
#include "conf_regex.h"
#include "conf_targets.h"
#include "probe_tls.h"
#include "re2ere.h"
#include "scrape.h"
#include "strbuf.h"

/* A body buffer larger than this is freed after the run instead of kept for the next one. */
#define PROBE_BODY_KEEP (256 * 1024)

struct probe_regex {
    regex_t re;
    char *text; /* owned: for the error message */
};

/* A compiled fail_if_header_(not_)matches rule. */
struct probe_header_rule {
    char *header; /* owned */
    struct probe_regex rx;
    bool allow_missing;
    bool compiled;
};

struct probe {
    int codes[JOB_PROBE_MAX_CODES];
    size_t ncodes;
    struct probe_regex *match; /* owned: fail if the body matches any */
    size_t nmatch;
    struct probe_regex *not_match; /* owned: fail if the body matches none... of each */
    size_t nnot_match;
    struct probe_header_rule *hmatch; /* owned: fail if a value of the header matches */
    size_t nhmatch;
    struct probe_header_rule *hnot_match; /* owned: fail if no value of the header matches */
    size_t nhnot_match;
    char **versions; /* owned: valid_http_versions; none = any */
    size_t nversions;
    char *method; /* owned: NULL = GET (or HEAD, set through the client) */
    char *body;   /* owned: request body, or NULL */
    bool fail_if_ssl, fail_if_not_ssl;
    enum probe_conn_ip preferred_ip;
    bool ip_fallback;
    struct strbuf resp_body; /* owned: only filled when body regexes are set */
    struct probe_tls tls;    /* this run's handshake */
    struct probe_conn conn;  /* this run's address */
};

static void
regex_list_free(struct probe_regex *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        regfree(&l[i].re);
        free(l[i].text);
    }
    free(l);
}

static void
header_rules_free(struct probe_header_rule *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (l[i].compiled) {
            regfree(&l[i].rx.re);
        }
        free(l[i].rx.text);
        free(l[i].header);
    }
    free(l);
}

static void
probe_free(void *state)
{
    struct probe *p = state;

    if (p == NULL) {
        return;
    }
    regex_list_free(p->match, p->nmatch);
    regex_list_free(p->not_match, p->nnot_match);
    header_rules_free(p->hmatch, p->nhmatch);
    header_rules_free(p->hnot_match, p->nhnot_match);
    for (size_t i = 0; i < p->nversions; i++) {
        free(p->versions[i]);
    }
    free(p->versions);
    free(p->method);
    free(p->body);
    strbuf_release(&p->resp_body);
    free(p);
}

static int
compile_one(struct probe_regex *r, const char *src, const char *what, char *err, size_t errlen)
{
    char *ere = re2ere_dup(src, err, errlen); /* the config's regexes are RE2 */

    if (ere == NULL) {
        return -EINVAL;
    }
    int rc = regcomp(&r->re, ere, REG_EXTENDED | REG_NOSUB);
    free(ere);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &r->re, msg, sizeof(msg));
        snprintf(err, errlen, "%s: invalid regular expression \"%s\": %s", what, src, msg);
        return -EINVAL;
    }
    r->text = strdup(src);
    if (r->text == NULL) {
        regfree(&r->re);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* calloc(@count, @size) into *@out; -ENOMEM with the message in @err. */
static int
alloc_array(void *out, size_t count, size_t size, char *err, size_t errlen)
{
    void *a = calloc(count, size);

    memcpy(out, &a, sizeof(a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static int
compile_list(const char *const *src, struct probe_regex **out, size_t *n, const char *what,
             char *err, size_t errlen)
{
    size_t count = 0;

    while (src != NULL && src[count] != NULL) {
        count++;
    }
    if (count == 0 || alloc_array(out, count, sizeof(**out), err, errlen) != 0) {
        return count == 0 ? 0 : -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        int rc = compile_one(&(*out)[i], src[i], what, err, errlen);
        if (rc != 0) {
            return rc;
        }
        (*n)++; /* counted once compiled, so probe_free frees exactly these */
    }
    return 0;
}

static int
compile_header_rules(const struct job_probe_header_match *src, size_t count,
                     struct probe_header_rule **out, size_t *n, const char *what, char *err,
                     size_t errlen)
{
    if (count == 0 || alloc_array(out, count, sizeof(**out), err, errlen) != 0) {
        return count == 0 ? 0 : -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        struct probe_header_rule *r = &(*out)[i];
        (*n)++;
        r->allow_missing = src[i].allow_missing;
        r->header = strdup(src[i].header != NULL ? src[i].header : "");
        if (r->header == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        int rc = compile_one(&r->rx, src[i].regexp != NULL ? src[i].regexp : "", what, err, errlen);
        if (rc != 0) {
            return rc;
        }
        r->compiled = true;
    }
    return 0;
}

static bool
dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    return src == NULL || (*dst = strdup(src)) != NULL;
}

void *
job_probe_new(const struct probe_opts *opts, char *err, size_t errlen)
{
    struct probe *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    strbuf_init(&p->resp_body);
    p->ncodes = opts->n_valid_status_codes;
    if (p->ncodes > JOB_PROBE_MAX_CODES) {
        p->ncodes = JOB_PROBE_MAX_CODES;
    }
    memcpy(p->codes, opts->valid_status_codes, p->ncodes * sizeof(p->codes[0]));
    p->fail_if_ssl = opts->fail_if_ssl;
    p->fail_if_not_ssl = opts->fail_if_not_ssl;
    p->preferred_ip = opts->preferred_ip;
    p->ip_fallback = !opts->no_ip_fallback;
    if (!dup_opt(&p->method, opts->method) || !dup_opt(&p->body, opts->body)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (opts->n_valid_http_versions > 0) {
        p->versions = calloc(opts->n_valid_http_versions, sizeof(*p->versions));
        if (p->versions == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < opts->n_valid_http_versions; i++) {
            if ((p->versions[i] = strdup(opts->valid_http_versions[i])) == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            p->nversions++;
        }
    }
    if (compile_list(opts->fail_if_body_matches, &p->match, &p->nmatch,
                     "fail_if_body_matches_regexp", err, errlen) != 0 ||
        compile_list(opts->fail_if_body_not_matches, &p->not_match, &p->nnot_match,
                     "fail_if_body_not_matches_regexp", err, errlen) != 0 ||
        compile_header_rules(opts->header_matches, opts->n_header_matches, &p->hmatch, &p->nhmatch,
                             "fail_if_header_matches", err, errlen) != 0 ||
        compile_header_rules(opts->header_not_matches, opts->n_header_not_matches, &p->hnot_match,
                             &p->nhnot_match, "fail_if_header_not_matches", err, errlen) != 0) {
        goto fail;
    }
    return p;
fail:
    probe_free(p);
    return NULL;
}

/* Empties the body buffer; one above PROBE_BODY_KEEP (a big body's) is freed, not kept. */
static void
probe_body_reset(struct probe *p)
{
    if (p->resp_body.cap > PROBE_BODY_KEEP) {
        strbuf_release(&p->resp_body);
    }
    else {
        strbuf_reset(&p->resp_body);
    }
}

static int
probe_prepare(void *state, CURL *easy, struct batch *b)
{
    struct probe *p = state;

    probe_body_reset(p);
    probe_tls_prepare(&p->tls, easy); /* no OpenSSL backend: no TLS metrics */
    probe_conn_prepare(&p->conn, easy, p->preferred_ip, p->ip_fallback);
    curl_easy_setopt(easy, CURLOPT_FILETIME, 1L);
    if (p->body != NULL) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(p->body));
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, p->body);
    }
    else if (p->method != NULL && strcmp(p->method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
    }
    /* POST goes as curl's POST (a 301/302/303 turns it into GET, as Go's client does). */
    if (p->method != NULL && strcmp(p->method, "POST") != 0) {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, p->method);
    }
    return 0;
}

static int
probe_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct probe *p = state;

    if (p->nmatch + p->nnot_match > 0) {
        strbuf_append(&p->resp_body, data, len);
        if (p->resp_body.oom) {
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

/* Runs the body regexes; fails the batch and returns true when one says so. */
static bool
body_regex_failed(struct probe *p, struct batch *b)
{
    const char *body = p->resp_body.data != NULL ? p->resp_body.data : "";

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

/*
 * Whether a value of the final response's header @r->header matches @r's regex: 1 yes, 0 no,
 * -1 the header is absent.
 */
static int
header_matches(CURL *easy, const struct probe_header_rule *r)
{
    struct curl_header *h = NULL;
    size_t i = 0, amount = 1;

    if (curl_easy_header(easy, r->header, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) {
        return -1;
    }
    amount = h->amount;
    for (i = 0; i < amount; i++) {
        if (curl_easy_header(easy, r->header, i, CURLH_HEADER, -1, &h) == CURLHE_OK &&
            regexec(&r->rx.re, h->value != NULL ? h->value : "", 0, NULL, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Runs the header rules as blackbox_exporter does; fails the batch and returns true on one. */
static bool
header_regex_failed(struct probe *p, CURL *easy, struct batch *b)
{
    for (size_t i = 0; i < p->nhmatch + p->nhnot_match; i++) {
        bool neg = i >= p->nhmatch;
        const struct probe_header_rule *r = neg ? &p->hnot_match[i - p->nhmatch] : &p->hmatch[i];
        const char *what = neg ? "fail_if_header_not_matches" : "fail_if_header_matches";
        int m = header_matches(easy, r);
        if (m < 0 && !r->allow_missing) {
            batch_fail(b, REASON_PARSE, "%s: header \"%s\" is missing", what, r->header);
            return true;
        }
        if (m >= 0 && (m == 1) != neg) {
            batch_fail(b, REASON_PARSE, "%s: header \"%s\" %s \"%s\"", what, r->header,
                       neg ? "did not match" : "matched", r->rx.text);
            return true;
        }
    }
    return false;
}

static const char *
version_name(long v)
{
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1:
        return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0:
        return "HTTP/2.0";
    case CURL_HTTP_VERSION_3:
        return "HTTP/3.0";
    default:
        return NULL;
    }
}

/* Fails the batch (a successful one) for the version and TLS rules. */
static void
check_version_and_tls(struct probe *p, long version, bool https, struct batch *b)
{
    const char *v = version_name(version);

    if (p->nversions > 0) {
        bool found = false;
        for (size_t i = 0; i < p->nversions && v != NULL; i++) {
            found = found || strcmp(p->versions[i], v) == 0;
        }
        if (!found) {
            batch_fail(b, REASON_INTERNAL, "%s is not in valid_http_versions",
                       v != NULL ? v : "the HTTP version");
            return;
        }
    }
    if (https && p->fail_if_ssl) {
        batch_fail(b, REASON_TLS, "final request was over TLS (fail_if_ssl)");
    }
    else if (!https && p->fail_if_not_ssl) {
        batch_fail(b, REASON_TLS, "final request was not over TLS (fail_if_not_ssl)");
    }
}

static void
probe_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct probe *p = state;
    curl_off_t clen = -1, total = 0, modified = -1;
    long redirects = 0, version = 0;
    char *scheme = NULL;
    bool regex_fail = false;
    bool https;

    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme);
    curl_easy_getinfo(easy, CURLINFO_FILETIME_T, &modified);
    https = scheme != NULL && strcasecmp(scheme, "https") == 0;

    if (b->ok && !status_valid(p, res->http_status)) {
        enum reason r = scrape_reason_for_status(res->http_status);
        if (r == REASON_NONE) {
            r = REASON_INTERNAL; /* a 2xx outside valid_status_codes: no better reason */
        }
        batch_fail(b, r, "HTTP %ld is not a valid status code", res->http_status);
    }
    if (b->ok) {
        check_version_and_tls(p, version, https, b);
    }
    if (b->ok && p->nhmatch + p->nhnot_match > 0) {
        regex_fail = header_regex_failed(p, easy, b);
    }
    if (b->ok && p->nmatch + p->nnot_match > 0) {
        regex_fail = body_regex_failed(p, b);
    }
    if (res->http_status == 0) {
        clen = 0; /* no response: blackbox_exporter reports 0, not unknown */
    }
    probe_body_reset(p); /* matched: a big body is not kept until the next run */

    batch_add(b, "probe_success", SAMPLE_GAUGE, b->ok ? 1 : 0, 0);
    batch_add(b, "probe_duration_seconds", SAMPLE_GAUGE, total > 0 ? secs(total) : res->duration_s,
              0);
    probe_conn_add(&p->conn, easy, b);
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
    if (res->http_status > 0 && modified >= 0) {
        batch_add(b, "probe_http_last_modified_timestamp_seconds", SAMPLE_GAUGE, (double)modified,
                  0);
    }
    add_phases(easy, b);
    if (https) {
        probe_tls_add(&p->tls, b);
    }
    batch_add(b, "probe_failed_due_to_regex", SAMPLE_GAUGE, regex_fail ? 1 : 0, 0);
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
    {"GET", JOB_PROBE_METHOD_GET, false},         {"HEAD", JOB_PROBE_METHOD_HEAD, false},
    {"POST", JOB_PROBE_METHOD_POST, false},       {"PUT", JOB_PROBE_METHOD_PUT, false},
    {"PATCH", JOB_PROBE_METHOD_PATCH, false},     {"DELETE", JOB_PROBE_METHOD_DELETE, false},
    {"OPTIONS", JOB_PROBE_METHOD_OPTIONS, false}, {NULL, 0, false}};

static const struct conf_choice ip_choices[] = {
    {"ip6", PROBE_CONN_IP6, false}, {"ip4", PROBE_CONN_IP4, false}, {NULL, 0, false}};

const char *
job_probe_method_name(enum job_probe_method m)
{
    for (size_t i = 0; method_choices[i].name != NULL; i++) {
        if (method_choices[i].value == (int)m) {
            return method_choices[i].name;
        }
    }
    return "GET";
}

_Static_assert(sizeof(enum job_probe_method) == sizeof(int), "enum size");
_Static_assert(sizeof(enum probe_conn_ip) == sizeof(int), "enum size");

static void probe_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                        const char *path);
static void header_rule_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                              const char *path);

static const struct conf_field header_rule_fields[] = {
    CONF_FLD("header", CONF_FT_STR, struct job_probe_header_match, header,
             .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY, .desc = "Response header name."),
    CONF_FLD("regexp", CONF_FT_STR, struct job_probe_header_match, regexp, .flags = CONF_F_REQUIRED,
             .desc = "Matched against each value (unanchored)."),
    CONF_FLD("allow_missing", CONF_FT_BOOL, struct job_probe_header_match, allow_missing,
             .def = "false", .desc = "A missing header passes instead of failing."),
};
static const struct conf_section header_rule_section = {
    .name = "header_match",
    CONF_FIELDS(header_rule_fields),
    .size = sizeof(struct job_probe_header_match),
    .check = header_rule_check,
};

#define SC(k, t, m, ...) CONF_FLD(k, t, struct config_job, m, __VA_ARGS__)
#define PO(k, t, m, ...) CONF_FLD(k, t, struct job_probe_conf, m, .flags = CONF_F_OPTS, __VA_ARGS__)
#define PON(k, t, m, ...)                                                                          \
    CONF_FLDN(k, t, struct job_probe_conf, m, n##m, .flags = CONF_F_OPTS, __VA_ARGS__)
static const struct conf_field probe_fields[] = {
    SC("name", CONF_FT_STR, name, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Job name, unique across scrape_configs, probes and json_jobs."),
    SC("urls", CONF_FT_DEFER, name, .flags = CONF_F_REQUIRED,
       .desc = "http or https URLs to check."),
    SC("interval", CONF_FT_DURATION, interval_ms, .desc = "Default: global scrape_interval."),
    SC("timeout", CONF_FT_DURATION, timeout_ms,
       .desc = "Default: global scrape_timeout, capped to interval."),
    PON("valid_status_codes", CONF_FT_INTLIST, valid_status_codes, .min = 100, .max = 599,
        .desc = "Default: any 2xx."),
    PON("valid_http_versions", CONF_FT_STRLIST, valid_http_versions,
        .desc = "HTTP/1.0, HTTP/1.1, HTTP/2.0 (default: any)."),
    PON("fail_if_body_matches_regexp", CONF_FT_REGEXES, fail_if_body_matches,
        .desc = "Fail when the body matches any (POSIX ERE)."),
    PON("fail_if_body_not_matches_regexp", CONF_FT_REGEXES, fail_if_body_not_matches,
        .desc = "Fail when the body does not match one of them (POSIX ERE)."),
    PON("fail_if_header_matches", CONF_FT_LIST, fail_if_header_matches, .sub = &header_rule_section,
        .desc = "Fail when a value of the header matches."),
    PON("fail_if_header_not_matches", CONF_FT_LIST, fail_if_header_not_matches,
        .sub = &header_rule_section, .desc = "Fail when no value of the header matches."),
    PO("fail_if_ssl", CONF_FT_BOOL, fail_if_ssl, .def = "false",
       .desc = "Fail when the final request was over TLS."),
    PO("fail_if_not_ssl", CONF_FT_BOOL, fail_if_not_ssl, .def = "false",
       .desc = "Fail when the final request was not over TLS."),
    PO("method", CONF_FT_ENUM, method, .def = "GET", .choices = method_choices,
       .desc = "GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS."),
    PO("body", CONF_FT_STR, body, .desc = "Request body (sent with the method)."),
    PO("preferred_ip_protocol", CONF_FT_ENUM, preferred_ip_protocol, .def = "ip6",
       .choices = ip_choices, .desc = "ip4 or ip6 (blackbox_exporter's default: ip6)."),
    PO("ip_protocol_fallback", CONF_FT_BOOL, ip_protocol_fallback, .def = "true",
       .desc = "Use the other family when the preferred one has no address."),
    CONF_HTTP_JOB_FIELDS,
    CONF_FLDN("labels", CONF_FT_LABELS, struct config_job, labels, nlabels,
              .desc = "Labels of every target."),
};
#undef SC
#undef PO
#undef PON
/* blackbox_exporter http module keys pollster does not do (see pollster.yaml(5)). */
static const char *const probe_unsupported[] = {"compression", "skip_resolve_phase_with_proxy",
                                                NULL};

static const struct conf_section probe_section = {.name = "probes[]",
                                                  CONF_FIELDS(probe_fields),
                                                  .unsupported = probe_unsupported,
                                                  .opts_off = offsetof(struct config_job, opts),
                                                  .opts_size = sizeof(struct job_probe_conf),
                                                  .check = probe_check};

/* The rule's regexp must compile, with the RE2-only constructs refused as everywhere else. */
static void
header_rule_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    const struct job_probe_header_match *r = base;
    char buf[256];
    const char *why;
    regex_t re;

    if (r->regexp == NULL) {
        return;
    }
    why = conf_regex_compile(x, r->regexp, NULL, buf, sizeof(buf));
    if (why == NULL && regcomp(&re, r->regexp, REG_EXTENDED | REG_NOSUB) == 0) {
        regfree(&re);
        return;
    }
    conf_err(x, conf_tree_get(map, "regexp") != NULL ? conf_tree_get(map, "regexp") : map,
             "%s.regexp: invalid regular expression \"%s\"%s%s", path, r->regexp,
             why != NULL ? ": " : "", why != NULL ? why : "");
}

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
    const struct job_probe_conf *pc = job->opts;
    const struct conf_node *vn = conf_tree_get(map, "valid_http_versions");
    for (size_t i = 0; pc != NULL && i < pc->nvalid_http_versions; i++) {
        const char *v = pc->valid_http_versions[i];
        if (strcmp(v, "HTTP/1.0") != 0 && strcmp(v, "HTTP/1.1") != 0 &&
            strcmp(v, "HTTP/2.0") != 0) {
            conf_err(x, vn != NULL && i < vn->n ? vn->kids[i] : map,
                     "%s.valid_http_versions: unknown version \"%s\" (HTTP/1.0, HTTP/1.1, "
                     "HTTP/2.0)",
                     path, v);
        }
    }
    if (pc != NULL && pc->fail_if_ssl && pc->fail_if_not_ssl) {
        conf_err(x, map, "%s: fail_if_ssl and fail_if_not_ssl together fail every probe", path);
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
    po.valid_http_versions = (const char *const *)pc->valid_http_versions;
    po.n_valid_http_versions = pc->nvalid_http_versions;
    po.method = pc->method != JOB_PROBE_METHOD_GET && pc->method != JOB_PROBE_METHOD_HEAD
                    ? job_probe_method_name(pc->method)
                    : NULL;
    po.body = pc->body;
    po.fail_if_ssl = pc->fail_if_ssl;
    po.fail_if_not_ssl = pc->fail_if_not_ssl;
    po.header_matches = pc->fail_if_header_matches;
    po.n_header_matches = pc->nfail_if_header_matches;
    po.header_not_matches = pc->fail_if_header_not_matches;
    po.n_header_not_matches = pc->nfail_if_header_not_matches;
    po.preferred_ip = pc->preferred_ip_protocol;
    po.no_ip_fallback = !pc->ip_protocol_fallback;
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
    for (size_t i = 0; i < p->nvalid_http_versions; i++) {
        strbuf_printf(sb, "v%s\x1e", p->valid_http_versions[i]);
    }
    for (size_t i = 0; i < p->nfail_if_header_matches + p->nfail_if_header_not_matches; i++) {
        bool neg = i >= p->nfail_if_header_matches;
        const struct job_probe_header_match *r =
            neg ? &p->fail_if_header_not_matches[i - p->nfail_if_header_matches]
                : &p->fail_if_header_matches[i];
        strbuf_printf(sb, "%c%s\x1e%s\x1e%d", neg ? 'H' : 'h', r->header, r->regexp,
                      (int)r->allow_missing);
    }
    strbuf_printf(sb, "b%s\x1e|%d%d%d%d", p->body != NULL ? p->body : "", (int)p->fail_if_ssl,
                  (int)p->fail_if_not_ssl, (int)p->preferred_ip_protocol,
                  (int)p->ip_protocol_fallback);
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
    .desc = "Blackbox-style HTTP checks (blackbox_exporter's http prober).",
    .conf = &probe_section,
    .ops = &job_probe,
    .state_new = probe_state_new,
    .identity = probe_identity,
    .client = probe_client,
};
