/*
 * `pollster --once` for people ($POLLSTER_BIN): on a terminal (a pseudo-terminal here) it prints
 * a table and a one-line summary; piped it prints JSON lines; --format table and --format json
 * force either; the exit code is the same both ways; --format table outside --once is refused.
 */
#include "build-config.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mock_server.h"

#define RUN_LIMIT_S 30

struct result {
    int status;
    char out[65536];
};

static pid_t mock_pid = -1;
static unsigned mock_port;

/* Reads @fd until EOF (or EIO: a pty whose other side closed) into @r->out. */
static void
drain(int fd, struct result *r)
{
    size_t len = 0;
    time_t end = time(NULL) + RUN_LIMIT_S;

    while (time(NULL) < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        ssize_t n = read(fd, r->out + len, sizeof(r->out) - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    r->out[len] = '\0';
}

/* Runs pollster with @args; stdout on a pseudo-terminal when @tty, else on a pipe. */
static void
run(struct result *r, bool tty, const char *const *args)
{
    const char *argv[16] = {getenv("POLLSTER_BIN")};
    size_t n = 1;
    int master = -1, pipefd[2] = {-1, -1};
    const char *slave = NULL;

    ck_assert_ptr_nonnull(argv[0]);
    for (; args[n - 1] != NULL && n < 15; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    if (tty) {
        master = posix_openpt(O_RDWR | O_NOCTTY);
        ck_assert_int_ge(master, 0);
        ck_assert_int_eq(grantpt(master), 0);
        ck_assert_int_eq(unlockpt(master), 0);
        slave = ptsname(master);
        ck_assert_ptr_nonnull(slave);
    }
    else {
        ck_assert_int_eq(pipe(pipefd), 0);
    }
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = tty ? open(slave, O_RDWR | O_NOCTTY) : pipefd[1];
        int devnull = open("/dev/null", O_WRONLY);
        if (fd < 0 || devnull < 0) {
            _exit(126);
        }
        if (tty) {
            struct termios t;
            tcgetattr(fd, &t);
            t.c_oflag &= ~(tcflag_t)OPOST; /* no "\r\n" for "\n": the bytes as written */
            tcsetattr(fd, TCSANOW, &t);
        }
        dup2(fd, 1);
        dup2(devnull, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pipefd[1] >= 0) {
        close(pipefd[1]);
    }
    int rd = tty ? master : pipefd[0];
    drain(rd, r);
    close(rd);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
setup(void)
{
    mock_pid = mock_server_spawn(&mock_port, 60);
    ck_assert_int_gt(mock_pid, 0);
}

static void
teardown(void)
{
    mock_server_stop(mock_pid);
}

START_TEST(test_table_on_terminal_json_on_pipe)
{
    char ok[128], down[128];
    static struct result res; /* 64 KiB: not on the stack */
    struct result *r = &res;

    snprintf(ok, sizeof(ok), "http://127.0.0.1:%u/ok", mock_port);
    snprintf(down, sizeof(down), "http://127.0.0.1:%u/", mock_closed_port());
    const char *args[] = {"--once", "--target", ok, "--target", down, NULL};

    run(r, true, args);
    ck_assert_int_eq(r->status, 1);
    ck_assert_msg(strstr(r->out, "TARGET") == r->out, "%s", r->out);
    ck_assert_msg(strstr(r->out, "KIND") && strstr(r->out, "STATE") &&
                      strstr(r->out, "REASON/ERROR") && strstr(r->out, "DURATION") &&
                      strstr(r->out, "SAMPLES"),
                  "%s", r->out);
    ck_assert_msg(strstr(r->out, "  probe  up   ") != NULL, "%s", r->out);
    ck_assert_msg(strstr(r->out, "  probe  down   connect: connection refused") != NULL, "%s",
                  r->out);
    ck_assert_msg(strstr(r->out, "\n2 targets: 1 up, 1 down (connect)") != NULL, "%s", r->out);
    ck_assert_ptr_null(strstr(r->out, "{\"ts_ms\""));

    run(r, false, args);
    ck_assert_int_eq(r->status, 1);
    ck_assert_msg(strncmp(r->out, "{\"ts_ms\":", 9) == 0, "%s", r->out);
    ck_assert_ptr_null(strstr(r->out, "TARGET"));

    const char *json[] = {"--once", "--format", "json", "--target", ok, NULL};
    run(r, true, json);
    ck_assert_int_eq(r->status, 0);
    ck_assert_msg(strncmp(r->out, "{\"ts_ms\":", 9) == 0, "%s", r->out);

    const char *table[] = {"--once", "--format", "table", "--target", ok, NULL};
    run(r, false, table);
    ck_assert_int_eq(r->status, 0);
    ck_assert_msg(strstr(r->out, "TARGET") == r->out, "%s", r->out);
    ck_assert_msg(strstr(r->out, "\n1 target: 1 up, 0 down\n") != NULL, "%s", r->out);

    const char *daemon[] = {"--format", "table", "--target", ok, NULL};
    run(r, false, daemon);
    ck_assert_int_eq(r->status, 2);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("once_table");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_table_on_terminal_json_on_pipe);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
