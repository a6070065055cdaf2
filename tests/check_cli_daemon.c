/*
 * End-to-end tests of the pollster binary's daemon mode ($POLLSTER_BIN, harness in
 * cli_harness.c): a run stopped and drained by SIGTERM, --daemonize with its pidfile and a
 * second instance refused, a daemon that fails after detaching, the pidfile's mode and a symlink
 * refused, systemd readiness notification, and no line lost or repeated when the output file is
 * rotated and reopened on SIGHUP.
 */
#include "build-config.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>

#include <json-c/json.h>

#include "cli_harness.h"
#include "testutil.h"

START_TEST(test_daemon_runs_and_drains_on_sigterm)
{
    struct cmd c;

    run(&c, 20, 1.6,
        (const char *const[]){"--target", url("/ok"), "--target", url("/slow/300"), "--interval",
                              "300ms", "--timeout", "300ms", "--status-listen", "127.0.0.1:0",
                              NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    json_object *lines = testutil_parse_lines(c.out);
    /* ~1.6 s at 300 ms per target: 4 to 6 runs each. */
    size_t n = json_object_array_length(lines);
    ck_assert_msg(n >= (slowdown() > 1 ? 2 : 7) && n <= 12 * slowdown(), "%zu runs", n);
    ck_assert_ptr_nonnull(strstr(c.err, "SIGTERM received"));
    json_object_put(lines);
}
END_TEST

/* Polls @path until it holds a pid, for up to @secs. */
static long
wait_pidfile(const char *path, double secs)
{
    double start = now_s();

    while (now_s() - start < secs) {
        FILE *f = fopen(path, "r");
        long pid = 0;
        if (f != NULL) {
            if (fscanf(f, "%ld", &pid) != 1) {
                pid = 0;
            }
            fclose(f);
        }
        if (pid > 0) {
            return pid;
        }
        usleep(20000);
    }
    return 0;
}

START_TEST(test_daemonize_pidfile)
{
    struct cmd c;
    char dir[] = "/tmp/pollster-daemon-XXXXXX";
    char pidfile[128], out[128];

    if (slowdown() > 1) {
        return; /* the daemon's fork would escape valgrind's watch; covered natively and by ASan */
    }
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(pidfile, sizeof(pidfile), "%s/pollster.pid", dir);
    snprintf(out, sizeof(out), "%s/out.jsonl", dir);
    run(&c, 10, 0,
        (const char *const[]){"--daemonize", "--pidfile", pidfile, "--output-file", out, "--target",
                              url("/ok"), "--interval", "200ms", "--timeout", "200ms",
                              "--status-listen", "127.0.0.1:0", NULL});
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    long pid = wait_pidfile(pidfile, 5);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill((pid_t)pid, 0), 0);

    /* A second instance with the same pidfile refuses to start, naming the running one. */
    run(&c, 10, 0,
        (const char *const[]){"--daemonize", "--pidfile", pidfile, "--target", url("/ok"),
                              "--status-listen", "127.0.0.1:0", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "already running") != NULL, "%s", c.err);

    usleep(700000);
    ck_assert_int_eq(kill((pid_t)pid, SIGTERM), 0);
    /* The daemon was reparented to this (subreaper) process: its exit status is ours to see. */
    int st = wait_adopted((pid_t)pid, 5);
    ck_assert_msg(st == 0, "daemon after SIGTERM: %d (-2: still running)", st);
    ck_assert_msg(access(pidfile, F_OK) != 0, "pidfile left behind");
    /* It collected while detached: JSON lines in the output file. */
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    ck_assert_msg(strncmp(line, "{\"ts_ms\":", 9) == 0, "%s", line);
    unlink(out);
    rmdir(dir);
}
END_TEST

static char mode_path[160];
static int seen_mode;

static void
stat_pidfile(pid_t pid)
{
    struct stat sb;

    (void)pid;
    seen_mode = stat(mode_path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
    mid_again = seen_mode == -1; /* not written yet: pollster starts slowly under valgrind */
}

/*
 * In the foreground too, pollster sets its umask (a caller's umask 0 does not make the pidfile
 * world-writable), and a symlink at the pidfile path is refused rather than followed.
 */
START_TEST(test_pidfile_umask_and_symlink)
{
    struct cmd c;
    char dir[] = "/tmp/pollster-pidfile-XXXXXX", victim[160];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(mode_path, sizeof(mode_path), "%s/pollster.pid", dir);
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    mode_t old = umask(0);
    seen_mode = 0;
    mid_fn[0] = stat_pidfile;
    mid_at[0] = 0.8;
    run(&c, 20, 2.0,
        (const char *const[]){"--pidfile", mode_path, "--target", url("/ok"), "--interval", "200ms",
                              "--timeout", "200ms", "--status-listen", "127.0.0.1:0",
                              "--output-file", "/dev/null", NULL});
    mid_fn[0] = NULL;
    umask(old);
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    ck_assert_msg(seen_mode == 0640, "pidfile mode %o", (unsigned)seen_mode);

    ck_assert_int_eq(symlink(victim, mode_path), 0);
    run(&c, 20, 2.0,
        (const char *const[]){"--pidfile", mode_path, "--target", url("/ok"), "--status-listen",
                              "127.0.0.1:0", "--output-file", "/dev/null", NULL});
    ck_assert_int_eq(c.status, 2);
    ck_assert_msg(strstr(c.err, "is a symbolic link (not followed)") != NULL, "%s", c.err);
    ck_assert_int_ne(access(victim, F_OK), 0);
    unlink(mode_path);
    rmdir(dir);
}
END_TEST

START_TEST(test_daemonize_failure_reported)
{
    struct cmd c;

    if (slowdown() > 1) {
        return;
    }
    /* The status port is taken: the detached daemon fails, and the command says so. */
    run(&c, 10, 0,
        (const char *const[]){"--daemonize", "--target", url("/ok"), "--status-listen",
                              "256.0.0.1:1", NULL});
    ck_assert_int_eq(c.status, 1);
    /* The detached daemon that failed was adopted here and has exited: reap it. */
    for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) == 0; i++) {
        usleep(20000);
    }
}
END_TEST

START_TEST(test_systemd_notify)
{
    struct cmd c;
    char dir[] = "/tmp/pollster-notify-XXXXXX";
    char sock[96], msgs[1024] = "";
    size_t off = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", sock, 1);
    run(&c, 20, 1.0,
        (const char *const[]){"--target", url("/ok"), "--interval", "300ms", "--timeout", "300ms",
                              "--status-listen", "127.0.0.1:0", NULL});
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(c.status, 0);
    for (;;) {
        ssize_t n = recv(fd, msgs + off, sizeof(msgs) - 1 - off, MSG_DONTWAIT);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
        msgs[off++] = '|';
    }
    msgs[off] = '\0';
    ck_assert_str_eq(msgs, "READY=1\nSTATUS=collecting|STOPPING=1|");
    close(fd);
    unlink(sock);
    rmdir(dir);
}
END_TEST

static char rot_path[160];

static void
rotate(pid_t pid)
{
    char to[200];

    snprintf(to, sizeof(to), "%s.1", rot_path);
    ck_assert_int_eq(rename(rot_path, to), 0);
    kill(pid, SIGHUP);
}

START_TEST(test_logrotate_no_line_lost_or_duplicated)
{
    struct cmd c;
    char dir[] = "/tmp/pollster-rot-XXXXXX";
    char rotated[200];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(rot_path, sizeof(rot_path), "%s/out.jsonl", dir);
    snprintf(rotated, sizeof(rotated), "%s.1", rot_path);
    memset(mid_fn, 0, sizeof(mid_fn));
    mid_fn[0] = rotate;
    mid_at[0] = 1.0;
    run(&c, 30, 2.0,
        (const char *const[]){"--target", url("/ok"), "--interval", "100ms", "--timeout", "100ms",
                              "--output-file", rot_path, "--status-listen", "127.0.0.1:0", NULL});
    mid_fn[0] = NULL;
    ck_assert_msg(c.status == 0, "exit %d: %s", c.status, c.err);
    char *before = read_all(rotated), *after = read_all(rot_path);
    json_object *a = testutil_parse_lines(before), *b = testutil_parse_lines(after);
    size_t na = json_object_array_length(a), nb = json_object_array_length(b);
    ck_assert_msg(na >= 3 && nb >= 3, "%zu lines before rotation, %zu after", na, nb);
    /* One target every 100 ms: consecutive runs across both files are one interval apart. */
    int64_t prev = 0;
    for (size_t i = 0; i < na + nb; i++) {
        json_object *l =
            i < na ? json_object_array_get_idx(a, i) : json_object_array_get_idx(b, i - na);
        int64_t ts = json_object_get_int64(testutil_field(l, "ts_ms"));
        if (prev != 0) {
            ck_assert_msg(ts > prev, "line %zu duplicated or out of order", i);
            ck_assert_msg(ts - prev < 160 * slowdown(),
                          "a run is missing before line %zu (%lld ms gap)", i,
                          (long long)(ts - prev));
        }
        prev = ts;
    }
    json_object_put(a);
    json_object_put(b);
    free(before);
    free(after);
    unlink(rotated);
    unlink(rot_path);
    rmdir(dir);
}
END_TEST

/* Reads @fd to its end into @buf (at most @cap - 1 bytes kept, NUL-terminated; @total counts all);
 * false when @deadline passed first. */
static bool
read_to_end(int fd, char *buf, size_t cap, size_t *total, double deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char chunk[65536];
    size_t kept = 0;

    *total = 0;
    while (now_s() < deadline) {
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0) {
            buf[kept] = '\0';
            return true;
        }
        size_t room = cap - 1 - kept;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(buf + kept, chunk, take);
        kept += take;
        *total += (size_t)n;
    }
    buf[kept] = '\0';
    return false;
}

/*
 * --once with stdout a pipe whose reader starts late: the record (about 1 MB of JSON) waits in
 * the stdout output's queue; once the reader has taken it, pollster exits, not at the drain
 * deadline (before, an output that finished sending on EV_WRITE did not end the drain: it waited
 * out --shutdown-timeout and warned "output flush timeout reached").
 */
START_TEST(test_once_ends_when_a_late_reader_took_the_record)
{
    static char out_buf[4096], err_buf[16384];
    size_t out_total = 0, err_total = 0;
    int out_fd, err_fd, status = -1;
    const char *args[] = {
        "--once", "--kind", "prometheus", "--shutdown-timeout", "60s", url("/series/20000"), NULL};

    pid_t pid = cli_spawn(args, &out_fd, &err_fd);
    usleep((useconds_t)(500000 * slowdown())); /* the pipe fills; the rest waits in the queue */
    bool ended =
        read_to_end(out_fd, out_buf, sizeof(out_buf), &out_total, now_s() + 20 * slowdown());
    if (!ended) {
        kill(pid, SIGKILL);
    }
    read_to_end(err_fd, err_buf, sizeof(err_buf), &err_total, now_s() + 5 * slowdown());
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(out_fd);
    close(err_fd);
    ck_assert_msg(ended, "still writing after 20 s: %s", err_buf);
    ck_assert_msg(out_total > 65536, "only %zu bytes: the pipe never filled", out_total);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, err_buf);
    ck_assert_msg(strstr(err_buf, "flush timeout") == NULL, "waited for the deadline: %s", err_buf);
}
END_TEST

static Suite *
cli_daemon_suite(void)
{
    Suite *s = suite_create("cli_daemon");
    TCase *tc = tcase_create("daemon");

    tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
    tcase_add_test(tc, test_daemon_runs_and_drains_on_sigterm);
    tcase_add_test(tc, test_daemonize_pidfile);
    tcase_add_test(tc, test_daemonize_failure_reported);
    tcase_add_test(tc, test_pidfile_umask_and_symlink);
    tcase_add_test(tc, test_systemd_notify);
    tcase_add_test(tc, test_logrotate_no_line_lost_or_duplicated);
    tcase_add_test(tc, test_once_ends_when_a_late_reader_took_the_record);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(cli_daemon_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
