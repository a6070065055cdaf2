/*
 * The status page in a real browser: the pollster binary runs with a healthy, a failing and a
 * never-collected target (its first run waits on a slow mock), and Debian's chromium loads `/`
 * headless. The rendered DOM (--dump-dom) must say what is failing and why; the browser must log
 * no console message (--enable-logging=stderr prints each as "CONSOLE"; a page that does log one
 * proves the check sees it); screenshots at desktop and phone widths stay in the build directory
 * (tests/status-page.png, tests/status-page-phone.png) as artifacts.
 *
 * Without chromium ($CHROMIUM or /usr/bin/chromium) the test is reported as SKIP (exit 77), never
 * as a pass; .ci/run and tests/run-tests.sh install it.
 */
#include "build-config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mock_server.h"
#include "testproc.h"
#include "testutil.h"

#define BROWSER_WAIT_S 90

static char dir[64];
/* What the test started, stopped by the teardown when an assertion ends the test early. */
static pid_t pollster_pid = -1, mock_pid = -1;

/* The whole file @path, NUL-terminated (free it); asserts it can be read. */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/*
 * Runs chromium headless on @url with @mode ("--dump-dom" or "--screenshot=FILE") and
 * @window ("1280,1000"); its stdout goes to @out, its stderr log to @log. Asserts it exited 0.
 */
static void
browse(const char *url, const char *mode, const char *window, const char *out, const char *log)
{
    char profile[128], size[64], cmd[2048];

    snprintf(profile, sizeof(profile), "--user-data-dir=%s/profile", dir);
    snprintf(size, sizeof(size), "--window-size=%s", window);
    /* testproc_spawn appends stdout and stderr to one file: split them with a shell */
    snprintf(cmd, sizeof(cmd),
             "exec \"$0\" --headless --no-sandbox --disable-gpu --no-first-run "
             "--disable-extensions --enable-logging=stderr --v=0 '%s' '%s' '%s' '%s' "
             ">'%s' 2>'%s'",
             profile, size, mode, url, out, log);
    char *argv[] = {"/bin/sh", "-c", cmd, (char *)testproc_binary("CHROMIUM", "/usr/bin/chromium"),
                    NULL};
    char shlog[128];
    snprintf(shlog, sizeof(shlog), "%s/sh.log", dir);
    pid_t pid = testproc_spawn(argv, shlog);
    ck_assert_int_eq(testproc_wait_exit(pid, BROWSER_WAIT_S), 0);
}

/* The first console message chromium logged in @log, or NULL (free it). */
static char *
console_message(const char *log)
{
    char *text = slurp(log);
    char *hit = strstr(text, ":CONSOLE");
    char *line = NULL;

    if (hit != NULL) {
        char *end = strchr(hit, '\n');
        line = strndup(hit, end != NULL ? (size_t)(end - hit) : strlen(hit));
    }
    free(text);
    return line;
}

/* Waits until the healthy and the failing target have finished a run. */
static void
wait_collected(unsigned port)
{
    double deadline = testproc_now_s() + 20;

    while (testproc_now_s() < deadline) {
        char *body = NULL;
        if (testproc_get(port, "/api/v1/targets", &body) == 200 && body != NULL &&
            strstr(body, "\"health\":\"up\"") != NULL &&
            strstr(body, "\"health\":\"down\"") != NULL) {
            free(body);
            return;
        }
        free(body);
        usleep(100 * 1000);
    }
    ck_abort_msg("the targets did not run within 20 s");
}

static void
expect(const char *dom, const char *needle)
{
    ck_assert_msg(strstr(dom, needle) != NULL, "\"%s\" not in the rendered page", needle);
}

START_TEST(test_page_in_chromium)
{
    unsigned mock_port, status_port = testproc_free_port();
    char cfg[128], out[128], log[128], url[128], dom_path[128], shot[1200], plog[128];
    mock_pid = mock_server_spawn(&mock_port, 120);
    ck_assert_int_gt(mock_pid, 0);

    snprintf(cfg, sizeof(cfg), "%s/pollster.yaml", dir);
    snprintf(out, sizeof(out), "%s/out.jsonl", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "global:\n  scrape_interval: 1m\n  scrape_timeout: 50s\n  shutdown_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: healthy\n    metrics_path: /simple\n    scrape_interval: 1s\n"
            "    scrape_timeout: 1s\n    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "  - job_name: failing\n    scrape_interval: 1s\n    scrape_timeout: 1s\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "  - job_name: waiting\n    metrics_path: /slow/100000\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "    basic_auth: {username: u, password: hunter2}\n"
            "outputs:\n  - type: file\n    path: %s\n"
            "status:\n  listen: 127.0.0.1:%u\n",
            mock_port, mock_closed_port(), mock_port, out, status_port);
    fclose(f);
    snprintf(plog, sizeof(plog), "%s/pollster.log", dir);
    char *argv[] = {getenv("POLLSTER_BIN"), "-c", cfg, NULL};
    ck_assert_ptr_nonnull(argv[0]);
    pollster_pid = testproc_spawn(argv, plog);
    ck_assert_int_eq(testproc_wait_ready(status_port, "/-/ready", 10), 0);
    wait_collected(status_port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", status_port);
    snprintf(dom_path, sizeof(dom_path), "%s/dom.html", dir);
    snprintf(log, sizeof(log), "%s/chromium.log", dir);
    browse(url, "--dump-dom", "1280,1000", dom_path, log);
    char *dom = slurp(dom_path);
    expect(dom, "<title>status - pollster</title>");
    expect(dom, "3 targets: 1 up, 1 down, 1 not collected yet.");
    expect(dom, "Job healthy");
    expect(dom, "Job failing");
    expect(dom, "Job waiting");
    expect(dom, "<td class=\"up\">up</td>");
    expect(dom, "<strong>connect</strong>: <span class=\"err\">connection refused</span>");
    /* the waiting target: its first run is in flight or not due yet, depending on its phase */
    expect(dom, "<td class=\"unknown\">unknown</td><td><span class=\"muted\">");
    expect(dom, "<svg role=\"img\"");
    expect(dom, "<a href=\"/metrics\">Metrics</a>");
    /* no script, and nothing loaded from anywhere else */
    ck_assert_ptr_null(strstr(dom, "<script"));
    ck_assert_ptr_null(strstr(dom, " src="));
    ck_assert_ptr_null(strstr(dom, "href=\"http"));
    free(dom);
    char *msg = console_message(log);
    ck_assert_msg(msg == NULL, "console: %s", msg);

    /* the config page, redacted, through the browser too */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/config", status_port);
    browse(url, "--dump-dom", "1280,1000", dom_path, log);
    dom = slurp(dom_path);
    expect(dom, "password: &lt;secret&gt;");
    ck_assert_ptr_null(strstr(dom, "hunter2"));
    free(dom);

    /* the artifacts: desktop and phone widths */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", status_port);
    mkdir("tests", 0755);
    static const struct {
        const char *file, *window;
    } shots[] = {{"tests/status-page.png", "1280,1000"},
                 {"tests/status-page-phone.png", "390,844"}};
    for (size_t i = 0; i < sizeof(shots) / sizeof(shots[0]); i++) {
        char cwd[1024];
        struct stat sst;
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
        snprintf(shot, sizeof(shot), "--screenshot=%s/%s", cwd, shots[i].file);
        unlink(shots[i].file);
        browse(url, shot, shots[i].window, dom_path, log);
        ck_assert_msg(stat(shots[i].file, &sst) == 0 && sst.st_size > 10000, "%s: no screenshot",
                      shots[i].file);
        msg = console_message(log);
        ck_assert_msg(msg == NULL, "console: %s", msg);
    }

    /* the console check sees what a broken page logs */
    char bad[128], bad_url[160];
    snprintf(bad, sizeof(bad), "%s/bad.html", dir);
    f = fopen(bad, "w");
    ck_assert_ptr_nonnull(f);
    fputs("<!DOCTYPE html><title>x</title><script>console.error('op-boom')</script>\n", f);
    fclose(f);
    snprintf(bad_url, sizeof(bad_url), "file://%s", bad);
    browse(bad_url, "--dump-dom", "800,600", dom_path, log);
    msg = console_message(log);
    ck_assert_msg(msg != NULL && strstr(msg, "op-boom") != NULL, "console check blind");
    free(msg);

    testproc_stop(pollster_pid);
    pollster_pid = -1;
}
END_TEST

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pollster-browser-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
    if (pollster_pid > 0) {
        kill(pollster_pid, SIGKILL);
        testproc_wait_exit(pollster_pid, 10);
        pollster_pid = -1;
    }
    if (mock_pid > 0) {
        mock_server_stop(mock_pid);
        mock_pid = -1;
    }
    testproc_rmtree(dir);
}

int
main(void)
{
    if (testproc_binary("CHROMIUM", "/usr/bin/chromium") == NULL) {
        fprintf(stderr, "SKIP: chromium is not installed (apt-get install chromium)\n");
        return 77;
    }
    Suite *s = suite_create("status_browser");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_page_in_chromium);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* a failed assertion still runs the teardown */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
