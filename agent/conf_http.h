/*
 * The HTTP client section of the config (see conf_http.c): what a job kind or an output puts
 * in its table to accept basic_auth, authorization and tls_config, and the check that resolves
 * them into a struct config_http.
 */
#ifndef POLLSTER_CONF_HTTP_H
#define POLLSTER_CONF_HTTP_H

#include "conf.h"

struct httpc_opts;

/* Request header lines a job or an output may set (headers, http_headers, Authorization). */
#define CONF_HTTP_MAX_HEADERS 64

extern const struct conf_section conf_http_basic_auth_section;
extern const struct conf_section conf_http_authorization_section;
extern const struct conf_section conf_http_tls_section;
extern const struct conf_section conf_http_oauth2_section;

/* The proxy keys of struct @st's struct config_proxy member @m, with flags @fl. */
#define CONF_HTTP_PROXY_FIELDS(st, m, fl)                                                          \
    CONF_FLD("proxy_url", CONF_FT_STR, st, m.url, .flags = CONF_F_NONEMPTY | (fl),                 \
             .desc = "HTTP proxy URL (http://host:port); none by default."),                       \
        CONF_FLD("no_proxy", CONF_FT_STR, st, m.no_proxy, .flags = CONF_F_NONEMPTY | (fl),         \
                 .desc = "Comma-separated hosts reached without proxy_url."),                      \
        CONF_FLD("proxy_from_environment", CONF_FT_BOOL, st, m.from_env, .def = "false",           \
                 .flags = (fl),                                                                    \
                 .desc = "Use http_proxy, https_proxy and no_proxy from the environment "          \
                         "(as libcurl reads them: upper-case HTTP_PROXY is ignored)."),            \
        CONF_FLDN("proxy_connect_header", CONF_FT_PARAMS, st, m.connect_headers,                   \
                  m.nconnect_headers, .flags = (fl),                                               \
                  .desc = "Headers sent to the proxy with CONNECT: name: [values] (never "         \
                          "shown).")

/*
 * The HTTP client keys every kind and output shares (Prometheus' <http_config>), for a struct
 * @st with a struct config_http member @m; @fl is CONF_F_OPTS when @st is a section's opts.
 */
#define CONF_HTTP_CLIENT_FIELDS_F(st, m, fl)                                                       \
    CONF_FLD("basic_auth", CONF_FT_SECTION, st, m.basic_auth, .flags = (fl),                       \
             .sub = &conf_http_basic_auth_section, .desc = "HTTP basic authentication."),          \
        CONF_FLD("authorization", CONF_FT_SECTION, st, m.authorization, .flags = (fl),             \
                 .sub = &conf_http_authorization_section,                                          \
                 .desc = "Authorization header (default type Bearer)."),                           \
        CONF_FLD("bearer_token", CONF_FT_STR, st, m.authorization.credentials,                     \
                 .flags = CONF_F_SECRET | (fl),                                                    \
                 .desc = "Legacy: authorization with type Bearer."),                               \
        CONF_FLD("bearer_token_file", CONF_FT_PATH, st, m.authorization.credentials_file,          \
                 .flags = CONF_F_NONEMPTY | (fl),                                                  \
                 .desc = "Legacy: authorization credentials_file with type Bearer."),              \
        CONF_FLD("oauth2", CONF_FT_SECTION, st, m.oauth2, .flags = (fl),                           \
                 .sub = &conf_http_oauth2_section,                                                 \
                 .desc = "OAuth 2.0 client credentials grant; the token is fetched on the loop "   \
                         "and cached until 10s before it expires (shared by equal settings)."),    \
        CONF_FLD("tls_config", CONF_FT_SECTION, st, m.tls, .flags = (fl),                          \
                 .sub = &conf_http_tls_section, .desc = "TLS settings."),                          \
        CONF_FLD("follow_redirects", CONF_FT_BOOL, st, m.follow_redirects, .def = "true",          \
                 .flags = (fl), .desc = "Follow HTTP redirects (http and https only)."),           \
        CONF_FLD("enable_http2", CONF_FT_BOOL, st, m.enable_http2, .def = "true", .flags = (fl),   \
                 .desc = "Use HTTP/2 over TLS when the server offers it (false: HTTP/1.1)."),      \
        CONF_FLD("http_headers", CONF_FT_DEFER, st, m.http_headers, .flags = (fl),                 \
                 .desc = "Prometheus' headers: Name: {values: [], secrets: [], files: []} "        \
                         "(secrets and file contents never shown)."),                              \
        CONF_HTTP_PROXY_FIELDS(st, m.proxy, fl)

#define CONF_HTTP_CLIENT_FIELDS(st, m) CONF_HTTP_CLIENT_FIELDS_F(st, m, 0)

/*
 * The request keys of a job that fetches URLs of its own (probes, json_jobs): headers, the client
 * keys and body_size_limit, all in struct config_job.
 */
#define CONF_HTTP_JOB_FIELDS                                                                       \
    CONF_FLDN("headers", CONF_FT_HEADERS, struct config_job, http.headers, http.nheaders,          \
              .desc = "Request headers (values are not shown anywhere)."),                         \
        CONF_HTTP_CLIENT_FIELDS(struct config_job, http),                                          \
        CONF_FLD("body_size_limit", CONF_FT_SIZE, struct config_job, body_size_limit, .def = "0",  \
                 .desc = "Largest uncompressed body (0: pollster's default, 10MiB).")

/*
 * Resolves the HTTP client settings of the section @map (a job or an http output) into @h: the
 * rules between basic_auth, authorization and the legacy bearer_token* (read from @map), the
 * secret files, the TLS files. Call from the section's check hook.
 */
void conf_http_resolve(struct conf_ctx *x, struct config_http *h, const struct conf_node *map);

/*
 * The HTTP client settings @c as the client takes them, in @h (zeroed first; everything
 * allocated: free with httpc_opts_release): header lines ("Name: value") of headers and
 * http_headers, the Authorization header, TLS, proxy, oauth2. @who names the job or output in
 * errors. 0, or -ENOMEM with the cause in @err (@h released). Everything else was checked at
 * load (conf_http_resolve), so --check-config refuses what this would.
 */
int conf_http_client(const struct config_http *c, const char *who, struct httpc_opts *h, char *err,
                     size_t errlen);

/* Frees what conf_http_resolve added to @h (resolved http_headers, oauth2 endpoint_params). */
void conf_http_release(struct config_http *h);

#endif
