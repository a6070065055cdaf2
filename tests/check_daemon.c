/* Tests for daemon.c's notification side: the sd_notify datagram protocol and WATCHDOG_USEC. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

static int
bind_dgram(const char *path, bool abstract)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    size_t len = strlen(path);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (abstract) {
        sa.sun_path[0] = '\0';
    }
    ck_assert_int_eq(
        bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
        0);
    return fd;
}

START_TEST(test_notify_path_socket)
{
    char path[] = "/tmp/pollster-notify-XXXXXX";
    char buf[256];

    ck_assert_ptr_nonnull(mkdtemp(path));
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/notify", path);
    int fd = bind_dgram(sock, false);
    setenv("NOTIFY_SOCKET", sock, 1);
    ck_assert(notify_enabled());
    ck_assert_int_eq(notify_send("READY=1\nSTATUS=collecting"), 0);
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "READY=1\nSTATUS=collecting");
    close(fd);
    unlink(sock);
    rmdir(path);
}
END_TEST

START_TEST(test_notify_abstract_socket)
{
    char name[64], buf[64];

    snprintf(name, sizeof(name), "@pollster-test-%d", (int)getpid());
    int fd = bind_dgram(name, true);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(notify_send("STOPPING=1"), 0);
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_eq(n, 10);
    close(fd);
}
END_TEST

START_TEST(test_notify_unset_and_invalid)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert(!notify_enabled());
    ck_assert_int_eq(notify_send("READY=1"), -ENOENT);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(notify_send("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", "/nonexistent-dir/sock", 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENOENT);
}
END_TEST

START_TEST(test_watchdog_env)
{
    char pid[32];

    unsetenv("WATCHDOG_USEC");
    ck_assert_int_eq(notify_watchdog_ms(), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    unsetenv("WATCHDOG_PID");
    ck_assert_int_eq(notify_watchdog_ms(), 30000);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(notify_watchdog_ms(), 30000);
    setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
    ck_assert_int_eq(notify_watchdog_ms(), 0);
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "garbage", 1);
    ck_assert_int_eq(notify_watchdog_ms(), 0);
}
END_TEST

static Suite *
daemon_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = tcase_create("notify");

    tcase_add_test(tc, test_notify_path_socket);
    tcase_add_test(tc, test_notify_abstract_socket);
    tcase_add_test(tc, test_notify_unset_and_invalid);
    tcase_add_test(tc, test_watchdog_env);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(daemon_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
