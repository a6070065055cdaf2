/*
 * Classic-init daemon support and the systemd notification protocol.
 *
 * daemon_detach() does the double fork, setsid, chdir("/"), stdio to /dev/null, and holds a
 * locked pidfile for the daemon's lifetime; the process that ran the command waits until the
 * daemon says it started (or failed) and exits with that status, so an init script sees a bad
 * config or a busy port as a failed start, not as a daemon that died silently.
 *
 * notify_*() speak sd_notify(3)'s datagram protocol directly (it is a stable, documented
 * interface; no libsystemd needed): READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1, STATUS=.
 */
#ifndef POLLSTER_DAEMON_H
#define POLLSTER_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Locks @pidfile (NULL: none) and detaches. Returns 0 in the daemon. The calling process never
 * returns: it exits with the status the daemon reports through daemon_started(). On failure
 * before detaching (pidfile locked by a running pollster, unwritable), returns a negative errno
 * with the cause in @err, in the original process.
 */
int daemon_detach(const char *pidfile, char *err, size_t errlen);

/*
 * Without detaching (foreground under systemd or a supervisor): locks @pidfile and writes the
 * pid. 0, or a negative errno with the cause in @err (e.g. another pollster holds it).
 */
int daemon_pidfile(const char *pidfile, char *err, size_t errlen);

/* In the daemon: tells the waiting parent that start-up finished (@ok) and releases it. */
void daemon_started(bool ok);

/* Removes the pidfile (at exit). No-op when there is none. */
void daemon_cleanup(void);

/* True when NOTIFY_SOCKET is set. */
bool notify_enabled(void);

/* Sends @state ("READY=1", ...) to $NOTIFY_SOCKET. 0, -ENOENT when unset, or -errno. */
int notify_send(const char *state);

/* The watchdog interval requested by systemd (WATCHDOG_USEC for this pid), in ms; 0 = none. */
int64_t notify_watchdog_ms(void);

#endif
