/*
 * `pollster --once` exit codes for data an output dropped, with the real binary: a probe job
 * whose results go to an http output. The sink (tests/mock_sink.c, served by a forked child on
 * its own loop) answers the first request 400 and later ones 200: the first run must exit 3
 * (RUN_EXIT_DROPPED, pollster(8)) and say so on stderr; the second, delivered, exits 0; a run
 * with a failed probe and a delivered output exits 1. And --kind tcp with HOST:PORT targets.
 */
#include "build-config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "mock_server.h"
#include "mock_sink.h"
#include "run.h"
#include "testproc.h"

static char dir[64];

/* A child serving a sink that rejects its first request (400) for at most 60 s. */
static pid_t
sink_spawn(unsigned *port)
{
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct event_base *base = event_base_new();
        struct mock_sink *m = mock_sink_new(base);
        struct timeval limit = {60, 0};
        unsigned got;
        if (base == NULL || m == NULL) {
            _exit(1);
        }
        mock_sink_script(m, (struct mock_sink_answer){.status = 400, .body = "bad data"});
        got = mock_sink_port(m);
        if (write(p[1], &got, sizeof(got)) != (ssize_t)sizeof(got)) {
            _exit(1);
        }
        event_base_loopexit(base, &limit);
        event_base_dispatch(base);
        mock_sink_free(m);
        event_base_free(base);
        _exit(0);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], port, sizeof(*port)), (ssize_t)sizeof(*port));
    close(p[0]);
    return pid;
}

/* Runs pollster --once -c @cfg; its exit code, its stderr in @log. */
static int
once(const char *cfg, const char *log)
{
    char *argv[] = {getenv("POLLSTER_BIN"), "--once", "-c", (char *)cfg, NULL};

    ck_assert_ptr_nonnull(argv[0]);
    unlink(log);
    return testproc_wait_exit(testproc_spawn(argv, log), 30);
}

static bool
file_has(const char *path, const char *needle)
{
    char buf[16384];
    FILE *f = fopen(path, "r");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, needle) != NULL;
}

START_TEST(test_once_exit_dropped)
{
    char cfg[128], log[128], text[1024];
    unsigned mock_port, sink_port;

    snprintf(dir, sizeof(dir), "/tmp/pollster-once-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    pid_t mock = mock_server_spawn(&mock_port, 60);
    ck_assert_int_gt(mock, 0);
    pid_t sink = sink_spawn(&sink_port);
    snprintf(cfg, sizeof(cfg), "%s/p.yaml", dir);
    snprintf(log, sizeof(log), "%s/stderr", dir);
    snprintf(text, sizeof(text),
             "probes:\n  - {name: web, urls: ['http://127.0.0.1:%u/ok']}\n"
             "outputs:\n  - {type: http, url: 'http://127.0.0.1:%u/write', format: vm}\n",
             mock_port, sink_port);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);

    ck_assert_int_eq(once(cfg, log), RUN_EXIT_DROPPED);
    ck_assert_msg(file_has(log, "exiting with 3"), "no word of the drop on stderr");
    ck_assert_int_eq(once(cfg, log), RUN_EXIT_OK); /* the sink takes it now */

    /* A failed probe, delivered: 1. */
    snprintf(text, sizeof(text),
             "probes:\n  - {name: web, urls: ['http://127.0.0.1:%u/status/500']}\n"
             "outputs:\n  - {type: http, url: 'http://127.0.0.1:%u/write', format: vm}\n",
             mock_port, sink_port);
    f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(once(cfg, log), RUN_EXIT_FAILED);

    /* SIGKILL: the child still has Check's SIGTERM handler, which ends the whole group. */
    kill(sink, SIGKILL);
    ck_assert_int_eq(testproc_wait_exit(sink, 10), 128 + SIGKILL);
    mock_server_stop(mock);
    testproc_rmtree(dir);
}
END_TEST

/* --kind tcp takes HOST:PORT targets: one that listens is up (0), a bad one is a usage error. */
START_TEST(test_once_kind_tcp)
{
    char target[64], log[] = "/tmp/pollster-once-tcp-XXXXXX";
    unsigned mock_port;
    int fd = mkstemp(log);

    ck_assert_int_ge(fd, 0);
    close(fd);
    pid_t mock = mock_server_spawn(&mock_port, 60);
    ck_assert_int_gt(mock, 0);
    snprintf(target, sizeof(target), "127.0.0.1:%u", mock_port);
    char *ok[] = {getenv("POLLSTER_BIN"), "--once", "--kind", "tcp", "--target", target, NULL};
    ck_assert_int_eq(testproc_wait_exit(testproc_spawn(ok, log), 30), RUN_EXIT_OK);
    ck_assert(file_has(log, "\"probe_success\",\"labels\":{},\"value\":1"));
    char *bad[] = {
        getenv("POLLSTER_BIN"), "--once", "--kind", "tcp", "--target", "127.0.0.1", NULL};
    unlink(log);
    ck_assert_int_eq(testproc_wait_exit(testproc_spawn(bad, log), 30), RUN_EXIT_USAGE);
    ck_assert(file_has(log, "pollster: --target: \"127.0.0.1\": not host:port"));
    mock_server_stop(mock);
    unlink(log);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("probe_once");
    TCase *tc = tcase_create("exit");

    signal(SIGPIPE, SIG_IGN);
    tcase_add_test(tc, test_once_exit_dropped);
    tcase_add_test(tc, test_once_kind_tcp);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
