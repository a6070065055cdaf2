/*
 * Tests for out_file.c: appending, logrotate's create (rename + reopen) and copytruncate modes,
 * write failures kept in memory and retried in order, the bounded queue and the books (output.h),
 * open errors, fsync policy names.
 */
#include "build-config.h"

#include <check.h>
#include <event2/event.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loop.h"
#include "out_file.h"
#include "testutil.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pollster-out-file-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/metrics.jsonl", dir);
}

static void
teardown(void)
{
    char p[160];

    snprintf(p, sizeof(p), "%s.1", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
}

static char *
slurp(const char *p)
{
    static char buf[1 << 16];
    FILE *f = fopen(p, "r");
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static void
put(void *o, const char *line)
{
    ck_assert_int_eq(out_file_ops.write(o, line, strlen(line), 1), 0);
}

START_TEST(test_appends)
{
    char err[256];
    void *o = out_file_new(path, OUT_FILE_FSYNC_BATCH, err, sizeof(err));

    ck_assert_msg(o != NULL, "%s", err);
    put(o, "{\"a\":1}\n");
    put(o, "{\"b\":2}\n");
    ck_assert_str_eq(slurp(path), "{\"a\":1}\n{\"b\":2}\n");
    out_file_ops.free(o);
    /* A new instance appends, never truncates. */
    o = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err));
    put(o, "{\"c\":3}\n");
    ck_assert_str_eq(slurp(path), "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
    out_file_ops.free(o);
}
END_TEST

START_TEST(test_logrotate_create)
{
    char err[256], rotated[160];
    void *o = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err));

    put(o, "old\n");
    snprintf(rotated, sizeof(rotated), "%s.1", path);
    ck_assert_int_eq(rename(path, rotated), 0);
    put(o, "still old file\n"); /* before SIGHUP the open descriptor follows the rename */
    ck_assert_int_eq(out_file_ops.reopen(o), 0);
    put(o, "new\n");
    ck_assert_str_eq(slurp(rotated), "old\nstill old file\n");
    ck_assert_str_eq(slurp(path), "new\n");
    out_file_ops.free(o);
}
END_TEST

START_TEST(test_logrotate_copytruncate)
{
    char err[256];
    void *o = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err));

    put(o, "before\n");
    ck_assert_int_eq(truncate(path, 0), 0);
    put(o, "after\n");
    /* O_APPEND: no hole of NULs where the old content was. */
    ck_assert_str_eq(slurp(path), "after\n");
    out_file_ops.free(o);
}
END_TEST

/* The output's books, checked to balance (output.h) every time they are read. */
static struct output_stats
books(void *o)
{
    struct output_stats st;

    out_file_ops.stats(o, &st);
    ck_assert_str_eq(st.type, "file");
    testutil_assert_books(&st);
    return st;
}

/* The file may not grow past @bytes (writes beyond fail with EFBIG); @old gets the limit before. */
static void
limit_size(struct rlimit *old, rlim_t bytes)
{
    struct rlimit small;

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, old), 0);
    small = *old;
    small.rlim_cur = bytes;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
}

/*
 * Writes fail: the records wait in memory, in the books as pending (in samples) and as failed
 * requests; the next write after the disk has room writes them first, in order.
 */
START_TEST(test_write_failure_kept_and_retried_in_order)
{
    char err[256];
    struct rlimit old;
    struct output_stats st;
    void *o = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err));

    put(o, "one\n");
    limit_size(&old, 4);
    ck_assert_int_eq(out_file_ops.write(o, "two\n", 4, 2), -EAGAIN);
    ck_assert_int_eq(out_file_ops.write(o, "three\n", 6, 3), -EAGAIN);
    st = books(o);
    ck_assert_uint_eq(st.collected, 6);
    ck_assert_uint_eq(st.delivered, 1);
    ck_assert_uint_eq(st.requests, 1);
    ck_assert_uint_eq(st.pending_samples, 5);
    ck_assert_uint_eq(st.queue_bytes, 10);
    ck_assert_uint_ge(st.failed_requests, 2);
    ck_assert(st.failing);
    ck_assert_int_ne(out_file_ops.flush(o), 0);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    put(o, "four\n");
    st = books(o);
    ck_assert_uint_eq(st.delivered, 7);
    ck_assert_uint_eq(st.requests, 4);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_uint_eq(st.queue_bytes, 0);
    ck_assert_uint_eq(testutil_dropped_total(&st), 0);
    ck_assert(!st.failing);
    ck_assert(st.last_success > 0);
    ck_assert_str_eq(slurp(path), "one\ntwo\nthree\nfour\n");
    out_file_ops.free(o);
}
END_TEST

/*
 * The file takes nothing and the queue holds 16 bytes: each new record pushes out the oldest
 * ones, counted as queue_full in samples; a record larger than the bound is dropped itself. When
 * the file has room again the newest records that fit arrive, whole and in order.
 */
START_TEST(test_queue_bound_drops_oldest_counted)
{
    char err[256], line[32];
    struct rlimit old;
    struct output_stats st;
    void *o = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err));

    out_file_set_queue_max(o, 16);
    limit_size(&old, 0);
    for (int i = 0; i < 5; i++) {
        snprintf(line, sizeof(line), "rec %d\n", i); /* 6 bytes, 3 samples */
        ck_assert_int_eq(out_file_ops.write(o, line, strlen(line), 3), -EAGAIN);
        st = books(o);
        ck_assert_uint_le(st.queue_bytes, 16);
    }
    ck_assert_int_eq(out_file_ops.write(o, "a record of 20 bytes\n", 21, 7), -EAGAIN);
    st = books(o);
    ck_assert_uint_eq(st.collected, 22);
    ck_assert_uint_eq(st.pending_samples, 6); /* rec 3, rec 4 */
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_QUEUE_FULL], 9 + 7);
    ck_assert_uint_eq(st.delivered, 0);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(out_file_ops.flush(o), 0);
    st = books(o);
    ck_assert_uint_eq(st.delivered, 6);
    ck_assert_uint_eq(st.pending_samples, 0);
    ck_assert_str_eq(slurp(path), "rec 3\nrec 4\n");
    out_file_ops.free(o);
}
END_TEST

START_TEST(test_flush_drains)
{
    char err[256];
    struct rlimit old, small;
    void *o = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err));

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 0;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    ck_assert_int_eq(out_file_ops.write(o, "x\n", 2, 1), -EAGAIN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(out_file_ops.flush(o), 0);
    ck_assert_str_eq(slurp(path), "x\n");
    out_file_ops.free(o);
}
END_TEST

START_TEST(test_open_errors)
{
    char err[256];
    enum out_file_fsync f;

    ck_assert_ptr_null(
        out_file_new("/nonexistent-dir/x.jsonl", OUT_FILE_FSYNC_NEVER, err, sizeof(err)));
    ck_assert_str_eq(err, "cannot open \"/nonexistent-dir/x.jsonl\" for appending: No such file "
                          "or directory");
    ck_assert_int_eq(out_file_fsync_parse("batch", &f), 0);
    ck_assert_int_eq(f, OUT_FILE_FSYNC_BATCH);
    ck_assert_int_eq(out_file_fsync_parse("never", &f), 0);
    ck_assert_int_eq(f, OUT_FILE_FSYNC_NEVER);
    ck_assert_int_eq(out_file_fsync_parse("always", &f), -EINVAL);
}
END_TEST

/*
 * fsync batch with a loop: the syncs run on the output's worker, the loop only sees them end;
 * syncs asked for while one is in flight are coalesced into the next one, and the drain waits.
 */
START_TEST(test_fsync_off_loop)
{
    char err[256], want[64 * 16] = "";
    struct loop *l = loop_new();
    void *o = out_file_new(path, OUT_FILE_FSYNC_BATCH, err, sizeof(err));

    ck_assert_ptr_nonnull(l);
    ck_assert_msg(o != NULL, "%s", err);
    out_file_sync_on(o, l);
    for (int i = 0; i < 64; i++) {
        char line[32];
        snprintf(line, sizeof(line), "{\"i\":%d}\n", i);
        put(o, line);
        strcat(want, line);
    }
    /* Written at once; the sync is on its way, not done on this thread. */
    ck_assert_str_eq(slurp(path), want);
    ck_assert(out_file_ops.busy(o));
    for (int spin = 0; spin < 5000 && out_file_ops.busy(o); spin++) {
        event_base_loop(loop_base(l), EVLOOP_ONCE);
    }
    ck_assert(!out_file_ops.busy(o));
    ck_assert_uint_ge(out_file_syncs(o), 1);
    ck_assert_uint_le(out_file_syncs(o), 64);
    /* Freed with a sync in flight: it finishes first (valgrind: no fd or memory leak). */
    put(o, "{\"last\":1}\n");
    out_file_ops.free(o);
    loop_free(l);
}
END_TEST

/* A symlink at the path is not followed (O_NOFOLLOW): a precise error, at start and reopen. */
START_TEST(test_symlink_refused)
{
    char err[256], target[160];

    snprintf(target, sizeof(target), "%s.1", path);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_ptr_null(out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err)));
    ck_assert_msg(strstr(err, "is a symbolic link (not followed)") != NULL, "%s", err);
    ck_assert_int_eq(access(target, F_OK), -1); /* nothing was created through it */
}
END_TEST

static Suite *
out_file_suite(void)
{
    Suite *s = suite_create("out_file");
    TCase *tc = tcase_create("file");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_appends);
    tcase_add_test(tc, test_logrotate_create);
    tcase_add_test(tc, test_logrotate_copytruncate);
    tcase_add_test(tc, test_write_failure_kept_and_retried_in_order);
    tcase_add_test(tc, test_queue_bound_drops_oldest_counted);
    tcase_add_test(tc, test_flush_drains);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_fsync_off_loop);
    tcase_add_test(tc, test_symlink_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(out_file_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
