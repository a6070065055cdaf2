/*
 * The HTTP client section of the config (see conf_http.c): what a job kind or an output puts
 * in its table to accept basic_auth, authorization and tls_config, and the check that resolves
 * them into a struct config_http.
 */
#ifndef POLLSTER_CONF_HTTP_H
#define POLLSTER_CONF_HTTP_H

#include "conf.h"

struct httpc_opts;

/* Request headers a job or an output may set (the Authorization header comes on top). */
#define CONF_HTTP_MAX_HEADERS 64

extern const struct conf_section conf_http_basic_auth_section;
extern const struct conf_section conf_http_authorization_section;
extern const struct conf_section conf_http_tls_section;

/* The HTTP client keys every kind shares, for a struct with a struct config_http member @m. */
#define CONF_HTTP_CLIENT_FIELDS(st, m)                                                             \
    CONF_FLD("basic_auth", CONF_FT_SECTION, st, m.basic_auth,                                      \
             .sub = &conf_http_basic_auth_section, .desc = "HTTP basic authentication."),          \
        CONF_FLD("authorization", CONF_FT_SECTION, st, m.authorization,                            \
                 .sub = &conf_http_authorization_section,                                          \
                 .desc = "Authorization header (default type Bearer)."),                           \
        CONF_FLD("tls_config", CONF_FT_SECTION, st, m.tls, .sub = &conf_http_tls_section,          \
                 .desc = "TLS settings.")

/*
 * Prometheus' <http_config> as far as the client takes it, for a struct with a struct
 * config_http member @m: the client sections, the legacy bearer_token(_file) and
 * follow_redirects. Scrape jobs and http_sd_configs share it, as in Prometheus.
 */
#define CONF_HTTP_PROM_FIELDS(st, m)                                                               \
    CONF_HTTP_CLIENT_FIELDS(st, m),                                                                \
        CONF_FLD("bearer_token", CONF_FT_STR, st, m.authorization.credentials,                     \
                 .flags = CONF_F_SECRET, .desc = "Legacy: authorization with type Bearer."),       \
        CONF_FLD("bearer_token_file", CONF_FT_PATH, st, m.authorization.credentials_file,          \
                 .flags = CONF_F_NONEMPTY,                                                         \
                 .desc = "Legacy: authorization credentials_file with type Bearer."),              \
        CONF_FLD("follow_redirects", CONF_FT_BOOL, st, m.follow_redirects, .def = "true",          \
                 .desc = "Follow HTTP redirects (http and https only).")
/*
 * The request keys of a job that fetches URLs of its own (probes, json_jobs): headers, the client
 * sections, follow_redirects and body_size_limit, all in struct config_job.
 */
#define CONF_HTTP_JOB_FIELDS                                                                       \
    CONF_FLDN("headers", CONF_FT_HEADERS, struct config_job, http.headers, http.nheaders,          \
              .desc = "Request headers (values are not shown anywhere)."),                         \
        CONF_HTTP_CLIENT_FIELDS(struct config_job, http),                                          \
        CONF_FLD("follow_redirects", CONF_FT_BOOL, struct config_job, http.follow_redirects,       \
                 .def = "true", .desc = "Follow HTTP redirects (http and https only)."),           \
        CONF_FLD("body_size_limit", CONF_FT_SIZE, struct config_job, body_size_limit, .def = "0",  \
                 .desc = "Largest uncompressed body (0: pollster's default, 10MiB).")

/*
 * Resolves the HTTP client settings of the section @map (a job or an http output) into @h: the
 * rules between basic_auth, authorization and the legacy bearer_token* (read from @map), the
 * secret files, the TLS files. Call from the section's check hook.
 */
void conf_http_resolve(struct conf_ctx *x, struct config_http *h, const struct conf_node *map);

/*
 * The HTTP client settings @c as the client takes them, in @h: strings borrowed from @c, header
 * lines ("Name: value", and the Authorization header) allocated into @headers, an array of
 * CONF_HTTP_MAX_HEADERS + 1 NULLs the caller frees with conf_http_client_release after @h is no
 * longer used. @who names the job or output in errors. 0, or a negative errno with the cause in
 * @err.
 */
int conf_http_client(const struct config_http *c, const char *who, struct httpc_opts *h,
                     char **headers, char *err, size_t errlen);
/* Frees the header lines conf_http_client allocated into @headers. */
void conf_http_client_release(char **headers);

#endif
