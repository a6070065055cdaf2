/*
 * The json job kind: reads a JSON document (an application's /stats page, Elasticsearch's
 * _cluster/health, RabbitMQ's management API, ...) and turns the values found at configured
 * paths into samples. The body is parsed with json-c's incremental tokener as chunks arrive, with
 * a nesting limit against hostile documents; the tree lives only for the duration of a run.
 *
 * Path syntax (the grammar of json_jobs[].metrics[].path):
 *
 *   path    = first { "." bare | bracket }
 *   first   = bare | bracket
 *   bare    = key | "*"                      key = 1*( A-Z / a-z / 0-9 / "_" / "-" )
 *   bracket = "[" ( index | "*" | quoted ) "]"   index = 1*DIGIT (at most 2147483647)
 *   quoted  = '"' chars '"' / "'" chars "'"      (escapes: \" \' \\ only)
 *
 *   a.b.c            member c of member b of member a of the top-level object
 *   a.b[0].c         [N] is element N (from 0) of an array; a.0 is the member named "0"
 *   a["x.y"].z       a member whose name has other characters (dots, spaces, UTF-8, "*")
 *   [0].name         the document itself may be an array
 *   queues.*.depth   "*" (or "[*]") matches every member of an object, in document order, or
 *                    every element of an array; each match turns into a label whose value is
 *                    the member's name or the element's index ("0", "1", ...)
 *
 * Nothing else is allowed: no spaces, no "$" root, no negative indexes, no filters. An invalid
 * path is an error at load time naming the byte offset (from 0): `invalid path "a..b": empty
 * key at offset 2`. Each wildcard needs a label name: `label` holds one name per wildcard,
 * comma-separated, in the order the wildcards appear (path a.*.b.*, label "node,index").
 * A key step matches objects only and an index step arrays only; when members repeat a key
 * the last one wins (json-c).
 *
 * Values:
 * - numbers become doubles: integers beyond 2^53 are rounded to the nearest double, integers
 *   too large for 64 bits are read as doubles (not clamped), 1e400 is +Inf;
 * - true and false are 1 and 0;
 * - strings are parsed as numbers when the whole string (surrounding ASCII white space aside)
 *   is a decimal number ("42", "-1.5e3", "+.5") or NaN, Inf, +Inf, -Inf, Infinity, +Infinity,
 *   -Infinity in any case (what Prometheus' parser accepts); hexadecimal is not a number;
 * - NaN, Infinity and -Infinity as bare JSON words (Python's json module writes them) are read
 *   as NaN, +Inf and -Inf;
 * - null, a missing member or element, a wildcard over something that is not an object or an
 *   array, a non-numeric string, an object or an array where a number belongs: no sample. Each
 *   such path (after wildcard expansion) counts one in the run's json_samples_absent. A
 *   wildcard over an empty object or array matches nothing and counts nothing.
 * - A metric with required: true fails the run when it yields no sample at all:
 *   `path queues.*.depth matched nothing` (nothing, or only nulls, was found), or
 *   `path status matched no number (string "green")` (only unusable values were).
 *
 * Types: gauge, counter or untyped, passed through as metadata. Values are not checked against
 * the type (a counter may go down), and names are used as written (no _total is added).
 *
 * A run:
 * - a non-2xx response fails with the status (reason http_4xx / http_5xx, error "HTTP 503") and
 *   its body is not parsed; the Content-Type is not checked (many services send text/plain);
 * - invalid JSON fails the run with reason parse and `json parse error at offset N: <what>`,
 *   where N is the byte offset (from 0) in the decoded body and <what> is json-c's message
 *   ("unexpected end of data", "object property name separator ':' expected", ...) or one of
 *   "empty body" (empty or white space only), "nesting deeper than 64 levels", "invalid number",
 *   "invalid UTF-8", "unexpected NUL byte", "unexpected data after the JSON document" (one
 *   document per body: no JSON lines). The same body gives the same result however its chunks
 *   are cut. JSON is read strictly (RFC 8259 numbers, no trailing commas, no comments) except
 *   that json-c also accepts single-quoted keys, raw control characters in strings and the NaN /
 *   Infinity / -Infinity words. The body must be UTF-8;
 * - the body size limit is the scrape's (body_size_limit, reason too_large);
 * - a failed run forwards no partial samples (the engine still adds up, scrape_duration_seconds,
 *   ... as for every run);
 * - a successful run yields the samples in metric order then document order, then one gauge
 *   json_samples_absent (no labels) counting the absent values above; scrape_samples_scraped
 *   counts the samples without it.
 * Labels of a sample: the metric's labels and its wildcard labels, sorted by name (a wildcard
 * label may not repeat a metric label). Request headers, auth and TLS are the scrape's
 * (struct httpc_opts): this kind sets no request options.
 */
#ifndef POLLSTER_JOB_JSON_H
#define POLLSTER_JOB_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "kinds.h"
#include "sample.h"

/* Deepest nesting of arrays and objects a body may have; deeper fails the run. */
#define JOB_JSON_MAX_DEPTH 64
/* The synthetic gauge of a successful run: values its paths did not find (see above). */
#define JOB_JSON_ABSENT_METRIC "json_samples_absent"

/* A compiled path. */
struct job_json_path;

/*
 * Compiles @text (the grammar above). Returns the path (free with job_json_path_free) or NULL
 * with a precise message in @err: `invalid path "a..b": empty key at offset 2` (offsets are
 * bytes from 0), or "out of memory". Pure: callable from anywhere (config loading included).
 */
struct job_json_path *job_json_path_compile(const char *text, char *err, size_t errlen);

/* Frees @p (accepts NULL). */
void job_json_path_free(struct job_json_path *p);

/* The number of wildcards in @p (each needs a label name). */
size_t job_json_path_wildcards(const struct job_json_path *p);

/* One configured metric (every pointer borrowed: job_json_new copies what it keeps). */
struct job_json_metric_opts {
    const char *name;           /* a Prometheus metric name */
    const char *path;           /* the grammar above */
    enum sample_type type;      /* SAMPLE_GAUGE, SAMPLE_COUNTER or SAMPLE_UNTYPED */
    const struct label *labels; /* static labels, in any order */
    size_t nlabels;
    const char *label; /* the wildcard label names, comma-separated; NULL without wildcards */
    bool required;     /* fail the run when the metric yields no sample */
};

/*
 * Checks one metric as job_json_new would: name, type, path, label names against the number of
 * wildcards, no label given twice. 0, or -EINVAL (-ENOMEM) with a message in @err that does not
 * name the metric (`invalid path "a..b": empty key at offset 2`, `path "q.*" has 1 wildcard but
 * label is not set`). For the config loader, which can put FILE:LINE:COL in front.
 */
int job_json_metric_check(const struct job_json_metric_opts *m, char *err, size_t errlen);

/*
 * Creates the per-target state for @n metrics (@n >= 1): compiles every path and copies every
 * string (@metrics may be freed afterwards). Returns the state (the caller's until given to the
 * engine in a target_spec; freed with job_json.free), or NULL with the first error in @err:
 * `metrics[2] (app_queue_depth): invalid path "a..b": empty key at offset 2`. Called when
 * targets are built (start-up, reload); no I/O. The kind's functions then run as job.h says:
 * prepare, body_start, feed (from curl's write callback) and finish of one run of one target.
 */
void *job_json_new(const struct job_json_metric_opts *metrics, size_t n, char *err, size_t errlen);

extern const struct job_kind job_json;

/* The json kind's row in the kinds registry (json_jobs). */
extern const struct kind job_json_kind;

/* One metric of a json job in the config. */
struct job_json_conf_metric {
    char *name;            /* a valid Prometheus metric name */
    char *path;            /* non-empty; the grammar above */
    enum sample_type type; /* SAMPLE_GAUGE (default), SAMPLE_COUNTER or SAMPLE_UNTYPED */
    struct label *labels;  /* owned strings; sorted by name */
    size_t nlabels;
    char *label; /* label name for a wildcard path, or NULL */
    bool required;
};

/* A json job's own settings: config_job.opts of a json job. */
struct job_json_conf {
    struct job_json_conf_metric *metrics; /* at least one */
    size_t nmetrics;
};

#endif
