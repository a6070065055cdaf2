/*
 * Helpers shared by the integration tests: reading the JSON lines an output wrote and looking
 * fields and samples up in them, with Check assertions on every step.
 */
#ifndef POLLSTER_TESTS_TESTUTIL_H
#define POLLSTER_TESTS_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct config;
struct engine;
struct output_stats;
struct loop;
struct mock_server;

/*
 * The once-mode integration fixture: curl initialised, a loop, a mock server on it, an engine
 * whose only output writes JSON lines to a non-blocking pipe (read end in @pipefd[0], 1 MiB).
 */
void testutil_once_setup(struct loop **lp, struct mock_server **mock, struct engine **eng,
                         int pipefd[2]);
/* Frees what testutil_once_setup made, and the process-wide caches (stats, arena blocks). */
void testutil_once_teardown(struct loop *lp, struct mock_server *mock, struct engine *eng,
                            int pipefd[2]);
/* The fixture as a test file's statics lp, mock, eng and pipefd, with setup() and teardown(). */
#define TESTUTIL_ONCE_FIXTURE                                                                      \
    static struct loop *lp;                                                                        \
    static struct mock_server *mock;                                                               \
    static struct engine *eng;                                                                     \
    static int pipefd[2];                                                                          \
    static void setup(void)                                                                        \
    {                                                                                              \
        testutil_once_setup(&lp, &mock, &eng, pipefd);                                             \
    }                                                                                              \
    static void teardown(void)                                                                     \
    {                                                                                              \
        testutil_once_teardown(lp, mock, eng, pipefd);                                             \
    }

/* Reads everything readable from non-blocking @fd and parses each line (asserting it is JSON).
 * Returns a json-c array the caller puts. */
json_object *testutil_read_lines(int fd);
/* Parses each line of @text. */
json_object *testutil_parse_lines(const char *text);
/* The member @key of @o (asserted to exist). */
json_object *testutil_field(json_object *o, const char *key);
/*
 * The names of @labels (a JSON object of label values) whose value is not empty, sorted, at most
 * @max into @names (borrowed from @labels): an empty value is no label at all (Prometheus;
 * VictoriaMetrics drops it). Returns how many.
 */
size_t testutil_label_names(json_object *labels, const char **names, size_t max);
const char *testutil_str(json_object *o, const char *key);
/* The first sample of @batch named @name whose labels include @lk=@lv (when @lk); NULL if none. */
json_object *testutil_find_sample(json_object *batch, const char *name, const char *lk,
                                  const char *lv);
/* Its value (asserted to exist); "NaN"/"+Inf"/"-Inf" strings become doubles. */
double testutil_sample_value(json_object *batch, const char *name, const char *lk, const char *lv);
/* Number of samples named @name in @batch. */
size_t testutil_count_samples(json_object *batch, const char *name);

/*
 * Blocking HTTP request to @url (GET, or POST of @post when not NULL) with a @timeout_ms
 * deadline. Returns the body (malloc'd, NUL-terminated; free it) and sets *@code to the HTTP
 * status, or -1 when the request failed (the body is then an empty string).
 */
char *testutil_http(const char *url, const char *post, long timeout_ms, long *code);

/* @yaml loaded as "pollster.yaml" (config_load_string), asserted to load with no error. */
struct config *testutil_load_ok(const char *yaml);
/* Asserts that @yaml does not load and that its first error reads @want. */
void testutil_load_fails(const char *yaml, const char *want);

/*
 * Adds a probe target of job @job for @url to @eng (asserting it worked), with target labels
 * @labels[@nlabels] and reload identity @identity (NULL: none).
 */
struct label;
void testutil_add_probe(struct engine *eng, const char *job, const char *url,
                        const struct label *labels, size_t nlabels, const char *identity);

/* The samples an output dropped, all reasons together. */
uint64_t testutil_dropped_total(const struct output_stats *st);
/* Asserts an output's books balance: collected + recovered = delivered + dropped + pending. */
void testutil_assert_books(const struct output_stats *st);

#endif
