/* Child processes for integration tests (see testproc.h). */
#include "build-config.h"

#include "testproc.h"

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

double
testproc_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t
testproc_spawn(char *const *argv, const char *log)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv); /* a bare name too: VALGRIND=valgrind */
        _exit(127);
    }
    return pid;
}

pid_t
testproc_pollster(const char *dir, const char *cfg)
{
    char log[256];

    snprintf(log, sizeof(log), "%s/pollster.log", dir);
    char *argv[] = {getenv("POLLSTER_BIN"), "-c", (char *)cfg, NULL};
    ck_assert_ptr_nonnull(argv[0]);
    return testproc_spawn(argv, log);
}

int
testproc_wait_exit(pid_t pid, double secs)
{
    double start = testproc_now_s();
    int st;

    while (testproc_now_s() - start < secs) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

long
testproc_get(unsigned port, const char *path, char **body)
{
    char url[4096];
    long code;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    char *b = testutil_http(url, NULL, 10000, &code);
    if (body != NULL) {
        *body = b;
    }
    else {
        free(b);
    }
    return code;
}

int
testproc_wait_ready(unsigned port, const char *path, double secs)
{
    double start = testproc_now_s();

    while (testproc_now_s() - start < secs) {
        if (testproc_get(port, path, NULL) == 200) {
            return 0;
        }
        usleep(50000);
    }
    return -1;
}

/* One bind to port 0: the port the kernel picked. */
static unsigned
pick_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

unsigned
testproc_free_port(void)
{
    /*
     * The kernel may hand the same port out again once it is closed: a test that picks several
     * before starting its servers (a 3-node cluster takes 9) must not get one twice.
     */
    static unsigned given[512]; /* a ring of the ports handed out */
    static size_t ngiven, next;
    unsigned port = 0;

    for (int tries = 0; tries < 100; tries++) {
        bool dup = false;
        port = pick_port();
        for (size_t i = 0; i < ngiven && !dup; i++) {
            dup = given[i] == port;
        }
        if (!dup) {
            break;
        }
    }
    given[next] = port;
    next = (next + 1) % (sizeof(given) / sizeof(given[0]));
    if (ngiven < sizeof(given) / sizeof(given[0])) {
        ngiven++;
    }
    return port;
}

const char *
testproc_binary(const char *env, const char *def)
{
    const char *b = getenv(env);

    if (b == NULL || *b == '\0') {
        b = def;
    }
    return access(b, X_OK) == 0 ? b : NULL;
}

const char *
testproc_vm_binary(void)
{
    return testproc_binary("VICTORIA_METRICS", "/usr/bin/victoria-metrics");
}

pid_t
testproc_vm_start(const char *dir, unsigned port)
{
    char data[128], listen[64], log[128];

    snprintf(data, sizeof(data), "-storageDataPath=%s/vmdata", dir);
    snprintf(listen, sizeof(listen), "-httpListenAddr=127.0.0.1:%u", port);
    snprintf(log, sizeof(log), "%s/vm.log", dir);
    char *argv[] = {(char *)testproc_vm_binary(), data, listen, "-search.latencyOffset=0s",
                    "-loggerLevel=ERROR",         NULL};
    pid_t pid = testproc_spawn(argv, log);
    ck_assert_msg(testproc_wait_ready(port, "/health", 20) == 0,
                  "victoria-metrics did not become healthy on port %u (see %s)", port, log);
    return pid;
}

void
testproc_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    ck_assert_int_eq(testproc_wait_exit(pid, 30), 0);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
testproc_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bool
testproc_port_open(unsigned port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

double
testproc_metric(unsigned port, const char *series)
{
    char *body = NULL;
    char prefix[512];
    double v = NAN;

    if (testproc_get(port, "/metrics", &body) == 200) {
        snprintf(prefix, sizeof(prefix), "\n%s ", series);
        const char *p = strstr(body, prefix);
        if (p != NULL) {
            v = strtod(p + strlen(prefix), NULL);
        }
    }
    free(body);
    return v;
}

double
testproc_output_metric(unsigned port, const char *name, const char *type)
{
    char series[256];

    snprintf(series, sizeof(series), "%s{output=\"%s[0]\",type=\"%s\"}", name, type, type);
    return testproc_metric(port, series);
}
