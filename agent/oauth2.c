/*
 * The OAuth 2.0 client credentials grant on the loop (oauth2.h): the token request is an easy
 * handle of its own set up by httpc_apply() with the oauth2 section's TLS and proxy settings and
 * the client id and secret as basic auth, driven by the same curl multi as every scrape.
 */
#include "build-config.h"

#include "oauth2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "clock.h"
#include "loop.h"
#include "scrape.h"
#include "strbuf.h"

struct oauth2_waiter {
    oauth2_done_fn *done;
    void *arg;
};

struct oauth2 {
    struct oauth2 *next; /* the sources list */
    unsigned refs;
    char *key;                     /* httpc_identity of the settings: secrets, never shown */
    struct loop *loop;             /* borrowed */
    struct httpc_oauth2 conf;      /* owned copy */
    CURL *easy;                    /* owned */
    struct curl_slist *headers;    /* owned */
    struct curl_slist *proxy_hdrs; /* owned */
    struct loop_xfer xfer;
    struct strbuf body; /* the response */
    bool too_large;
    /*
     * How the endpoint takes the client's credentials, as Go's oauth2 auto-detects it: unknown
     * (basic auth first, then in the form), or known after a fetch that worked.
     */
    enum { STYLE_UNKNOWN, STYLE_HEADER, STYLE_PARAMS } style;
    bool trying_params;  /* this fetch's second try: the credentials in the form */
    int64_t deadline_ms; /* mono ms: the end of this fetch, both tries */
    char *line;          /* "Authorization: TYPE TOKEN", or NULL */
    int64_t expires_ms;  /* mono ms; INT64_MAX: never */
    struct oauth2_waiter *waiters;
    size_t nwaiters, cap;
};

/* Every live source: few (one per distinct oauth2 section), so a list. */
static struct oauth2 *sources;

static void oauth2_free(struct oauth2 *o);

/* Calls every waiter once with the result; waiters added meanwhile wait for the next fetch. */
static void
notify(struct oauth2 *o, const char *line, enum reason r, const char *why)
{
    size_t n = o->nwaiters;

    o->refs++; /* a waiter may release the source: keep it until the end */
    while (n > 0 && o->nwaiters > 0) {
        struct oauth2_waiter w = o->waiters[0];
        memmove(o->waiters, o->waiters + 1, (o->nwaiters - 1) * sizeof(*o->waiters));
        o->nwaiters--;
        n--;
        w.done(w.arg, line, r, why);
    }
    oauth2_release(o, NULL);
}

static size_t
oauth2_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct oauth2 *o = arg;
    size_t n = size * nmemb;

    /* The cap is ours: MAXFILESIZE does not stop a chunked body before curl 8.4.0. */
    if (o->body.len + n > OAUTH2_MAX_RESPONSE) {
        o->too_large = true;
        return CURL_WRITEFUNC_ERROR;
    }
    strbuf_append(&o->body, data, n);
    return o->body.oom ? CURL_WRITEFUNC_ERROR : n;
}

/* Go's oauth2 Token.Type(): the usual spellings normalised, empty meaning Bearer. */
static const char *
token_type(const char *t)
{
    if (t == NULL || *t == '\0' || strcasecmp(t, "bearer") == 0) {
        return "Bearer";
    }
    if (strcasecmp(t, "mac") == 0) {
        return "MAC";
    }
    if (strcasecmp(t, "basic") == 0) {
        return "Basic";
    }
    return t;
}

/* The token's fields, from whichever encoding the endpoint answered in. */
struct token_fields {
    const char *access;
    const char *type;   /* NULL: Bearer */
    int64_t expires_in; /* seconds; 0: no expiry given */
};

/* Sets o->line and o->expires_ms from @t; NULL, or why not (in @why). */
static const char *
token_set(struct oauth2 *o, const struct token_fields *t, char *why, size_t whylen)
{
    struct strbuf sb;

    if (t->access == NULL || *t->access == '\0' ||
        strcspn(t->access, "\r\n") != strlen(t->access)) {
        snprintf(why, whylen, "token response has no access_token");
        return why;
    }
    if (t->type != NULL && strcspn(t->type, "\r\n ") != strlen(t->type)) {
        snprintf(why, whylen, "token response has an invalid token_type");
        return why;
    }
    free(o->line);
    o->line = NULL;
    strbuf_init(&sb);
    strbuf_printf(&sb, "Authorization: %s %s", token_type(t->type), t->access);
    if (sb.oom) {
        strbuf_release(&sb);
        snprintf(why, whylen, "out of memory");
        return why;
    }
    o->line = sb.data; /* the buffer passes to o->line */
    o->expires_ms = t->expires_in > 0 ? clock_mono_ms() + t->expires_in * 1000 : INT64_MAX;
    return NULL;
}

/* A JSON token response (RFC 6749 5.1). */
static const char *
parse_json_token(struct oauth2 *o, char *why, size_t whylen)
{
    json_tokener *tok = json_tokener_new();
    json_object *root = NULL, *v;
    struct token_fields t = {0};
    const char *bad;

    if (tok == NULL) {
        return "out of memory";
    }
    root = json_tokener_parse_ex(tok, o->body.data != NULL ? o->body.data : "", (int)o->body.len);
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        snprintf(why, whylen, "token response is not a JSON object");
        bad = why;
        goto out;
    }
    if (json_object_object_get_ex(root, "access_token", &v) &&
        json_object_is_type(v, json_type_string)) {
        t.access = json_object_get_string(v);
    }
    if (json_object_object_get_ex(root, "token_type", &v) &&
        json_object_is_type(v, json_type_string)) {
        t.type = json_object_get_string(v);
    }
    if (json_object_object_get_ex(root, "expires_in", &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double) ||
         json_object_is_type(v, json_type_string))) {
        t.expires_in = json_object_get_int64(v);
    }
    bad = token_set(o, &t, why, whylen);
out:
    json_object_put(root);
    json_tokener_free(tok);
    return bad;
}

/* Decodes form-encoded @s in place ('+' is a space, %XX a byte); false on a bad escape. */
static bool
form_decode(char *s)
{
    char *w = s;

    for (const char *r = s; *r != '\0'; r++) {
        if (*r == '+') {
            *w++ = ' ';
        }
        else if (*r == '%') {
            char hex[3] = {r[1], r[1] != '\0' ? r[2] : '\0', '\0'};
            char *end;
            long v = strtol(hex, &end, 16);
            if (hex[0] == '\0' || hex[1] == '\0' || *end != '\0' || v == 0) {
                return false;
            }
            *w++ = (char)v;
            r += 2;
        }
        else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return true;
}

/* A form-encoded token response (what Go's oauth2 accepts as text/plain too, e.g. GitHub's). */
static const char *
parse_form_token(struct oauth2 *o, char *why, size_t whylen)
{
    struct token_fields t = {0};
    char *save = NULL;

    strbuf_putc(&o->body, '\0'); /* a NUL-terminated copy to cut up */
    if (o->body.oom) {
        return "out of memory";
    }
    for (char *kv = strtok_r(o->body.data, "&", &save); kv != NULL;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        if (!form_decode(kv) || !form_decode(eq + 1)) {
            snprintf(why, whylen, "token response is not valid form encoding");
            return why;
        }
        if (strcmp(kv, "access_token") == 0) {
            t.access = eq + 1;
        }
        else if (strcmp(kv, "token_type") == 0) {
            t.type = eq + 1;
        }
        else if (strcmp(kv, "expires_in") == 0) {
            t.expires_in = strtoll(eq + 1, NULL, 10);
        }
    }
    return token_set(o, &t, why, whylen);
}

/*
 * The token response into o->line and o->expires_ms, by its Content-Type as Go's oauth2 package
 * reads it: application/x-www-form-urlencoded and text/plain are forms, anything else JSON.
 */
static const char *
parse_token(struct oauth2 *o, char *why, size_t whylen)
{
    char *ct = NULL;

    curl_easy_getinfo(o->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != NULL && (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 ||
                       strncasecmp(ct, "text/plain", 10) == 0)) {
        return parse_form_token(o, why, whylen);
    }
    return parse_json_token(o, why, whylen);
}

/*
 * Starts one try of the fetch: the client's credentials as basic auth, or (@params) in the form;
 * with what is left until o->deadline_ms. 0, or a negative errno (nothing started).
 */
static int
try_start(struct oauth2 *o, bool params)
{
    int64_t left = o->deadline_ms - clock_mono_ms();
    CURLcode rc = CURLE_OK;

    if (left <= 0) {
        return -ETIMEDOUT;
    }
    o->trying_params = params;
    o->too_large = false;
    strbuf_reset(&o->body);
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(o->easy, opt, val);                                              \
    } while (0)
    SET(CURLOPT_HTTPAUTH, params ? (long)CURLAUTH_NONE : (long)CURLAUTH_BASIC);
    SET(CURLOPT_USERNAME, params ? NULL : o->conf.client.username);
    SET(CURLOPT_PASSWORD, params ? NULL : o->conf.client.password);
    SET(CURLOPT_POSTFIELDS, params ? o->conf.form_params : o->conf.form);
    SET(CURLOPT_POSTFIELDSIZE, (long)strlen(params ? o->conf.form_params : o->conf.form));
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)left);
    SET(CURLOPT_TIMEOUT_MS, (long)left);
#undef SET
    if (rc != CURLE_OK) {
        return -EINVAL;
    }
    return loop_xfer_start(o->loop, &o->xfer);
}

static void
oauth2_xfer_done_cb(struct loop_xfer *x, CURLcode rc)
{
    struct oauth2 *o = x->arg;
    char why[CURL_ERROR_SIZE + 96];
    enum reason r = REASON_NONE;
    long status = 0;

    curl_easy_getinfo(o->easy, CURLINFO_RESPONSE_CODE, &status);
    if (o->too_large) {
        r = REASON_TOO_LARGE;
        snprintf(why, sizeof(why), "token response larger than %u bytes", OAUTH2_MAX_RESPONSE);
    }
    else if (rc != CURLE_OK) {
        r = scrape_reason_for(rc);
        snprintf(why, sizeof(why), "token request failed: %s",
                 x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
    }
    else if (scrape_reason_for_status(status) != REASON_NONE) {
        r = scrape_reason_for_status(status);
        snprintf(why, sizeof(why), "token endpoint answered HTTP %ld", status);
    }
    else {
        const char *bad = parse_token(o, why, sizeof(why));
        if (bad != NULL) {
            r = REASON_PARSE;
            if (bad != why) {
                snprintf(why, sizeof(why), "%s", bad);
            }
        }
    }
    strbuf_reset(&o->body);
    if (r != REASON_NONE && o->style == STYLE_UNKNOWN && !o->trying_params &&
        try_start(o, true) == 0) {
        return; /* as Go does: the endpoint may want the credentials in the form */
    }
    if (r == REASON_NONE) {
        if (o->style == STYLE_UNKNOWN) {
            o->style = o->trying_params ? STYLE_PARAMS : STYLE_HEADER;
        }
        notify(o, o->line, REASON_NONE, NULL);
        return;
    }
    free(o->line);
    o->line = NULL;
    notify(o, NULL, r, why);
}

struct oauth2 *
oauth2_new(struct loop *l, const struct httpc_oauth2 *conf)
{
    struct oauth2 *o;
    struct strbuf key;
    CURLcode rc = CURLE_OK;

    strbuf_init(&key);
    strbuf_printf(&key, "%s\x1f%s\x1f%s\x1f", conf->token_url, conf->form, conf->form_params);
    httpc_identity(&key, &conf->client);
    if (key.oom) {
        strbuf_release(&key);
        return NULL;
    }
    for (o = sources; o != NULL; o = o->next) {
        if (o->loop == l && strcmp(o->key, key.data) == 0) {
            o->refs++;
            strbuf_release(&key);
            return o;
        }
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL) {
        strbuf_release(&key);
        return NULL;
    }
    o->key = key.data; /* the buffer passes to the source */
    o->refs = 1;
    o->loop = l;
    o->next = sources;
    sources = o;
    strbuf_init(&o->body);
    o->conf.token_url = strdup(conf->token_url);
    o->conf.form = strdup(conf->form);
    o->conf.form_params = strdup(conf->form_params);
    o->easy = curl_easy_init();
    if (o->conf.token_url == NULL || o->conf.form == NULL || o->conf.form_params == NULL ||
        o->easy == NULL || httpc_opts_copy(&o->conf.client, &conf->client) != 0) {
        oauth2_free(o);
        return NULL;
    }
    rc = httpc_apply(o->easy, &o->conf.client, &o->headers, &o->proxy_hdrs);
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(o->easy, opt, val);                                              \
    } while (0)
    SET(CURLOPT_URL, o->conf.token_url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_POSTFIELDS, o->conf.form);
    SET(CURLOPT_POSTFIELDSIZE, (long)strlen(o->conf.form));
    SET(CURLOPT_WRITEFUNCTION, oauth2_write_cb);
    SET(CURLOPT_WRITEDATA, o);
    SET(CURLOPT_ACCEPT_ENCODING, "");
#undef SET
    if (rc == CURLE_OK) {
        struct curl_slist *n = curl_slist_append(o->headers, "Accept: application/json");
        rc = n != NULL ? curl_easy_setopt(o->easy, CURLOPT_HTTPHEADER, n) : CURLE_OUT_OF_MEMORY;
        o->headers = n != NULL ? n : o->headers;
    }
    if (rc != CURLE_OK) {
        oauth2_free(o);
        return NULL;
    }
    o->xfer.easy = o->easy;
    o->xfer.done = oauth2_xfer_done_cb;
    o->xfer.arg = o;
    return o;
}

void
oauth2_release(struct oauth2 *o, void *arg)
{
    size_t k = 0;

    if (o == NULL) {
        return;
    }
    for (size_t i = 0; i < o->nwaiters; i++) {
        if (arg == NULL || o->waiters[i].arg != arg) {
            o->waiters[k++] = o->waiters[i];
        }
    }
    o->nwaiters = arg != NULL ? k : o->nwaiters;
    if (--o->refs == 0) {
        oauth2_free(o);
    }
}

static void
oauth2_free(struct oauth2 *o)
{
    for (struct oauth2 **p = &sources; *p != NULL; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            break;
        }
    }
    if (o->xfer.active) {
        loop_xfer_cancel(o->loop, &o->xfer);
    }
    if (o->easy != NULL) {
        curl_easy_cleanup(o->easy);
    }
    curl_slist_free_all(o->headers);
    curl_slist_free_all(o->proxy_hdrs);
    httpc_opts_release(&o->conf.client);
    free(o->conf.token_url);
    free(o->conf.form);
    free(o->conf.form_params);
    strbuf_release(&o->body);
    free(o->line);
    free(o->key);
    free(o->waiters);
    free(o);
}

const char *
oauth2_cached(struct oauth2 *o, int64_t now_ms)
{
    if (o->line == NULL) {
        return NULL;
    }
    if (o->expires_ms != INT64_MAX && now_ms >= o->expires_ms - OAUTH2_EXPIRY_DELTA_MS) {
        return NULL;
    }
    return o->line;
}

int
oauth2_set_header(const char *line, CURL *e, const struct curl_slist *base,
                  struct curl_slist **list)
{
    struct curl_slist *l = NULL, *n;
    const struct curl_slist *last = *list;

    while (last != NULL && last->next != NULL) {
        last = last->next;
    }
    if (last != NULL && strcmp(last->data, line) == 0) {
        return 0;
    }
    for (const struct curl_slist *h = base; h != NULL; h = h->next) {
        if ((n = curl_slist_append(l, h->data)) == NULL) {
            curl_slist_free_all(l);
            return -ENOMEM;
        }
        l = n;
    }
    if ((n = curl_slist_append(l, line)) == NULL) {
        curl_slist_free_all(l);
        return -ENOMEM;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, n);
    curl_slist_free_all(*list);
    *list = n;
    return 0;
}

int
oauth2_fetch(struct oauth2 *o, int64_t timeout_ms, oauth2_done_fn *done, void *arg, char *err,
             size_t errlen)
{
    if (o->nwaiters == o->cap) {
        size_t cap = o->cap > 0 ? o->cap * 2 : 4;
        struct oauth2_waiter *w = realloc(o->waiters, cap * sizeof(*w));
        if (w == NULL) {
            snprintf(err, errlen, "oauth2: out of memory");
            return -ENOMEM;
        }
        o->waiters = w;
        o->cap = cap;
    }
    o->waiters[o->nwaiters++] = (struct oauth2_waiter){.done = done, .arg = arg};
    if (o->xfer.active) {
        return 0; /* the fetch in flight answers this waiter too */
    }
    o->deadline_ms = clock_mono_ms() + timeout_ms;
    int rc = try_start(o, o->style == STYLE_PARAMS);
    if (rc != 0) {
        snprintf(err, errlen, "oauth2: %s",
                 o->xfer.errbuf[0] != '\0' ? o->xfer.errbuf : strerror(-rc));
        o->nwaiters--;
    }
    return rc;
}
