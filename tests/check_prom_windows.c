/*
 * Tests for big Prometheus text bodies taken in windows (job_prom.c, issue 13: memory per
 * scrape): a body past a window reaches the outputs in parts whose samples are, in order, the
 * samples the whole batch would hold (names, types from TYPE lines across window cuts, labels,
 * values), the run's figures come with its last part, and a run that breaks a rule or a line in
 * a later window hands nothing on, also for outputs that want staleness markers.
 */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_relabel.h"
#include "enc_json.h"
#include "engine.h"
#include "job_prom.h"
#include "loop.h"
#include "mock_server.h"
#include "relabel.h"
#include "stats.h"

static struct loop *lp;
static struct mock_server *mock;
static struct engine *eng;

/* What the capturing output saw: the samples of the body checked one by one as they come. */
struct capture {
    unsigned calls;  /* batches (parts and the end) */
    unsigned failed; /* of them not ok */
    unsigned empty;  /* of them without a sample */
    size_t next;     /* the body sample expected next */
    size_t wrong;    /* body samples not the expected one */
    char first_wrong[256];
    size_t skip_family;       /* a family left out by the test's relabel rule, or (size_t)-1 */
    bool om;                  /* the body is OpenMetrics: counter samples are named cF_total */
    double scraped, post, up; /* synthetic samples of the last batch (-1: absent) */
    char error[BATCH_ERROR_MAX];
};

static struct capture cap;

static const char *
label_value(const struct sample *s, const char *name)
{
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, name) == 0) {
            return s->labels[i].value;
        }
    }
    return NULL;
}

/* Whether @s is body sample @k of /families/N (mock_server.h). */
static bool
is_body_sample(const struct sample *s, size_t k)
{
    size_t f = k / 100;
    char name[32], idx[32];
    static const uint8_t types[3] = {SAMPLE_COUNTER, SAMPLE_GAUGE, SAMPLE_UNTYPED};
    const char *a = label_value(s, "a"), *i = label_value(s, "i");

    snprintf(name, sizeof(name), "%s%zu%s",
             f % 3 == 0   ? "c"
             : f % 3 == 1 ? "g"
                          : "u",
             f, cap.om && f % 3 == 0 ? "_total" : "");
    snprintf(idx, sizeof(idx), "%zu", k);
    return strcmp(s->name, name) == 0 && s->type == types[f % 3] && s->nlabels == 2 && a != NULL &&
           strcmp(a, "x") == 0 && i != NULL && strcmp(i, idx) == 0 && s->value == (double)k &&
           !s->has_ts;
}

static int
capture_batch(void *state, const struct batch *b)
{
    (void)state;
    cap.calls++;
    cap.failed += !b->ok;
    cap.empty += b->nsamples == 0;
    if (!b->ok) {
        snprintf(cap.error, sizeof(cap.error), "%s", b->error);
    }
    cap.scraped = cap.post = cap.up = -1;
    for (size_t i = 0; i < b->nsamples; i++) {
        const struct sample *s = &b->samples[i];
        if (strncmp(s->name, "scrape_", 7) == 0 || strcmp(s->name, "up") == 0) {
            double *slot = strcmp(s->name, "up") == 0                       ? &cap.up
                           : strcmp(s->name, "scrape_samples_scraped") == 0 ? &cap.scraped
                           : strcmp(s->name, "scrape_samples_post_metric_relabeling") == 0
                               ? &cap.post
                               : NULL;
            if (slot != NULL) {
                *slot = s->value;
            }
            continue;
        }
        if (cap.next / 100 == cap.skip_family) {
            cap.next += 100;
        }
        if (!is_body_sample(s, cap.next) && cap.wrong++ == 0) {
            snprintf(cap.first_wrong, sizeof(cap.first_wrong),
                     "sample %zu: %s (type %u, %u labels, value %g)", cap.next, s->name, s->type,
                     s->nlabels, s->value);
        }
        cap.next++;
    }
    return 0;
}

/* The same output, but one that wants staleness markers (the engine tracks runs in parts). */
static const struct output_ops parts_ops = {.name = "capture", .write_batch = capture_batch};
static const struct output_ops marked_ops = {
    .name = "capture", .write_batch = capture_batch, .stale_markers = true};

static void
start(const struct output_ops *ops)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    lp = loop_new();
    mock = lp != NULL ? mock_server_new(loop_base(lp)) : NULL;
    eng = lp != NULL ? engine_new(lp) : NULL;
    ck_assert(lp != NULL && mock != NULL && eng != NULL);
    struct output out = {.ops = ops, .state = NULL};
    ck_assert_int_eq(engine_add_output(eng, NULL, &enc_json, &out), 0);
    memset(&cap, 0, sizeof(cap));
    cap.skip_family = (size_t)-1;
}

static void
stop(void)
{
    engine_free(eng);
    mock_server_free(mock);
    loop_free(lp);
    curl_global_cleanup();
    stats_free_all();
    arena_free_cache();
    job_prom_free_cache();
}

/* One run of /@path with @po (NULL: defaults). */
static void
run(const char *path, struct prom_opts *po)
{
    char url[256], err[256];
    struct prom_opts def = {.honor_timestamps = true};

    if (po == NULL) {
        po = &def;
    }
    po->timeout_ms = 5000;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", mock_server_port(mock), path);
    struct target_spec spec = {
        .job = "big",
        .url = url,
        .instance = "big:1",
        .timeout_ms = 5000,
        .body_limit = 64 << 20,
        .kind = &job_prom,
        .kind_state = job_prom_new(po),
    };
    ck_assert_ptr_nonnull(spec.kind_state);
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    engine_run_once(eng);
}

/*
 * 50,000 samples (about 6 windows; 500 families, so TYPE lines and families cross every cut):
 * in parts, every sample once, in order, as the whole batch has them.
 */
START_TEST(test_parts_are_the_whole_batch)
{
    for (int marked = 0; marked < 2; marked++) {
        start(marked ? &marked_ops : &parts_ops);
        run("/families/50000", NULL);
        ck_assert_msg(cap.wrong == 0, "%zu samples wrong, first %s", cap.wrong, cap.first_wrong);
        ck_assert_uint_eq(cap.next, 50000);
        ck_assert_uint_eq(cap.failed, 0);
        ck_assert(cap.scraped == 50000 && cap.up == 1 && cap.post == -1);
        ck_assert_msg(cap.calls >= 4, "%u batches", cap.calls);
        stop();
    }
}
END_TEST

/* The same in OpenMetrics: types from the family table across the cuts, "# EOF" at the end. */
START_TEST(test_openmetrics_parts_are_the_whole_batch)
{
    for (int marked = 0; marked < 2; marked++) {
        start(marked ? &marked_ops : &parts_ops);
        cap.om = true;
        run("/families/50000/om", NULL);
        ck_assert_msg(cap.failed == 0, "%s", cap.error);
        ck_assert_msg(cap.wrong == 0, "%zu samples wrong, first %s", cap.wrong, cap.first_wrong);
        ck_assert_uint_eq(cap.next, 50000);
        ck_assert(cap.scraped == 50000 && cap.up == 1);
        ck_assert_uint_gt(cap.calls, 1);
        stop();
    }
}
END_TEST

/*
 * OpenMetrics: a Metric again after others, its first sample windows before (no longer in any
 * batch): still an error, found by its LabelSet's hash, and nothing was handed on.
 */
START_TEST(test_openmetrics_metric_interleaved_across_windows)
{
    start(&parts_ops);
    run("/series/30000/om/dup/5", NULL);
    ck_assert_uint_eq(cap.calls, 1);
    ck_assert_uint_eq(cap.failed, 1);
    ck_assert_msg(strstr(cap.error, "interleaved") != NULL && strstr(cap.error, "line 6") != NULL,
                  "%s", cap.error);
    stop();
}
END_TEST

/*
 * OpenMetrics histograms (4 samples a MetricPoint) cut wherever the transfer's chunks fall: all
 * go through. (The second pass does not check their rules again: a MetricPoint cut at the mark
 * between its _count and _sum would look broken there.)
 */
START_TEST(test_openmetrics_histograms_cut_by_windows)
{
    start(&parts_ops);
    run("/histograms/10000", NULL);
    ck_assert_msg(cap.failed == 0, "%s", cap.error);
    ck_assert(cap.scraped == 40000 && cap.up == 1);
    ck_assert_uint_gt(cap.calls, 1);
    stop();
}
END_TEST

/* A body just past one window: the first window and the rest. */
START_TEST(test_small_rest)
{
    start(&parts_ops);
    run("/families/8200", NULL);
    ck_assert_msg(cap.wrong == 0, "%zu samples wrong, first %s", cap.wrong, cap.first_wrong);
    ck_assert_uint_eq(cap.next, 8200);
    ck_assert(cap.scraped == 8200 && cap.up == 1);
    stop();
}
END_TEST

/* Metric relabeling applies in every window; post-relabel figures count the whole run. */
START_TEST(test_relabel_in_windows)
{
    char err[256];
    struct relabel_rule *rules = calloc(1, sizeof(*rules));
    const char *name[] = {"__name__"};

    start(&parts_ops);
    ck_assert_ptr_nonnull(rules);
    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_DROP, name, 1, NULL, "g301", NULL, NULL,
                                       err, sizeof(err)),
                     0);
    struct prom_opts po = {.honor_timestamps = true, .rules = rules, .nrules = 1};
    cap.skip_family = 301;
    run("/families/40000", &po);
    ck_assert_msg(cap.wrong == 0, "%zu samples wrong, first %s", cap.wrong, cap.first_wrong);
    ck_assert_uint_eq(cap.next, 40000);
    ck_assert_msg(cap.scraped == 40000 && cap.post == 39900 && cap.up == 1, "%g %g %g", cap.scraped,
                  cap.post, cap.up);
    ck_assert_uint_gt(cap.calls, 1);
    stop();
}
END_TEST

/* Windows that relabeling left empty are no parts: no empty batch reaches the outputs. */
START_TEST(test_empty_windows_are_no_parts)
{
    char err[256];
    struct relabel_rule *rules = calloc(1, sizeof(*rules));
    const char *name[] = {"__name__"};

    start(&parts_ops);
    ck_assert_ptr_nonnull(rules);
    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_KEEP, name, 1, NULL, "c300|up|scrape_.*",
                                       NULL, NULL, err, sizeof(err)),
                     0);
    struct prom_opts po = {.honor_timestamps = true, .rules = rules, .nrules = 1};
    run("/families/50000", &po);
    ck_assert_msg(cap.failed == 0, "%s", cap.error);
    ck_assert_uint_eq(cap.next, 100); /* c300's samples */
    ck_assert(cap.scraped == 50000 && cap.post == 100 && cap.up == 1);
    ck_assert_uint_eq(cap.empty, 0);
    ck_assert_uint_le(cap.calls, 2);
    stop();
}
END_TEST

/*
 * A rule broken in a later window (sample_limit with relabel rules, so only the pass finds it)
 * or a bad line near the end: the run fails with its true error and nothing was handed on.
 */
START_TEST(test_late_failure_hands_nothing_on)
{
    char err[256];
    struct relabel_rule *rules = calloc(1, sizeof(*rules));
    const char *name[] = {"__name__"};

    start(&parts_ops);
    ck_assert_ptr_nonnull(rules);
    ck_assert_int_eq(relabel_rule_init(&rules[0], RELABEL_KEEP, name, 1, NULL, ".+", NULL, NULL,
                                       err, sizeof(err)),
                     0);
    struct prom_opts po = {
        .honor_timestamps = true, .rules = rules, .nrules = 1, .sample_limit = 30000};
    run("/families/40000", &po);
    ck_assert_uint_eq(cap.calls, 1);
    ck_assert_uint_eq(cap.failed, 1);
    ck_assert_uint_eq(cap.next, 0);
    ck_assert_msg(strncmp(cap.error, "sample_limit exceeded: more than ", 33) == 0, "%s",
                  cap.error);
    ck_assert(cap.up == 0);
    stop();

    start(&parts_ops);
    /* 40,000 samples and 267 families with 2 lines each: line 40,500 is in the last window. */
    run("/families/40000/bad/40500", NULL);
    ck_assert_uint_eq(cap.calls, 1);
    ck_assert_uint_eq(cap.failed, 1);
    ck_assert_uint_eq(cap.next, 0);
    ck_assert_msg(strstr(cap.error, "line 40500") != NULL, "%s", cap.error);
    stop();
}
END_TEST

static Suite *
windows_suite(void)
{
    Suite *s = suite_create("prom_windows");
    TCase *tc = tcase_create("windows");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_parts_are_the_whole_batch);
    tcase_add_test(tc, test_small_rest);
    tcase_add_test(tc, test_openmetrics_parts_are_the_whole_batch);
    tcase_add_test(tc, test_openmetrics_metric_interleaved_across_windows);
    tcase_add_test(tc, test_openmetrics_histograms_cut_by_windows);
    tcase_add_test(tc, test_relabel_in_windows);
    tcase_add_test(tc, test_empty_windows_are_no_parts);
    tcase_add_test(tc, test_late_failure_hands_nothing_on);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(windows_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
