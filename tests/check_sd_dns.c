/*
 * dns_sd_configs against a tiny DNS responder written here: UDP on 127.0.0.1 (an ephemeral port),
 * one question per query, answers from a fixed zone (SRV, A, AAAA), NXDOMAIN for other names,
 * SERVFAIL for one. c-ares is pointed at it with POLLSTER_TEST_DNS_SERVER. The resolver (sddns)
 * runs on the test's event_base beside the responder; the binary runs --once against it.
 */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "mock_server.h"
#include "sddns.h"

/* The responder */

enum { T_A = 1, T_MX = 15, T_AAAA = 28, T_SRV = 33 };

struct rr {
    const char *name;
    int type;
    const char *data; /* A/AAAA: the address; SRV: "PRIO WEIGHT PORT TARGET" */
};

static unsigned target_port; /* the scrape target of the end-to-end test */
static char local_srv[64];

static const struct rr zone[] = {
    {"_prom._tcp.example.test", T_SRV, "10 5 9101 b.example.test"},
    {"_prom._tcp.example.test", T_SRV, "10 5 9100 a.example.test"},
    {"_prom._tcp.example.test", T_SRV, "10 5 9100 a.example.test"}, /* duplicate record */
    {"web.example.test", T_A, "127.0.0.2"},
    {"web.example.test", T_A, "127.0.0.1"},
    {"web.example.test", T_AAAA, "::1"},
    {"other.example.test", T_A, "127.0.0.3"},
    {"example.test", T_MX, "20 mx2.example.test"},
    {"example.test", T_MX, "10 mx1.example.test"},
    {"local.example.test", T_SRV, local_srv},
};

static int dns_fd = -1;
static struct event *dns_ev;
static unsigned queries;

/* Appends the name @s as DNS labels. */
static size_t
put_name(unsigned char *p, const char *s)
{
    size_t n = 0;

    while (*s != '\0') {
        size_t l = strcspn(s, ".");
        p[n++] = (unsigned char)l;
        memcpy(p + n, s, l);
        n += l;
        s += l;
        if (*s == '.') {
            s++;
        }
    }
    p[n++] = 0;
    return n;
}

static void
dns_cb(evutil_socket_t fd, short what, void *arg)
{
    unsigned char q[512], r[1500];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    char name[256];
    size_t pos = 12, nl = 0, rlen;
    int rcode = 3, ancount = 0;

    (void)what;
    (void)arg;
    ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
    if (n < 17) {
        return;
    }
    queries++;
    while (pos < (size_t)n && q[pos] != 0) {
        size_t l = q[pos++];
        if (nl > 0) {
            name[nl++] = '.';
        }
        memcpy(name + nl, q + pos, l);
        nl += l;
        pos += l;
    }
    name[nl] = '\0';
    pos++;
    int qtype = q[pos] << 8 | q[pos + 1];
    size_t qend = pos + 4;
    memcpy(r, q, qend);
    rlen = qend;
    if (strcmp(name, "fail.example.test") == 0) {
        rcode = 2;
    }
    for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
        unsigned char rd[300];
        size_t rdl = 0;
        if (strcmp(zone[i].name, name) != 0) {
            continue;
        }
        rcode = 0; /* the name exists */
        if (zone[i].type != qtype) {
            continue;
        }
        if (qtype == T_A) {
            inet_pton(AF_INET, zone[i].data, rd);
            rdl = 4;
        }
        else if (qtype == T_AAAA) {
            inet_pton(AF_INET6, zone[i].data, rd);
            rdl = 16;
        }
        else if (qtype == T_MX) {
            unsigned prio;
            char target[200];
            sscanf(zone[i].data, "%u %199s", &prio, target);
            rd[0] = (unsigned char)(prio >> 8);
            rd[1] = (unsigned char)prio;
            rdl = 2 + put_name(rd + 2, target);
        }
        else {
            unsigned prio, weight, port;
            char target[200];
            sscanf(zone[i].data, "%u %u %u %199s", &prio, &weight, &port, target);
            rd[0] = (unsigned char)(prio >> 8);
            rd[1] = (unsigned char)prio;
            rd[2] = (unsigned char)(weight >> 8);
            rd[3] = (unsigned char)weight;
            rd[4] = (unsigned char)(port >> 8);
            rd[5] = (unsigned char)port;
            rdl = 6 + put_name(rd + 6, target);
        }
        unsigned char *a = r + rlen;
        a[0] = 0xc0; /* the question's name */
        a[1] = 12;
        a[2] = 0;
        a[3] = (unsigned char)qtype;
        a[4] = 0;
        a[5] = 1; /* IN */
        a[6] = 0;
        a[7] = 0;
        a[8] = 0;
        a[9] = 30; /* TTL */
        a[10] = (unsigned char)(rdl >> 8);
        a[11] = (unsigned char)rdl;
        memcpy(a + 12, rd, rdl);
        rlen += 12 + rdl;
        ancount++;
    }
    r[2] = 0x81; /* QR, RD */
    r[3] = (unsigned char)(0x80 | rcode);
    r[6] = 0;
    r[7] = (unsigned char)ancount;
    r[8] = r[9] = r[10] = r[11] = 0;
    sendto(fd, r, rlen, 0, (struct sockaddr *)&from, flen);
}

static struct event_base *base;

static void
dns_setup(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    char env[64];

    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(dns_fd, 0);
    ck_assert_int_eq(bind(dns_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(dns_fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(env, sizeof(env), "127.0.0.1:%u", ntohs(sa.sin_port));
    setenv("POLLSTER_TEST_DNS_SERVER", env, 1);
    dns_ev = event_new(base, dns_fd, EV_READ | EV_PERSIST, dns_cb, NULL);
    event_add(dns_ev, NULL);
    queries = 0;
}

static void
dns_teardown(void)
{
    event_free(dns_ev);
    close(dns_fd);
    event_base_free(base);
}

/* The resolver on the same loop */

static char *result;
static char result_err[256];
static int results;

static void
done_cb(void *arg, const char *text, size_t len, const char *error)
{
    (void)arg;
    free(result);
    result = text != NULL ? strndup(text, len) : NULL;
    snprintf(result_err, sizeof(result_err), "%s", error != NULL ? error : "");
    results++;
    event_base_loopbreak(base);
}

/* Refreshes @names (NULL-ended) of @type; the result in result / result_err. */
static void
refresh(const char *const *names, enum config_sd_dns_type type, int port)
{
    struct config_sd sd = {.mech = CONFIG_SD_DNS, .type = type, .port = port, .refresh_ms = 1000};
    char err[256];
    struct timeval limit = {.tv_sec = 20};

    while (names[sd.nnames] != NULL) {
        sd.nnames++;
    }
    sd.names = (char **)names;
    struct sddns *d = sddns_new(base, &sd, "job", done_cb, NULL, err, sizeof(err));
    ck_assert_msg(d != NULL, "%s", err);
    results = 0;
    ck_assert_int_eq(sddns_start(d), 0);
    ck_assert_int_eq(sddns_start(d), -EBUSY);
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    ck_assert_int_eq(results, 1);
    sddns_free(d);
}

START_TEST(test_srv)
{
    refresh((const char *const[]){"_prom._tcp.example.test", NULL}, CONFIG_SD_DNS_SRV, 0);
    ck_assert_msg(result != NULL, "%s", result_err);
    /* sorted, the duplicate once, the target's final dot kept in the label as Prometheus does */
    ck_assert_str_eq(result,
                     "[\n{\"targets\":[\"a.example.test:9100\"],\"labels\":{\"__meta_dns_name\":"
                     "\"_prom._tcp.example.test\",\"__meta_dns_srv_record_target\":"
                     "\"a.example.test.\",\"__meta_dns_srv_record_port\":\"9100\"}},\n"
                     "{\"targets\":[\"b.example.test:9101\"],\"labels\":{\"__meta_dns_name\":"
                     "\"_prom._tcp.example.test\",\"__meta_dns_srv_record_target\":"
                     "\"b.example.test.\",\"__meta_dns_srv_record_port\":\"9101\"}}]\n");
    free(result);
    result = NULL;
}
END_TEST

START_TEST(test_a_aaaa)
{
    refresh(
        (const char *const[]){"web.example.test", "other.example.test", "none.example.test", NULL},
        CONFIG_SD_DNS_A, 9100);
    ck_assert_msg(result != NULL, "%s", result_err);
    ck_assert_str_eq(result, "[\n{\"targets\":[\"127.0.0.1:9100\"],\"labels\":{\"__meta_dns_name\":"
                             "\"web.example.test\"}},\n"
                             "{\"targets\":[\"127.0.0.2:9100\"],\"labels\":{\"__meta_dns_name\":"
                             "\"web.example.test\"}},\n"
                             "{\"targets\":[\"127.0.0.3:9100\"],\"labels\":{\"__meta_dns_name\":"
                             "\"other.example.test\"}}]\n");
    refresh((const char *const[]){"web.example.test", NULL}, CONFIG_SD_DNS_AAAA, 80);
    ck_assert_msg(result != NULL, "%s", result_err);
    ck_assert_str_eq(result, "[\n{\"targets\":[\"[::1]:80\"],\"labels\":{\"__meta_dns_name\":"
                             "\"web.example.test\"}}]\n");
    /* a name without records of the type: no targets, no failure (as Prometheus) */
    refresh((const char *const[]){"other.example.test", NULL}, CONFIG_SD_DNS_AAAA, 80);
    ck_assert_msg(result != NULL, "%s", result_err);
    ck_assert_str_eq(result, "[]\n");
    free(result);
    result = NULL;
}
END_TEST

/* MX: the host with the configured port, and __meta_dns_mx_record_target (Prometheus 2.42). */
START_TEST(test_mx)
{
    refresh((const char *const[]){"example.test", NULL}, CONFIG_SD_DNS_MX, 25);
    ck_assert_msg(result != NULL, "%s", result_err);
    ck_assert_str_eq(result,
                     "[\n{\"targets\":[\"mx1.example.test:25\"],\"labels\":{\"__meta_dns_name\":"
                     "\"example.test\",\"__meta_dns_mx_record_target\":\"mx1.example.test.\"}},\n"
                     "{\"targets\":[\"mx2.example.test:25\"],\"labels\":{\"__meta_dns_name\":"
                     "\"example.test\",\"__meta_dns_mx_record_target\":\"mx2.example.test.\"}}]\n");
    free(result);
    result = NULL;
}
END_TEST

/* SERVFAIL fails the refresh (the caller keeps its last good list); the error says which name. */
START_TEST(test_failure)
{
    refresh((const char *const[]){"web.example.test", "fail.example.test", NULL}, CONFIG_SD_DNS_A,
            80);
    ck_assert_ptr_null(result);
    ck_assert_msg(strstr(result_err, "A lookup of \"fail.example.test\" failed") != NULL, "%s",
                  result_err);
}
END_TEST

/* Freeing a resolver with queries in flight calls nothing and leaks nothing. */
START_TEST(test_free_in_flight)
{
    struct config_sd sd = {.mech = CONFIG_SD_DNS, .type = CONFIG_SD_DNS_A, .port = 1};
    char *names[] = {"web.example.test"};
    char err[256];

    sd.names = names;
    sd.nnames = 1;
    struct sddns *d = sddns_new(base, &sd, "job", done_cb, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(d);
    results = 0;
    ck_assert_int_eq(sddns_start(d), 0);
    sddns_free(d);
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(results, 0);
}
END_TEST

/* The binary: --once scrapes the target an SRV record names. */
START_TEST(test_once_binary)
{
    const char *bin = getenv("POLLSTER_BIN");
    char dir[] = "/tmp/check_sd_dns.XXXXXX", cfg[128], text[512], out[128];
    pid_t mock = mock_server_spawn(&target_port, 60);
    sigset_t stopsigs, old;
    int st = 0;

    ck_assert_msg(bin != NULL, "POLLSTER_BIN not set");
    ck_assert_int_gt(mock, 0);
    snprintf(local_srv, sizeof(local_srv), "0 0 %u localhost", target_port);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cfg, sizeof(cfg), "%s/p.yaml", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(text, sizeof(text),
             "global: {state_dir: '.'}\n"
             "scrape_configs:\n"
             "  - job_name: dns\n"
             "    metrics_path: /simple\n"
             "    dns_sd_configs: [{names: [local.example.test]}]\n");
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stopsigs, &old);
    pid_t p = fork();
    if (p == 0) {
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(bin, bin, "--once", "-c", cfg, (char *)NULL);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    ck_assert_int_gt(p, 0);
    /* answer its queries until it exits */
    for (int i = 0; i < 600 && waitpid(p, &st, WNOHANG) == 0; i++) {
        struct timeval tv = {0, 50000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    ck_assert_uint_ge(queries, 1);
    f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
    fclose(f);
    char want[64];
    snprintf(want, sizeof(want), "\"instance\":\"localhost:%u\"", target_port);
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\"ok\":true") != NULL, "%s", text);
    mock_server_stop(mock);
    snprintf(text, sizeof(text), "rm -rf %s", dir);
    ck_assert_int_eq(system(text), 0);
}
END_TEST

static Suite *
sd_dns_suite(void)
{
    Suite *s = suite_create("sd_dns");
    TCase *tc = tcase_create("dns");
    tcase_add_checked_fixture(tc, dns_setup, dns_teardown);
    tcase_add_test(tc, test_srv);
    tcase_add_test(tc, test_a_aaaa);
    tcase_add_test(tc, test_mx);
    tcase_add_test(tc, test_failure);
    tcase_add_test(tc, test_free_in_flight);
    tcase_add_test(tc, test_once_binary);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sd_dns_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
