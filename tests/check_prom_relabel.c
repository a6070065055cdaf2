/*
 * Relabeling against the real thing, Debian's prometheus (2.42, started here on a free loopback
 * port with its storage in a temporary directory):
 * - target relabeling: tests/fixtures/prometheus/relabel.yml is loaded by both, and what both
 *   show in /api/v1/targets must agree: each active target's labels (job and instance
 *   included), scrape URL, interval and timeout, and each dropped target's discoveredLabels.
 *   The targets need not be up: Prometheus lists down targets with their labels.
 * - metric relabeling: both scrape node_exporter's output (the mock server, forked) with
 *   tests/fixtures/prometheus/metric_relabel.yml.in (MOCK_PORT filled in), and the series
 * Prometheus stores from its first scrape (/api/v1/series) must be those pollster emits, label for
 * label. Prometheus applies a new config's targets after its discovery manager's 5 s update delay,
 * so the test polls up to 40 s.
 *
 * One Prometheus 2.42 defect shapes the comparison: its discoveredLabels can show what the rules
 * made of them (the relabeled set written over the discovered one), though its API documents
 * "the unmodified labels ... before relabelling", which pollster shows. A dropped target's are
 * right when it is dropped before any rule adds a label, so the fixtures drop them so; an active
 * target's are not compared (tests/check_targets.c checks pollster's).
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
#include "mock_server.h"
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

/* How far a Prometheus answer is: compared with the wanted count. */
typedef size_t progress_fn(const char *doc);

static size_t
targets_progress(const char *doc)
{
    char *text = NULL;
    size_t n = lines_of(doc, false, &text);

    free(text);
    return n;
}

/*
 * Runs prometheus on @path and polls @api (a path of its HTTP API) until @progress says @want
 * (or 40 s); returns the last answer (the caller compares it, and shows it when short).
 */
static char *
prometheus_poll(const char *path, const char *api, progress_fn *progress, size_t want)
{
    char dir[] = "/tmp/pollster-prom-XXXXXX", storage[128], listen[64], cfg[600], log[128];
    char url[512];
    unsigned port = testproc_free_port();
    char *doc = NULL;
    pid_t pid;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(storage, sizeof(storage), "--storage.tsdb.path=%s/data", dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", port);
    snprintf(cfg, sizeof(cfg), "--config.file=%s", path);
    snprintf(log, sizeof(log), "%s/prometheus.log", dir);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, api);
    char *argv[] = {(char *)prom_binary(), cfg, storage, listen, "--log.level=warn", NULL};
    pid = testproc_spawn(argv, log);
    for (double start = testproc_now_s(); testproc_now_s() - start < 40;) {
        long code = 0;
        char *body = testutil_http(url, NULL, 2000, &code);
        if (code == 200 && body != NULL) {
            size_t got = progress(body);
            free(doc);
            doc = body;
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
        testproc_rmtree(dir);
        ck_abort_msg("prometheus did not answer %s within 40 s; its log:\n%s", api, buf);
    }
    testproc_rmtree(dir);
    return doc;
}

/* Both sides' sorted lines must be equal; both go to the log when they are not. */
static void
compare(const char *what, const char *ours, const char *theirs)
{
    if (strcmp(ours, theirs) == 0) {
        return;
    }
    /* Check's messages are short: the whole of both goes to the log */
    fprintf(stderr, "%s:\n--- pollster\n%s--- prometheus\n%s", what, ours, theirs);
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
                 what, a, b);
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
    theirs_doc = prometheus_poll(path, "/api/v1/targets", targets_progress, n);
    lines_of(theirs_doc, false, &theirs);
    compare(fixtures_with_relabeling[_i], ours, theirs);
    free(ours);
    free(theirs);
    free(ours_doc);
    free(theirs_doc);
}
END_TEST

/* The series every scrape adds besides the scraped ones (both sides have them). */
static bool
synthetic(const char *name)
{
    return strcmp(name, "up") == 0 || strncmp(name, "scrape_", 7) == 0;
}

/* Sorts and dedups the @n lines @v (freeing them) into one text. */
static char *
join_sorted(char **v, size_t n)
{
    struct strbuf all;

    qsort(v, n, sizeof(v[0]), cmp_str);
    strbuf_init(&all);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i], v[i - 1]) != 0) {
            strbuf_printf(&all, "%s\n", v[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    return all.data != NULL ? all.data : strdup("");
}

/* Prometheus has scraped once: its series include this scrape's synthetic ones. */
static size_t
series_progress(const char *doc)
{
    return strstr(doc, "\"scrape_samples_post_metric_relabeling\"") != NULL ? 1 : 0;
}

/* The non-synthetic series of a /api/v1/series answer, one canonical line each. */
static char *
prometheus_series(const char *doc, size_t *n)
{
    json_object *root = json_tokener_parse(doc), *data;
    char **v = NULL;
    struct strbuf sb;

    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(root, "data", &data));
    v = calloc(json_object_array_length(data) + 1, sizeof(*v));
    ck_assert_ptr_nonnull(v);
    strbuf_init(&sb);
    *n = 0;
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        json_object *l = json_object_array_get_idx(data, i);
        if (synthetic(testutil_str(l, "__name__"))) {
            continue;
        }
        strbuf_reset(&sb);
        canon(&sb, l, NULL, NULL);
        v[(*n)++] = strdup(sb.data);
    }
    strbuf_release(&sb);
    json_object_put(root);
    char *text = join_sorted(v, *n);
    free(v);
    return text;
}

/* pollster's samples of one --once run of @path, one canonical line per series. */
static char *
pollster_series(const char *path, size_t *n)
{
    struct loop *lp;
    struct mock_server *mock;
    struct engine *eng;
    int pipefd[2];
    struct config_errors errs;
    struct config *c;
    char err[512];
    struct strbuf sb;
    char **v = NULL;
    size_t cap = 0;

    testutil_once_setup(&lp, &mock, &eng, pipefd);
    config_errors_init(&errs);
    c = config_load(path, &errs);
    ck_assert_msg(c != NULL, "%s: %s", path, errs.n > 0 ? errs.v[0].text : "?");
    config_errors_release(&errs);
    ck_assert_msg(setup_targets(eng, c, NULL, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(engine_run_once(eng), 0);
    json_object *lines = testutil_read_lines(pipefd[0]);
    strbuf_init(&sb);
    *n = 0;
    for (size_t i = 0; i < json_object_array_length(lines); i++) {
        json_object *b = json_object_array_get_idx(lines, i);
        json_object *samples = testutil_field(b, "samples"), *tl = testutil_field(b, "labels");
        for (size_t k = 0; k < json_object_array_length(samples); k++) {
            json_object *smp = json_object_array_get_idx(samples, k);
            const char *name = testutil_str(smp, "name");
            if (synthetic(name)) {
                continue;
            }
            /* one label object: the target's labels, then the sample's, then __name__ */
            json_object *all = json_object_new_object();
            json_object_object_foreach(tl, tk, tv)
            {
                json_object_object_add(all, tk, json_object_get(tv));
            }
            json_object_object_foreach(testutil_field(smp, "labels"), sk, sv)
            {
                json_object_object_add(all, sk, json_object_get(sv));
            }
            json_object_object_add(all, "__name__", json_object_new_string(name));
            strbuf_reset(&sb);
            canon(&sb, all, testutil_str(b, "job"), testutil_str(b, "instance"));
            json_object_put(all);
            if (*n == cap) {
                cap = cap == 0 ? 256 : cap * 2;
                v = realloc(v, cap * sizeof(*v));
                ck_assert_ptr_nonnull(v);
            }
            v[(*n)++] = strdup(sb.data);
        }
    }
    strbuf_release(&sb);
    json_object_put(lines);
    config_free(c);
    testutil_once_teardown(lp, mock, eng, pipefd);
    char *text = join_sorted(v, *n);
    free(v);
    return text;
}

/*
 * metric_relabel_configs (and relabel_configs' labels on every sample): the series Prometheus
 * stores from one scrape of node_exporter's output equal those pollster emits.
 */
START_TEST(test_same_series_as_prometheus)
{
    char src[512], dir[] = "/tmp/pollster-mrl-XXXXXX", path[128], *text, *p;
    unsigned port;
    pid_t mock;
    size_t n, len, theirs_n;
    FILE *f;

    snprintf(src, sizeof(src), "%s/prometheus/metric_relabel.yml.in", getenv("FIXTURES"));
    f = fopen(src, "r");
    ck_assert_ptr_nonnull(f);
    text = calloc(1, 65536);
    ck_assert_ptr_nonnull(text);
    len = fread(text, 1, 65535, f);
    fclose(f);
    text[len] = '\0';
    mock = mock_server_spawn(&port, 120);
    ck_assert_int_gt(mock, 0);
    /* the fixture, with the mock server's port */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/metric_relabel.yml", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (p = text; *p != '\0';) {
        char *m = strstr(p, "MOCK_PORT");
        if (m == NULL) {
            fputs(p, f);
            break;
        }
        fwrite(p, 1, (size_t)(m - p), f);
        fprintf(f, "%u", port);
        p = m + strlen("MOCK_PORT");
    }
    fclose(f);
    free(text);

    char *ours = pollster_series(path, &n);
    ck_assert_uint_gt(n, 20);
    char *doc = prometheus_poll(path, "/api/v1/series?match%5B%5D=%7Bjob%3D%22node%22%7D",
                                series_progress, 1);
    char *theirs = prometheus_series(doc, &theirs_n);
    compare("metric_relabel.yml", ours, theirs);
    free(ours);
    free(theirs);
    free(doc);
    mock_server_stop(mock);
    unlink(path);
    rmdir(dir);
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
    tcase_add_test(tc, test_same_series_as_prometheus);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
