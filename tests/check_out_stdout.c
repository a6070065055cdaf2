/*
 * Tests for the stdout output (out_stdout.c): a stalled reader never blocks the loop, what it
 * cannot take is dropped whole records at a time and counted, the books balance, and records
 * that are written arrive whole and in order; the daemon with a stdout nobody reads keeps its loop
 * running and shows the drops in /metrics.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "out_stdout.h"
#include "testproc.h"
#include "testutil.h"

#define REC_LINES 10 /* samples (lines) per record */
#define REC_LINE 100 /* bytes per line */

static struct loop *l;
static int pfd[2];

static void
setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    l = loop_new();
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(pipe(pfd), 0);
    ck_assert_int_ge(fcntl(pfd[1], F_SETPIPE_SZ, 4096), 4096);
}

static void
teardown(void)
{
    if (pfd[0] >= 0) {
        close(pfd[0]);
    }
    close(pfd[1]);
    loop_free(l);
}

/* Record @i: REC_LINES lines "rec <i> line <k> xxx...\n" of REC_LINE bytes each. */
static size_t
make_rec(char *buf, unsigned i)
{
    size_t n = 0;

    for (unsigned k = 0; k < REC_LINES; k++) {
        int w = snprintf(buf + n, REC_LINE, "rec %06u line %u ", i, k);
        memset(buf + n + w, 'x', REC_LINE - 1 - (size_t)w);
        buf[n + REC_LINE - 1] = '\n';
        n += REC_LINE;
    }
    return n;
}

/*
 * Nobody reads the pipe: 200 records of 1000 bytes go to an output whose queue holds 16 KiB.
 * Every write returns at once, the queue stays within its bound, the rest is dropped as
 * queue_full, and the books balance.
 */
START_TEST(test_stalled_reader_does_not_block)
{
    void *o = out_stdout_open(pfd[1], l, 16 * 1024);
    char rec[REC_LINES * REC_LINE];
    struct output_stats st;

    ck_assert_ptr_nonnull(o);
    /* A write that waited for the reader would never return: the test's timeout would fail it. */
    for (unsigned i = 0; i < 200; i++) {
        size_t n = make_rec(rec, i);
        out_stdout_ops.write(o, rec, n, REC_LINES);
        out_stdout_ops.stats(o, &st);
        ck_assert_uint_le(st.queue_bytes, 16 * 1024);
        testutil_assert_books(&st);
    }
    out_stdout_ops.stats(o, &st);
    ck_assert_str_eq(st.type, "stdout");
    ck_assert_uint_eq(st.collected, 200 * REC_LINES);
    ck_assert_uint_gt(st.dropped[OUTPUT_DROP_QUEUE_FULL], 0);
    ck_assert_uint_gt(st.pending_samples, 0);
    ck_assert(out_stdout_ops.busy(o));
    /* The caller's descriptor was not made non-blocking (it may be shared with a shell). */
    ck_assert_int_eq(fcntl(pfd[1], F_GETFL) & O_NONBLOCK, 0);
    out_stdout_ops.free(o);
}
END_TEST

/* Reads the pipe while running the loop until @o1 and @o2 are idle; the bytes read. */
static size_t
drain_both(void *o1, void *o2, char *got, size_t cap)
{
    size_t ngot = 0;

    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    for (int spin = 0; spin < 10000 && (out_stdout_ops.busy(o1) || out_stdout_ops.busy(o2));
         spin++) {
        ssize_t n = read(pfd[0], got + ngot, cap - ngot);
        if (n > 0) {
            ngot += (size_t)n;
        }
        event_base_loop(loop_base(l), EVLOOP_NONBLOCK);
    }
    for (ssize_t n; (n = read(pfd[0], got + ngot, cap - ngot)) > 0;) {
        ngot += (size_t)n;
    }
    return ngot;
}

/* Two instances on the pipe, in the order they are opened. */
static void
open_two(void **first, void **second)
{
    *first = out_stdout_open(pfd[1], l, 1 << 20);
    *second = out_stdout_open(pfd[1], l, 1 << 20);
    ck_assert_ptr_nonnull(*first);
    ck_assert_ptr_nonnull(*second);
}

/* Writes @n bytes of @fill ending in a newline (into @big) to @o: the 4 KiB pipe takes part of
 * it, so the record has begun and the rest waits. */
static void
write_begun(void *o, char *big, size_t n, char fill)
{
    memset(big, fill, n);
    big[n - 1] = '\n';
    ck_assert_int_eq(out_stdout_ops.write(o, big, n, 1), 0);
    ck_assert(out_stdout_ops.busy(o));
}

/*
 * The reader comes back: the loop drains the queue, and what arrives is whole records, in
 * order, exactly the ones counted delivered.
 */
START_TEST(test_reader_gets_whole_records_in_order)
{
    void *o = out_stdout_open(pfd[1], l, 16 * 1024);
    char rec[REC_LINES * REC_LINE];
    static char got[1 << 20];
    struct output_stats st;

    ck_assert_ptr_nonnull(o);
    for (unsigned i = 0; i < 100; i++) {
        out_stdout_ops.write(o, rec, make_rec(rec, i), REC_LINES);
    }
    size_t ngot = drain_both(o, o, got, sizeof(got));
    ck_assert(!out_stdout_ops.busy(o));
    out_stdout_ops.stats(o, &st);
    testutil_assert_books(&st);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_eq(st.queue_bytes, 0);
    ck_assert_uint_eq(ngot % REC_LINE, 0);
    ck_assert_uint_eq(ngot / REC_LINE, st.delivered);
    ck_assert_uint_eq(st.delivered + st.dropped[OUTPUT_DROP_QUEUE_FULL], 100 * REC_LINES);
    /* Whole records, increasing record numbers, lines 0..9 of each in order. */
    unsigned last = 0;
    for (size_t off = 0; off < ngot; off += REC_LINES * REC_LINE) {
        unsigned r, k;
        for (unsigned line = 0; line < REC_LINES; line++) {
            const char *p = got + off + (size_t)line * REC_LINE;
            ck_assert_int_eq(sscanf(p, "rec %u line %u ", &r, &k), 2);
            ck_assert_uint_eq(k, line);
            ck_assert_int_eq(p[REC_LINE - 1], '\n');
        }
        ck_assert(off == 0 || r > last);
        last = r;
    }
    ck_assert_uint_eq(last, 99); /* the newest record is never the one dropped */
    out_stdout_ops.free(o);
}
END_TEST

/* A record larger than the whole queue is dropped at once when it cannot go out directly. */
START_TEST(test_record_larger_than_queue)
{
    void *o = out_stdout_open(pfd[1], l, 2 * 1024);
    static char big[64 * 1024];
    struct output_stats st;

    memset(big, 'y', sizeof(big));
    ck_assert_ptr_nonnull(o);
    /* The first 4 KiB go into the pipe: the record has begun, so it is queued whole. */
    out_stdout_ops.write(o, big, sizeof(big), 7);
    out_stdout_ops.stats(o, &st);
    ck_assert_uint_eq(st.pending_samples, 7);
    /* The next one cannot be begun and does not fit. */
    ck_assert_int_eq(out_stdout_ops.write(o, big, sizeof(big), 5), -ENOBUFS);
    out_stdout_ops.stats(o, &st);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_QUEUE_FULL], 5);
    testutil_assert_books(&st);
    out_stdout_ops.free(o);
}
END_TEST

/* The reader went away: the queue and the record are dropped as write_error, counted. */
START_TEST(test_closed_reader)
{
    void *o = out_stdout_open(pfd[1], l, 1 << 20);
    char rec[REC_LINES * REC_LINE];
    struct output_stats st;

    ck_assert_ptr_nonnull(o);
    for (unsigned i = 0; i < 20; i++) {
        out_stdout_ops.write(o, rec, make_rec(rec, i), REC_LINES);
    }
    close(pfd[0]);
    pfd[0] = -1;
    ck_assert_int_eq(out_stdout_ops.write(o, rec, make_rec(rec, 20), REC_LINES), -EPIPE);
    out_stdout_ops.stats(o, &st);
    testutil_assert_books(&st);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_gt(st.dropped[OUTPUT_DROP_WRITE_ERROR], REC_LINES);
    ck_assert(st.failing);
    ck_assert_str_eq(output_drop_name(OUTPUT_DROP_WRITE_ERROR), "write_error");
    out_stdout_ops.free(o);
}
END_TEST

/*
 * A reload's two instances on one descriptor: the old one has begun a record the reader has not
 * taken; the new one's records wait for it, so the reader gets the old record whole and then the
 * new ones (before, the new one wrote at once, into the middle of the old one's line). At the
 * end, flushing the new one writes the old one's queue first.
 */
START_TEST(test_instances_on_one_descriptor_write_in_order)
{
    static char big[16 * 1024], got[1 << 16];
    char rec[REC_LINES * REC_LINE];
    struct output_stats st;

    void *old, *new;

    open_two(&old, &new);
    write_begun(old, big, sizeof(big), 'o');
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_int_eq(out_stdout_ops.write(new, rec, make_rec(rec, i), REC_LINES), 0);
    }
    ck_assert(out_stdout_ops.busy(new));
    size_t ngot = drain_both(old, new, got, sizeof(got));
    ck_assert_uint_eq(ngot, sizeof(big) + 3 * sizeof(rec));
    ck_assert_msg(memcmp(got, big, sizeof(big)) == 0, "the old record was cut: %.80s", got + 4096);
    for (unsigned i = 0; i < 3; i++) {
        unsigned r, k;
        ck_assert_int_eq(sscanf(got + sizeof(big) + i * sizeof(rec), "rec %u line %u ", &r, &k), 2);
        ck_assert_uint_eq(r, i);
    }
    out_stdout_ops.stats(new, &st);
    testutil_assert_books(&st);
    ck_assert_uint_eq(st.delivered, 3 * REC_LINES);

    /* Again, ended by flushing the new instance while the old one still holds its record. */
    ck_assert_int_eq(out_stdout_ops.write(old, big, sizeof(big), 1), 0);
    size_t nrec = make_rec(rec, 7);
    ck_assert_int_eq(out_stdout_ops.write(new, rec, nrec, REC_LINES), 0);
    pid_t reader = fork();
    ck_assert_int_ge(reader, 0);
    if (reader == 0) {
        /* A slow reader, so that the flush waits for it: exits 0 when the order is right. */
        size_t want = sizeof(big) + nrec, n = 0;
        fcntl(pfd[0], F_SETFL, 0);
        usleep(100000);
        while (n < want) {
            ssize_t r = read(pfd[0], got + n, want - n);
            if (r <= 0) {
                _exit(2);
            }
            n += (size_t)r;
        }
        _exit(memcmp(got, big, sizeof(big)) == 0 && memcmp(got + sizeof(big), rec, nrec) == 0 ? 0
                                                                                              : 3);
    }
    ck_assert_int_eq(out_stdout_ops.flush(new), 0);
    ck_assert(!out_stdout_ops.busy(old));
    ck_assert(!out_stdout_ops.busy(new));
    int status;
    ck_assert_int_eq(waitpid(reader, &status, 0), reader);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader status %d", status);
    out_stdout_ops.free(new);
    out_stdout_ops.free(old);
}
END_TEST

/*
 * The other direction, two live stdout outputs: the newer one has begun a record; the older
 * one's record waits for it rather than landing in its middle.
 */
START_TEST(test_older_instance_does_not_cut_a_newer_ones_record)
{
    static char big[16 * 1024], got[1 << 16];
    const char small[] = "from the older one\n";

    void *older, *newer;

    open_two(&older, &newer);
    write_begun(newer, big, sizeof(big), 'n');
    ck_assert_int_eq(out_stdout_ops.write(older, small, sizeof(small) - 1, 1), 0);
    ck_assert(out_stdout_ops.busy(older)); /* waits */
    size_t ngot = drain_both(older, newer, got, sizeof(got));
    ck_assert_uint_eq(ngot, sizeof(big) + sizeof(small) - 1);
    ck_assert_msg(memcmp(got, big, sizeof(big)) == 0, "the newer record was cut: %.40s",
                  got + 4096);
    ck_assert_int_eq(memcmp(got + sizeof(big), small, sizeof(small) - 1), 0);
    out_stdout_ops.free(newer);
    out_stdout_ops.free(older);
}
END_TEST

/*
 * Closing an idle instance (a reload's replaced one) while another has a record begun for a
 * stalled reader returns at once: it has nothing to wait for (a wait would stall the loop).
 */
START_TEST(test_idle_instance_flush_does_not_wait_for_another)
{
    static char big[16 * 1024];

    void *busy, *idle;

    open_two(&busy, &idle);
    write_begun(busy, big, sizeof(big), 'a');
    ck_assert_int_eq(out_stdout_ops.flush(idle), 0); /* a wait here never ends: nobody reads */
    out_stdout_ops.free(idle);
    out_stdout_ops.abandon(busy);
    ck_assert_int_eq(out_stdout_ops.flush(busy), 0);
    out_stdout_ops.free(busy);
}
END_TEST

/* Starts pollster with @cfg, its stdout the pipe end @out, its stderr appended to @log. */
static pid_t
spawn_with_stdout(const char *cfg, int out, const char *log)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        close(pfd[0]); /* the test holds the only read end */
        if (fd < 0 || dup2(out, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(126);
        }
        char *argv[] = {getenv("POLLSTER_BIN"), "-c", (char *)cfg, NULL};
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/*
 * The daemon, its stdout a pipe nobody reads: the loop goes on (runs keep being counted, /healthz
 * answers), and what the reader cannot take shows in /metrics as dropped, reason queue_full.
 * SIGTERM with the reader still stalled: the exit waits for it until shutdown_timeout only.
 */
START_TEST(test_daemon_with_stalled_reader_keeps_ticking)
{
    char dir[] = "/tmp/pollster-stdout-XXXXXX", cfg[128], log[128], series[256];
    unsigned port = testproc_free_port();
    double dropped = 0, runs = 0, start;

    ck_assert_ptr_nonnull(getenv("POLLSTER_BIN"));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/pollster.yaml", dir);
    snprintf(log, sizeof(log), "%s/pollster.log", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "global: {scrape_interval: 200ms, scrape_timeout: 200ms, shutdown_timeout: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: self\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "outputs:\n"
            "  - type: stdout\n"
            "    queue_max_bytes: 64KiB\n"
            "status: {listen: '127.0.0.1:%u'}\n",
            port, port);
    fclose(f);
    pid_t p = spawn_with_stdout(cfg, pfd[1], log);
    ck_assert_int_eq(testproc_wait_ready(port, "/healthz", 20), 0);

    snprintf(series, sizeof(series),
             "pollster_output_dropped_samples_total{output=\"stdout[0]\",type=\"stdout\","
             "reason=\"queue_full\"}");
    for (start = testproc_now_s(); testproc_now_s() - start < 60 && !(dropped > 0);) {
        usleep(100 * 1000);
        dropped = testproc_metric(port, series);
    }
    ck_assert_msg(dropped > 0, "nothing dropped as queue_full: %g (see %s)", dropped, log);
    ck_assert(testproc_output_metric(port, "pollster_output_pending_samples", "stdout") > 0);

    /* The reader is still stalled: ticks go on and the status server answers. */
    const char *ok = "pollster_runs_total{job=\"self\",result=\"ok\"}";
    double before = testproc_metric(port, ok);
    ck_assert(before > 0);
    for (start = testproc_now_s(); testproc_now_s() - start < 60 && !(runs >= before + 5);) {
        usleep(100 * 1000);
        ck_assert_int_eq(testproc_get(port, "/healthz", NULL), 200);
        runs = testproc_metric(port, ok);
    }
    ck_assert_msg(runs >= before + 5, "runs went from %g to %g only", before, runs);
    ck_assert(testproc_metric(port, series) >= dropped);

    /* SIGTERM with the reader still stalled: the exit waits shutdown_timeout, not forever. */
    testproc_stop(p);
    f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    bool said = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        said = said || strstr(line, "reader is stalled past the shutdown deadline") != NULL;
    }
    fclose(f);
    ck_assert_msg(said, "no shutdown drop in %s", log);
    testproc_rmtree(dir);
}
END_TEST

static Suite *
out_stdout_suite(void)
{
    Suite *s = suite_create("out_stdout");
    TCase *tc = tcase_create("stdout");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stalled_reader_does_not_block);
    tcase_add_test(tc, test_reader_gets_whole_records_in_order);
    tcase_add_test(tc, test_record_larger_than_queue);
    tcase_add_test(tc, test_closed_reader);
    tcase_add_test(tc, test_instances_on_one_descriptor_write_in_order);
    tcase_add_test(tc, test_older_instance_does_not_cut_a_newer_ones_record);
    tcase_add_test(tc, test_idle_instance_flush_does_not_wait_for_another);
    suite_add_tcase(s, tc);

    tc = tcase_create("daemon");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_daemon_with_stalled_reader_keeps_ticking);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(out_stdout_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
