/*
 * Helpers for integration tests that run real programs (pollster, prometheus, victoria-metrics)
 * as children: spawning with a log file, bounded waits, a monotonic clock, free loopback ports,
 * GETs on a loopback port, and removing a temporary directory tree.
 */
#ifndef POLLSTER_TESTS_TESTPROC_H
#define POLLSTER_TESTS_TESTPROC_H

#include <stdbool.h>

#include <sys/types.h>

/* Monotonic seconds. */
double testproc_now_s(void);
/* Forks and execs @argv with stdout and stderr appended to @log (asserts the fork worked). */
pid_t testproc_spawn(char *const *argv, const char *log);
/*
 * The value of the series @series (name and labels exactly as /metrics writes them, e.g.
 * pollster_runs_total{job="self",result="ok"}) in the /metrics of the pollster whose status server
 * is on @port; NAN if unreadable or absent.
 */
double testproc_metric(unsigned port, const char *series);
/*
 * The value of self metric @name of output "TYPE[0]" (the first of type @type) in the /metrics of
 * the pollster whose status server is on @port; NAN if unreadable.
 */
double testproc_output_metric(unsigned port, const char *name, const char *type);
/* Starts $POLLSTER_BIN -c @cfg with its output appended to @dir/pollster.log. */
pid_t testproc_pollster(const char *dir, const char *cfg);
/* Waits up to @secs for @pid: its exit code, 128 + signal, or -1 (then it is killed). */
int testproc_wait_exit(pid_t pid, double secs);
/* GET http://127.0.0.1:@port@path: the status (-1 on failure); the body in *@body when not NULL
 * (free it). */
long testproc_get(unsigned port, const char *path, char **body);
/* Waits up to @secs for GET @path on @port to answer 200. */
int testproc_wait_ready(unsigned port, const char *path, double secs);
/* Something accepts TCP connections on 127.0.0.1:@port now. */
bool testproc_port_open(unsigned port);
/* A loopback TCP port nobody listens on now (the test aborts if none can be had). */
unsigned testproc_free_port(void);
/* $@env, or @def, when executable; else NULL. */
const char *testproc_binary(const char *env, const char *def);
/* Debian's victoria-metrics ($VICTORIA_METRICS or /usr/bin/victoria-metrics), or NULL. */
const char *testproc_vm_binary(void);
/*
 * Starts victoria-metrics on 127.0.0.1:@port with its data and log in @dir, fresh data
 * queryable at once (-search.latencyOffset=0s); asserts it became healthy.
 */
pid_t testproc_vm_start(const char *dir, unsigned port);
/* SIGTERM, and asserts a clean exit within 30 s. */
void testproc_stop(pid_t pid);
/* Removes the directory tree @dir. */
void testproc_rmtree(const char *dir);

#endif
