/*
 * The HTTP client keys every job kind and HTTP output shares (basic_auth, authorization and the
 * legacy bearer_token*, tls_config): their sections, and the rules between them that a table
 * cannot say. Secret files are read here, at load and reload, and never shown.
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

#include "httpc.h"

#define SECRET_MAX_BYTES (64u << 10) /* a password_file or credentials_file */

#define BA(k, t, m, ...) CONF_FLD(k, t, struct config_basic_auth, m, __VA_ARGS__)
static const struct conf_field basic_auth_fields[] = {
    BA("username", CONF_FT_STR, username, .desc = "User name."),
    BA("password", CONF_FT_STR, password, .flags = CONF_F_SECRET,
       .desc = "Password (prefer password_file)."),
    BA("password_file", CONF_FT_PATH, password_file, .flags = CONF_F_NONEMPTY,
       .desc = "File holding the password, read at load and reload; white space trimmed."),
};
#undef BA
static const char *const basic_auth_unsupported[] = {"username_file", "username_ref",
                                                     "password_ref", NULL};
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

#define TL(k, t, m, ...) CONF_FLD(k, t, struct config_tls, m, __VA_ARGS__)
static const struct conf_field tls_fields[] = {
    TL("ca_file", CONF_FT_PATH, ca_file, .flags = CONF_F_NONEMPTY,
       .desc = "CA certificates to verify the server with."),
    TL("cert_file", CONF_FT_PATH, cert_file, .flags = CONF_F_NONEMPTY,
       .desc = "Client certificate (with key_file)."),
    TL("key_file", CONF_FT_PATH, key_file, .flags = CONF_F_NONEMPTY,
       .desc = "Client key (with cert_file)."),
    TL("server_name", CONF_FT_STR, server_name, .flags = CONF_F_NONEMPTY,
       .desc = "Server name to verify and send with SNI."),
    TL("insecure_skip_verify", CONF_FT_BOOL, insecure_skip_verify, .def = "false",
       .desc = "Do not verify the server certificate."),
};
#undef TL
static const char *const tls_unsupported[] = {
    "ca", "cert", "key", "ca_ref", "cert_ref", "key_ref", "min_version", "max_version", NULL};
const struct conf_section conf_http_tls_section = {
    .name = "tls_config", CONF_FIELDS(tls_fields), .unsupported = tls_unsupported};

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

/*
 * Resolves the HTTP client settings of the section @map (a job or an http output): the rules
 * between basic_auth, authorization and the legacy bearer_token*, the secret files, the TLS
 * files.
 */
void
conf_http_resolve(struct conf_ctx *x, struct config_http *h, const struct conf_node *map)
{
    const struct conf_node *ba = conf_tree_get(map, "basic_auth");
    const struct conf_node *au = conf_tree_get(map, "authorization");
    const struct conf_node *bt = conf_tree_get(map, "bearer_token");
    const struct conf_node *btf = conf_tree_get(map, "bearer_token_file");
    const struct conf_node *tls = conf_tree_get(map, "tls_config");

    if (ba != NULL && ba->kind == CONF_NODE_MAP) {
        const struct conf_node *pw = conf_tree_get(ba, "password"),
                               *pwf = conf_tree_get(ba, "password_file");
        if (pw != NULL && pwf != NULL) {
            conf_err(x, pwf, "at most one of basic_auth password and password_file may be set");
        }
        else if (pwf != NULL && h->basic_auth.password_file != NULL) {
            secret_read(x, "password_file", h->basic_auth.password_file, pwf,
                        &h->basic_auth.password);
        }
        if (h->basic_auth.username == NULL && (h->basic_auth.username = strdup("")) == NULL) {
            conf_oom(x);
        }
    }
    if (bt != NULL && btf != NULL) {
        conf_err(x, btf, "at most one of bearer_token and bearer_token_file may be set");
    }
    else if ((bt != NULL || btf != NULL) && au != NULL) {
        conf_err(x, bt != NULL ? bt : btf,
                 "bearer_token and bearer_token_file cannot be combined with authorization");
    }
    else if (bt != NULL || btf != NULL) {
        free(h->authorization.type);
        h->authorization.type = strdup("Bearer");
        if (h->authorization.type == NULL) {
            conf_oom(x);
        }
        if (btf != NULL && h->authorization.credentials_file != NULL) {
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
        if (cr != NULL && crf != NULL) {
            conf_err(x, crf,
                     "at most one of authorization credentials and credentials_file may be set");
        }
        else if (cr == NULL && crf == NULL) {
            conf_err(x, au, "authorization requires credentials or credentials_file");
        }
        else if (crf != NULL && h->authorization.credentials_file != NULL) {
            secret_read(x, "credentials_file", h->authorization.credentials_file, crf,
                        &h->authorization.credentials);
        }
    }
    if (ba != NULL && (au != NULL || bt != NULL || btf != NULL)) {
        const char *other = au != NULL   ? "authorization"
                            : bt != NULL ? "bearer_token"
                                         : "bearer_token_file";
        conf_err(x, conf_tree_get_key(map, other), "at most one of basic_auth and %s may be set",
                 other);
    }
    if (tls != NULL && tls->kind == CONF_NODE_MAP) {
        file_check(x, "ca_file", h->tls.ca_file, conf_tree_get(tls, "ca_file"));
        file_check(x, "cert_file", h->tls.cert_file, conf_tree_get(tls, "cert_file"));
        file_check(x, "key_file", h->tls.key_file, conf_tree_get(tls, "key_file"));
        if ((h->tls.cert_file == NULL) != (h->tls.key_file == NULL)) {
            conf_err(x, tls, "tls_config needs both cert_file and key_file, or neither");
        }
    }
}

int
conf_http_client(const struct config_http *c, const char *who, struct httpc_opts *h, char **headers,
                 char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (c->nheaders > CONF_HTTP_MAX_HEADERS) {
        snprintf(err, errlen, "%s: at most %d headers", who, CONF_HTTP_MAX_HEADERS);
        return -EINVAL;
    }
    if (c->tls.server_name != NULL) {
        snprintf(err, errlen, "%s: tls_config.server_name is not supported yet", who);
        return -EINVAL;
    }
    h->username = c->basic_auth.username;
    h->password = c->basic_auth.password;
    h->ca_file = c->tls.ca_file;
    h->cert_file = c->tls.cert_file;
    h->key_file = c->tls.key_file;
    h->insecure_skip_verify = c->tls.insecure_skip_verify;
    h->follow_redirects = c->follow_redirects;
    h->headers = headers;
    for (size_t i = 0; i < c->nheaders; i++) {
        size_t len = strlen(c->headers[i].name) + strlen(c->headers[i].value) + 3;
        headers[h->nheaders] = malloc(len);
        if (headers[h->nheaders] == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        snprintf(headers[h->nheaders++], len, "%s: %s", c->headers[i].name, c->headers[i].value);
    }
    if (c->authorization.type != NULL) {
        const char *cred = c->authorization.credentials ? c->authorization.credentials : "";
        size_t len = strlen(c->authorization.type) + strlen(cred) + 18;
        headers[h->nheaders] = malloc(len);
        if (headers[h->nheaders] == NULL) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        snprintf(headers[h->nheaders++], len, "Authorization: %s %s", c->authorization.type, cred);
    }
    return 0;
}

void
conf_http_client_release(char **headers)
{
    for (size_t i = 0; i < CONF_HTTP_MAX_HEADERS + 1; i++) {
        free(headers[i]);
        headers[i] = NULL;
    }
}
