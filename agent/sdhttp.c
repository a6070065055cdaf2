/* http_sd_configs fetches (sdhttp.h). */
#include "build-config.h"

#include "sdhttp.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "conf.h"
#include "conf_http.h"
#include "httpc.h"
#include "jsonw.h"
#include "scrape.h"

struct sdhttp {
    char *url;              /* owned */
    char *job;              /* owned */
    int64_t timeout_ms;     /* the refresh interval */
    struct httpc_opts http; /* owned copy */
    struct scrape *scrape;  /* owned */
    struct batch batch;     /* the run's result */
    struct strbuf body;     /* the answer so far */
    struct strbuf out;      /* the checked list */
    sdhttp_done_fn *done;
    void *arg;
};

/* The largest answer: what the config loader reads back from the cache. */
#define SDHTTP_MAX_BYTES (CONF_FILE_MAX_BYTES / 2)

static int
sdhttp_prepare(void *state, CURL *easy, struct batch *b)
{
    struct sdhttp *h = state;

    (void)easy;
    (void)b;
    strbuf_reset(&h->body);
    strbuf_reset(&h->out);
    return 0;
}

static int
sdhttp_feed(void *state, const char *data, size_t len, struct batch *b)
{
    struct sdhttp *h = state;

    strbuf_append(&h->body, data, len);
    if (h->body.oom) {
        batch_fail(b, REASON_INTERNAL, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Prometheus' rule: application/json, maybe with a UTF-8 charset. */
static bool
content_type_ok(const char *ct)
{
    static const char *const ok[] = {
        "application/json", "application/json; charset=utf-8", "application/json;charset=utf-8",
        "application/json; charset=\"utf-8\"", "application/json;charset=\"utf-8\""};

    if (ct == NULL) {
        return false;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    size_t n = strlen(ct);
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) {
        n--;
    }
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0) {
            return true;
        }
    }
    return false;
}

static void
sdhttp_finish(void *state, const struct scrape_result *res, CURL *easy, struct batch *b)
{
    struct sdhttp *h = state;
    char why[BATCH_ERROR_MAX];

    (void)easy;
    if (!b->ok) {
        return;
    }
    if (res->http_status != 200) {
        batch_fail(b, scrape_reason_for_status(res->http_status), "server returned HTTP %ld",
                   res->http_status);
        return;
    }
    if (!content_type_ok(res->content_type)) {
        batch_fail(b, REASON_PARSE, "unsupported Content-Type \"%s\" (expected application/json)",
                   res->content_type != NULL ? res->content_type : "");
        return;
    }
    if (sdhttp_groups(h->url, h->body.data != NULL ? h->body.data : "", h->body.len, &h->out, why,
                      sizeof(why)) != 0) {
        batch_fail(b, REASON_PARSE, "%s", why);
    }
}

static const struct job_kind sdhttp_kind = {
    .name = "http_sd",
    .prepare = sdhttp_prepare,
    .feed = sdhttp_feed,
    .finish = sdhttp_finish,
};

static void
fetched_cb(struct scrape *s, struct batch *b, void *arg)
{
    struct sdhttp *h = arg;

    (void)s;
    if (b->ok) {
        h->done(h->arg, h->out.data != NULL ? h->out.data : "[]", h->out.len, NULL);
    }
    else {
        h->done(h->arg, NULL, 0, b->error);
    }
}

struct sdhttp *
sdhttp_new(struct loop *l, const struct config_sd *sd, const char *job, sdhttp_done_fn *done,
           void *arg, char *err, size_t errlen)
{
    struct sdhttp *h = calloc(1, sizeof(*h));
    char who[300];

    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    batch_init(&h->batch);
    strbuf_init(&h->body);
    strbuf_init(&h->out);
    h->done = done;
    h->arg = arg;
    h->timeout_ms = sd->refresh_ms;
    h->url = strdup(sd->url);
    h->job = strdup(job);
    if (h->url == NULL || h->job == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(who, sizeof(who), "job \"%s\": http_sd_configs", job);
    if (conf_http_client(&sd->http, who, &h->http, err, errlen) != 0) {
        goto fail;
    }
    struct scrape_opts so = {
        .url = h->url,
        .timeout_ms = h->timeout_ms,
        .body_limit = SDHTTP_MAX_BYTES,
        .http = &h->http,
    };
    h->scrape = scrape_new(l, &so, &sdhttp_kind, h, fetched_cb, h);
    if (h->scrape == NULL) {
        snprintf(err, errlen, "cannot set up the transfer");
        goto fail;
    }
    return h;
fail:
    sdhttp_free(h);
    return NULL;
}

int
sdhttp_start(struct sdhttp *h)
{
    if (scrape_busy(h->scrape)) {
        return -EBUSY;
    }
    batch_clear(&h->batch);
    h->batch.job = h->job;
    h->batch.url = h->url;
    h->batch.instance = h->url;
    return scrape_start(h->scrape, &h->batch) == 0 ? 0 : -EIO;
}

void
sdhttp_free(struct sdhttp *h)
{
    if (h == NULL) {
        return;
    }
    scrape_free(h->scrape);
    batch_release(&h->batch);
    strbuf_release(&h->body);
    strbuf_release(&h->out);
    httpc_opts_release(&h->http);
    free(h->url);
    free(h->job);
    free(h);
}

/* One group: checks it and writes it with __meta_url = @url. 0 or -EINVAL. */
static int
group_write(struct json_object *g, size_t i, const char *url, struct strbuf *out, char *err,
            size_t errlen)
{
    struct json_object *targets = NULL, *labels = NULL;
    bool first = true;

    if (!json_object_is_type(g, json_type_object)) {
        snprintf(err, errlen, "target group %zu is not an object", i);
        return -EINVAL;
    }
    json_object_object_foreach(g, member, mv)
    {
        (void)mv;
        if (strcmp(member, "targets") != 0 && strcmp(member, "labels") != 0) {
            /* Prometheus' decoder disallows unknown fields too */
            snprintf(err, errlen, "target group %zu: unknown field \"%.64s\"", i, member);
            return -EINVAL;
        }
    }
    json_object_object_get_ex(g, "targets", &targets);
    json_object_object_get_ex(g, "labels", &labels);
    if (targets != NULL && !json_object_is_type(targets, json_type_array)) {
        snprintf(err, errlen, "target group %zu: \"targets\" is not a list", i);
        return -EINVAL;
    }
    if (labels != NULL && !json_object_is_type(labels, json_type_object)) {
        snprintf(err, errlen, "target group %zu: \"labels\" is not an object", i);
        return -EINVAL;
    }
    strbuf_puts(out, "{\"targets\":[");
    for (size_t k = 0; targets != NULL && k < json_object_array_length(targets); k++) {
        struct json_object *t = json_object_array_get_idx(targets, k);
        if (!json_object_is_type(t, json_type_string)) {
            snprintf(err, errlen, "target group %zu: target %zu is not a string", i, k);
            return -EINVAL;
        }
        if (k > 0) {
            strbuf_putc(out, ',');
        }
        jsonw_string(out, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    }
    strbuf_puts(out, "],\"labels\":{");
    if (labels != NULL) {
        json_object_object_foreach(labels, name, v)
        {
            if (!conf_is_label_name(name)) {
                snprintf(err, errlen, "target group %zu: invalid label name \"%.64s\"", i, name);
                return -EINVAL;
            }
            if (!json_object_is_type(v, json_type_string)) {
                snprintf(err, errlen, "target group %zu: label \"%.64s\" is not a string", i, name);
                return -EINVAL;
            }
            if (strcmp(name, "__meta_url") == 0) {
                continue; /* ours, as in Prometheus */
            }
            if (!first) {
                strbuf_putc(out, ',');
            }
            first = false;
            jsonw_cstr(out, name);
            strbuf_putc(out, ':');
            jsonw_string(out, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        }
    }
    if (!first) {
        strbuf_putc(out, ',');
    }
    strbuf_puts(out, "\"__meta_url\":");
    jsonw_cstr(out, url);
    strbuf_puts(out, "}}");
    return 0;
}

int
sdhttp_groups(const char *url, const char *body, size_t len, struct strbuf *out, char *err,
              size_t errlen)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *root = NULL;
    char *shown = httpc_redact_url_dup(url);
    int rc = -EINVAL;

    if (tok == NULL || shown == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, body, (int)len);
    if (root == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        root = json_tokener_parse_ex(tok, "", 1); /* the end of the input */
    }
    size_t end = json_tokener_get_parse_end(tok);
    while (root != NULL && end < len && strchr(" \t\r\n", body[end]) != NULL) {
        end++;
    }
    if (root == NULL || end < len) {
        enum json_tokener_error e = json_tokener_get_error(tok);
        snprintf(err, errlen, "invalid JSON at byte %zu: %s", end,
                 root == NULL ? json_tokener_error_desc(e) : "data after the list");
        goto out;
    }
    if (!json_object_is_type(root, json_type_array)) {
        snprintf(err, errlen, "expected a JSON list of target groups");
        goto out;
    }
    strbuf_putc(out, '[');
    for (size_t i = 0; i < json_object_array_length(root); i++) {
        if (i > 0) {
            strbuf_puts(out, ",\n");
        }
        if (group_write(json_object_array_get_idx(root, i), i, shown, out, err, errlen) != 0) {
            goto out;
        }
    }
    strbuf_puts(out, "]\n");
    if (out->oom) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    json_object_put(root);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
    free(shown);
    return rc;
}
