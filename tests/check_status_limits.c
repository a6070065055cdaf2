/*
 * The status server under hostile clients (issue 13 item 5). Descriptor exhaustion: with
 * RLIMIT_NOFILE lowered in a child and more connections than it can take, accept() fails with
 * EMFILE; the server must pause accepting (not spin on a readable listening socket), log a bounded
 * number of lines, and serve again once descriptors are free. Slowloris: a request trickling in
 * ends at its deadline. The connection cap: connections over it are closed as they come. The
 * lifecycle API: off unless status.enable_lifecycle.
 */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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
#include "testproc.h"
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

/*
 * In a child: @nofile descriptors, log lines counted, a status server on *@base whose port goes
 * to @out. Exits on any failure.
 */
static struct status *
limited_server(rlim_t nofile, int out, struct event_base **base)
{
    struct rlimit rl;
    char err[256];

    alarm(20);
    /* The soft limit only: valgrind refuses to change the hard one. */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        _exit(2);
    }
    rl.rlim_cur = nofile;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        _exit(2);
    }
    log_set_sink(count_cb, NULL);
    *base = event_base_new();
    struct status *st = status_new(*base, "127.0.0.1:0", &hooks, NULL, err, sizeof(err));
    if (st == NULL) {
        _exit(3);
    }
    unsigned port = status_port(st);
    if (write(out, &port, sizeof(port)) != sizeof(port)) {
        _exit(4);
    }
    return st;
}

/* The child: a status server with 48 descriptors, for 9 s; then its log lines and CPU time. */
static void
child(int out)
{
    struct event_base *base;
    struct status *st = limited_server(48, out, &base);
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

/* The child: a status server with @lim for @secs seconds; its port on @out first. */
static void
serve_child(int out, const struct status_limits *lim, int secs)
{
    char err[256];

    alarm((unsigned)secs + 10);
    struct event_base *base = event_base_new();
    struct status *st = status_new(base, "127.0.0.1:0", &hooks, NULL, err, sizeof(err));
    if (st == NULL) {
        _exit(3);
    }
    status_set_limits(st, lim);
    unsigned port = status_port(st);
    if (write(out, &port, sizeof(port)) != sizeof(port)) {
        _exit(4);
    }
    struct timeval tv = {.tv_sec = secs, .tv_usec = 0};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    status_free(st);
    event_base_free(base);
    _exit(0);
}

static int sockets_ok = -1;

static int connect_to(unsigned port);
static bool closed_by_server(int fd, int ms);

/* In the reserve child: can the process still open sockets (as its scrapes would)? */
static void
try_sockets_cb(evutil_socket_t fd, short what, void *arg)
{
    int s[8];

    (void)fd;
    (void)what;
    (void)arg;
    sockets_ok = 0;
    for (int i = 0; i < 8; i++) {
        s[i] = socket(AF_INET, SOCK_STREAM, 0);
        sockets_ok += s[i] >= 0;
    }
    for (int i = 0; i < 8; i++) {
        if (s[i] >= 0) {
            close(s[i]);
        }
    }
}

/*
 * The child of the reserve test: 64 descriptors, a status server, and after 3 s an attempt at 8
 * sockets; their count on @out at the end (7 s).
 */
static void
reserve_child(int out)
{
    struct event_base *base;
    struct status *st = limited_server(64, out, &base);
    struct timeval at = {.tv_sec = 3, .tv_usec = 0}, end = {.tv_sec = 7, .tv_usec = 0};
    struct event *probe = evtimer_new(base, try_sockets_cb, NULL);
    evtimer_add(probe, &at);
    event_base_loopexit(base, &end);
    event_base_dispatch(base);
    long res[2] = {sockets_ok, lines};
    if (write(out, res, sizeof(res)) != sizeof(res)) {
        _exit(5);
    }
    event_free(probe);
    status_free(st);
    event_base_free(base);
    _exit(0);
}

/*
 * Descriptors are shared with the scrapes: with 64 and 56 idle status connections, the server
 * keeps a quarter of them free (it closes the connections that got one), so the process can still
 * open sockets; without the reserve the connections took all but a few.
 */
START_TEST(test_fd_reserve_for_scrapes)
{
    int pfd[2], socks[56], closed = 0;
    unsigned port = 0;
    long res[2] = {-1, -1};

    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        reserve_child(pfd[1]);
    }
    close(pfd[1]);
    ck_assert_int_eq(read(pfd[0], &port, sizeof(port)), sizeof(port));
    for (int i = 0; i < 56; i++) {
        socks[i] = connect_to(port);
    }
    for (int i = 0; i < 56; i++) {
        closed += closed_by_server(socks[i], 100);
    }
    ck_assert_int_eq(read(pfd[0], res, sizeof(res)), sizeof(res));
    for (int i = 0; i < 56; i++) {
        close(socks[i]);
    }
    close(pfd[0]);
    int wst;
    ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
    ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    ck_assert_msg(res[0] == 8, "the server left %ld of 8 sockets to open", res[0]);
    ck_assert_int_gt(closed, 0);
    ck_assert_msg(res[1] >= 1 && res[1] <= 10, "%ld log lines", res[1]);
}
END_TEST

/* Forks serve_child(@lim, @secs): its pid; its port in *@port. */
static pid_t
start_server(const struct status_limits *lim, int secs, unsigned *port)
{
    int pfd[2];

    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        serve_child(pfd[1], lim, secs);
    }
    close(pfd[1]);
    ck_assert_int_eq(read(pfd[0], port, sizeof(*port)), sizeof(*port));
    close(pfd[0]);
    return pid;
}

static int
connect_to(unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* The server closed @fd (EOF or reset seen within @ms); false while it is open and silent. */
static bool
closed_by_server(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[256];

    if (poll(&p, 1, ms) <= 0) {
        return false;
    }
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return n <= 0;
}

static void
stop_server(pid_t pid)
{
    int wst;

    kill(pid, SIGKILL); /* the child has Check's SIGTERM handler, which kills the group */
    ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
}

/*
 * Slowloris: a header line every 200 ms never lets a read time out, so only the request deadline
 * (1 s here) ends the connection. Without one it stayed open as long as the client went on.
 */
START_TEST(test_slowloris_request_deadline)
{
    struct status_limits lim = {
        .lifecycle = false, .max_connections = 16, .request_timeout_ms = 1000};
    unsigned port;
    pid_t pid = start_server(&lim, 30, &port);
    int fd = connect_to(port);
    bool closed = false;
    int sent = 0;

    ck_assert_int_eq(send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL), 23);
    /* Up to 100 lines (20 s): the deadline, not the end of the loop, must end it. */
    for (; sent < 100 && !closed; sent++) {
        if (send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) != 11) {
            closed = true;
            break;
        }
        closed = closed_by_server(fd, 200);
    }
    close(fd);
    ck_assert_msg(closed, "the connection was still open after %d header lines", sent);
    /* Other clients are served meanwhile and after. */
    char url[64];
    long code = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    free(testutil_http(url, NULL, 5000, &code));
    curl_global_cleanup();
    ck_assert_int_eq(code, 200);
    stop_server(pid);
}
END_TEST

/*
 * The cap: with 4 connections open and silent, the next ones are closed as they come, the first
 * 4 stay; once those go, a request is served again.
 */
START_TEST(test_connection_cap)
{
    struct status_limits lim = {
        .lifecycle = false, .max_connections = 4, .request_timeout_ms = 60000};
    unsigned port;
    pid_t pid = start_server(&lim, 30, &port);
    int fds[10], nclosed = 0;

    for (int i = 0; i < 10; i++) {
        fds[i] = connect_to(port);
        if (i == 3) {
            usleep(300 * 1000); /* the first 4 are accepted before the others arrive */
        }
    }
    for (int i = 4; i < 10; i++) {
        nclosed += closed_by_server(fds[i], 5000);
    }
    ck_assert_int_eq(nclosed, 6);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(!closed_by_server(fds[i], 0), "connection %d of the first 4 was closed", i);
        close(fds[i]);
    }
    for (int i = 4; i < 10; i++) {
        close(fds[i]);
    }
    char url[64];
    long code = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int tries = 0; tries < 50 && code != 200; tries++) {
        usleep(100 * 1000); /* the server lets go of closed connections at its next sweep */
        free(testutil_http(url, NULL, 5000, &code));
    }
    curl_global_cleanup();
    ck_assert_int_eq(code, 200);
    stop_server(pid);
}
END_TEST

static void
write_status_config(const char *path, unsigned port, const char *lifecycle)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "status: {listen: '127.0.0.1:%u', enable_lifecycle: %s}\n", port, lifecycle);
    ck_assert_int_eq(fclose(f), 0);
}

/*
 * The daemon: POST /-/reload answers 403 until status.enable_lifecycle is true; a reload (SIGHUP)
 * that turns it on applies at once.
 */
START_TEST(test_daemon_lifecycle_opt_in)
{
    char dir[] = "/tmp/pollster-lifecycle-XXXXXX", cfg[128], url[64];
    unsigned port = testproc_free_port();
    long code = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/pollster.yaml", dir);
    write_status_config(cfg, port, "false");
    pid_t pid = testproc_pollster(dir, cfg);
    ck_assert_int_eq(testproc_wait_ready(port, "/healthz", 20), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/-/reload", port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    free(testutil_http(url, "", 5000, &code));
    ck_assert_int_eq(code, 403);

    write_status_config(cfg, port, "true");
    kill(pid, SIGHUP);
    for (int tries = 0; tries < 100 && code != 200; tries++) {
        usleep(100 * 1000);
        free(testutil_http(url, "", 5000, &code));
    }
    curl_global_cleanup();
    ck_assert_int_eq(code, 200);
    testproc_stop(pid);
    testproc_rmtree(dir);
}
END_TEST

static Suite *
status_limits_suite(void)
{
    Suite *s = suite_create("status_limits");
    TCase *tc = tcase_create("limits");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fd_exhaustion_backs_off);
    tcase_add_test(tc, test_slowloris_request_deadline);
    tcase_add_test(tc, test_connection_cap);
    tcase_add_test(tc, test_fd_reserve_for_scrapes);
    tcase_add_test(tc, test_daemon_lifecycle_opt_in);
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
