/*
 * The failure reason table (issue 13 item 4) against a raw-socket server that misbehaves in
 * every way an HTTP target can after accepting the connection: each run must carry the reason
 * that says what happened (network, protocol, timeout), never connect or internal.
 */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enc_json.h"
#include "httpc.h"
#include "engine.h"
#include "job_prom.h"
#include "loop.h"
#include "out_file.h"
#include "stats.h"
#include "testutil.h"

static void
send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) {
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

#define SEND(fd, lit) send_all((fd), (lit), sizeof(lit) - 1)

/* One connection: reads the request, then misbehaves as its path says. */
static void
serve(int c, int *hung, int *nhung)
{
    char req[4096] = "", path[256] = "";
    size_t n = 0;

    while (n < sizeof(req) - 1 && strstr(req, "\r\n\r\n") == NULL) {
        ssize_t r = read(c, req + n, sizeof(req) - 1 - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
        req[n] = '\0';
    }
    sscanf(req, "GET %255s", path);
    if (strcmp(path, "/reset") == 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    else if (strcmp(path, "/cut") == 0) {
        SEND(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1000\r\n\r\nabc 1\n");
    }
    else if (strcmp(path, "/badchunk") == 0) {
        SEND(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: "
                "chunked\r\n\r\nzz\r\nabc 1\n\r\n");
    }
    else if (strcmp(path, "/garbage") == 0) {
        SEND(c, "\x01\x02\x03 this is not HTTP at all\r\n\r\n");
    }
    else if (strcmp(path, "/badgzip") == 0) {
        SEND(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Encoding: gzip\r\nContent-Length: "
                "10\r\n\r\n"
                "0123456789");
    }
    else if (strcmp(path, "/loop") == 0) {
        SEND(c, "HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: /loop\r\nContent-Length: "
                "0\r\n\r\n");
    }
    else if (strcmp(path, "/longline") == 0) {
        char line[2100];
        memset(line, 'x', sizeof(line));
        memcpy(line, "a{x=\"", 5);
        memcpy(line + sizeof(line) - 6, "\"} 1\n", 5);
        SEND(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2099\r\n\r\n");
        send_all(c, line, sizeof(line) - 1);
    }
    else if (strcmp(path, "/hang") == 0 && *nhung < 16) {
        hung[(*nhung)++] = c; /* accepted, request read, never answered */
        return;
    }
    else if (strcmp(path, "/hangheaders") == 0 && *nhung < 16) {
        SEND(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        hung[(*nhung)++] = c; /* the headers, then nothing */
        return;
    }
    else if (strcmp(path, "/hanghalfheaders") == 0 && *nhung < 16) {
        SEND(c, "HTTP/1.1 200 OK\r\nContent-Le");
        hung[(*nhung)++] = c;
        return;
    }
    else if (strcmp(path, "/hangbody") == 0 && *nhung < 16) {
        SEND(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc 1\n");
        hung[(*nhung)++] = c; /* 6 bytes of the body, then nothing */
        return;
    }
    close(c); /* /nothing: an empty reply */
}

static pid_t
raw_server(unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(l, 64), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int hung[16], nhung = 0;
        alarm(30); /* bounded whatever happens */
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c >= 0) {
                serve(c, hung, &nhung);
            }
        }
    }
    close(l);
    return pid;
}

static const struct {
    const char *path;
    const char *reason;
    const char *error_prefix;
} cases[] = {
    {"/reset", "network", "network: "},
    {"/nothing", "network", "network: empty reply"},
    {"/cut", "network", "network: "},
    {"/badchunk", "protocol", "protocol: "},
    {"/garbage", "protocol", "protocol: "},
    {"/badgzip", "protocol", "protocol: "},
    {"/loop", "protocol", "too many redirects"},
    {"/hang", "timeout", "timeout after 1000 ms (connected, waiting for response, 0 bytes"},
    {"/hanghalfheaders", "timeout", "timeout after 1000 ms (connected, receiving headers, 0 bytes"},
    {"/hangheaders", "timeout", "timeout after 1000 ms (connected, headers received, 0 bytes"},
    {"/hangbody", "timeout", "timeout after 1000 ms (connected, mid-body, 6 bytes received)"},
    {"/longline", "limit", "line 1 longer than 1000 bytes"}, /* line_size_limit: 1000 */
};

START_TEST(test_reason_table_raw_socket)
{
    char dir[] = "/tmp/check_reasons.XXXXXX", path[64], err[256];
    unsigned port;
    pid_t pid = raw_server(&port);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct loop *lp = loop_new();
    struct engine *eng = engine_new(lp);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/out.json", dir);
    struct output out = {.ops = &out_file_ops,
                         .state = out_file_new(path, OUT_FILE_FSYNC_NEVER, err, sizeof(err))};
    ck_assert_ptr_nonnull(out.state);
    ck_assert_int_eq(engine_add_output(eng, NULL, &enc_json, &out), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[128];
        struct prom_opts po = {.timeout_ms = 1000,
                               .line_size_limit =
                                   strcmp(cases[i].path, "/longline") == 0 ? 1000 : 0};
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, cases[i].path);
        struct target_spec spec = {.job = "hostile",
                                   .url = url,
                                   .instance = cases[i].path,
                                   .timeout_ms = 1000,
                                   .body_limit = 1 << 20,
                                   .kind = &job_prom,
                                   .kind_state = job_prom_new(&po)};
        spec.http.follow_redirects = true; /* Prometheus' default */
        ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
    }
    engine_run_once(eng);
    engine_free(eng);

    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    json_object *lines = testutil_parse_lines(text);
    ck_assert_int_eq(json_object_array_length(lines), sizeof(cases) / sizeof(cases[0]));
    char bad[4096] = "";
    for (size_t k = 0; k < json_object_array_length(lines); k++) {
        json_object *b = json_object_array_get_idx(lines, k);
        const char *inst = testutil_str(b, "instance");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            if (strcmp(inst, cases[i].path) == 0 &&
                (strcmp(testutil_str(b, "reason"), cases[i].reason) != 0 ||
                 strncmp(testutil_str(b, "error"), cases[i].error_prefix,
                         strlen(cases[i].error_prefix)) != 0)) {
                size_t used = strlen(bad);
                snprintf(bad + used, sizeof(bad) - used,
                         "\n%s: reason %s, error \"%s\"; want %s, \"%s...\"", inst,
                         testutil_str(b, "reason"), testutil_str(b, "error"), cases[i].reason,
                         cases[i].error_prefix);
            }
        }
    }
    ck_assert_msg(bad[0] == '\0', "%s", bad);
    json_object_put(lines);
    unlink(path);
    rmdir(dir);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    loop_free(lp);
    curl_global_cleanup();
    stats_free_all();
    arena_free_cache();
}
END_TEST

static Suite *
reasons_suite(void)
{
    Suite *s = suite_create("reasons");
    TCase *tc = tcase_create("reasons");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reason_table_raw_socket);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(reasons_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
