/*
 * Daemonizing and service-manager notification. Nothing here exits: the processes of the double
 * fork that must end return to their caller with the status to end with (daemon_detach() in
 * daemon.h), and main() ends them.
 */
#include "build-config.h"

#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *pidfile_path;
static int pidfile_fd = -1;
static int ready_fd = -1;

static int
pidfile_lock(const char *path, char *err, size_t errlen)
{
    char buf[32] = "";
    /* O_NOFOLLOW: a symlink planted there must not make pollster write elsewhere (as root). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open pidfile \"%s\": %s", path,
                 e == ELOOP ? "is a symbolic link (not followed)" : strerror(e));
        return -e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (e == EWOULDBLOCK) {
            snprintf(err, errlen, "pidfile \"%s\" is locked: pollster is already running (pid %s)",
                     path, buf[0] != '\0' ? buf : "?");
        }
        else {
            snprintf(err, errlen, "cannot lock pidfile \"%s\": %s", path, strerror(e));
        }
        close(fd);
        return -e;
    }
    pidfile_fd = fd;
    pidfile_path = strdup(path);
    return 0;
}

static void
pidfile_write(void)
{
    char buf[32];
    int n;

    if (pidfile_fd < 0) {
        return;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(pidfile_fd, 0) != 0 || pwrite(pidfile_fd, buf, (size_t)n, 0) != n) {
        /* Nothing to report to: stderr is /dev/null by now. The lock still guards. */
    }
}

/* Closes every inherited descriptor above stderr except @keep1 and @keep2. */
static void
close_inherited(int keep1, int keep2)
{
    DIR *d = opendir("/proc/self/fd");
    int fds[1024];
    size_t n = 0;
    struct dirent *de;

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL && n < sizeof(fds) / sizeof(fds[0])) {
        int fd = atoi(de->d_name);
        if (fd > 2 && fd != keep1 && fd != keep2 && fd != dirfd(d)) {
            fds[n++] = fd;
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        close(fds[i]);
    }
}

/*
 * In a process of the double fork that is not the daemon: forgets the pidfile without unlocking
 * or removing it (the daemon holds the lock through its own descriptor), so no cleanup on this
 * side can take it from the daemon.
 */
static void
pidfile_forget(void)
{
    if (pidfile_fd >= 0) {
        close(pidfile_fd);
        pidfile_fd = -1;
    }
    free(pidfile_path);
    pidfile_path = NULL;
}

/* Detaches; see daemon.h. */
int
daemon_detach(const char *pidfile, int *parent_exit, char *err, size_t errlen)
{
    int fds[2];
    pid_t pid;
    char status = 1;

    *parent_exit = -1;
    if (pidfile != NULL && pidfile_lock(pidfile, err, errlen) != 0) {
        return -EEXIST;
    }
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "pipe() failed: %s", strerror(errno));
        return -errno;
    }
    /* Nothing buffered may be written twice: by the parent and again by the daemon. */
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork() failed: %s", strerror(errno));
        return -errno;
    }
    if (pid > 0) {
        /* The original process: wait for the daemon's verdict on its start-up. */
        close(fds[1]);
        ssize_t n;
        do {
            n = read(fds[0], &status, 1);
        } while (n < 0 && errno == EINTR);
        close(fds[0]);
        waitpid(pid, NULL, 0);
        pidfile_forget();
        *parent_exit = n == 1 ? (unsigned char)status : 1;
        return 0;
    }
    close(fds[0]);
    if (setsid() < 0) {
        close(fds[1]); /* the original reads end-of-file: a failed start */
        pidfile_forget();
        *parent_exit = 1;
        return 0;
    }
    signal(SIGHUP, SIG_IGN);
    pid = fork();
    if (pid < 0) {
        close(fds[1]);
        pidfile_forget();
        *parent_exit = 1;
        return 0;
    }
    if (pid > 0) {
        /* The session leader goes; the daemon can never reacquire a terminal. */
        close(fds[1]);
        pidfile_forget();
        *parent_exit = 0;
        return 0;
    }
    signal(SIGHUP, SIG_DFL);
    ready_fd = fds[1];
    if (chdir("/") != 0) {
        /* "/" always exists; keep going if it does not. */
    }
    umask(027);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) {
            close(null);
        }
    }
    close_inherited(pidfile_fd, ready_fd);
    pidfile_write();
    return 0;
}

int
daemon_pidfile(const char *pidfile, char *err, size_t errlen)
{
    int rc = pidfile_lock(pidfile, err, errlen);

    if (rc == 0) {
        pidfile_write();
    }
    return rc;
}

void
daemon_started(bool ok)
{
    char status = ok ? 0 : 1;

    if (ready_fd < 0) {
        return;
    }
    if (write(ready_fd, &status, 1) != 1) {
        /* The parent is gone: nobody to tell. */
    }
    close(ready_fd);
    ready_fd = -1;
}

void
daemon_cleanup(void)
{
    if (pidfile_path != NULL) {
        unlink(pidfile_path);
        free(pidfile_path);
        pidfile_path = NULL;
    }
    if (pidfile_fd >= 0) {
        close(pidfile_fd);
        pidfile_fd = -1;
    }
}

bool
notify_enabled(void)
{
    const char *s = getenv("NOTIFY_SOCKET");

    return s != NULL && s[0] != '\0';
}

int
notify_send(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t len;
    int fd, rc = 0;

    if (path == NULL || path[0] == '\0') {
        return -ENOENT;
    }
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
        return -EINVAL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0'; /* abstract namespace */
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
        rc = -errno;
    }
    close(fd);
    return rc;
}

int64_t
notify_watchdog_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end;

    if (usec == NULL) {
        return 0;
    }
    if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid()) {
        return 0;
    }
    long long v = strtoll(usec, &end, 10);
    if (*end != '\0' || v <= 0) {
        return 0;
    }
    return v / 1000;
}
