/*
 * Test helpers for tests that run real programs (victoria-metrics, prometheus, pollster itself):
 * finding the binary, a free loopback port, starting a process with its output in a log,
 * waiting for it with a deadline, a monotonic clock and removing a temporary directory.
 */
#ifndef POLLSTER_TESTPROC_H
#define POLLSTER_TESTPROC_H

#include <sys/types.h>

/* $@env if set and non-empty, else @def; NULL when that is not executable. */
const char *testproc_binary(const char *env, const char *def);
/* A loopback TCP port nobody listens on now (the test aborts if none can be had). */
unsigned testproc_free_port(void);
/* Forks and execs @argv (argv[0] a path) with stdout and stderr appended to @log. */
pid_t testproc_spawn(char *const *argv, const char *log);
/*
 * Waits up to @secs for @pid: its exit code, 128 + signal, or -1 when it was still running
 * (it is then killed with SIGKILL and reaped).
 */
int testproc_wait_exit(pid_t pid, double secs);
/* Seconds on the monotonic clock. */
double testproc_now_s(void);
/* Removes @dir and everything below it (errors ignored). */
void testproc_rm_rf(const char *dir);

#endif
