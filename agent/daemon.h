/*
 * Classic-init daemon support and the systemd notification protocol.
 *
 * daemon_detach() does the double fork, setsid, chdir("/"), stdio to /dev/null, and holds a
 * locked pidfile for the daemon's lifetime; the process that ran the command waits until the
 * daemon says it started (or failed) and ends with that status (main() ends it), so an init
 * script sees a bad config or a busy port as a failed start, not as a daemon that died silently.
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
 * Locks @pidfile (NULL: none) and detaches (double fork, setsid). Returns 0 in every process it
 * leaves behind, and says in *@parent_exit which one the caller is:
 *
 *   - -1: the daemon. It carries on and later reports its start-up with daemon_started().
 *   - 0..255: a process of the double fork that must end now with that status: the original
 *     process (the daemon's start-up verdict, 1 when it died without one) or the intermediate
 *     session leader (0, or 1 when setsid/fork failed there). It holds no pidfile any more.
 *
 * The one exception to "return from main" (STYLE.md 5), decided here, in one place: the caller
 * hands that status up unchanged to main(), which ends such a process with _exit(), not exit()
 * or a return. The process is a fork of the daemon: exit() would run atexit handlers and flush
 * stdio buffers duplicated in the daemon (empty today, as this function flushes before it forks,
 * but nothing should depend on no one writing in between), and libraries' exit handlers act on
 * state the daemon shares. Between here and main() such a process only frees its own memory
 * and returns: nothing may touch what the daemon inherited (pidfile, descriptors).
 *
 * On failure before forking (pidfile locked by a running pollster, unwritable; pipe or fork
 * failed) returns a negative errno with the cause in @err, in the original process.
 */
int daemon_detach(const char *pidfile, int *parent_exit, char *err, size_t errlen);

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
