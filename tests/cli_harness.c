/*
 * The harness of the end-to-end tests of the pollster binary (see cli_harness.h): running it
 * with a deadline and actions on the way, and the mock target server on loopback.
 */
#include "build-config.h"

#include "cli_harness.h"

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mock_server.h"

double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

mid_action_fn *mid_fn[4];
double mid_at[4];
bool mid_again;

pid_t
cli_spawn(const char *const *args, int *out_fd, int *err_fd)
{
    const char *bin = getenv("POLLSTER_BIN");
    const char *argv[64];
    int out[2], err[2];
    size_t n = 0;

    ck_assert_msg(bin != NULL, "POLLSTER_BIN not set");
    /* Under VALGRIND=valgrind make check the binary runs under valgrind too, and slower. */
    const char *vg = getenv("VALGRIND");
    if (vg != NULL && *vg != '\0') {
        argv[n++] = vg;
        argv[n++] = "--quiet";
        argv[n++] = "--error-exitcode=99";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite,indirect,possible";
    }
    argv[n++] = bin;
    for (size_t i = 0; args[i] != NULL && n < 63; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        close(out[1]);
        close(err[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    *out_fd = out[0];
    *err_fd = err[0];
    return pid;
}

void
run(struct cmd *c, double limit, double term_after, const char *const *args)
{
    bool mid_done[4] = {false, false, false, false};
    int out_fd, err_fd;
    bool termed = false;

    memset(c, 0, sizeof(*c));
    limit *= slowdown();
    term_after *= slowdown();
    double start = now_s();
    pid_t pid = cli_spawn(args, &out_fd, &err_fd);
    struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        double t = now_s() - start;
        if (t > limit) {
            kill(pid, SIGKILL);
            break;
        }
        for (int i = 0; i < 4; i++) {
            if (mid_fn[i] != NULL && !mid_done[i] && t > mid_at[i] * slowdown()) {
                mid_again = false;
                mid_fn[i](pid);
                mid_done[i] = !mid_again;
            }
        }
        if (term_after > 0 && !termed && t > term_after) {
            kill(pid, SIGTERM);
            termed = true;
        }
        if (poll(p, 2, 20) <= 0) {
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].revents == 0 || p[i].fd < 0) {
                continue;
            }
            char *buf = i == 0 ? c->out : c->err;
            size_t *len = i == 0 ? &c->outlen : &c->errlen;
            size_t cap = i == 0 ? sizeof(c->out) : sizeof(c->err);
            ssize_t r = read(p[i].fd, buf + *len, cap - 1 - *len);
            if (r <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
            else {
                *len += (size_t)r;
                buf[*len] = '\0';
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (p[i].fd >= 0) {
            close(p[i].fd);
        }
    }
    int st;
    waitpid(pid, &st, 0);
    c->elapsed = now_s() - start;
    c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    ck_assert_msg(c->elapsed < limit, "pollster did not finish within %.1f s", limit);
}

double
slowdown(void)
{
    const char *vg = getenv("VALGRIND");

    return vg != NULL && *vg != '\0' ? 4.0 : 1.0;
}

unsigned mock_port;
static pid_t mock_pid;

void
cli_setup(void)
{
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    mock_pid = mock_server_spawn(&mock_port, 60);
    ck_assert_int_gt(mock_pid, 0);
}

/* Reaps adopted orphans that have exited (the mock server is reaped by mock_server_stop). */
static void
reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

void
cli_teardown(void)
{
    mock_server_stop(mock_pid);
    reap_orphans();
}

int
wait_adopted(pid_t pid, double secs)
{
    double start = now_s();
    int st;

    while (now_s() - start < secs) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (r < 0) {
            return -1;
        }
        usleep(20000);
    }
    return -2;
}

const char *
url(const char *path)
{
    static char buf[8][128];
    static int i;

    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:%u%s", mock_port, path);
    return buf[i];
}

bool
bool_field(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no field %s", key);
    return json_object_get_boolean(v);
}

char *
read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}
