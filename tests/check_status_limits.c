/*
 * The status server under descriptor exhaustion (issue 13 item 5): with RLIMIT_NOFILE lowered in
 * a child and more connections than it can take, accept() fails with EMFILE. The server must
 * pause accepting (not spin on a readable listening socket), log a bounded number of lines, and
 * serve again once descriptors are free.
 */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "status.h"
#include "strbuf.h"
#include "testutil.h"

#define NCONN 120

static long lines;

static void
count_cb(enum log_level lvl, const char *line, void *arg)
{
    lines++;
}

static void
render(struct strbuf *sb, void *arg)
{
    strbuf_puts(sb, "x 1\n");
}

static const struct status_hooks hooks = {.metrics = render};

/* The child: a status server with 48 descriptors, for 9 s; then its log lines and CPU time. */
static void
child(int out)
{
    struct rlimit rl;
    char err[256];

    alarm(20);
    /* The soft limit only: valgrind refuses to change the hard one. */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        _exit(2);
    }
    rl.rlim_cur = 48;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        _exit(2);
    }
    log_set_sink(count_cb, NULL);
    struct event_base *base = event_base_new();
    struct status *st = status_new(base, "127.0.0.1:0", &hooks, NULL, err, sizeof(err));
    if (st == NULL) {
        _exit(3);
    }
    unsigned port = status_port(st);
    if (write(out, &port, sizeof(port)) != sizeof(port)) {
        _exit(4);
    }
    struct timeval tv = {.tv_sec = 9, .tv_usec = 0};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long res[2] = {lines, ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
                              ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000};
    if (write(out, res, sizeof(res)) != sizeof(res)) {
        _exit(5);
    }
    status_free(st);
    event_base_free(base);
    _exit(0);
}

START_TEST(test_fd_exhaustion_backs_off)
{
    int pfd[2];
    unsigned port = 0;
    long res[2] = {-1, -1}, code = 0;
    int socks[NCONN];

    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        child(pfd[1]);
    }
    close(pfd[1]);
    if (read(pfd[0], &port, sizeof(port)) != sizeof(port)) {
        int early;
        waitpid(pid, &early, 0);
        ck_abort_msg("the child gave no port: exit status %d", WEXITSTATUS(early));
    }

    /* More connections than the child has descriptors: they wait in its backlog. */
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < NCONN; i++) {
        socks[i] = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(socks[i], 0);
        ck_assert_int_eq(connect(socks[i], (struct sockaddr *)&a, sizeof(a)), 0);
    }
    usleep(1500 * 1000);
    for (int i = 0; i < NCONN; i++) {
        close(socks[i]);
    }
    /*
     * Descriptors are free again: the server drains its backlog between pauses and answers (a
     * SYN that met the full backlog is retried by the client's TCP after 1 s, then 3 s).
     */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *body = testutil_http(url, NULL, 6000, &code);
    free(body);
    curl_global_cleanup();

    ck_assert_int_eq(read(pfd[0], res, sizeof(res)), sizeof(res));
    int wst;
    ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
    ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    close(pfd[0]);
    ck_assert_msg(code == 200, "GET /healthz: %ld (child: %ld log lines, %ld ms CPU)", code, res[0],
                  res[1]);
    /* A spinning accept() would burn the whole 9 s and log a line per attempt. */
    ck_assert_msg(res[1] < 1000, "the child used %ld ms of CPU in 9 s", res[1]);
    ck_assert_msg(res[0] >= 1 && res[0] <= 10, "%ld log lines", res[0]);
}
END_TEST

static Suite *
status_limits_suite(void)
{
    Suite *s = suite_create("status_limits");
    TCase *tc = tcase_create("limits");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_fd_exhaustion_backs_off);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(status_limits_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
