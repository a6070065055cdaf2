/*
 * Tests for the engine's reload (engine.c): many targets are matched by identity through its
 * index (kept, added and removed counted exactly, a target listed twice matched once per
 * listing), and the target list grows past its capacity many times without losing any; outputs
 * stopped for a spool hand-off, restored and replaced by name, their books continuing.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc_json.h"
#include "engine.h"
#include "loop.h"
#include "out_http.h"
#include "spool.h"
#include "status_page.h"
#include "strbuf.h"
#include "mock_server.h"
#include "testproc.h"
#include "testutil.h"

#define NT 1000

static struct loop *lp;
static struct mock_server *mock;
static struct engine *eng;
static int pipefd[2];

static void
setup(void)
{
    testutil_once_setup(&lp, &mock, &eng, pipefd);
}

static void
teardown(void)
{
    testutil_once_teardown(lp, mock, eng, pipefd);
}

/* Adds a probe target whose identity is @identity (its URL made from @n). */
static void
add(const char *identity, int n)
{
    char url[96];

    snprintf(url, sizeof(url), "http://127.0.0.1:1/t%d", n);
    testutil_add_probe(eng, "j", url, NULL, 0, identity);
}

static void
add_n(int from, int to)
{
    char id[32];

    for (int i = from; i < to; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        add(id, i);
    }
}

START_TEST(test_reload_matches_by_identity)
{
    size_t kept, added, removed;

    add_n(0, NT);
    add("dup", -1);
    add("dup", -2);
    add(NULL, -3); /* no identity: never kept */
    ck_assert_uint_eq(engine_target_count(eng), NT + 3);

    /* Half kept, half new; "dup" listed three times: two kept, one added. */
    engine_reload_begin(eng);
    add_n(NT / 2, NT + NT / 2);
    add("dup", -1);
    add("dup", -2);
    add("dup", -4);
    add(NULL, -3);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(kept, NT / 2 + 2);
    ck_assert_uint_eq(added, NT / 2 + 2);
    ck_assert_uint_eq(removed, NT / 2 + 1);
    ck_assert_uint_eq(engine_target_count(eng), NT + 4);

    /* The same set again: everything with an identity is kept. */
    engine_reload_begin(eng);
    add_n(NT / 2, NT + NT / 2);
    add("dup", -1);
    add("dup", -2);
    add("dup", -4);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(kept, NT + 3);
    ck_assert_uint_eq(added, 0);
    ck_assert_uint_eq(removed, 1);

    /* An aborted reload restores the set it began with. */
    engine_reload_begin(eng);
    add_n(0, 10);
    engine_reload_abort(eng);
    ck_assert_uint_eq(engine_target_count(eng), NT + 3);
}
END_TEST

/* An http output "h" to a port nobody listens on, spooling to @dir. */
static struct output
sinkless_http(const char *dir)
{
    char err[256];
    struct out_http_opts o = {
        .what = "h",
        .url = "http://127.0.0.1:1/write",
        .enc = &enc_json,
        .timeout_ms = 2000,
        .batch_max_bytes = 1 << 20,
        .flush_interval_ms = 60000,
        .queue_max_bytes = 64 << 20,
        .spool_dir = dir,
        .spool_max_bytes = 64 << 20,
        .spool_fsync = SPOOL_FSYNC_NEVER,
        .retry_initial_ms = 60000,
        .retry_max_ms = 60000,
    };
    struct output out = {.ops = &out_http_ops, .state = out_http_new(lp, &o, err, sizeof(err))};

    ck_assert_msg(out.state != NULL, "%s", err);
    return out;
}

/* Output @name's books, asserted to balance. */
static struct output_stats
books_of(const char *name)
{
    struct output_stats st;
    const char *n, *type, *format;

    for (size_t i = 0; i < engine_output_count(eng); i++) {
        ck_assert_int_eq(engine_output_info(eng, i, &n, &type, &format, &st), 0);
        if (strcmp(n, name) == 0) {
            testutil_assert_books(&st);
            return st;
        }
    }
    ck_abort_msg("no output %s", name);
    return st;
}

/*
 * The spool hand-off's engine side: a stopped output leaves its records in the spool and its
 * books under its name; the instance that opens the spool next continues them (what it finds is
 * not counted again); without a hand-off what is left is dropped, reason reload; a slot given up
 * goes; engine_outputs_replace keeps, adds and removes by name.
 */
START_TEST(test_output_stop_restore_books)
{
    char dir[] = "/tmp/pollster-engine-out-XXXXXX";
    uint64_t marks[ENGINE_MAX_OUTPUTS];
    struct output_stats st;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct output h = sinkless_http(dir);
    ck_assert_int_eq(engine_add_output(eng, "h", &enc_json, &h), 0);
    for (int i = 0; i < 3; i++) {
        engine_relay_write(eng, "{}\n", 3, 5, marks);
    }
    st = books_of("h");
    ck_assert_uint_eq(st.collected, 15);
    ck_assert_uint_eq(st.pending_samples, 15);

    /* closed for a hand-off: the books stay, the records wait in the spool */
    ck_assert_int_eq(engine_output_stop(eng, "h", true), 0);
    ck_assert_int_eq(engine_output_stop(eng, "h", true), -ENOENT);
    st = books_of("h");
    ck_assert_uint_eq(st.collected, 15);
    ck_assert_uint_eq(st.pending_samples, 15);    /* parked in the spool for the next instance */
    engine_relay_write(eng, "{}\n", 3, 5, marks); /* nothing to take them: not counted */

    /* the next instance finds them: pending again, not recovered twice */
    h = sinkless_http(dir);
    ck_assert_int_eq(engine_output_restore(eng, "h", &h), 0);
    st = books_of("h");
    ck_assert_uint_eq(st.collected, 15);
    ck_assert_uint_eq(st.recovered, 0);
    ck_assert_uint_eq(st.pending_samples, 15);
    engine_relay_write(eng, "{}\n", 3, 5, marks);
    ck_assert_uint_eq(books_of("h").collected, 20);

    /* closed without a hand-off: what it leaves is dropped (reason reload); the slot goes */
    ck_assert_int_eq(engine_output_stop(eng, "h", false), 0);
    st = books_of("h");
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_RELOAD], 20);
    ck_assert_int_eq(engine_output_restore(eng, "h", NULL), 0);
    ck_assert_uint_eq(engine_output_count(eng), 1);

    /* replace by name: stdout[0] kept, "h" added (the spool still holds the 20) */
    h = sinkless_http(dir);
    struct engine_output_spec v[] = {{.name = "stdout[0]"},
                                     {.name = "h", .enc = &enc_json, .out = h}};
    engine_outputs_replace(eng, v, 2);
    ck_assert_uint_eq(engine_output_count(eng), 2);
    ck_assert_uint_eq(books_of("h").recovered, 20);
    /* and removed again: it drains (in the background), it is gone from the table at once */
    engine_outputs_replace(eng, v, 1);
    ck_assert_uint_eq(engine_output_count(eng), 2); /* shown as draining until it is closed */
    st = books_of("h");
    ck_assert(st.draining);
    ck_assert_uint_eq(st.pending_samples, 20);
    ck_assert(!books_of("stdout[0]").draining);
    struct strbuf sb;
    strbuf_init(&sb);
    engine_render_metrics(&sb, eng);
    ck_assert_ptr_nonnull(
        strstr(sb.data, "pollster_output_pending_samples{output=\"h\",type=\"http\"} 20\n"));
    /* the status page says so */
    struct status_page_view view = {.engine = eng};
    int code = 200;
    strbuf_reset(&sb);
    ck_assert_ptr_nonnull(status_page_cb(&sb, "/outputs", "", &code, &view));
    ck_assert_int_eq(code, 200);
    ck_assert_ptr_nonnull(strstr(sb.data, "<td class=\"muted\">draining"));
    strbuf_release(&sb);
    engine_free(eng);
    eng = NULL;
    testproc_rmtree(dir);
}
END_TEST

static size_t stale_seen;

/* An output that sends staleness markers: counts the markers it is handed. */
static int
marker_write_batch(void *state, const struct batch *b)
{
    (void)state;
    stale_seen += b->nstale;
    return 0;
}

static const struct output_ops marker_ops = {
    .name = "marker", .write_batch = marker_write_batch, .stale_markers = true};

/*
 * A reload adds an output that sends staleness markers: targets that existed before remember
 * their series from then on, so one removed later gets its markers.
 */
START_TEST(test_added_output_gets_staleness_markers)
{
    char url[96];
    size_t kept, added, removed;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/simple", mock_server_port(mock));
    testutil_add_probe(eng, "j", url, NULL, 0, "t");
    struct engine_output_spec v[] = {{.name = "stdout[0]"},
                                     {.name = "m", .enc = &enc_json, .out = {&marker_ops, NULL}}};
    engine_outputs_replace(eng, v, 2);
    ck_assert_int_ge(engine_run_once(eng), 0);
    stale_seen = 0;
    engine_reload_begin(eng);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_uint_gt(stale_seen, 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("engine_reload");
    TCase *tc = tcase_create("reload");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reload_matches_by_identity);
    tcase_add_test(tc, test_output_stop_restore_books);
    tcase_add_test(tc, test_added_output_gets_staleness_markers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
