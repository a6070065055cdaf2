/*
 * Tests for what the engine does with its outputs' write() results (engine.c, output.h's
 * contract, issue 13 item 8): an output that fails a write has dropped the batch and counted it;
 * the engine logs that once per episode per output (not once per batch) and "recovered" when
 * writes work again. A batch the engine cannot encode for an output (out of memory, injected
 * through an encoder that fails) never reaches it, and is counted as that output's
 * dropped{reason="out_of_memory"} with its books balanced.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc_json.h"
#include "encoder.h"
#include "engine.h"
#include "log.h"
#include "loop.h"
#include "mock_server.h"
#include "output.h"
#include "strbuf.h"
#include "testutil.h"

static struct loop *lp;
static struct mock_server *mock;
static struct engine *eng;
static int pipefd[2];
static char logbuf[1 << 16];
static size_t loglen;

static void
capture_cb(enum log_level lvl, const char *line, void *arg)
{
    static const char *const lvls[] = {"error", "warn", "info", "debug"};
    int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s: %s\n", lvls[lvl], line);

    (void)arg;
    if (n > 0 && (size_t)n < sizeof(logbuf) - loglen) {
        loglen += (size_t)n;
    }
}

/* An output that keeps books as output.h asks, and fails every write while @failing. */
struct fake {
    bool failing;
    unsigned writes;
    struct output_stats st;
};

static int
fake_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct fake *f = state;

    (void)data;
    (void)len;
    f->writes++;
    f->st.collected += nsamples;
    if (f->failing) {
        f->st.dropped[OUTPUT_DROP_WRITE_ERROR] += nsamples;
        return -EIO;
    }
    f->st.delivered += nsamples;
    return 0;
}

static void
fake_stats(const void *state, struct output_stats *st)
{
    *st = ((const struct fake *)state)->st;
    st->type = "fake";
}

static const struct output_ops fake_ops = {
    .name = "fake", .write = fake_write, .stats = fake_stats};

/* An encoder that always runs out of memory (what a failed allocation does to enc_json). */
static int
encode_oom(struct strbuf *sb, const struct batch *b)
{
    (void)b;
    sb->oom = true;
    return -ENOMEM;
}

static const struct encoder enc_oom = {
    .name = "json",
    .content_type = "application/json",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = encode_oom,
};

static struct fake refuses, starved;

static void
setup(void)
{
    testutil_once_setup(&lp, &mock, &eng, pipefd);
    memset(&refuses, 0, sizeof(refuses));
    memset(&starved, 0, sizeof(starved));
    struct output a = {.ops = &fake_ops, .state = &refuses};
    struct output b = {.ops = &fake_ops, .state = &starved};
    ck_assert_int_eq(engine_add_output(eng, "refuses", &enc_json, &a), 0);
    ck_assert_int_eq(engine_add_output(eng, "starved", &enc_oom, &b), 0);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok", mock_server_port(mock));
    testutil_add_probe(eng, "j", url, NULL, 0, NULL);
    loglen = 0;
    logbuf[0] = '\0';
    log_set_sink(capture_cb, NULL);
    log_set_level(LOG_LVL_INFO);
}

static void
teardown(void)
{
    log_set_sink(NULL, NULL);
    testutil_once_teardown(lp, mock, eng, pipefd);
}

static size_t
lines_with(const char *needle)
{
    size_t n = 0;

    for (const char *p = logbuf; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

static void
info_of(size_t i, const char *want, struct output_stats *st)
{
    const char *name, *type, *format;

    ck_assert_int_eq(engine_output_info(eng, i, &name, &type, &format, st), 0);
    ck_assert_str_eq(name, want);
    testutil_assert_books(st);
}

START_TEST(test_failed_writes_logged_once_per_episode)
{
    struct output_stats st;

    refuses.failing = true;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_ge(engine_run_once(eng), 0);
    }
    ck_assert_uint_eq(refuses.writes, 5);
    info_of(1, "refuses", &st);
    ck_assert_uint_gt(st.dropped[OUTPUT_DROP_WRITE_ERROR], 0);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_WRITE_ERROR], st.collected);
    ck_assert_msg(lines_with("output refuses: dropped a batch of") == 1, "%s", logbuf);
    ck_assert_ptr_nonnull(strstr(logbuf, "from j/"));
    ck_assert_ptr_nonnull(strstr(logbuf, strerror(EIO)));
    /* Writes work again: one line ends the episode. */
    refuses.failing = false;
    ck_assert_int_ge(engine_run_once(eng), 0);
    ck_assert_uint_eq(lines_with("output refuses: recovered after"), 1);
    ck_assert_int_ge(engine_run_once(eng), 0);
    ck_assert_uint_eq(lines_with("output refuses: "), 2);
    info_of(1, "refuses", &st);
    ck_assert_uint_gt(st.delivered, 0);
}
END_TEST

START_TEST(test_encoding_out_of_memory_counted_for_the_output)
{
    struct output_stats st;
    struct strbuf sb;

    for (int i = 0; i < 3; i++) {
        ck_assert_int_ge(engine_run_once(eng), 0);
    }
    ck_assert_uint_eq(starved.writes, 0); /* never reached it */
    info_of(2, "starved", &st);
    ck_assert_uint_gt(st.collected, 0);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_NO_MEMORY], st.collected);
    ck_assert_msg(lines_with("output starved: dropped a batch of") == 1, "%s", logbuf);
    ck_assert_ptr_nonnull(strstr(logbuf, strerror(ENOMEM)));
    /* The other outputs got every batch. */
    info_of(1, "refuses", &st);
    ck_assert_uint_eq(refuses.writes, 3);
    strbuf_init(&sb);
    engine_render_metrics(&sb, eng);
    char want[160];
    info_of(2, "starved", &st);
    snprintf(want, sizeof(want),
             "pollster_output_dropped_samples_total{output=\"starved\",type=\"fake\","
             "reason=\"out_of_memory\"} %llu\n",
             (unsigned long long)st.collected);
    ck_assert_msg(strstr(sb.data, want) != NULL, "no \"%s\" in:\n%s", want, sb.data);
    strbuf_release(&sb);
}
END_TEST

static Suite *
engine_write_suite(void)
{
    Suite *s = suite_create("engine_write");
    TCase *tc = tcase_create("results");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_failed_writes_logged_once_per_episode);
    tcase_add_test(tc, test_encoding_out_of_memory_counted_for_the_output);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(engine_write_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
