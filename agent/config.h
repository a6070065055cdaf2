/*
 * The configuration: pollster.yaml (JSON is valid YAML too) read with libyaml into a neutral
 * tree that keeps the line and column of every key and value, then mapped into an immutable
 * struct config through one declarative table per section (key, type, default, offset,
 * description, in the style of Fluent Bit's config_map). The tables drive the defaults, the
 * unknown-key errors, the --check-config summary and the reference text (config_reference).
 *
 * Loading collects every error, not just the first, each as "FILE:LINE:COL: message" naming the
 * offending key or value. A config with any error is never returned. Secrets (passwords,
 * credentials, header values, URL userinfo) never appear in an error or in the summary.
 *
 * What the loader resolves so that other modules do not have to:
 * - every job (scrape_configs, probes, json_jobs) has its interval and timeout resolved
 *   (Prometheus rules: a job's timeout defaults to the global one capped to its interval) and
 *   an effective body size limit (never 0);
 * - every target has its final URL, its instance and its labels (no "__" label left), after
 *   relabel_configs (conf_targets_from_labels); the targets those dropped are kept per job;
 * - password_file / credentials_file / bearer_token_file are read at load time, trimmed of
 *   surrounding white space (as Prometheus does); a reload reads them again;
 * - relative file paths (password_file, tls files, file_sd globs, ...) are resolved against the
 *   directory of the config file;
 * - file_sd_configs files are read at load time (and again on reload; run.c re-globs the
 *   patterns every refresh_interval and reloads the targets when the files changed);
 * - with no outputs section, one stdout output in json format;
 * - the files scrape_config_files names are read, their jobs after the main file's
 *   (conf_include.h).
 *
 * What the loader accepts:
 * - YAML 1.1 as libyaml reads it, one document; JSON. Anchors and aliases (an alias names a
 *   complete node: no cycles) and "<<" merge keys. A key given twice in one mapping is an error.
 * - A null value (empty, "~", null) leaves the key at its default.
 * - Booleans: true/false, and YAML 1.1's yes/no/on/off (also capitalised or upper case).
 * - Durations: units_parse_duration() ("1m30s"); sizes: units_parse_size() ("10MiB", powers of
 *   1024); integers: decimal only, no fractions, range-checked.
 * - Known Prometheus keys pollster does not implement (*_sd_configs but
 *   file_sd, ...) are errors saying so, distinct from unknown keys (typos), which name the closest
 * known key ("did you mean"), or say "check the indentation" when the key belongs one level up or
 *   down. Keys only a Prometheus server uses (rule_files, alerting, evaluation_interval, ...)
 *   are accepted with one warning each.
 * - ${VAR} in string values is replaced by the environment variable VAR (an unset one is an
 *   error), $$ by $; not in regex and replacement values, where $ has its own meaning.
 * - Regexes are RE2 as in Prometheus, compiled as POSIX ERE: the escapes with an exact ERE
 *   spelling (\d, \w, \s, (?:...), ... see re2ere.h) are rewritten; the rest ((?i), lazy
 * quantifiers,
 *   ...) is an error rather than silently meaning something else.
 */
#ifndef POLLSTER_CONFIG_H
#define POLLSTER_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "sample.h"
#include "shard.h"

/*
 * Defaults other modules need. Every other default is written once, in the tables of config.c
 * (see config_reference() for the full list with descriptions).
 */
#define CONFIG_DEFAULT_SCRAPE_INTERVAL "1m"
#define CONFIG_DEFAULT_SCRAPE_TIMEOUT "10s"
#define CONFIG_DEFAULT_SHUTDOWN_TIMEOUT "5s"
#define CONFIG_DEFAULT_STATUS_LISTEN "127.0.0.1:9464"
/* The body size limit of a job whose body_size_limit is 0 (unset): pollster bounds every body. */
#define CONFIG_DEFAULT_BODY_SIZE_LIMIT (10ULL << 20)
/* At most this many errors are kept; the rest are counted (config_errors.dropped). */
#define CONFIG_ERRORS_MAX 200

/* One error: the full line "FILE:LINE:COL: message" ("FILE: message" when there is no line). */
struct config_error {
    char *text; /* owned */
    char *file; /* owned: the file the error is in */
    int line;   /* 1-based; 0 when the error is about the whole file */
    int col;    /* 1-based; 0 when unknown */
};

/*
 * The errors of loads, and their warnings (keys accepted but ignored: a load with warnings only
 * succeeds). Those of one load are sorted by file (in the order the files were first mentioned)
 * and position. Zero-initialised (or config_errors_init) = empty.
 */
struct config_errors {
    struct config_error *v; /* owned array */
    size_t n;
    size_t cap;
    size_t dropped;            /* errors beyond CONFIG_ERRORS_MAX, or lost for lack of memory */
    struct config_error *warn; /* owned array: "FILE:LINE:COL: warning: message" */
    size_t nwarn;
    size_t warn_dropped;
};

enum config_relabel_action {
    CONFIG_RELABEL_REPLACE = 0,
    CONFIG_RELABEL_KEEP,
    CONFIG_RELABEL_DROP,
    CONFIG_RELABEL_LABELDROP,
    CONFIG_RELABEL_LABELKEEP,
    CONFIG_RELABEL_KEEPEQUAL,
    CONFIG_RELABEL_DROPEQUAL,
    CONFIG_RELABEL_HASHMOD,
    CONFIG_RELABEL_LABELMAP,
    CONFIG_RELABEL_LOWERCASE,
    CONFIG_RELABEL_UPPERCASE,
};

struct kind;
struct output_type;
struct input_type;

/* basic_auth: set when username or password is non-NULL. */
struct config_basic_auth {
    char *username;      /* as written, or read from username_file */
    char *username_file; /* path it was read from, or NULL */
    char *password;      /* secret: as written, or read from password_file */
    char *password_file; /* path it was read from, or NULL */
};

/* authorization (and the legacy bearer_token / bearer_token_file): set when type is non-NULL. */
struct config_authorization {
    char *type;             /* "Bearer" by default; never "Basic" */
    char *credentials;      /* secret: as written, or read from credentials_file */
    char *credentials_file; /* path it was read from, or NULL */
};

/* tls_config. Files were readable at load time. */
struct config_tls {
    char *ca_file;   /* at most one of ca and ca_file */
    char *cert_file; /* with key_file, or neither */
    char *key_file;
    char *ca;          /* inline PEM */
    char *cert;        /* inline PEM, with key or key_file */
    char *key;         /* secret: inline PEM */
    char *server_name; /* rejected at load: libcurl cannot set SNI apart from the URL host */
    bool insecure_skip_verify;
    int min_version; /* CONFIG_TLS_* (0: libcurl's default) */
    int max_version; /* CONFIG_TLS_* (0: the highest libcurl knows) */
};

enum { CONFIG_TLS_ANY = 0, CONFIG_TLS10, CONFIG_TLS11, CONFIG_TLS12, CONFIG_TLS13 };

/* An HTTP request header (probes, json_jobs, http outputs). The value may be a secret. */
struct config_header {
    char *name;
    char *value;
};

/* One query parameter of a scrape job: params: {name: [values...]}. */
struct config_param {
    char *name;
    char **values;
    size_t nvalues;
};

/* proxy_url, no_proxy, proxy_from_environment, proxy_connect_header. */
struct config_proxy {
    char *url;      /* NULL: no proxy (the environment is not read unless from_env) */
    char *no_proxy; /* comma-separated hosts, with url */
    bool from_env;  /* http_proxy, https_proxy, no_proxy as libcurl reads them */
    struct config_param *connect_headers; /* secret values: sent with CONNECT only */
    size_t nconnect_headers;
};

/* oauth2 (client credentials grant): set when token_url is non-NULL. */
struct config_oauth2 {
    char *client_id;
    char *client_secret;      /* secret: as written, or read from client_secret_file */
    char *client_secret_file; /* path it was read from, or NULL */
    char *token_url;
    char **scopes;
    size_t nscopes;
    struct config_header *endpoint_params; /* resolved by conf_http_resolve */
    size_t nendpoint_params;
    struct config_tls tls;     /* of the token request */
    struct config_proxy proxy; /* of the token request */
};

/* The HTTP client settings every job kind and the http output share. */
struct config_http {
    struct config_basic_auth basic_auth;
    struct config_authorization authorization; /* never together with basic_auth */
    struct config_oauth2 oauth2;               /* never together with the two above */
    struct config_tls tls;
    struct config_proxy proxy;
    bool follow_redirects;
    bool enable_http2;             /* default true, as Prometheus: HTTP/2 over TLS (ALPN) */
    struct config_header *headers; /* document order; names valid tokens, values without CR/LF */
    size_t nheaders;
    struct config_header *http_headers; /* Prometheus' http_headers, resolved (values, secrets,
                                           files): owned by conf_http_release */
    size_t nhttp_headers;
};

/* One relabel rule (relabel_configs, metric_relabel_configs, write_relabel_configs). */
struct config_relabel {
    char **source_labels;
    size_t nsource_labels;
    char *separator;    /* default ";" */
    char *regex;        /* as written; default "(.*)" */
    regex_t *re;        /* compiled REG_EXTENDED as "^(" regex ")$": the user's group N is N + 1 */
    char *target_label; /* NULL unless set */
    char *replacement;  /* default "$1" (Go template syntax: $1, ${1}, $name) */
    enum config_relabel_action action;
    int64_t modulus;  /* hashmod: > 0 */
    bool sources_set; /* source_labels was given (even as []) */
    bool regex_set;   /* regex was given (keepequal/dropequal reject any) */
    bool refused;     /* the check reported it: never compiled into a rule */
};

/*
 * One target: what one timer collects. Each URL was accepted by curl_url() and is http or https.
 * Labels are sorted by name; "instance" and every "__"-prefixed label have been taken out (the
 * instance has its own field; the job name is the job's). A "job" label from a target group is
 * kept as an ordinary label.
 */
struct config_target {
    char *url;            /* scrape: scheme://address/metrics_path?params (keys sorted, encoded) */
    char *instance;       /* scrape: the address or the "instance" label; probe: the URL;
                             json: the URL's host[:port]; an "instance" label always wins */
    struct label *labels; /* owned strings (cast away const to free) */
    size_t nlabels;
    int64_t interval_ms;      /* from __scrape_interval__ after relabeling; 0 = the job's */
    int64_t timeout_ms;       /* from __scrape_timeout__ after relabeling; 0 = the job's */
    struct label *discovered; /* scrape: its labels before relabeling, sorted (one block) */
    size_t ndiscovered;
};

/*
 * A target relabel_configs dropped, or another agent's shard (shard.h): its labels before
 * relabeling, sorted (one block: free()).
 */
struct config_dropped {
    struct label *labels;
    size_t nlabels;
    const char *reason; /* static: NULL = relabeling, "shard" = not this agent's */
};

enum config_sd_mech {
    CONFIG_SD_HTTP = 0, /* http_sd_configs */
    CONFIG_SD_DNS,      /* dns_sd_configs */
};

enum config_sd_dns_type {
    CONFIG_SD_DNS_SRV = 0,
    CONFIG_SD_DNS_A,
    CONFIG_SD_DNS_AAAA,
    CONFIG_SD_DNS_MX,
};

/*
 * One http_sd_configs or dns_sd_configs item of a job: what sdrun.c refreshes on the loop. Its
 * last good target groups live in the SD cache (sdcache.h) under @key; the job's targets were
 * built from them at load time, exactly as from a file_sd file.
 */
struct config_sd {
    enum config_sd_mech mech;
    char *key;               /* cache key: job, mechanism and what is asked ("node-http-1f2e...") */
    int64_t refresh_ms;      /* > 0 */
    char *url;               /* http: the URL (may hold userinfo: redact it when shown) */
    struct config_http http; /* http: the client settings */
    char **names;            /* dns: the names queried */
    size_t nnames;
    enum config_sd_dns_type type; /* dns */
    int64_t port;                 /* dns: A/AAAA/MX only (SRV records carry theirs) */
};

/*
 * One job of any kind. Names are unique across all kinds. What every kind shares is here; the
 * kind's own settings are in @opts, a struct of the kind's (described by kind->conf).
 */
struct config_job {
    const struct kind *kind; /* borrowed: its row in the kinds registry (kinds.c) */
    char *name;
    int line;                 /* of the name in the config file (for messages) */
    char *file;               /* owned: the file the job is in (scrape_config_files) */
    int64_t interval_ms;      /* > 0 */
    int64_t timeout_ms;       /* > 0 and <= interval_ms */
    uint64_t body_size_limit; /* > 0: CONFIG_DEFAULT_BODY_SIZE_LIMIT when configured as 0 */
    struct config_http http;
    struct label *labels; /* probes / json_jobs: the job's labels (also in every target) */
    size_t nlabels;
    struct config_target *targets;
    size_t ntargets;
    struct config_dropped *dropped; /* /api/v1/targets' droppedTargets */
    size_t ndropped;
    size_t nseen; /* targets before the shard filter (ntargets of them are this agent's) */
    int64_t file_sd_refresh_ms; /* smallest refresh_interval of file_sd_configs; 0 = none */
    char **file_sd_globs;       /* every file_sd pattern, resolved (what sdwatch globs) */
    size_t nfile_sd_globs;
    struct config_sd *sds; /* http_sd_configs, then dns_sd_configs, in document order */
    size_t nsds;
    void *opts; /* owned: the kind's settings */
};

/*
 * One output. What every output type shares is here; the type's own settings are in @opts, a
 * struct of the output's (described by type->conf).
 */
struct config_output {
    const struct output_type *type; /* borrowed: its row in the outputs registry (outputs.c) */
    char *format;                   /* an encoder name (encoder_find); default "json" */
    /* Its name in logs, self metrics and the status page: unique; default "TYPE[N]", N counting
     * the outputs of its type before it (outputs, then remote_write), from 0. */
    char *name;
    bool named; /* @name was written in the file */
    void *opts; /* owned: the type's settings */
};

/*
 * One input (the top-level `inputs` list): records pollster relays rather than collects. The
 * type's own settings are in @opts (described by type->conf).
 */
struct config_input {
    const struct input_type *type; /* borrowed: its row in the inputs registry (inputs.c) */
    char *format;                  /* the records' format; default "json" */
    void *opts;                    /* owned: the type's settings */
};

struct config_global {
    int64_t scrape_interval_ms;    /* default 1m */
    int64_t scrape_timeout_ms;     /* default 10s; <= scrape_interval_ms */
    struct label *external_labels; /* sorted by name; added by outputs, not target labels */
    size_t nexternal_labels;
    int64_t shutdown_timeout_ms; /* default 5s */
    /* Prometheus' defaults of every scrape job (scrape_configs keys of the same names). */
    uint64_t body_size_limit;
    int64_t sample_limit;
    int64_t label_limit;
    int64_t label_name_length_limit;
    int64_t label_value_length_limit;
    char **scrape_protocols;
    size_t nscrape_protocols;
    int64_t target_limit;         /* 0 = no limit */
    int64_t keep_dropped_targets; /* 0 = keep every dropped target */
    char *state_dir; /* pollster: where SD keeps its last good lists; NULL = none (see sdcache.h) */
    struct shard shard; /* pollster: this agent's share of the targets (shard_override_set) */
};

struct config_status {
    char *listen; /* default CONFIG_DEFAULT_STATUS_LISTEN; valid for units_parse_listen() */
    bool enable_lifecycle;      /* default false: POST /-/reload answers 403 */
    int64_t max_connections;    /* default 64 (STATUS_MAX_CONNECTIONS) */
    int64_t request_timeout_ms; /* default 30s (STATUS_REQUEST_TIMEOUT_MS) */
};

struct config_log {
    enum log_level level;   /* default info */
    enum log_target target; /* default stderr */
    enum log_format format; /* default text */
};

/* A loaded, valid configuration. Immutable: a reload builds a new one. */
struct config {
    char *path;   /* the file it came from (the name given to config_load_string) */
    char *source; /* the text it was built from: a file_sd refresh re-parses it */
    size_t source_len;
    struct config_global global;
    struct config_job *jobs; /* scrape_configs, then probes, then json_jobs, in document order */
    size_t njobs;
    struct config_output *outputs; /* at least one */
    size_t noutputs;
    struct config_input *inputs; /* relays: may be empty */
    size_t ninputs;
    struct config_status status;
    struct config_log log;
    char **scrape_config_files; /* the patterns, as written (their jobs are in @jobs) */
    size_t nscrape_config_files;
};

/*
 * Reads and validates the config file at @path. Returns the config (free with config_free), or
 * NULL when there was any error; every error found is appended to @errs (which may be NULL when
 * the caller does not want them). Reads the files the config refers to (secrets, file_sd).
 * Blocking file I/O: call at start-up or from a reload, never from a loop callback.
 */
struct config *config_load(const char *path, struct config_errors *errs);

/*
 * Like config_load, from @len bytes of @yaml; @name is used in errors and relative paths are
 * resolved against its directory part (the current directory when it has none).
 */
struct config *config_load_string(const char *name, const char *yaml, size_t len,
                                  struct config_errors *errs);

/* Frees @c and everything it owns. Accepts NULL and partly built configs. */
void config_free(struct config *c);

/* Number of targets across all jobs. */
size_t config_target_count(const struct config *c);

/*
 * Prints the --check-config summary of @c to @f: one line per job (kind, name, interval,
 * timeout, number of targets) followed by its first target URLs, one line per output (type,
 * format, destination) and the status listen address. Never prints a secret: no credentials,
 * no header values, no URL userinfo (httpc_redact_url_dup).
 */
void config_summary(FILE *f, const struct config *c);

/*
 * Prints every section's keys with their type, default and description, from the same tables
 * the loader uses (text for the man page and for --help-config).
 */
void config_reference(FILE *f);

/* Makes @e empty (same as zero-initialising it). */
void config_errors_init(struct config_errors *e);
/*
 * Appends "FILE:LINE:COL: message" (just "FILE: message" when @line is 0, "FILE:LINE: message"
 * when @col is 0). Out of memory or past CONFIG_ERRORS_MAX, the error is only counted in
 * dropped.
 */
void config_errors_add(struct config_errors *e, const char *file, int line, int col,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Like config_errors_add, for a warning: its text reads "FILE:LINE:COL: warning: message". */
void config_errors_warn(struct config_errors *e, const char *file, int line, int col,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Prints each error on its own line, then "N more errors not shown" when some were dropped. */
void config_errors_print(FILE *f, const struct config_errors *e);
/* Prints each warning on its own line (and how many were not kept). */
void config_errors_print_warnings(FILE *f, const struct config_errors *e);

/*
 * Whether string values of the config file have ${VAR} expanded from the environment (the
 * default; --no-expand-env turns it off). Applies to the loads that follow.
 */
void config_set_expand_env(bool on);
/* Frees the errors; @e is empty and reusable. */
void config_errors_release(struct config_errors *e);

#endif
