/* JSON-lines helpers for the integration tests (see testutil.h). */
#include "build-config.h"

#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "enc_json.h"
#include "engine.h"
#include "job_probe.h"
#include "loop.h"
#include "mock_server.h"
#include "output.h"
#include "out_stdout.h"
#include "sample.h"
#include "stats.h"

json_object *
testutil_parse_lines(const char *text)
{
    json_object *arr = json_object_new_array();
    char *copy = strdup(text);

    ck_assert_ptr_nonnull(copy);
    for (char *line = copy, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        json_object *o = json_tokener_parse(line);
        ck_assert_msg(o != NULL, "invalid JSON line: %.300s", line);
        json_object_array_add(arr, o);
    }
    free(copy);
    return arr;
}

json_object *
testutil_read_lines(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;

    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    json_object *arr = testutil_parse_lines(buf);
    free(buf);
    return arr;
}

json_object *
testutil_field(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no field \"%s\" in %.300s", key,
                  json_object_to_json_string(o));
    return v;
}

const char *
testutil_str(json_object *o, const char *key)
{
    return json_object_get_string(testutil_field(o, key));
}

json_object *
testutil_find_sample(json_object *batch, const char *name, const char *lk, const char *lv)
{
    json_object *samples = testutil_field(batch, "samples");

    for (size_t i = 0; i < json_object_array_length(samples); i++) {
        json_object *s = json_object_array_get_idx(samples, i);
        json_object *v = NULL;
        if (strcmp(testutil_str(s, "name"), name) != 0) {
            continue;
        }
        if (lk != NULL && (!json_object_object_get_ex(testutil_field(s, "labels"), lk, &v) ||
                           strcmp(json_object_get_string(v), lv) != 0)) {
            continue;
        }
        return s;
    }
    return NULL;
}

double
testutil_sample_value(json_object *batch, const char *name, const char *lk, const char *lv)
{
    json_object *s = testutil_find_sample(batch, name, lk, lv);

    ck_assert_msg(s != NULL, "no sample %s%s%s", name, lk != NULL ? " with " : "",
                  lk != NULL ? lk : "");
    json_object *v = testutil_field(s, "value");
    if (json_object_is_type(v, json_type_string)) {
        const char *t = json_object_get_string(v);
        return strcmp(t, "NaN") == 0 ? NAN : strcmp(t, "+Inf") == 0 ? INFINITY : -INFINITY;
    }
    return json_object_get_double(v);
}

size_t
testutil_count_samples(json_object *batch, const char *name)
{
    json_object *samples = testutil_field(batch, "samples");
    size_t n = 0;

    for (size_t i = 0; i < json_object_array_length(samples); i++) {
        if (strcmp(testutil_str(json_object_array_get_idx(samples, i), "name"), name) == 0) {
            n++;
        }
    }
    return n;
}

void
testutil_once_setup(struct loop **lp, struct mock_server **mock, struct engine **eng, int pipefd[2])
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    *lp = loop_new();
    *mock = *lp != NULL ? mock_server_new(loop_base(*lp)) : NULL;
    *eng = *lp != NULL ? engine_new(*lp) : NULL;
    ck_assert(*lp != NULL && *mock != NULL && *eng != NULL);
    ck_assert_int_eq(pipe(pipefd), 0);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
    struct output out = {.ops = &out_stdout_ops, .state = out_stdout_new(pipefd[1])};
    ck_assert_int_eq(engine_add_output(*eng, NULL, &enc_json, &out), 0);
}

void
testutil_once_teardown(struct loop *lp, struct mock_server *mock, struct engine *eng, int pipefd[2])
{
    engine_free(eng);
    mock_server_free(mock);
    loop_free(lp);
    close(pipefd[0]);
    close(pipefd[1]);
    curl_global_cleanup();
    stats_free_all();
    arena_free_cache();
}

struct grow {
    char *data;
    size_t len, cap;
};

static size_t
grow_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct grow *g = arg;
    size_t n = size * nmemb;

    if (g->len + n + 1 > g->cap) {
        size_t cap = (g->len + n + 1) * 2;
        char *d = realloc(g->data, cap);
        if (d == NULL) {
            return 0;
        }
        g->data = d;
        g->cap = cap;
    }
    memcpy(g->data + g->len, ptr, n);
    g->len += n;
    g->data[g->len] = '\0';
    return n;
}

char *
testutil_http(const char *url, const char *post, long timeout_ms, long *code)
{
    struct grow g = {.data = calloc(1, 1), .cap = 1};
    CURL *h = curl_easy_init();

    *code = -1;
    ck_assert_ptr_nonnull(g.data);
    ck_assert_ptr_nonnull(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (post != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    }
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    }
    curl_easy_cleanup(h);
    return g.data;
}

struct config *
testutil_load_ok(const char *yaml)
{
    struct config_errors e;
    struct config *c;

    config_errors_init(&e);
    c = config_load_string("pollster.yaml", yaml, strlen(yaml), &e);
    ck_assert_msg(c != NULL && e.n == 0, "unexpected error: %s", e.n > 0 ? e.v[0].text : "?");
    config_errors_release(&e);
    return c;
}

void
testutil_load_fails(const char *yaml, const char *want)
{
    struct config_errors e;

    config_errors_init(&e);
    ck_assert_ptr_null(config_load_string("pollster.yaml", yaml, strlen(yaml), &e));
    ck_assert_msg(e.n >= 1, "no error");
    ck_assert_str_eq(e.v[0].text, want);
    config_errors_release(&e);
}

size_t
testutil_label_names(json_object *labels, const char **names, size_t max)
{
    size_t n = 0;

    json_object_object_foreach(labels, k, v)
    {
        if (n < max && json_object_get_string_len(v) > 0) {
            names[n++] = k;
        }
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    }
    return n;
}

uint64_t
testutil_dropped_total(const struct output_stats *st)
{
    uint64_t n = 0;

    for (int d = 0; d < OUTPUT_DROP__COUNT; d++) {
        n += st->dropped[d];
    }
    return n;
}

void
testutil_assert_books(const struct output_stats *st)
{
    ck_assert_msg(st->collected + st->recovered ==
                      st->delivered + testutil_dropped_total(st) + st->pending_samples,
                  "books: collected %llu + recovered %llu != delivered %llu + dropped %llu + "
                  "pending %llu",
                  (unsigned long long)st->collected, (unsigned long long)st->recovered,
                  (unsigned long long)st->delivered, (unsigned long long)testutil_dropped_total(st),
                  (unsigned long long)st->pending_samples);
}

void
testutil_add_probe(struct engine *eng, const char *job, const char *url, const struct label *labels,
                   size_t nlabels, const char *identity)
{
    char err[256];
    struct probe_opts po;

    memset(&po, 0, sizeof(po));
    void *st = job_probe_new(&po, err, sizeof(err));
    ck_assert_msg(st != NULL, "%s", err);
    struct target_spec spec = {
        .job = job,
        .url = url,
        .labels = labels,
        .nlabels = nlabels,
        .timeout_ms = 2000,
        .body_limit = 1 << 20,
        .fresh_connect = true,
        .kind = &job_probe,
        .kind_state = st,
        .identity = identity,
    };
    ck_assert_int_eq(engine_add_target(eng, &spec, err, sizeof(err)), 0);
}
