/*
 * Target relabeling against the real thing: every config in tests/fixtures/prometheus/ that uses
 * relabel_configs is loaded by Debian's prometheus (2.42, started here on a free loopback port
 * with its storage in a temporary directory) and by pollster, and what both show in
 * /api/v1/targets must agree: each active target's labels (job and instance included), scrape
 * URL, interval and timeout, and each dropped target's discoveredLabels. The targets need not be
 * up: Prometheus lists down targets with their labels. Prometheus applies a new config's targets
 * after its discovery manager's 5 s update delay, so the test polls up to 40 s.
 *
 * One Prometheus 2.42 defect shapes the fixtures: a target dropped after a rule has added a label
 * can show the relabeled set, partly overwritten, as its discoveredLabels (its API documents
 * "the unmodified labels ... before relabelling", which pollster shows). The fixtures drop
 * targets before any rule adds a label, so the comparison stays exact.
 *
 * Without the prometheus binary (PROMETHEUS or /usr/bin/prometheus) the test is skipped (77).
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api_targets.h"
#include "config.h"
#include "engine.h"
#include "loop.h"
#include "setup.h"
#include "strbuf.h"
#include "testproc.h"
#include "testutil.h"
#include "units.h"

static const char *
prom_binary(void)
{
    return testproc_binary("PROMETHEUS", "/usr/bin/prometheus");
}

/* "name=value,..." of a JSON object of labels, names sorted; @job/@instance added when absent. */
static void
canon(struct strbuf *sb, json_object *labels, const char *job, const char *instance)
{
    const char *names[64];
    size_t n = 0;

    json_object_object_foreach(labels, k, unused)
    {
        (void)unused;
        if (n < 64) {
            names[n++] = k;
        }
    }
    if (job != NULL && json_object_object_get_ex(labels, "job", NULL) == false) {
        names[n++] = "job";
    }
    if (instance != NULL && json_object_object_get_ex(labels, "instance", NULL) == false) {
        names[n++] = "instance";
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v;
        const char *val = json_object_object_get_ex(labels, names[i], &v)
                              ? json_object_get_string(v)
                          : strcmp(names[i], "job") == 0 ? job
                                                         : instance;
        strbuf_printf(sb, "%s=%s,", names[i], val);
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int64_t
dur(const char *s)
{
    int64_t ms = -1;

    units_parse_duration(s != NULL ? s : "", &ms);
    return ms;
}

/*
 * The targets of an /api/v1/targets document as sorted lines: "A labels | url | interval ms |
 * timeout ms" per active target, "D labels" per dropped one. @ours: pollster's (job and
 * instance are fields there, not labels). Returns the number of lines; *@text holds them.
 */
static size_t
lines_of(const char *doc, bool ours, char **text)
{
    json_object *root = json_tokener_parse(doc), *data, *list;
    char *lines[256];
    size_t n = 0;
    struct strbuf sb, all;

    ck_assert_msg(root != NULL, "not JSON: %.200s", doc);
    ck_assert(json_object_object_get_ex(root, "data", &data));
    strbuf_init(&sb);
    ck_assert(json_object_object_get_ex(data, "activeTargets", &list));
    for (size_t i = 0; i < json_object_array_length(list) && n < 256; i++) {
        json_object *t = json_object_array_get_idx(list, i), *labels;
        ck_assert(json_object_object_get_ex(t, "labels", &labels));
        strbuf_reset(&sb);
        strbuf_puts(&sb, "A ");
        canon(&sb, labels, ours ? testutil_str(t, "job") : NULL,
              ours ? testutil_str(t, "instance") : NULL);
        strbuf_printf(&sb, " | %s | %lld | %lld", testutil_str(t, "scrapeUrl"),
                      (long long)dur(testutil_str(t, "scrapeInterval")),
                      (long long)dur(testutil_str(t, "scrapeTimeout")));
        lines[n++] = strdup(sb.data);
    }
    ck_assert(json_object_object_get_ex(data, "droppedTargets", &list));
    for (size_t i = 0; i < json_object_array_length(list) && n < 256; i++) {
        json_object *t = json_object_array_get_idx(list, i), *labels;
        ck_assert(json_object_object_get_ex(t, "discoveredLabels", &labels));
        strbuf_reset(&sb);
        strbuf_puts(&sb, "D ");
        canon(&sb, labels, NULL, NULL);
        lines[n++] = strdup(sb.data);
    }
    qsort(lines, n, sizeof(lines[0]), cmp_str);
    strbuf_init(&all);
    for (size_t i = 0; i < n; i++) {
        strbuf_printf(&all, "%s\n", lines[i]);
        free(lines[i]);
    }
    strbuf_release(&sb);
    json_object_put(root);
    *text = all.data != NULL ? all.data : strdup("");
    return n;
}

/* pollster's /api/v1/targets for @path, as the daemon would render it after loading it. */
static char *
pollster_targets(const char *path)
{
    struct config_errors errs;
    struct config *c;
    struct loop *l = loop_new();
    struct engine *e;
    struct strbuf sb;
    char err[512];

    config_errors_init(&errs);
    c = config_load(path, &errs);
    ck_assert_msg(c != NULL, "%s: %s", path, errs.n > 0 ? errs.v[0].text : "?");
    config_errors_release(&errs);
    ck_assert_ptr_nonnull(l);
    e = engine_new(l);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(setup_targets(e, c, NULL, err, sizeof(err)) == 0, "%s", err);
    strbuf_init(&sb);
    api_targets_render(&sb, e);
    ck_assert(!sb.oom);
    engine_free(e);
    loop_free(l);
    config_free(c);
    return sb.data;
}

/* Runs prometheus on @path until its targets number @want (or 40 s), returns its document. */
static char *
prometheus_targets(const char *path, size_t want)
{
    char dir[] = "/tmp/pollster-prom-XXXXXX", storage[128], listen[64], cfg[600], log[128];
    char url[128];
    unsigned port = testproc_free_port();
    char *doc = NULL;
    pid_t pid;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(storage, sizeof(storage), "--storage.tsdb.path=%s/data", dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", port);
    snprintf(cfg, sizeof(cfg), "--config.file=%s", path);
    snprintf(log, sizeof(log), "%s/prometheus.log", dir);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/targets", port);
    char *argv[] = {(char *)prom_binary(), cfg, storage, listen, "--log.level=warn", NULL};
    pid = testproc_spawn(argv, log);
    for (double start = testproc_now_s(); testproc_now_s() - start < 40;) {
        long code = 0;
        char *body = testutil_http(url, NULL, 2000, &code), *text = NULL;
        if (code == 200 && body != NULL) {
            size_t got = lines_of(body, false, &text);
            free(text);
            free(doc);
            doc = body; /* the last answer: compared (and shown) even when short */
            if (got >= want) {
                break;
            }
            body = NULL;
        }
        free(body);
        usleep(250000);
    }
    kill(pid, SIGTERM);
    testproc_wait_exit(pid, 20);
    if (doc == NULL) {
        char buf[2048] = "";
        FILE *f = fopen(log, "r");
        size_t r = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[r] = '\0';
        if (f != NULL) {
            fclose(f);
        }
        testproc_rm_rf(dir);
        ck_abort_msg("prometheus did not show %zu targets within 40 s; its log:\n%s", want, buf);
    }
    testproc_rm_rf(dir);
    return doc;
}

static const char *const fixtures_with_relabeling[] = {"relabel.yml"};

START_TEST(test_same_targets_as_prometheus)
{
    char path[512], *ours_doc, *theirs_doc, *ours, *theirs;
    size_t n;

    snprintf(path, sizeof(path), "%s/prometheus/%s", getenv("FIXTURES"),
             fixtures_with_relabeling[_i]);
    ours_doc = pollster_targets(path);
    n = lines_of(ours_doc, true, &ours);
    ck_assert_uint_gt(n, 0);
    theirs_doc = prometheus_targets(path, n);
    lines_of(theirs_doc, false, &theirs);
    if (strcmp(ours, theirs) != 0) {
        /* Check's messages are short: the whole of both goes to the log */
        fprintf(stderr, "%s:\n--- pollster\n%s--- prometheus\n%s", path, ours, theirs);
        const char *a = ours, *b = theirs;
        while (*a != '\0' && *a == *b) {
            a++;
            b++;
        }
        while (a > ours && a[-1] != '\n') {
            a--;
            b--;
        }
        ck_abort_msg("%s: pollster and prometheus differ; first: pollster \"%.200s\" prometheus "
                     "\"%.200s\"",
                     fixtures_with_relabeling[_i], a, b);
    }
    free(ours);
    free(theirs);
    free(ours_doc);
    free(theirs_doc);
}
END_TEST

int
main(void)
{
    if (prom_binary() == NULL) {
        fprintf(stderr, "SKIP: prometheus is not installed (apt-get install prometheus, or set "
                        "PROMETHEUS)\n");
        return 77;
    }
    if (getenv("FIXTURES") == NULL) {
        fprintf(stderr, "FIXTURES is not set (run through make check)\n");
        return 1;
    }
    Suite *s = suite_create("prom_relabel");
    TCase *tc = tcase_create("prometheus");
    tcase_set_timeout(tc, 90);
    tcase_add_loop_test(
        tc, test_same_targets_as_prometheus, 0,
        (int)(sizeof(fixtures_with_relabeling) / sizeof(fixtures_with_relabeling[0])));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
