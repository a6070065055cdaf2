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
#include <stdint.h>
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

/* The low end of the kernel's ephemeral port range (where bind to port 0 picks), or 32768. */
static unsigned
ephemeral_low(void)
{
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

    if (f != NULL) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2) {
            lo = 32768;
        }
        fclose(f);
    }
    return lo;
}

/* Whether @port binds on 127.0.0.1 now (0: let the kernel pick; *port gets the port). */
static bool
try_bind(unsigned *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    ck_assert_int_ge(fd, 0);
    sa.sin_port = htons((uint16_t)*port);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
         getsockname(fd, (struct sockaddr *)&sa, &len) == 0;
    close(fd);
    *port = ntohs(sa.sin_port);
    return ok;
}

/*
 * A free port below the ephemeral range: a server started on it later cannot lose it to a
 * process that binds port 0 meanwhile (tests running beside this one, or the programs it starts,
 * get their ports from the ephemeral range). Random from a per-process seed, so two test
 * programs picking at once rarely try the same; the kernel's pick when none binds.
 */
static unsigned
pick_port(void)
{
    static uint64_t seed;
    unsigned lo = 20000, hi = ephemeral_low();
    unsigned port = 0;

    if (seed == 0) {
        seed =
            ((uint64_t)getpid() << 32) ^ (uint64_t)(testproc_now_s() * 1e6) ^ 0x9e3779b97f4a7c15ull;
    }
    for (int tries = 0; hi > lo + 100 && tries < 200; tries++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        port = lo + (unsigned)(seed % (hi - lo));
        if (try_bind(&port)) {
            return port;
        }
    }
    port = 0;
    ck_assert(try_bind(&port));
    return port;
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
