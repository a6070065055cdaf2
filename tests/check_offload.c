/*
 * Tests for the worker thread (offload.c) and the engine's use of it: a batch of at least
 * ENGINE_OFFLOAD_MIN samples is encoded off the loop, and every output still gets exactly what
 * emit() on the loop would have given it.
 */
#include "build-config.h"

#include <check.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc_json.h"
#include "enc_vm.h"
#include "engine.h"
#include "job_json.h"
#include "loop.h"
#include "mock_server.h"
#include "offload.h"
#include "out_file.h"
#include "stats.h"
#include "testutil.h"

#define NJOBS 50

struct job_arg {
    pthread_t main;
    int idx;
    int *order; /* done() appends idx here */
    int *ndone;
    bool worked_elsewhere;
};

static void
work_fn(void *arg)
{
    struct job_arg *a = arg;

    a->worked_elsewhere = !pthread_equal(pthread_self(), a->main);
    usleep(100);
}

static void
done_fn(void *arg)
{
    struct job_arg *a = arg;

    ck_assert(pthread_equal(pthread_self(), a->main));
    a->order[(*a->ndone)++] = a->idx;
}

/* Work runs on another thread, done() on the loop's, in submission order. */
START_TEST(test_offload_runs_off_thread_done_in_order)
{
    struct event_base *base = event_base_new();
    struct offload *o = offload_new(base);
    struct job_arg args[NJOBS + 1];
    int order[NJOBS + 1], ndone = 0;

    ck_assert_ptr_nonnull(o);
    for (int i = 0; i < NJOBS; i++) {
        args[i] = (struct job_arg){pthread_self(), i, order, &ndone, false};
        ck_assert_int_eq(offload_submit(o, work_fn, done_fn, &args[i]), 0);
    }
    ck_assert_uint_eq(offload_pending(o), NJOBS);
    for (int spin = 0; spin < 5000 && offload_pending(o) > 0; spin++) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    ck_assert_uint_eq(offload_pending(o), 0);
    ck_assert_int_eq(ndone, NJOBS);
    for (int i = 0; i < NJOBS; i++) {
        ck_assert_int_eq(order[i], i);
        ck_assert(args[i].worked_elsewhere);
    }
    /* A job still queued at the end is finished by offload_free, done() included. */
    args[NJOBS] = (struct job_arg){pthread_self(), NJOBS, order, &ndone, false};
    ck_assert_int_eq(offload_submit(o, work_fn, done_fn, &args[NJOBS]), 0);
    offload_free(o);
    ck_assert_int_eq(ndone, NJOBS + 1);
    event_base_free(base);
}
END_TEST

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
add_file_output(struct engine *eng, const struct encoder *enc, const char *path)
{
    char err[256];
    struct output out = {.ops = &out_file_ops,
                         .state = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err))};

    ck_assert_msg(out.state != NULL, "%s", err);
    ck_assert_int_eq(engine_add_output(eng, NULL, enc, &out), 0);
}

/*
 * A 30,000-series scrape goes through the worker: three file outputs (json, vm, json again: the
 * second json output shares the first's encoding) each get the whole batch, once. A json job:
 * a Prometheus body that big comes in windows (check_prom_windows), a json document whole.
 */
START_TEST(test_big_batch_encoded_off_loop)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct loop *lp = loop_new();
    struct mock_server *mock = mock_server_new(loop_base(lp));
    struct engine *eng = engine_new(lp);
    char dir[] = "/tmp/check_offload.XXXXXX", pa[64], pb[64], pc[64], url[128], err[256];
    struct job_json_metric_opts m = {
        .name = "s", .path = "s.*", .type = SAMPLE_GAUGE, .label = "i"};

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(pa, sizeof(pa), "%s/a.json", dir);
    snprintf(pb, sizeof(pb), "%s/b.vm", dir);
    snprintf(pc, sizeof(pc), "%s/c.json", dir);
    add_file_output(eng, &enc_json, pa);
    add_file_output(eng, &enc_vm, pb);
    add_file_output(eng, &enc_json, pc);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/jsonmap/30000", mock_server_port(mock));
    struct target_spec spec = {.job = "big",
                               .url = url,
                               .instance = "big:1",
                               .timeout_ms = 5000,
                               .body_limit = 1 << 24,
                               .kind = &job_json,
                               .kind_state = job_json_new(&m, 1, err, sizeof(err))};
    ck_assert_msg(spec.kind_state != NULL, "%s", err);
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    ck_assert_int_eq(engine_run_once(eng), 0);

    char *a = slurp(pa), *b = slurp(pb), *c = slurp(pc);
    ck_assert_str_eq(a, c);
    json_object *lines = testutil_parse_lines(a);
    ck_assert_int_eq(json_object_array_length(lines), 1);
    json_object *batch = json_object_array_get_idx(lines, 0);
    ck_assert_uint_eq(testutil_count_samples(batch, "s"), 30000);
    ck_assert_double_eq(testutil_sample_value(batch, "s", "i", "29999"), 29999);
    ck_assert_double_eq(testutil_sample_value(batch, "up", NULL, NULL), 1);
    json_object_put(lines);
    size_t nl = 0;
    for (const char *p = b; *p != '\0'; p++) {
        nl += *p == '\n';
    }
    ck_assert_uint_ge(nl, 30000); /* vm: a line per series */
    ck_assert_ptr_nonnull(strstr(b, "\"i\":\"29999\""));
    free(a);
    free(b);
    free(c);
    unlink(pa);
    unlink(pb);
    unlink(pc);
    rmdir(dir);
    engine_free(eng);
    mock_server_free(mock);
    loop_free(lp);
    curl_global_cleanup();
    stats_free_all();
    arena_free_cache();
}
END_TEST

static Suite *
offload_suite(void)
{
    Suite *s = suite_create("offload");
    TCase *tc = tcase_create("offload");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_offload_runs_off_thread_done_in_order);
    tcase_add_test(tc, test_big_batch_encoded_off_loop);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(offload_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
