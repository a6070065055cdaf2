/*
 * pollster's entry point: parses the command line into struct run_opts, picks the mode and
 * returns the exit code. Nothing else lives here. Bad usage is one line on stderr and exit 2.
 */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "run.h"
#include "shard.h"
#include "status_version.h"
#include "strbuf.h"
#include "suggest.h"
#include "units.h"

enum {
    OPT_ONCE = 256,
    OPT_TARGET,
    OPT_KIND,
    OPT_JOB,
    OPT_INTERVAL,
    OPT_TIMEOUT,
    OPT_BODY_SIZE_LIMIT,
    OPT_VALID_STATUS,
    OPT_MATCH,
    OPT_NOT_MATCH,
    OPT_INSECURE,
    OPT_FORMAT,
    OPT_STATUS_LISTEN,
    OPT_LOG_LEVEL,
    OPT_LOG_FORMAT,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_PARSE,
    OPT_DAEMONIZE,
    OPT_PIDFILE,
    OPT_OUTPUT_FILE,
    OPT_CHECK_CONFIG,
    OPT_METRIC,
    OPT_HEADER,
    OPT_BASIC_AUTH_USER,
    OPT_PASSWORD_FILE,
    OPT_BEARER_TOKEN_FILE,
    OPT_CA_FILE,
    OPT_HELP_CONFIG,
    OPT_NO_EXPAND_ENV,
    OPT_SHARD,
};

static const struct option long_opts[] = {
    {"once", no_argument, NULL, OPT_ONCE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"kind", required_argument, NULL, OPT_KIND},
    {"job", required_argument, NULL, OPT_JOB},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"body-size-limit", required_argument, NULL, OPT_BODY_SIZE_LIMIT},
    {"valid-status-code", required_argument, NULL, OPT_VALID_STATUS},
    {"fail-if-body-matches", required_argument, NULL, OPT_MATCH},
    {"fail-if-body-not-matches", required_argument, NULL, OPT_NOT_MATCH},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"status-listen", required_argument, NULL, OPT_STATUS_LISTEN},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
    {"parse", required_argument, NULL, OPT_PARSE},
    {"daemonize", no_argument, NULL, OPT_DAEMONIZE},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"output-file", required_argument, NULL, OPT_OUTPUT_FILE},
    {"config", required_argument, NULL, 'c'},
    {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
    {"metric", required_argument, NULL, OPT_METRIC},
    {"header", required_argument, NULL, OPT_HEADER},
    {"basic-auth-user", required_argument, NULL, OPT_BASIC_AUTH_USER},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"bearer-token-file", required_argument, NULL, OPT_BEARER_TOKEN_FILE},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
    {"no-expand-env", no_argument, NULL, OPT_NO_EXPAND_ENV},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void
usage(FILE *f)
{
    fprintf(f,
            "Usage: pollster [-c FILE] [OPTIONS]\n"
            "       pollster --check-config -c FILE\n"
            "       pollster --once [--target URL]... [OPTIONS] [URL]...\n"
            "       pollster --parse FILE [--format prom|openmetrics]\n"
            "\n"
            "Periodic metrics collection agent. Without --target, runs the built-in default:\n"
            "serves its status endpoint and collects from its own /metrics, printing JSON.\n"
            "\n"
            "Configuration:\n"
            "  -c, --config FILE           run the jobs of FILE (YAML or JSON; see\n"
            "                              pollster.yaml(5)); SIGHUP reloads it\n"
            "      --check-config          validate the -c FILE, print a summary (exit 0) or\n"
            "                              every error as FILE:LINE:COL: message (exit 2);\n"
            "                              warnings (ignored keys) are printed, exit still 0\n"
            "      --no-expand-env         take ${VAR} in the config file literally (default:\n"
            "                              replaced by the environment variable VAR; $$ is $)\n"
            "      --shard K/N             this agent is number K (0 to N-1) of N sharing the\n"
            "                              targets of -c FILE (overrides global.shard's index\n"
            "                              and count)\n"
            "\n"
            "Modes:\n"
            "      --once                  run every target once, concurrently, print a table\n"
            "                              on a terminal, JSON lines otherwise,\n"
            "                              exit 0 (all ok), 1 (some failed) or 2 (bad usage)\n"
            "                              (default: run as a daemon in the foreground)\n"
            "      --parse FILE            parse an exposition file (- = stdin), print one JSON\n"
            "                              line per sample, or the first error (exit 1)\n"
            "\n"
            "Targets:\n"
            "      --target URL            collect from URL (http or https; repeatable; a URL\n"
            "                              after the options is a target too)\n"
            "      --kind KIND             job kind for --target: prometheus, probe, json or tcp\n"
            "                              (default probe; tcp: --target HOST:PORT)\n"
            "      --metric NAME=PATH[@LABELS]  json: a metric from a JSON path (repeatable),\n"
            "                              e.g. depth=queues.*.depth@queue\n"
            "      --job NAME              job name for --target (default: the kind);\n"
            "                              with -c: run only that job of the file\n"
            "      --interval DURATION     collection interval in daemon mode (default 15s)\n"
            "      --timeout DURATION      deadline of each run, <= interval (default 10s or\n"
            "                              the interval when shorter)\n"
            "      --body-size-limit SIZE  largest accepted body, e.g. 10MiB (default 10MiB)\n"
            "      --valid-status-code N   probe: accepted HTTP status (repeatable; default 2xx)\n"
            "      --fail-if-body-matches RE      probe: fail when the body matches RE\n"
            "      --fail-if-body-not-matches RE  probe: fail when the body does not match RE\n"
            "      --insecure              do not verify TLS certificates\n"
            "      --header 'NAME: VALUE'  send this request header (repeatable)\n"
            "      --basic-auth-user USER  HTTP basic auth as USER, with --password-file\n"
            "      --password-file FILE    the basic auth password (trailing newline dropped)\n"
            "      --bearer-token-file FILE  send 'Authorization: Bearer' with FILE's token\n"
            "      --ca-file FILE          verify TLS servers against the CAs in FILE\n"
            "\n"
            "Output and operation:\n"
            "      --format FORMAT         print batches to stdout as json (default), vm, otlp,\n"
            "                              telegraf or remote_write (a readable dump): what an\n"
            "                              output of that format sends\n"
            "                              (overrides the config's outputs); with --parse,\n"
            "                              the input format: prom (default) or openmetrics;\n"
            "                              with --once, table: a table and a summary line\n"
            "                              (the default when stdout is a terminal)\n"
            "      --status-listen ADDR:PORT  status server address (default %s;\n"
            "                              port 0 picks a free port)\n"
            "      --output-file FILE      append JSON lines to FILE instead of stdout\n"
            "                              (reopened on SIGHUP for logrotate)\n"
            "      --shutdown-timeout DURATION  drain time on SIGTERM/SIGINT (default 5s)\n"
            "      --daemonize             detach (classic init): double fork, log to syslog;\n"
            "                              exits once the daemon has started, 1 if it failed\n"
            "      --pidfile FILE          write and lock FILE while running (removed on exit)\n"
            "      --log-level LEVEL       error, warn, info or debug (default info)\n"
            "      --log-format FORMAT     text, logfmt or json lines on stderr (default: the\n"
            "                              config's log.format, text)\n"
            "  -h, --help                  show this help and exit\n"
            "      --help-config           list every config key with its type and default\n"
            "  -V, --version               show the version and exit\n"
            "\n"
            "Durations use Prometheus syntax (500ms, 10s, 1m30s); sizes accept B, KiB, MiB, GiB.\n",
            RUN_DEFAULT_STATUS_LISTEN);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, exit code 2. */
static int
bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "pollster: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see pollster --help)\n");
    return RUN_EXIT_USAGE;
}

static int
parse_duration_opt(const char *name, const char *arg, int64_t *out)
{
    char hint[128] = "";
    int rc = units_parse_duration(arg, out);

    if (rc != 0 || *out <= 0) {
        if (rc != 0) {
            units_duration_hint(arg, hint, sizeof(hint));
        }
        return bad_usage("%s: invalid duration \"%s\"%s", name, arg,
                         hint[0] != '\0' ? hint : " (expected e.g. 500ms, 10s, 1m30s)");
    }
    return 0;
}

/* "unknown option \"@arg\"", naming the closest long option. */
static int
unknown_option(const char *arg)
{
    struct suggest sg;
    char word[SUGGEST_WORD_MAX + 1];
    const char *name = arg + strspn(arg, "-");
    size_t n = strcspn(name, "=");
    char hint[SUGGEST_WORD_MAX + 32];

    if (n > SUGGEST_WORD_MAX) {
        n = SUGGEST_WORD_MAX;
    }
    memcpy(word, name, n);
    word[n] = '\0';
    suggest_init(&sg, word);
    for (const struct option *lo = long_opts; lo->name != NULL; lo++) {
        suggest_add(&sg, lo->name);
    }
    return bad_usage("unknown option \"%s\"%s", arg, suggest_paren(&sg, "--", hint, sizeof(hint)));
}

/* The first option given with --check-config that it would not use; NULL when none. */
static const char *
check_config_ignores(const struct run_opts *o, bool target_opts_given)
{
    const struct {
        bool given;
        const char *name;
    } opts[] = {
        {o->once, "--once"},
        {o->ntargets > 0, "--target"},
        {target_opts_given, "a target option (--kind, --interval, --timeout, ...)"},
        {o->format != NULL, "--format"},
        {o->output_file != NULL, "--output-file"},
        {o->status_listen != NULL, "--status-listen"},
        {o->daemonize, "--daemonize"},
        {o->pidfile != NULL, "--pidfile"},
        {o->job != NULL, "--job"},
        {o->shutdown_timeout_set, "--shutdown-timeout"},
    };

    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (opts[i].given) {
            return opts[i].name;
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    struct run_opts o;
    int c;
    size_t nmatch = 0, nnot = 0;
    bool target_opts_given = false, shard_given = false;
    const char *kind_opt = NULL; /* the first option only a --target's job kind uses */
    enum log_level lvl;
    uint64_t size;
    char *end;
    long code;
    bool forked_parent;
    int rc;

    run_opts_init(&o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hVc:", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_ONCE:
            o.once = true;
            break;
        case OPT_TARGET:
            if (o.ntargets == RUN_MAX_TARGETS) {
                return bad_usage("too many --target options (at most %d)", RUN_MAX_TARGETS);
            }
            o.targets[o.ntargets++] = optarg;
            break;
        case OPT_KIND:
            target_opts_given = true;
            kind_opt = kind_opt != NULL ? kind_opt : "--kind";
            o.kind = optarg;
            break;
        case OPT_JOB:
            o.job = optarg;
            break;
        case OPT_INTERVAL:
            target_opts_given = true;
            if (parse_duration_opt("--interval", optarg, &o.interval_ms) != 0) {
                return RUN_EXIT_USAGE;
            }
            o.interval_set = true;
            break;
        case OPT_TIMEOUT:
            target_opts_given = true;
            if (parse_duration_opt("--timeout", optarg, &o.timeout_ms) != 0) {
                return RUN_EXIT_USAGE;
            }
            o.timeout_set = true;
            break;
        case OPT_SHUTDOWN_TIMEOUT:
            if (parse_duration_opt("--shutdown-timeout", optarg, &o.shutdown_timeout_ms) != 0) {
                return RUN_EXIT_USAGE;
            }
            o.shutdown_timeout_set = true;
            break;
        case OPT_BODY_SIZE_LIMIT:
            target_opts_given = true;
            if (units_parse_size(optarg, &size) != 0 || size == 0) {
                char hint[128];
                units_size_hint(optarg, hint, sizeof(hint));
                return bad_usage("%s: invalid size \"%s\"%s", "--body-size-limit", optarg,
                                 hint[0] != '\0' ? hint : " (expected e.g. 512KiB, 10MiB)");
            }
            o.body_limit = size;
            break;
        case OPT_VALID_STATUS:
            target_opts_given = true;
            kind_opt = kind_opt != NULL ? kind_opt : "--valid-status-code";
            errno = 0;
            code = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || errno != 0 || code < 100 || code > 599) {
                return bad_usage("%s: invalid HTTP status code \"%s\"", "--valid-status-code",
                                 optarg);
            }
            if (o.probe.n_valid_status_codes == JOB_PROBE_MAX_CODES) {
                return bad_usage("too many --valid-status-code options (at most %d)",
                                 JOB_PROBE_MAX_CODES);
            }
            o.probe.valid_status_codes[o.probe.n_valid_status_codes++] = (int)code;
            break;
        case OPT_MATCH:
            target_opts_given = true;
            kind_opt = kind_opt != NULL ? kind_opt : "--fail-if-body-matches";
            if (nmatch == RUN_MAX_REGEXES) {
                return bad_usage("too many --fail-if-body-matches options (at most %d)",
                                 RUN_MAX_REGEXES);
            }
            o.match[nmatch++] = optarg;
            break;
        case OPT_NOT_MATCH:
            target_opts_given = true;
            kind_opt = kind_opt != NULL ? kind_opt : "--fail-if-body-not-matches";
            if (nnot == RUN_MAX_REGEXES) {
                return bad_usage("too many --fail-if-body-not-matches options (at most %d)",
                                 RUN_MAX_REGEXES);
            }
            o.not_match[nnot++] = optarg;
            break;
        case OPT_INSECURE:
            target_opts_given = true;
            o.insecure_skip_verify = true;
            break;
        case OPT_FORMAT:
            o.format = optarg;
            break;
        case 'c':
            o.config_path = optarg;
            break;
        case OPT_METRIC:
            target_opts_given = true;
            kind_opt = kind_opt != NULL ? kind_opt : "--metric";
            if (o.nmetrics == RUN_MAX_METRICS) {
                return bad_usage("too many --metric options (at most %d)", RUN_MAX_METRICS);
            }
            o.metrics[o.nmetrics++] = optarg;
            break;
        case OPT_HEADER: {
            target_opts_given = true;
            const char *colon = strchr(optarg, ':');
            if (colon == NULL || colon == optarg ||
                strcspn(optarg, " \t") < (size_t)(colon - optarg)) {
                return bad_usage("--header: expected 'Name: value', got \"%s\"", optarg);
            }
            if (o.nheaders == RUN_MAX_HEADERS) {
                return bad_usage("too many --header options (at most %d)", RUN_MAX_HEADERS);
            }
            o.headers[o.nheaders++] = optarg;
            break;
        }
        case OPT_BASIC_AUTH_USER:
            target_opts_given = true;
            o.basic_auth_user = optarg;
            break;
        case OPT_PASSWORD_FILE:
            target_opts_given = true;
            o.password_file = optarg;
            break;
        case OPT_BEARER_TOKEN_FILE:
            target_opts_given = true;
            o.bearer_token_file = optarg;
            break;
        case OPT_CA_FILE:
            target_opts_given = true;
            o.ca_file = optarg;
            break;
        case OPT_CHECK_CONFIG:
            o.check_config = true;
            break;
        case OPT_DAEMONIZE:
            o.daemonize = true;
            break;
        case OPT_PIDFILE:
            o.pidfile = optarg;
            break;
        case OPT_OUTPUT_FILE:
            o.output_file = optarg;
            break;
        case OPT_PARSE:
            o.parse_file = optarg;
            break;
        case OPT_STATUS_LISTEN:
            o.status_listen = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (log_level_parse(optarg, &lvl) != 0) {
                struct suggest sg;
                suggest_init(&sg, optarg);
                suggest_add_csv(&sg, "error, warn, info, debug");
                char hint[SUGGEST_WORD_MAX + 32];
                return bad_usage("%s: invalid level \"%s\" (%serror, warn, info, debug)",
                                 "--log-level", optarg,
                                 suggest_phrase(&sg, "", hint, sizeof(hint)));
            }
            log_set_level(lvl);
            o.log_level_set = true;
            break;
        case OPT_LOG_FORMAT: {
            enum log_format lf;
            if (log_format_parse(optarg, &lf) != 0) {
                struct suggest sg;
                suggest_init(&sg, optarg);
                suggest_add_csv(&sg, "text, logfmt, json");
                char hint[SUGGEST_WORD_MAX + 32];
                return bad_usage("%s: invalid format \"%s\" (%stext, logfmt, json)", "--log-format",
                                 optarg, suggest_phrase(&sg, "", hint, sizeof(hint)));
            }
            log_set_format(lf);
            o.log_format_set = true;
            break;
        }
        case 'h':
            usage(stdout);
            return RUN_EXIT_OK;
        case OPT_HELP_CONFIG:
            config_reference(stdout);
            return RUN_EXIT_OK;
        case 'V': {
            struct strbuf sb;
            strbuf_init(&sb);
            status_version_render(&sb);
            fputs(sb.data != NULL ? sb.data : "", stdout);
            strbuf_release(&sb);
            return RUN_EXIT_OK;
        }
        case ':':
            return bad_usage("option %s needs an argument", argv[optind - 1]);
        case OPT_NO_EXPAND_ENV:
            config_set_expand_env(false);
            break;
        case OPT_SHARD: {
            char err[256];
            int64_t k, n;
            if (shard_parse_arg(optarg, &k, &n, err, sizeof(err)) != 0) {
                return bad_usage("%s", err);
            }
            shard_override_set(k, n);
            shard_given = true;
            break;
        }
        default:
            return unknown_option(argv[optind - 1]);
        }
    }
    /* A URL after the options is a target, as with --target (curl's habit). */
    for (; optind < argc && strstr(argv[optind], "://") != NULL; optind++) {
        if (o.ntargets == RUN_MAX_TARGETS) {
            return bad_usage("too many targets (at most %d)", RUN_MAX_TARGETS);
        }
        o.targets[o.ntargets++] = argv[optind];
    }
    if (optind < argc && strchr(argv[optind], ':') != NULL) {
        return bad_usage("unexpected argument \"%s\": a target needs its scheme: http://%s",
                         argv[optind], argv[optind]);
    }
    if (optind < argc) {
        return bad_usage("unexpected argument \"%s\"", argv[optind]);
    }
    if (!o.timeout_set && o.timeout_ms > o.interval_ms) {
        o.timeout_ms = o.interval_ms; /* the default deadline fits any --interval */
    }
    if (o.parse_file != NULL) {
        if (o.once || o.ntargets > 0) {
            return bad_usage("--parse cannot be combined with --once or --target");
        }
        return run_parse(o.parse_file, o.format);
    }
    if (o.password_file != NULL && o.basic_auth_user == NULL) {
        return bad_usage("--password-file needs --basic-auth-user");
    }
    if (o.bearer_token_file != NULL && o.basic_auth_user != NULL) {
        return bad_usage("--bearer-token-file and --basic-auth-user cannot be combined (one "
                         "Authorization header)");
    }
    if (o.daemonize && o.once) {
        return bad_usage("--daemonize cannot be combined with --once");
    }
    if (shard_given && o.config_path == NULL) {
        return bad_usage("--shard applies to the targets of -c FILE");
    }
    if (o.check_config) {
        if (o.config_path == NULL) {
            return bad_usage("--check-config needs -c FILE");
        }
        const char *ignored = check_config_ignores(&o, target_opts_given);
        if (ignored != NULL) {
            return bad_usage("--check-config only validates -c FILE: %s would be ignored", ignored);
        }
        return run_check_config(o.config_path);
    }
    if (o.config_path == NULL && o.ntargets == 0 && (kind_opt != NULL || o.job != NULL)) {
        return bad_usage("%s applies to --target URL (without --target or -c, pollster collects "
                         "its own /metrics only)",
                         kind_opt != NULL ? kind_opt : "--job");
    }
    if (o.config_path != NULL) {
        if (o.ntargets > 0) {
            return bad_usage("a target (--target or a URL argument) cannot be combined with -c "
                             "(put the target in the file)");
        }
        if (target_opts_given) {
            return bad_usage("target options (--kind, --interval, --timeout, --metric, "
                             "--body-size-limit, --insecure, --valid-status-code, "
                             "--fail-if-body-*, --header, --basic-auth-user, --password-file, "
                             "--bearer-token-file, --ca-file) apply to --target, not to -c: set "
                             "them in the file");
        }
        o.only_job = o.job;
    }
    rc = run_main(&o, &forked_parent);
    if (forked_parent) {
        /*
         * A parent of --daemonize's double fork: the one process main() ends with _exit(), so
         * it neither flushes stdio buffers nor runs atexit handlers shared with the daemon it
         * forked. Why, in full: daemon_detach() in daemon.h.
         */
        _exit(rc);
    }
    return rc;
}
