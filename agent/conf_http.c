/*
 * The HTTP client keys every job kind and HTTP output shares, as Prometheus' <http_config> has
 * them (basic_auth, authorization and the legacy bearer_token*, oauth2, tls_config, the proxy
 * keys, follow_redirects, enable_http2, http_headers): their sections, the rules between them
 * that a table cannot say, and the translation into the client's struct httpc_opts. Secret
 * files are read here, at load and reload, and never shown. Everything the daemon would refuse
 * is refused here, at load, so --check-config and the daemon agree.
 */
#include "build-config.h"

#include "conf_http.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf_targets.h"
#include "httpc.h"
#include "strbuf.h"

#define SECRET_MAX_BYTES (64u << 10) /* a password_file or credentials_file */

#define BA(k, t, m, ...) CONF_FLD(k, t, struct config_basic_auth, m, __VA_ARGS__)
static const struct conf_field basic_auth_fields[] = {
    BA("username", CONF_FT_STR, username, .desc = "User name."),
    BA("username_file", CONF_FT_PATH, username_file, .flags = CONF_F_NONEMPTY,
       .desc = "File holding the user name, read at load and reload; white space trimmed."),
    BA("password", CONF_FT_STR, password, .flags = CONF_F_SECRET,
       .desc = "Password (prefer password_file)."),
    BA("password_file", CONF_FT_PATH, password_file, .flags = CONF_F_NONEMPTY,
       .desc = "File holding the password, read at load and reload; white space trimmed."),
};
#undef BA
static const char *const basic_auth_unsupported[] = {"username_ref", "password_ref", NULL};
const struct conf_section conf_http_basic_auth_section = {
    .name = "basic_auth", CONF_FIELDS(basic_auth_fields), .unsupported = basic_auth_unsupported};

#define AU(k, t, m, ...) CONF_FLD(k, t, struct config_authorization, m, __VA_ARGS__)
static const struct conf_field authorization_fields[] = {
    AU("type", CONF_FT_STR, type, .def = "Bearer", .flags = CONF_F_NONEMPTY,
       .desc = "Authorization scheme (not Basic: use basic_auth)."),
    AU("credentials", CONF_FT_STR, credentials, .flags = CONF_F_SECRET,
       .desc = "Credentials (prefer credentials_file)."),
    AU("credentials_file", CONF_FT_PATH, credentials_file, .flags = CONF_F_NONEMPTY,
       .desc = "File holding the credentials, read at load and reload; white space trimmed."),
};
#undef AU
static const char *const authorization_unsupported[] = {"credentials_ref", NULL};
const struct conf_section conf_http_authorization_section = {.name = "authorization",
                                                             CONF_FIELDS(authorization_fields),
                                                             .unsupported =
                                                                 authorization_unsupported};

static const struct conf_choice tls_version_choices[] = {{"TLS10", CONFIG_TLS10, false},
                                                         {"TLS11", CONFIG_TLS11, false},
                                                         {"TLS12", CONFIG_TLS12, false},
                                                         {"TLS13", CONFIG_TLS13, false},
                                                         {NULL, 0, false}};

#define TL(k, t, m, ...) CONF_FLD(k, t, struct config_tls, m, __VA_ARGS__)
static const struct conf_field tls_fields[] = {
    TL("ca", CONF_FT_STR, ca, .flags = CONF_F_NONEMPTY,
       .desc = "CA certificates (PEM text) to verify the server with."),
    TL("ca_file", CONF_FT_PATH, ca_file, .flags = CONF_F_NONEMPTY,
       .desc = "CA certificates to verify the server with."),
    TL("cert", CONF_FT_STR, cert, .flags = CONF_F_NONEMPTY,
       .desc = "Client certificate (PEM text; with key or key_file)."),
    TL("cert_file", CONF_FT_PATH, cert_file, .flags = CONF_F_NONEMPTY,
       .desc = "Client certificate (with key or key_file)."),
    TL("key", CONF_FT_STR, key, .flags = CONF_F_NONEMPTY | CONF_F_SECRET,
       .desc = "Client key (PEM text; never shown)."),
    TL("key_file", CONF_FT_PATH, key_file, .flags = CONF_F_NONEMPTY,
       .desc = "Client key (with cert or cert_file)."),
    TL("server_name", CONF_FT_STR, server_name, .flags = CONF_F_NONEMPTY,
       .desc = "Rejected: libcurl 7.88 sends the URL's host as SNI and verifies the "
               "certificate against it, with no way to name another."),
    TL("insecure_skip_verify", CONF_FT_BOOL, insecure_skip_verify, .def = "false",
       .desc = "Do not verify the server certificate."),
    TL("min_version", CONF_FT_ENUM, min_version, .choices = tls_version_choices,
       .desc = "Lowest TLS version: TLS10, TLS11, TLS12 or TLS13 (default: libcurl's)."),
    TL("max_version", CONF_FT_ENUM, max_version, .choices = tls_version_choices,
       .desc = "Highest TLS version: TLS10, TLS11, TLS12 or TLS13 (default: none)."),
};
#undef TL
static const char *const tls_unsupported[] = {"ca_ref", "cert_ref", "key_ref", NULL};
const struct conf_section conf_http_tls_section = {
    .name = "tls_config", CONF_FIELDS(tls_fields), .unsupported = tls_unsupported};

#define OA(k, t, m, ...) CONF_FLD(k, t, struct config_oauth2, m, __VA_ARGS__)
static const struct conf_field oauth2_fields[] = {
    OA("client_id", CONF_FT_STR, client_id, .flags = CONF_F_NONEMPTY, .desc = "Client id."),
    OA("client_secret", CONF_FT_STR, client_secret, .flags = CONF_F_SECRET,
       .desc = "Client secret (prefer client_secret_file)."),
    OA("client_secret_file", CONF_FT_PATH, client_secret_file, .flags = CONF_F_NONEMPTY,
       .desc = "File holding the client secret, read at load and reload; white space trimmed."),
    OA("token_url", CONF_FT_STR, token_url, .flags = CONF_F_NONEMPTY,
       .desc = "Token endpoint (http or https)."),
    CONF_FLDN("scopes", CONF_FT_STRLIST, struct config_oauth2, scopes, nscopes,
              .desc = "Scopes asked for (joined by spaces)."),
    OA("endpoint_params", CONF_FT_DEFER, endpoint_params,
       .desc = "More form parameters of the token request: name: value."),
    OA("tls_config", CONF_FT_SECTION, tls, .sub = &conf_http_tls_section,
       .desc = "TLS settings of the token request."),
    CONF_HTTP_PROXY_FIELDS(struct config_oauth2, proxy, 0),
};
#undef OA
/* The JWT bearer grant of newer Prometheus versions is not implemented. */
static const char *const oauth2_unsupported[] = {"client_secret_ref",
                                                 "grant_type",
                                                 "client_certificate_key*",
                                                 "signature_algorithm",
                                                 "iss",
                                                 "audience",
                                                 "claims",
                                                 NULL};
const struct conf_section conf_http_oauth2_section = {
    .name = "oauth2", CONF_FIELDS(oauth2_fields), .unsupported = oauth2_unsupported};

static void
trim(char *s)
{
    size_t len = strlen(s), start = 0;

    while (len > 0 && isspace((unsigned char)s[len - 1])) {
        s[--len] = '\0';
    }
    while (isspace((unsigned char)s[start])) {
        start++;
    }
    memmove(s, s + start, len - start + 1);
}

/* Reads secret file @file (the value of @key at @at) into *@out. Never shows the content. */
static void
secret_read(struct conf_ctx *x, const char *key, const char *file, const struct conf_node *at,
            char **out)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = conf_tree_read_file(file, SECRET_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        conf_err(x, at, "cannot read %s \"%s\": %s", key, file,
                 rc == -EFBIG ? "file too large" : strerror(-rc));
        return;
    }
    if (strlen(buf) != len) {
        conf_err(x, at, "%s \"%s\" contains a NUL byte", key, file);
        free(buf);
        return;
    }
    trim(buf);
    free(*out);
    *out = buf;
}

static void
file_check(struct conf_ctx *x, const char *key, const char *file, const struct conf_node *at)
{
    if (file != NULL && at != NULL && access(file, R_OK) != 0) {
        conf_err(x, at, "cannot read %s \"%s\": %s", key, file, strerror(errno));
    }
}

/* "at most one of @a and @b may be set" when both keys are in @map; true when at most one is. */
static bool
one_of(struct conf_ctx *x, const struct conf_node *map, const char *what, const char *a,
       const char *b)
{
    const struct conf_node *nb = conf_tree_get(map, b);

    if (conf_tree_get(map, a) != NULL && nb != NULL) {
        conf_err(x, nb, "at most one of %s %s and %s may be set", what, a, b);
        return false;
    }
    return true;
}

static void
tls_resolve(struct conf_ctx *x, const struct config_tls *t, const struct conf_node *tls)
{
    if (tls == NULL || tls->kind != CONF_NODE_MAP) {
        return;
    }
    file_check(x, "ca_file", t->ca_file, conf_tree_get(tls, "ca_file"));
    file_check(x, "cert_file", t->cert_file, conf_tree_get(tls, "cert_file"));
    file_check(x, "key_file", t->key_file, conf_tree_get(tls, "key_file"));
    one_of(x, tls, "tls_config", "ca", "ca_file");
    one_of(x, tls, "tls_config", "cert", "cert_file");
    one_of(x, tls, "tls_config", "key", "key_file");
    if ((t->cert_file == NULL && t->cert == NULL) != (t->key_file == NULL && t->key == NULL)) {
        conf_err(x, tls,
                 "tls_config needs a client certificate (cert or cert_file) and its key "
                 "(key or key_file), or neither");
    }
    if (t->server_name != NULL) {
        /*
         * Prometheus sends server_name as SNI and verifies the certificate against it while
         * connecting to the URL's host. libcurl 7.88 always uses the URL's host for both;
         * CURLOPT_CONNECT_TO or CURLOPT_RESOLVE would change where it connects and the Host
         * header with it, which is not the same thing.
         */
        conf_err(x, conf_tree_get(tls, "server_name"),
                 "tls_config.server_name is not supported: libcurl sends the URL's host as TLS "
                 "SNI and verifies the certificate against it, with no way to name another; put "
                 "the certificate's name in the target address (and resolve it to the target) "
                 "instead");
    }
    if (t->min_version != CONFIG_TLS_ANY && t->max_version != CONFIG_TLS_ANY &&
        t->max_version < t->min_version) {
        conf_err(x, conf_tree_get(tls, "max_version"),
                 "tls_config max_version (%s) must not be lower than min_version (%s)",
                 conf_choice_name(tls_version_choices, t->max_version),
                 conf_choice_name(tls_version_choices, t->min_version));
    }
}

static void
proxy_resolve(struct conf_ctx *x, const struct config_proxy *p, const struct conf_node *map)
{
    const struct conf_node *n;

    if (p->url != NULL) {
        CURLU *u = curl_url();
        char *scheme = NULL;
        n = conf_tree_get(map, "proxy_url");
        if (u == NULL) {
            conf_oom(x);
        }
        else if (curl_url_set(u, CURLUPART_URL, p->url, 0) != CURLUE_OK ||
                 curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                 (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
                  strcmp(scheme, "socks5") != 0 && strcmp(scheme, "socks5h") != 0)) {
            char *red = httpc_redact_url_dup(p->url);
            conf_err(x, n,
                     "invalid proxy_url \"%s\": expected http://, https://, socks5:// or "
                     "socks5h:// and host:port",
                     red != NULL ? red : "");
            free(red);
        }
        curl_free(scheme);
        curl_url_cleanup(u);
    }
    if (p->from_env && p->url != NULL) {
        conf_err(x, conf_tree_get_key(map, "proxy_url"),
                 "if proxy_from_environment is set, proxy_url must not be set");
    }
    if (p->no_proxy != NULL && p->from_env) {
        conf_err(x, conf_tree_get_key(map, "no_proxy"),
                 "if proxy_from_environment is set, no_proxy must not be set (the environment's "
                 "no_proxy applies)");
    }
    else if (p->no_proxy != NULL && p->url == NULL) {
        conf_err(x, conf_tree_get_key(map, "no_proxy"), "no_proxy needs proxy_url");
    }
    if (p->nconnect_headers > 0 && p->url == NULL && !p->from_env) {
        conf_err(x, conf_tree_get_key(map, "proxy_connect_header"),
                 "proxy_connect_header needs proxy_url or proxy_from_environment");
    }
    for (size_t i = 0; i < p->nconnect_headers; i++) {
        const struct config_param *h = &p->connect_headers[i];
        if (!conf_is_header_name(h->name)) {
            conf_err(x, conf_tree_get_key(map, "proxy_connect_header"),
                     "invalid header name \"%s\" in proxy_connect_header", h->name);
        }
        for (size_t k = 0; k < h->nvalues; k++) {
            if (strcspn(h->values[k], "\r\n") != strlen(h->values[k])) {
                conf_err(x, conf_tree_get_key(map, "proxy_connect_header"),
                         "value of proxy_connect_header \"%s\" must not contain CR or LF", h->name);
            }
        }
    }
}

/* Header names Prometheus refuses in http_headers (prometheus/common config/headers.go). */
static const char *const reserved_headers[] = {
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    NULL,
};

/* Appends header @name: @value to @h's resolved http_headers. */
static void
header_add(struct conf_ctx *x, struct config_http *h, const char *name, const char *value,
           const struct conf_node *at)
{
    struct config_header *v;

    if (strcspn(value, "\r\n") != strlen(value)) {
        conf_err(x, at, "value of http_headers \"%s\" must not contain CR or LF", name);
        return;
    }
    v = conf_grow(h->http_headers, h->nhttp_headers, sizeof(*v));
    if (v == NULL) {
        conf_oom(x);
        return;
    }
    h->http_headers = v;
    v[h->nhttp_headers].name = strdup(name);
    v[h->nhttp_headers].value = strdup(value);
    h->nhttp_headers++;
    if (v[h->nhttp_headers - 1].name == NULL || v[h->nhttp_headers - 1].value == NULL) {
        conf_oom(x);
    }
}

/* http_headers: {Name: {values: [..], secrets: [..], files: [..]}}, in that order per name. */
static void
http_headers_resolve(struct conf_ctx *x, struct config_http *h, const struct conf_node *hh)
{
    static const char *const kinds[] = {"values", "secrets", "files"};

    if (hh == NULL || conf_tree_is_null(hh) ||
        !conf_expect(x, hh, CONF_NODE_MAP, "a mapping", "http_headers")) {
        return;
    }
    for (size_t i = 0; i < conf_tree_len(hh); i++) {
        const struct conf_node *k = conf_tree_key(hh, i), *v = conf_tree_val(hh, i);
        char what[CONF_PATH_MAX];
        if (!conf_is_header_name(k->str)) {
            conf_err(x, k, "invalid header name \"%s\" in http_headers", k->str);
            continue;
        }
        for (size_t r = 0; reserved_headers[r] != NULL; r++) {
            if (strcasecmp(k->str, reserved_headers[r]) == 0) {
                conf_err(x, k, "http_headers cannot set \"%s\" (pollster or an auth key sets it)",
                         k->str);
            }
        }
        snprintf(what, sizeof(what), "http_headers.%s", k->str);
        if (conf_tree_is_null(v) || !conf_expect(x, v, CONF_NODE_MAP, "a mapping", what)) {
            continue;
        }
        for (size_t j = 0; j < conf_tree_len(v); j++) {
            const struct conf_node *kk = conf_tree_key(v, j);
            if (strcmp(kk->str, "values") != 0 && strcmp(kk->str, "secrets") != 0 &&
                strcmp(kk->str, "files") != 0) {
                conf_err(x, kk, "unknown key \"%s\" in %s (values, secrets, files)", kk->str, what);
            }
        }
        for (size_t kd = 0; kd < 3; kd++) {
            const struct conf_node *l = conf_tree_get(v, kinds[kd]);
            if (l == NULL || conf_tree_is_null(l) ||
                !conf_expect(x, l, CONF_NODE_SEQ, "a sequence", kinds[kd])) {
                continue;
            }
            for (size_t j = 0; j < l->n; j++) {
                const struct conf_node *it = l->kids[j];
                if (!conf_expect(x, it, CONF_NODE_SCALAR, "a string", what)) {
                    continue;
                }
                if (kd < 2) {
                    header_add(x, h, k->str, it->str, it);
                    continue;
                }
                char *path = conf_path_resolve(x, it->str), *val = NULL;
                if (path == NULL) {
                    conf_oom(x);
                    continue;
                }
                secret_read(x, "http_headers file", path, it, &val);
                if (val != NULL) {
                    header_add(x, h, k->str, val, it);
                }
                free(val);
                free(path);
            }
        }
    }
}

/* endpoint_params: {name: value}: form parameters of the token request. */
static void
endpoint_params_resolve(struct conf_ctx *x, struct config_oauth2 *o, const struct conf_node *ep)
{
    if (ep == NULL || conf_tree_is_null(ep) ||
        !conf_expect(x, ep, CONF_NODE_MAP, "a mapping", "oauth2 endpoint_params")) {
        return;
    }
    if (conf_tree_len(ep) > 64) {
        conf_err(x, ep, "at most 64 oauth2 endpoint_params");
        return;
    }
    o->endpoint_params = calloc(conf_tree_len(ep) + 1, sizeof(*o->endpoint_params));
    if (o->endpoint_params == NULL) {
        conf_oom(x);
        return;
    }
    for (size_t i = 0; i < conf_tree_len(ep); i++) {
        const struct conf_node *k = conf_tree_key(ep, i), *v = conf_tree_val(ep, i);
        if (!conf_expect(x, v, CONF_NODE_SCALAR, "a string", "an endpoint_params value")) {
            continue;
        }
        struct config_header *p = &o->endpoint_params[o->nendpoint_params++];
        p->name = strdup(k->str);
        p->value = strdup(conf_tree_is_null(v) ? "" : v->str);
        if (p->name == NULL || p->value == NULL) {
            conf_oom(x);
        }
    }
}

static void
oauth2_resolve(struct conf_ctx *x, struct config_oauth2 *o, const struct conf_node *oa)
{
    if (oa == NULL || oa->kind != CONF_NODE_MAP) {
        return;
    }
    if (o->client_id == NULL) {
        conf_err(x, oa, "oauth2 needs client_id");
    }
    if (o->token_url == NULL) {
        conf_err(x, oa, "oauth2 needs token_url");
    }
    else {
        const char *why = conf_targets_url_check(o->token_url, NULL);
        if (why != NULL) {
            char *red = httpc_redact_url_dup(o->token_url);
            conf_err(x, conf_tree_get(oa, "token_url"), "invalid oauth2 token_url \"%s\": %s",
                     red != NULL ? red : "", why);
            free(red);
        }
    }
    if (one_of(x, oa, "oauth2", "client_secret", "client_secret_file") &&
        o->client_secret_file != NULL) {
        secret_read(x, "client_secret_file", o->client_secret_file,
                    conf_tree_get(oa, "client_secret_file"), &o->client_secret);
    }
    endpoint_params_resolve(x, o, conf_tree_get(oa, "endpoint_params"));
    tls_resolve(x, &o->tls, conf_tree_get(oa, "tls_config"));
    proxy_resolve(x, &o->proxy, oa);
}

/*
 * Resolves the HTTP client settings of the section @map (a job or an http output): the rules
 * between the auth keys, the secret files, TLS, proxy, http_headers, oauth2.
 */
void
conf_http_resolve(struct conf_ctx *x, struct config_http *h, const struct conf_node *map)
{
    const struct conf_node *ba = conf_tree_get(map, "basic_auth");
    const struct conf_node *au = conf_tree_get(map, "authorization");
    const struct conf_node *oa = conf_tree_get(map, "oauth2");
    const struct conf_node *bt = conf_tree_get(map, "bearer_token");
    const struct conf_node *btf = conf_tree_get(map, "bearer_token_file");
    static const char *const auth_keys[] = {"basic_auth",   "authorization",     "oauth2",
                                            "bearer_token", "bearer_token_file", NULL};
    const char *first = NULL;

    /* In document order: the second auth key is the one in error. */
    for (size_t i = 0; i < conf_tree_len(map); i++) {
        const struct conf_node *k = conf_tree_key(map, i);
        for (size_t a = 0; auth_keys[a] != NULL; a++) {
            if (strcmp(k->str, auth_keys[a]) != 0) {
                continue;
            }
            if (first != NULL) {
                conf_err(x, k, "at most one of %s and %s may be set", first, auth_keys[a]);
            }
            else {
                first = auth_keys[a];
            }
        }
    }
    if (ba != NULL && ba->kind == CONF_NODE_MAP) {
        const struct conf_node *pwf = conf_tree_get(ba, "password_file"),
                               *uf = conf_tree_get(ba, "username_file");
        if (one_of(x, ba, "basic_auth", "password", "password_file") && pwf != NULL &&
            h->basic_auth.password_file != NULL) {
            secret_read(x, "password_file", h->basic_auth.password_file, pwf,
                        &h->basic_auth.password);
        }
        if (one_of(x, ba, "basic_auth", "username", "username_file") && uf != NULL &&
            h->basic_auth.username_file != NULL) {
            secret_read(x, "username_file", h->basic_auth.username_file, uf,
                        &h->basic_auth.username);
        }
        if (h->basic_auth.username == NULL && (h->basic_auth.username = strdup("")) == NULL) {
            conf_oom(x);
        }
    }
    if (bt != NULL || btf != NULL) {
        free(h->authorization.type);
        h->authorization.type = strdup("Bearer");
        if (h->authorization.type == NULL) {
            conf_oom(x);
        }
        if (bt == NULL && h->authorization.credentials_file != NULL) {
            secret_read(x, "bearer_token_file", h->authorization.credentials_file, btf,
                        &h->authorization.credentials);
        }
    }
    if (au != NULL && au->kind == CONF_NODE_MAP) {
        const struct conf_node *cr = conf_tree_get(au, "credentials"),
                               *crf = conf_tree_get(au, "credentials_file");
        const struct conf_node *n = conf_tree_get(au, "type");
        if (n != NULL && h->authorization.type != NULL &&
            strcasecmp(h->authorization.type, "basic") == 0) {
            conf_err(x, n, "authorization type cannot be \"%s\": use basic_auth",
                     h->authorization.type);
        }
        if (!one_of(x, au, "authorization", "credentials", "credentials_file")) {
            /* reported */
        }
        else if (cr == NULL && crf == NULL) {
            conf_err(x, au, "authorization requires credentials or credentials_file");
        }
        else if (crf != NULL && h->authorization.credentials_file != NULL) {
            secret_read(x, "credentials_file", h->authorization.credentials_file, crf,
                        &h->authorization.credentials);
        }
    }
    oauth2_resolve(x, &h->oauth2, oa);
    tls_resolve(x, &h->tls, conf_tree_get(map, "tls_config"));
    proxy_resolve(x, &h->proxy, map);
    http_headers_resolve(x, h, conf_tree_get(map, "http_headers"));
    if (h->nheaders + h->nhttp_headers + 1 > CONF_HTTP_MAX_HEADERS) {
        conf_err(x, map, "at most %d request headers (headers and http_headers together)",
                 CONF_HTTP_MAX_HEADERS - 1);
    }
}

static void
headers_free(struct config_header *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

void
conf_http_release(struct config_http *h)
{
    headers_free(h->http_headers, h->nhttp_headers);
    h->http_headers = NULL;
    h->nhttp_headers = 0;
    headers_free(h->oauth2.endpoint_params, h->oauth2.nendpoint_params);
    h->oauth2.endpoint_params = NULL;
    h->oauth2.nendpoint_params = 0;
}

/* "@name: @value" appended to *@v (count *@n); false when out of memory. */
static bool
line_add(char ***v, size_t *n, const char *name, const char *sep, const char *value)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));

    if (nv == NULL) {
        return false;
    }
    *v = nv;
    nv[*n] = conf_printf("%s%s%s", name, sep, value);
    if (nv[*n] == NULL) {
        return false;
    }
    (*n)++;
    return true;
}

static long
tls_version(int v, bool max)
{
    static const long mins[] = {0, CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_TLSv1_1,
                                CURL_SSLVERSION_TLSv1_2, CURL_SSLVERSION_TLSv1_3};
    static const long maxs[] = {0, CURL_SSLVERSION_MAX_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_1,
                                CURL_SSLVERSION_MAX_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_3};

    if (v < 0 || v > CONFIG_TLS13) {
        return 0;
    }
    return max ? maxs[v] : mins[v];
}

/* TLS and proxy settings of @t and @p into @h; false when out of memory. */
static bool
tls_proxy_client(const struct config_tls *t, const struct config_proxy *p, struct httpc_opts *h)
{
    bool ok = true;

#define DUP(dst, src)                                                                              \
    do {                                                                                           \
        if ((src) != NULL && ((dst) = strdup(src)) == NULL)                                        \
            ok = false;                                                                            \
    } while (0)
    DUP(h->ca_file, t->ca_file);
    DUP(h->cert_file, t->cert_file);
    DUP(h->key_file, t->key_file);
    DUP(h->ca, t->ca);
    DUP(h->cert, t->cert);
    DUP(h->key, t->key);
    DUP(h->proxy, p->url);
    DUP(h->noproxy, p->no_proxy);
#undef DUP
    h->insecure_skip_verify = t->insecure_skip_verify;
    h->tls_min = tls_version(t->min_version, false);
    h->tls_max = tls_version(t->max_version, true);
    h->proxy_from_env = p->from_env;
    for (size_t i = 0; i < p->nconnect_headers && ok; i++) {
        for (size_t k = 0; k < p->connect_headers[i].nvalues && ok; k++) {
            ok = line_add(&h->proxy_headers, &h->nproxy_headers, p->connect_headers[i].name, ": ",
                          p->connect_headers[i].values[k]);
        }
    }
    return ok;
}

static int
param_cmp(const void *a, const void *b)
{
    return strcmp(((const struct config_header *)a)->name, ((const struct config_header *)b)->name);
}

/*
 * The token request of @o, as Go's clientcredentials package makes it (Prometheus uses it):
 * grant_type, scope (space-joined) and the endpoint params (which may replace either) as a
 * form sorted by name; the client id and secret form-encoded as basic auth.
 */
/* @p's @n name=value pairs sorted by name and form-encoded (Go's url.Values.Encode); NULL: OOM. */
static char *
form_of(struct config_header *p, size_t n)
{
    struct strbuf form;
    char *out;

    qsort(p, n, sizeof(p[0]), param_cmp);
    strbuf_init(&form);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            strbuf_putc(&form, '&');
        }
        httpc_form_escape(&form, p[i].name);
        strbuf_putc(&form, '=');
        httpc_form_escape(&form, p[i].value);
    }
    out = form.oom ? NULL : strdup(form.data != NULL ? form.data : "");
    strbuf_release(&form);
    return out;
}

/* Sets @name to @value among the @n pairs of @p (room for one more); returns the new count. */
static size_t
param_set(struct config_header *p, size_t n, const char *name, const char *value)
{
    size_t k = 0;

    while (k < n && strcmp(p[k].name, name) != 0) {
        k++;
    }
    p[k] = (struct config_header){.name = (char *)name, .value = (char *)value};
    return k == n ? n + 1 : n;
}

/*
 * The token request of @o, as Go's clientcredentials package makes it (Prometheus uses it):
 * grant_type, scope (space-joined) and the endpoint params (which may replace either) as a
 * form sorted by name; the client id and secret form-encoded as basic auth, or, the second way
 * Go tries, as client_id and client_secret in the form.
 */
static bool
oauth2_client(const struct config_oauth2 *o, struct httpc_opts *h)
{
    struct config_header p[4 + 64];
    size_t n = 0;
    struct strbuf sb;
    bool ok;

    h->oauth2 = calloc(1, sizeof(*h->oauth2));
    if (h->oauth2 == NULL) {
        return false;
    }
    strbuf_init(&sb);
    for (size_t i = 0; i < o->nscopes; i++) {
        strbuf_printf(&sb, "%s%s", i > 0 ? " " : "", o->scopes[i]);
    }
    n = param_set(p, n, "grant_type", "client_credentials");
    if (o->nscopes > 0 && !sb.oom) {
        n = param_set(p, n, "scope", sb.data);
    }
    for (size_t i = 0; i < o->nendpoint_params; i++) {
        n = param_set(p, n, o->endpoint_params[i].name, o->endpoint_params[i].value);
    }
    h->oauth2->form = form_of(p, n);
    if (o->client_id != NULL && o->client_id[0] != '\0') {
        n = param_set(p, n, "client_id", o->client_id);
    }
    if (o->client_secret != NULL && o->client_secret[0] != '\0') {
        n = param_set(p, n, "client_secret", o->client_secret);
    }
    h->oauth2->form_params = form_of(p, n);
    strbuf_reset(&sb);
    httpc_form_escape(&sb, o->client_id != NULL ? o->client_id : "");
    h->oauth2->client.username = sb.oom ? NULL : strdup(sb.data != NULL ? sb.data : "");
    strbuf_reset(&sb);
    httpc_form_escape(&sb, o->client_secret != NULL ? o->client_secret : "");
    h->oauth2->client.password = sb.oom ? NULL : strdup(sb.data != NULL ? sb.data : "");
    h->oauth2->token_url = strdup(o->token_url);
    ok = h->oauth2->client.username != NULL && h->oauth2->client.password != NULL &&
         h->oauth2->form != NULL && h->oauth2->form_params != NULL &&
         h->oauth2->token_url != NULL && tls_proxy_client(&o->tls, &o->proxy, &h->oauth2->client);
    strbuf_release(&sb);
    return ok;
}

int
conf_http_client(const struct config_http *c, const char *who, struct httpc_opts *h, char *err,
                 size_t errlen)
{
    bool ok = true;

    memset(h, 0, sizeof(*h));
    h->follow_redirects = c->follow_redirects;
    h->http1_only = !c->enable_http2;
    if (c->basic_auth.username != NULL || c->basic_auth.password != NULL) {
        ok = (h->username = strdup(c->basic_auth.username ? c->basic_auth.username : "")) != NULL &&
             (h->password = strdup(c->basic_auth.password ? c->basic_auth.password : "")) != NULL;
    }
    ok = ok && tls_proxy_client(&c->tls, &c->proxy, h);
    for (size_t i = 0; i < c->nheaders && ok; i++) {
        ok = line_add(&h->headers, &h->nheaders, c->headers[i].name, ": ", c->headers[i].value);
    }
    for (size_t i = 0; i < c->nhttp_headers && ok; i++) {
        ok = line_add(&h->headers, &h->nheaders, c->http_headers[i].name, ": ",
                      c->http_headers[i].value);
    }
    if (ok && c->authorization.type != NULL) {
        const char *cred = c->authorization.credentials ? c->authorization.credentials : "";
        char *v = conf_printf("%s %s", c->authorization.type, cred);
        ok = v != NULL && line_add(&h->headers, &h->nheaders, "Authorization", ": ", v);
        free(v);
    }
    if (ok && c->oauth2.token_url != NULL) {
        ok = oauth2_client(&c->oauth2, h);
    }
    if (!ok) {
        httpc_opts_release(h);
        snprintf(err, errlen, "%s: out of memory", who);
        return -ENOMEM;
    }
    return 0;
}
