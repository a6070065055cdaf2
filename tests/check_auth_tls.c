/*
 * tls_config end to end: certificates made at test time with openssl (a server certificate for
 * 127.0.0.1 and a client certificate, both self-signed), served by `openssl s_server -www` on
 * loopback (any TLS version; TLS 1.2 only; a client certificate required), and by nghttpd
 * (HTTP/2 only), probed through the real config path. Covers ca_file and inline ca,
 * insecure_skip_verify, min_version and max_version, cert_file/key_file and inline cert/key,
 * enable_http2. Exits 77 (skip) only without openssl or nghttpd.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "../agent/config.h" /* the config module, not autoconf's header */
#include "engine.h"
#include "loop.h"
#include "mock_server.h"
#include "setup.h"
#include "strbuf.h"
#include "testproc.h"
#include "testutil.h"

static char dir[64];
static char srv_pem[4096], cli_pem[4096], cli_key[4096];

enum { ANY, TLS12_ONLY, CLIENT_CERT, H2_ONLY, NSERVERS };
static pid_t servers[NSERVERS];
static unsigned ports[NSERVERS];
static int stdin_pipe[2];

static void
slurp(const char *name, char *buf, size_t len)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/*
 * Starts `openssl s_server` with @extra arguments on a free port (or nghttpd, HTTP/2 only, when
 * @h2); waits until it listens.
 */
static pid_t
server_start(unsigned *port, const char *const *extra, bool h2)
{
    char accept_arg[64], cert[128], key[128], port_arg[16];
    const char *argv[24];
    size_t n = 0;

    *port = mock_closed_port();
    snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", *port);
    snprintf(port_arg, sizeof(port_arg), "%u", *port);
    snprintf(cert, sizeof(cert), "%s/srv.pem", dir);
    snprintf(key, sizeof(key), "%s/srv.key", dir);
    if (h2) {
        const char *a[] = {"nghttpd", "-a", "127.0.0.1", "-d", dir, port_arg, key, cert};
        for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
            argv[n++] = a[i];
        }
    }
    else {
        const char *a[] = {"openssl",  "s_server", "-quiet", "-www", "-accept",
                           accept_arg, "-cert",    cert,     "-key", key};
        for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
            argv[n++] = a[i];
        }
    }
    for (size_t i = 0; extra[i] != NULL; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(stdin_pipe[0], 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    /* Bounded: openssl listens within milliseconds; 5 s means it failed. */
    for (int i = 0; i < 500 && !testproc_port_open(*port); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(testproc_port_open(*port), "%s did not start on port %u", argv[0], *port);
    return pid;
}

static void
make_cert(const char *name, const char *subj, const char *san)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/%s.key -out %s/%s.pem -days 2 -subj %s %s%s >/dev/null 2>&1",
             dir, name, dir, name, subj, san != NULL ? "-addext subjectAltName=" : "",
             san != NULL ? san : "");
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* Once for the test case: the certificates and the three servers. */
static void
servers_up(void)
{
    char ca_arg[128];
    const char *any[] = {NULL};
    const char *tls12[] = {"-tls1_2", NULL};
    const char *client[] = {"-Verify", "1", "-CAfile", ca_arg, NULL};

    snprintf(dir, sizeof(dir), "/tmp/check_auth_tls.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    make_cert("srv", "/CN=127.0.0.1", "IP:127.0.0.1");
    make_cert("cli", "/CN=pollster-client", NULL);
    snprintf(ca_arg, sizeof(ca_arg), "%s/index.html", dir);
    FILE *f = fopen(ca_arg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("<p>nghttpd</p>\n", f);
    fclose(f);
    slurp("srv.pem", srv_pem, sizeof(srv_pem));
    slurp("cli.pem", cli_pem, sizeof(cli_pem));
    slurp("cli.key", cli_key, sizeof(cli_key));
    snprintf(ca_arg, sizeof(ca_arg), "%s/cli.pem", dir);
    ck_assert_int_eq(pipe(stdin_pipe), 0);
    servers[ANY] = server_start(&ports[ANY], any, false);
    servers[TLS12_ONLY] = server_start(&ports[TLS12_ONLY], tls12, false);
    servers[CLIENT_CERT] = server_start(&ports[CLIENT_CERT], client, false);
    servers[H2_ONLY] = server_start(&ports[H2_ONLY], any, true);
}

static void
servers_down(void)
{
    static const char *const files[] = {"srv.pem", "srv.key", "cli.pem", "cli.key", "index.html"};
    char path[128];

    for (int i = 0; i < NSERVERS; i++) {
        if (servers[i] > 0) {
            kill(servers[i], SIGTERM);
            waitpid(servers[i], NULL, 0);
        }
    }
    close(stdin_pipe[0]);
    close(stdin_pipe[1]);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

TESTUTIL_ONCE_FIXTURE

/* @pem as a YAML block scalar at @indent spaces, appended to @sb. */
static void
block(struct strbuf *sb, const char *key, const char *pem)
{
    strbuf_printf(sb, "      %s: |\n", key);
    for (const char *p = pem; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        strbuf_printf(sb, "        %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

enum { NONE = 0, CA_FILE = 1, CA_INLINE = 2, INSECURE = 4, CERT_FILES = 8, CERT_INLINE = 16 };

static const struct {
    const char *name;
    int server;
    int tls;           /* the keys above */
    const char *extra; /* more tls_config lines (6 spaces), or job keys (4 spaces) */
    bool ok;
    double version; /* probe_http_version when ok (0: not checked) */
} cases[] = {
    {"ca_file", ANY, CA_FILE, NULL, true, 0},
    {"no CA: the self-signed server is refused", ANY, NONE, NULL, false, 0},
    {"insecure_skip_verify", ANY, INSECURE, NULL, true, 0},
    {"inline ca", ANY, CA_INLINE, NULL, true, 0},
    {"min_version TLS13 against a TLS 1.2 server", TLS12_ONLY, CA_FILE,
     "      min_version: TLS13\n", false, 0},
    {"min_version TLS12 against a TLS 1.2 server", TLS12_ONLY, CA_FILE,
     "      min_version: TLS12\n", true, 0},
    {"max_version TLS12", ANY, CA_FILE, "      max_version: TLS12\n", true, 0},
    {"max_version TLS11 against a TLS 1.2 server", TLS12_ONLY, CA_FILE,
     "      min_version: TLS10\n      max_version: TLS11\n", false, 0},
    {"client certificate required, none given", CLIENT_CERT, CA_FILE, NULL, false, 0},
    {"cert_file and key_file", CLIENT_CERT, CA_FILE | CERT_FILES, NULL, true, 0},
    {"inline cert and key", CLIENT_CERT, CA_INLINE | CERT_INLINE, NULL, true, 0},
    {"HTTP/1.1 where the server has no HTTP/2", ANY, CA_FILE, NULL, true, 1.0},
    {"enable_http2 (default): HTTP/2 over TLS", H2_ONLY, CA_FILE, NULL, true, 2.0},
    {"enable_http2: false against an HTTP/2-only server", H2_ONLY, CA_FILE,
     "    enable_http2: false\n", false, 0},
};

START_TEST(test_tls)
{
    struct strbuf y;
    char err[512];
    struct config_errors errs;

    strbuf_init(&y);
    strbuf_printf(&y,
                  "probes:\n"
                  "  - name: tls\n"
                  "    urls: ['https://127.0.0.1:%u/']\n"
                  "    timeout: 3s\n"
                  "    tls_config:\n",
                  ports[cases[_i].server]);
    if (cases[_i].tls & CA_FILE) {
        strbuf_printf(&y, "      ca_file: %s/srv.pem\n", dir);
    }
    if (cases[_i].tls & CA_INLINE) {
        block(&y, "ca", srv_pem);
    }
    if (cases[_i].tls & INSECURE) {
        strbuf_puts(&y, "      insecure_skip_verify: true\n");
    }
    if (cases[_i].tls & CERT_FILES) {
        strbuf_printf(&y, "      cert_file: %s/cli.pem\n      key_file: %s/cli.key\n", dir, dir);
    }
    if (cases[_i].tls & CERT_INLINE) {
        block(&y, "cert", cli_pem);
        block(&y, "key", cli_key);
    }
    if (cases[_i].tls == NONE) {
        strbuf_puts(&y, "      insecure_skip_verify: false\n");
    }
    if (cases[_i].extra != NULL) {
        strbuf_puts(&y, cases[_i].extra);
    }
    ck_assert(!y.oom);
    config_errors_init(&errs);
    struct config *c = config_load_string("pollster.yaml", y.data, y.len, &errs);
    ck_assert_msg(c != NULL, "%s: %s", cases[_i].name, errs.n > 0 ? errs.v[0].text : "");
    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    engine_run_once(eng);
    json_object *lines = testutil_read_lines(pipefd[0]);
    json_object *b = json_object_array_get_idx(lines, 0);
    bool ok = json_object_get_boolean(testutil_field(b, "ok"));
    ck_assert_msg(ok == cases[_i].ok, "%s: ok %d, error %s", cases[_i].name, ok,
                  testutil_str(b, "error"));
    if (ok && cases[_i].version > 0) {
        ck_assert_double_eq(testutil_sample_value(b, "probe_http_version", NULL, NULL),
                            cases[_i].version);
    }
    if (!ok && cases[_i].server != H2_ONLY) {
        const char *reason = testutil_str(b, "reason");
        /*
         * TLS 1.3 refuses a missing client certificate after the handshake: curl reports it as a
         * receive error, which pollster classes tls by the SSL error in its text.
         */
        ck_assert_msg(strcmp(reason, "tls") == 0, "%s: %s (%s)", cases[_i].name, reason,
                      testutil_str(b, "error"));
    }
    /* The key never shows. */
    ck_assert_ptr_null(strstr(json_object_to_json_string(lines), "PRIVATE KEY"));
    json_object_put(lines);
    config_free(c);
    config_errors_release(&errs);
    strbuf_release(&y);
}
END_TEST

static Suite *
tls_suite(void)
{
    Suite *s = suite_create("auth_tls");
    TCase *tc = tcase_create("tls_config");

    tcase_add_unchecked_fixture(tc, servers_up, servers_down);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_tls, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    if (system("openssl version >/dev/null 2>&1") != 0 ||
        system("nghttpd --version >/dev/null 2>&1") != 0) {
        puts("SKIP: openssl or nghttpd (Debian's nghttp2-server) is not installed");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(tls_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
