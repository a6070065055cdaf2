/*
 * The modes main() picks, with everything they set up and tear down: the loop, the status
 * server, the targets (from the command line or the built-in default), the outputs. main.c
 * only parses arguments into struct run_opts and turns the result into an exit code.
 */
#ifndef POLLSTER_RUN_H
#define POLLSTER_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job_probe.h"

#define RUN_MAX_TARGETS 10000
#define RUN_MAX_REGEXES 16
#define RUN_MAX_METRICS 64
#define RUN_MAX_HEADERS 32

/* Exit codes (also documented in pollster(8)). */
enum run_exit {
    RUN_EXIT_OK = 0,      /* everything ran; in once mode every run succeeded */
    RUN_EXIT_FAILED = 1,  /* once mode: some run failed; daemon: could not start */
    RUN_EXIT_USAGE = 2,   /* bad command line or configuration */
    RUN_EXIT_DROPPED = 3, /* once mode: an output dropped data (a sink rejected it, ...) */
};

struct run_opts {
    bool once;
    const char *targets[RUN_MAX_TARGETS]; /* borrowed: argv */
    size_t ntargets;
    const char *kind; /* "probe" */
    const char *job;  /* NULL = the kind's name */
    int64_t interval_ms;
    int64_t timeout_ms;
    bool timeout_set;
    bool interval_set; /* --interval given: the built-in default's self-collection uses it too */
    uint64_t body_limit;
    bool insecure_skip_verify;
    struct probe_opts probe;
    const char *match[RUN_MAX_REGEXES + 1];     /* NULL-terminated */
    const char *not_match[RUN_MAX_REGEXES + 1]; /* NULL-terminated */
    const char *format;        /* NULL = "json" (output) / "prom" (--parse input) */
    const char *parse_file;    /* --parse FILE ("-" = stdin) */
    const char *status_listen; /* NULL = default */
    int64_t shutdown_timeout_ms;
    bool daemonize;          /* --daemonize: classic init (double fork, syslog) */
    const char *pidfile;     /* --pidfile FILE, locked while running */
    const char *output_file; /* --output-file FILE: JSON lines appended there, not stdout */
    const char *metrics[RUN_MAX_METRICS]; /* --metric NAME=PATH[@LABELS] (json kind) */
    size_t nmetrics;
    const char *config_path; /* -c FILE */
    const char *only_job;    /* --job NAME with -c: only that job */
    bool check_config;       /* --check-config */
    bool log_level_set;      /* --log-level given: it wins over the config's */
    bool log_format_set;     /* --log-format given: it wins over the config's */
    bool shutdown_timeout_set;
    /* HTTP settings of --target, as a job's http_config has them */
    const char *headers[RUN_MAX_HEADERS]; /* --header "Name: value" */
    size_t nheaders;
    const char *basic_auth_user;   /* --basic-auth-user */
    const char *password_file;     /* --password-file: with --basic-auth-user */
    const char *bearer_token_file; /* --bearer-token-file */
    const char *ca_file;           /* --ca-file */
};

/* Defaults for every field (the one place they are written down). */
void run_opts_init(struct run_opts *o);

/* The built-in default's status address and its self-collection settings. */
#define RUN_DEFAULT_STATUS_LISTEN "127.0.0.1:9464"
#define RUN_DEFAULT_INTERVAL_MS 10000
#define RUN_DEFAULT_TIMEOUT_MS 5000
#define RUN_DEFAULT_BODY_LIMIT (10ULL << 20)
#define RUN_DEFAULT_SHUTDOWN_TIMEOUT_MS 5000

/*
 * Runs the selected mode to the end; returns an enum run_exit value. With --daemonize, the
 * processes of the double fork that are not the daemon return too, with *@forked_parent set and
 * the status to end with: main() must end them with _exit() (see daemon_detach() in daemon.h).
 */
int run_main(const struct run_opts *o, bool *forked_parent);

/* --check-config -c FILE: prints the summary (exit 0) or every error (exit 2). */
int run_check_config(const char *path);

/*
 * --parse: parses @path (an exposition file, "-" for stdin) in @format ("prom", "text" or
 * "openmetrics"; NULL = "prom") and prints one JSON line per sample to stdout, or the first error
 * ("FILE: parse error at line N: cause") to stderr. Returns an enum run_exit value.
 */
int run_parse(const char *path, const char *format);

#endif
