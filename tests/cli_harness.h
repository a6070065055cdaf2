/*
 * The harness of the end-to-end tests of the pollster binary ($POLLSTER_BIN), shared by
 * check_cli.c and check_cli_daemon.c: run() with a deadline, an optional SIGTERM and actions
 * while it runs; the mock target server on loopback as a checked fixture; small readers of what
 * the binary left behind. The short names are the ones the tests were written with.
 */
#ifndef POLLSTER_TESTS_CLI_HARNESS_H
#define POLLSTER_TESTS_CLI_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

/* What one run of the binary did. */
struct cmd {
    int status; /* exit code, or 128 + signal */
    char out[1 << 18];
    size_t outlen;
    char err[1 << 14];
    size_t errlen;
    double elapsed;
};

/* Seconds on the monotonic clock. */
double now_s(void);

/*
 * Runs pollster with @args (NULL-terminated, without argv[0]). When @term_after > 0, sends
 * SIGTERM after that many seconds. Kills it after @limit seconds (a hang fails the test). Under
 * VALGRIND=valgrind the binary runs under valgrind too, with 4 times the deadlines.
 */
void run(struct cmd *c, double limit, double term_after, const char *const *args);

/*
 * Starts pollster with @args (as run(), under valgrind too with VALGRIND=valgrind) with its
 * stdout and stderr on pipes, whose read ends it stores in *@out_fd and *@err_fd (the caller
 * closes them and reaps the pid it returns).
 */
pid_t cli_spawn(const char *const *args, int *out_fd, int *err_fd);

/*
 * Optional actions while pollster runs: at mid_at[i] seconds (times slowdown()), mid_fn[i](pid);
 * an action that sets mid_again (what it looks for is not there yet) runs again at the next poll.
 * A test that sets one clears it after its run().
 */
typedef void mid_action_fn(pid_t pid);
extern mid_action_fn *mid_fn[4];
extern double mid_at[4];
extern bool mid_again;

/* Time allowance factor: 4 under valgrind. */
double slowdown(void);

/* The mock target server's port (mock_server.h), while the fixture runs. */
extern unsigned mock_port;

/*
 * The checked fixture: the test process becomes a child subreaper, so it adopts every orphan it
 * causes (a --daemonize run's detached daemon is reparented here rather than to the machine's
 * init, and is reaped here with its exit status checked: nothing a test starts outlives it
 * unseen), and a mock server is spawned. The teardown stops it and reaps adopted orphans that
 * have exited.
 */
void cli_setup(void);
void cli_teardown(void);

/* Waits up to @secs for the adopted process @pid to exit; returns its exit code or 128+signal. */
int wait_adopted(pid_t pid, double secs);

/* "http://127.0.0.1:<mock_port>@path", in one of 8 rotating static buffers. */
const char *url(const char *path);

/* The boolean member @key of @o (asserted present). */
bool bool_field(json_object *o, const char *key);

/* The first MiB of the file at @path (empty when it cannot be read), NUL-terminated; free() it. */
char *read_all(const char *path);

#endif
