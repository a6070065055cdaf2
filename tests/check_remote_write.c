/*
 * The remote_write format and output pieces, decoded back with protobuf-c (code generated from
 * tests/remote_write.proto at build time): every sample type (finite, NaN, +Inf, -Inf, the
 * staleness NaN) bit for bit, labels sorted with __name__, each name once, own timestamps,
 * write relabeling, snappy round trip, the readable dump, staleness markers across runs and for
 * a target that goes away, and the config (a prometheus.yml remote_write list).
 */
#include "build-config.h"

#include <check.h>
#include <dirent.h>
#include <sys/stat.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "enc_remote_write.h"
#include "loop.h"
#include "mock_server.h"
#include "mock_sink.h"
#include "out_remote_write.h"
#include "outputs.h"
#include "relabel.h"
#include "rw_decode.h"
#include "stale.h"
#include "testproc.h"
#include "testutil.h"

static struct batch b;
static const struct label tlabels[] = {{"env", "prod"}, {"Zone", "a"}, {"instance", "override"}};

static void
setup(void)
{
    batch_init(&b);
    b.job = "node";
    b.instance = "h:9100";
    b.target_labels = tlabels;
    b.ntarget_labels = 3;
    b.ts_ms = 1764220800123;
}

static void
teardown(void)
{
    batch_release(&b);
}

static uint64_t
bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

/* Encodes the batch (plain record) and decodes it. */
static Prometheus__WriteRequest *
roundtrip(const struct relabel_rule *rules, size_t n, uint32_t *nseries)
{
    struct strbuf sb;
    struct enc_rw_scratch x = {0};

    strbuf_init(&sb);
    ck_assert_int_eq(enc_remote_write_encode(&sb, &b, rules, n, &x, nseries), 0);
    Prometheus__WriteRequest *w = rw_decode(sb.data, sb.len, false);
    ck_assert_ptr_nonnull(w);
    enc_rw_scratch_release(&x);
    strbuf_release(&sb);
    return w;
}

START_TEST(test_every_value_type_round_trips)
{
    const double values[] = {0.42, 0, -1e300, NAN, INFINITY, -INFINITY, stale_nan()};
    const size_t n = sizeof(values) / sizeof(values[0]);
    char want[512], got[512];

    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, values[i], 2, "z", "1", "a", "2"), 0);
    }
    b.samples[1].has_ts = true;
    b.samples[1].ts_ms = -5; /* negative: a 10-byte varint */
    uint32_t ns = 0;
    Prometheus__WriteRequest *w = roundtrip(NULL, 0, &ns);
    ck_assert_uint_eq(ns, n);
    ck_assert_uint_eq(w->n_timeseries, n);
    snprintf(want, sizeof(want),
             "{Zone=\"a\", __name__=\"m\", a=\"2\", env=\"prod\", instance=\"override\", "
             "job=\"node\", z=\"1\"}");
    for (size_t i = 0; i < n; i++) {
        Prometheus__TimeSeries *ts = w->timeseries[i];
        rw_decode_labels(ts, got, sizeof(got));
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(ts->n_samples, 1);
        ck_assert_msg(bits(ts->samples[0]->value) == bits(values[i]), "value %zu: %016llx", i,
                      (unsigned long long)bits(ts->samples[0]->value));
        ck_assert_int_eq(ts->samples[0]->timestamp, i == 1 ? -5 : 1764220800123);
    }
    rw_decode_free(w);
}
END_TEST

START_TEST(test_labels_sorted_once_and_no_empty_values)
{
    char got[512];

    /* A sample label overrides a target label; __name__ as a label never wins; empty = absent. */
    ck_assert_int_eq(batch_add(&b, "up", SAMPLE_GAUGE, 1, 4, "env", "dev", "__name__", "x", "b", "",
                               "job", "other"),
                     0);
    Prometheus__WriteRequest *w = roundtrip(NULL, 0, NULL);
    ck_assert_uint_eq(w->n_timeseries, 1);
    rw_decode_labels(w->timeseries[0], got, sizeof(got));
    ck_assert_str_eq(got, "{Zone=\"a\", __name__=\"up\", env=\"dev\", instance=\"override\", "
                          "job=\"other\"}");
    rw_decode_free(w);
}
END_TEST

START_TEST(test_write_relabel_drops_and_rewrites)
{
    struct relabel_rule r[2];
    char err[256], got[512];
    const char *src[] = {"__name__"};

    ck_assert_int_eq(
        relabel_rule_init(&r[0], RELABEL_DROP, src, 1, NULL, "go_.*", NULL, NULL, err, sizeof(err)),
        0);
    ck_assert_int_eq(relabel_rule_init(&r[1], RELABEL_LABELDROP, NULL, 0, NULL, "env", NULL, NULL,
                                       err, sizeof(err)),
                     0);
    ck_assert_int_eq(batch_add(&b, "go_goroutines", SAMPLE_GAUGE, 7, 0), 0);
    ck_assert_int_eq(batch_add(&b, "node_load1", SAMPLE_GAUGE, 0.5, 0), 0);
    uint32_t ns = 0;
    Prometheus__WriteRequest *w = roundtrip(r, 2, &ns);
    ck_assert_uint_eq(ns, 1);
    ck_assert_uint_eq(w->n_timeseries, 1);
    rw_decode_labels(w->timeseries[0], got, sizeof(got));
    ck_assert_str_eq(got, "{Zone=\"a\", __name__=\"node_load1\", instance=\"override\", "
                          "job=\"node\"}");
    rw_decode_free(w);
    relabel_rule_release(&r[0]);
    relabel_rule_release(&r[1]);
}
END_TEST

START_TEST(test_snappy_round_trip_and_concatenated_records)
{
    struct strbuf rec, z;

    strbuf_init(&rec);
    strbuf_init(&z);
    ck_assert_int_eq(batch_add(&b, "a", SAMPLE_GAUGE, 1, 0), 0);
    ck_assert_int_eq(enc_remote_write.encode(&rec, &b), 0);
    batch_clear(&b);
    ck_assert_int_eq(batch_add(&b, "b", SAMPLE_GAUGE, 2, 0), 0);
    ck_assert_int_eq(enc_remote_write.encode(&rec, &b), 0); /* two records, one body */
    ck_assert_int_eq(out_remote_write_snappy(&z, rec.data, rec.len), 0);
    ck_assert_uint_lt(z.len, rec.len + 32);
    Prometheus__WriteRequest *w = rw_decode(z.data, z.len, true);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(w->n_timeseries, 2);
    ck_assert_str_eq(w->timeseries[0]->labels[1]->value, "a");
    ck_assert_str_eq(w->timeseries[1]->labels[1]->value, "b");
    rw_decode_free(w);
    strbuf_release(&rec);
    strbuf_release(&z);
}
END_TEST

START_TEST(test_text_dump)
{
    struct strbuf sb;

    strbuf_init(&sb);
    b.ntarget_labels = 0;
    ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, 0.25, 1, "q", "a\"b\\c\n"), 0);
    ck_assert_int_eq(batch_add(&b, "n", SAMPLE_GAUGE, -INFINITY, 0), 0);
    ck_assert_int_eq(batch_add(&b, "o", SAMPLE_GAUGE, stale_nan(), 0), 0);
    ck_assert_int_eq(batch_add(&b, "p", SAMPLE_GAUGE, NAN, 0), 0);
    ck_assert_int_eq(enc_remote_write.encode_text(&sb, &b), 0);
    ck_assert_str_eq(sb.data,
                     "{__name__=\"m\", instance=\"h:9100\", job=\"node\", q=\"a\\\"b\\\\c\\n\"} "
                     "1764220800123 0.25\n"
                     "{__name__=\"n\", instance=\"h:9100\", job=\"node\"} 1764220800123 -Inf\n"
                     "{__name__=\"o\", instance=\"h:9100\", job=\"node\"} 1764220800123 StaleNaN\n"
                     "{__name__=\"p\", instance=\"h:9100\", job=\"node\"} 1764220800123 NaN\n");
    strbuf_release(&sb);
}
END_TEST

START_TEST(test_stale_markers_for_vanished_series_and_removed_target)
{
    struct stale_series *s = stale_series_new();

    ck_assert_ptr_nonnull(s);
    ck_assert(stale_is_marker(stale_nan()));
    ck_assert(!stale_is_marker(NAN));
    /* run 1: a, b{x=1,y=2}, c */
    batch_add(&b, "a", SAMPLE_GAUGE, 1, 0);
    batch_add(&b, "b", SAMPLE_GAUGE, 1, 2, "x", "1", "y", "2");
    batch_add(&b, "c", SAMPLE_GAUGE, 1, 0);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nstale, 0);
    ck_assert_uint_eq(stale_series_count(s), 3);
    /* run 2: the same series, labels in another order: nothing vanished */
    batch_clear(&b);
    b.ts_ms = 2000;
    batch_add(&b, "c", SAMPLE_GAUGE, 1, 0);
    batch_add(&b, "b", SAMPLE_GAUGE, 1, 2, "y", "2", "x", "1");
    batch_add(&b, "a", SAMPLE_GAUGE, 1, 0);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nstale, 0);
    /* run 3: b is gone; a sample with its own timestamp is not tracked */
    batch_clear(&b);
    b.ts_ms = 3000;
    batch_add(&b, "a", SAMPLE_GAUGE, 1, 0);
    batch_add(&b, "c", SAMPLE_GAUGE, 1, 0);
    batch_add(&b, "t", SAMPLE_GAUGE, 1, 0);
    b.samples[2].has_ts = true;
    b.samples[2].ts_ms = 5;
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nsamples, 3);
    ck_assert_uint_eq(b.nstale, 1);
    const struct sample *m = &b.samples[3];
    ck_assert_str_eq(m->name, "b");
    ck_assert_uint_eq(m->nlabels, 2);
    ck_assert_str_eq(m->labels[0].name, "y"); /* as run 2 wrote it */
    ck_assert_str_eq(m->labels[0].value, "2");
    ck_assert(stale_is_marker(m->value));
    ck_assert_int_eq(m->ts_ms, 3000);
    /* the encoder sends markers after the samples */
    Prometheus__WriteRequest *w = roundtrip(NULL, 0, NULL);
    ck_assert_uint_eq(w->n_timeseries, 4);
    ck_assert_uint_eq(bits(w->timeseries[3]->samples[0]->value), STALE_NAN_BITS);
    rw_decode_free(w);
    ck_assert_uint_eq(stale_series_count(s), 2);
    /* the target goes away: a and c */
    batch_clear(&b);
    ck_assert_int_eq(stale_series_end(s, &b, 4000), 0);
    ck_assert_uint_eq(b.nsamples, 0);
    ck_assert_uint_eq(b.nstale, 2);
    ck_assert_str_eq(b.samples[0].name, "a");
    ck_assert_str_eq(b.samples[1].name, "c");
    ck_assert_int_eq(b.samples[1].ts_ms, 4000);
    ck_assert_uint_eq(stale_series_count(s), 0);
    stale_series_free(s);
}
END_TEST

/* Series @i of the compact-memory test: names, label counts and strings that vary. */
static void
add_series(int i)
{
    char v[400], num[16];
    const char *w;

    snprintf(num, sizeof(num), "%d", i);
    w = arena_strdup(&b.arena, num); /* batch_add() borrows the strings */
    ck_assert_ptr_nonnull(w);
    switch (i % 4) {
    case 0:
        ck_assert_int_eq(batch_add(&b, "node_cpu_seconds_total", SAMPLE_COUNTER, i, 2, "cpu", w,
                                   "mode", i % 8 == 0 ? "idle" : "user"),
                         0);
        break;
    case 1:
        snprintf(v, sizeof(v), "up_%d", i); /* no labels */
        ck_assert_int_eq(batch_add(&b, arena_strdup(&b.arena, v), SAMPLE_GAUGE, i, 0), 0);
        break;
    case 2:
        memset(v, 'v', sizeof(v) - 1);
        v[sizeof(v) - 1] = '\0';
        snprintf(v + (i % 300), sizeof(v) - (size_t)(i % 300), "%d", i);
        ck_assert_int_eq(
            batch_add(&b, "long", SAMPLE_GAUGE, i, 1, "value", arena_strdup(&b.arena, v)), 0);
        break;
    default:
        ck_assert_int_eq(batch_add(&b, "node_filesystem_avail_bytes", SAMPLE_GAUGE, i, 3, "device",
                                   w, "fstype", "", "mountpoint", "/"),
                         0);
    }
}

/* Whether marker @m is series @i exactly (name and labels). */
static bool
marker_is_series(const struct sample *m, int i)
{
    struct batch one;
    bool same;

    batch_init(&one);
    struct batch saved = b;
    b = one;
    add_series(i);
    one = b;
    b = saved;
    const struct sample *x = &one.samples[0];
    same = stale_is_marker(m->value) && strcmp(m->name, x->name) == 0 && m->nlabels == x->nlabels;
    for (uint32_t k = 0; same && k < x->nlabels; k++) {
        same = strcmp(m->labels[k].name, x->labels[k].name) == 0 &&
               strcmp(m->labels[k].value, x->labels[k].value) == 0;
    }
    batch_release(&one);
    return same;
}

/*
 * The memory of the last run's series is a compact block (each string after the same one of the
 * series before): every marker comes back with its series' name and labels exactly, whatever
 * the label counts, empty values and long values around it.
 */
START_TEST(test_stale_compact_memory_gives_series_back)
{
    struct stale_series *s = stale_series_new();

    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 600; i++) {
        add_series(i);
    }
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    /* run 2: the odd series are gone */
    batch_clear(&b);
    b.ts_ms = 2000;
    for (int i = 0; i < 600; i += 2) {
        add_series(i);
    }
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nsamples, 300);
    ck_assert_uint_eq(b.nstale, 300);
    for (int k = 0; k < 300; k++) {
        ck_assert_msg(marker_is_series(&b.samples[300 + k], 2 * k + 1), "marker %d", k);
    }
    /* the target goes away: the even ones, remembered from run 2 */
    batch_clear(&b);
    ck_assert_int_eq(stale_series_end(s, &b, 3000), 0);
    ck_assert_uint_eq(b.nstale, 300);
    for (int k = 0; k < 300; k++) {
        ck_assert_msg(marker_is_series(&b.samples[k], 2 * k), "end marker %d", k);
    }
    stale_series_free(s);
}
END_TEST

/* Series @from..@to (step 1) of add_series() as a part of a run after @forwarded samples. */
static void
part_of(int from, int to, size_t forwarded, int skip)
{
    batch_clear(&b);
    for (int i = from; i < to; i++) {
        if (i != skip) {
            add_series(i);
        }
    }
    b.nforwarded = forwarded;
}

/*
 * A run in parts (a big scrape in windows): the parts' series are noted as they pass and the
 * last batch gets the markers of the series that vanished from any part; a memory made during
 * a run in parts (a reload) skips that run.
 */
START_TEST(test_stale_markers_of_runs_in_parts)
{
    struct stale_series *s = stale_series_new();

    ck_assert_ptr_nonnull(s);
    /* run 1: 0..300 in three parts */
    part_of(0, 100, 0, -1);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    part_of(100, 200, 100, -1);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    part_of(200, 300, 200, -1);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nstale, 0);
    ck_assert_uint_eq(stale_series_count(s), 300);
    /* run 2: the same in other parts: nothing vanished */
    part_of(0, 150, 0, -1);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    part_of(150, 300, 150, -1);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nstale, 0);
    /* run 3: series 130 (second part) and 250..300 (the end) are gone */
    part_of(0, 100, 0, -1);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    part_of(100, 200, 100, 130);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    part_of(200, 250, 199, -1);
    b.ts_ms = 3000;
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nsamples, 50);
    ck_assert_uint_eq(b.nstale, 51);
    ck_assert(marker_is_series(&b.samples[50], 130));
    for (int k = 1; k < 51; k++) {
        ck_assert_msg(marker_is_series(&b.samples[50 + k], 249 + k), "marker %d", k);
    }
    ck_assert_int_eq(b.samples[50].ts_ms, 3000);
    ck_assert_uint_eq(stale_series_count(s), 249);
    /* the target goes away in the middle of a run in parts: the remembered 249 */
    part_of(0, 10, 0, -1);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    batch_clear(&b);
    ck_assert_int_eq(stale_series_end(s, &b, 4000), 0);
    ck_assert_uint_eq(b.nstale, 249);
    stale_series_free(s);

    /* a memory made during a run in parts skips it, then tracks the next one */
    s = stale_series_new();
    ck_assert_ptr_nonnull(s);
    part_of(100, 200, 100, -1);
    ck_assert_int_eq(stale_series_part(s, &b), 0);
    part_of(200, 300, 200, -1);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(stale_series_count(s), 0);
    part_of(0, 300, 0, -1);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(stale_series_count(s), 300);
    stale_series_free(s);
}
END_TEST

/* Adds sample @name{@n0=@v0, @n1=@v1} whose strings are the ones given (borrowed). */
static void
add_shared(const char *name, const char *n0, const char *v0, const char *n1, const char *v1)
{
    struct sample *m = batch_push(&b);
    struct label *l = arena_alloc(&b.arena, 2 * sizeof(*l));

    ck_assert(m != NULL && l != NULL);
    l[0] = (struct label){n0, v0};
    l[1] = (struct label){n1, v1};
    *m = (struct sample){.name = name, .labels = l, .nlabels = 2, .value = 1};
}

START_TEST(test_stale_ids_of_shared_strings)
{
    /* As the parser makes them: one string per family name, label strings reused in a row. */
    static const char m[] = "m", n[] = "n", cpu[] = "cpu", mode[] = "mode", c0[] = "0", c1[] = "1",
                      idle[] = "idle", user[] = "user", other[] = "other";
    static const char m2[] = "m", cpu2[] = "cpu", mode2[] = "mode", c02[] = "0", c12[] = "1",
                      idle2[] = "idle", user2[] = "user";
    struct stale_series *s = stale_series_new();

    ck_assert_ptr_nonnull(s);
    add_shared(m, cpu, c0, mode, idle);
    add_shared(m, cpu, c0, mode, user);
    add_shared(m, cpu, c1, mode, idle);
    add_shared(m, cpu, c1, mode, user);
    add_shared(m, other, c1, mode, user); /* the same value, another name */
    add_shared(n, cpu, c1, mode, user);   /* the same labels, another name */
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(stale_series_count(s), 6);
    /* The same series in copies of the strings, but m{cpu=1,mode=idle} and m{other=1,...}. */
    batch_clear(&b);
    add_shared(m2, cpu2, c02, mode2, idle2);
    add_shared(m2, cpu2, c02, mode2, user2);
    add_shared(m2, cpu2, c12, mode2, user2);
    add_shared(n, cpu2, c12, mode2, user2);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    ck_assert_uint_eq(b.nsamples, 4);
    ck_assert_uint_eq(b.nstale, 2);
    ck_assert_str_eq(b.samples[4].labels[0].name, "cpu");
    ck_assert_str_eq(b.samples[4].labels[0].value, "1");
    ck_assert_str_eq(b.samples[4].labels[1].value, "idle");
    ck_assert_str_eq(b.samples[5].labels[0].name, "other");
    stale_series_free(s);
}
END_TEST

/* Adds the series of the table below but @skip (-1: none) to b. */
static void
add_byte_series(char (*v)[16], int n, int skip)
{
    for (int i = 0; i < n; i++) {
        if (i != skip) {
            ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, 1, 1, "v", v[i]), 0);
        }
    }
}

START_TEST(test_stale_ids_tell_every_byte_apart)
{
    /* Values of 1 to 13 bytes, and each with one byte changed, at every position. */
    static char v[13 * 14 / 2 + 13][16];
    int n = 0;
    struct stale_series *s = stale_series_new();

    ck_assert_ptr_nonnull(s);
    for (int len = 1; len <= 13; len++) {
        memset(v[n], 'a', (size_t)len);
        v[n++][len] = '\0';
        for (int k = 0; k < len; k++) {
            memset(v[n], 'a', (size_t)len);
            v[n][k] = 'b';
            n++;
        }
    }
    add_byte_series(v, n, -1);
    ck_assert_int_eq(stale_series_track(s, &b), 0);
    for (int x = 0; x < n; x++) {
        batch_clear(&b);
        add_byte_series(v, n, x);
        ck_assert_int_eq(stale_series_track(s, &b), 0);
        ck_assert_msg(b.nstale == 1, "no marker for \"%s\" alone", v[x]);
        ck_assert_str_eq(b.samples[b.nsamples].labels[0].value, v[x]);
        batch_clear(&b);
        add_byte_series(v, n, -1);
        ck_assert_int_eq(stale_series_track(s, &b), 0);
    }
    stale_series_free(s);
}
END_TEST

static struct config *
load(const char *yaml, struct config_errors *errs)
{
    return config_load_string("t.yml", yaml, strlen(yaml), errs);
}

START_TEST(test_config_prometheus_remote_write_list)
{
    struct config_errors errs = {0};
    struct config *c =
        load("global: {external_labels: {region: eu1}}\n"
             "scrape_configs:\n"
             "  - job_name: n\n"
             "    static_configs: [{targets: ['127.0.0.1:1']}]\n"
             "remote_write:\n"
             "  - url: http://127.0.0.1:9/api/v1/write\n"
             "    name: a\n"
             "    remote_timeout: 5s\n"
             "    headers: {X-Scope-OrgID: t1}\n"
             "    write_relabel_configs: [{source_labels: [__name__], regex: "
             "'go_.*', action: drop}]\n"
             "    queue_config: {max_samples_per_send: 100, min_backoff: 10ms, "
             "max_backoff: 1s, retry_on_http_429: false, max_shards: 4, capacity: 5}\n"
             "    metadata_config: {send: false}\n"
             "  - url: https://mimir.example/api/v1/push\n"
             "    basic_auth: {username: u, password: p}\n",
             &errs);
    ck_assert_msg(c != NULL, "%s", errs.n > 0 ? errs.v[0].text : "?");
    ck_assert_uint_eq(c->noutputs, 2);
    ck_assert_str_eq(c->outputs[0].type->name, "remote_write");
    ck_assert_str_eq(c->outputs[1].type->name, "remote_write");
    ck_assert_str_eq(c->outputs[0].format, "remote_write");
    config_free(c);
    config_errors_release(&errs);
}
END_TEST

START_TEST(test_config_errors_name_the_place)
{
    static const struct {
        const char *yaml;
        const char *want;
    } cases[] = {
        {"remote_write: [{url: http://h/w, sigv4: {region: x}}]\n",
         "t.yml:1:34: unsupported key \"sigv4\" in remote_write[0]"},
        {"remote_write: [{name: x}]\n", "missing required key \"url\""},
        {"remote_write: [{url: 'ftp://h/w'}]\n", "invalid URL"},
        {"remote_write: [{url: http://h/w, queue_config: {min_backoff: 2s, max_backoff: 1s}}]\n",
         "max_backoff (1s) must not be less than min_backoff (2s)"},
        {"remote_write: [{url: http://h/w, queue_config: {max_samples_per_send: 0}}]\n",
         "max_samples_per_send"},
        {"outputs: [{type: remote_write, url: http://h/w, format: vm}]\n",
         "an output of type remote_write sends remote_write only"},
        {"remote_write: {url: http://h/w}\n", "remote_write"},
        {"outputs: [{type: http, url: http://h/w, format: remote_write}]\n",
         "use an output of type remote_write"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_errors errs = {0};
        struct config *c = load(cases[i].yaml, &errs);
        ck_assert_msg(c == NULL, "case %zu loaded", i);
        ck_assert_uint_gt(errs.n, 0);
        ck_assert_msg(strstr(errs.v[0].text, cases[i].want) != NULL, "case %zu: %s", i,
                      errs.v[0].text);
        config_errors_release(&errs);
    }
}
END_TEST

/* The output, in process, against the mock sink */

static struct loop *lp;
static struct mock_sink *sink;
static struct config *cfg;
static struct output out;

static void
out_setup(void)
{
    lp = loop_new();
    ck_assert_ptr_nonnull(lp);
    sink = mock_sink_new(loop_base(lp));
    ck_assert_ptr_nonnull(sink);
    setup();
}

static void
out_teardown(void)
{
    if (out.ops != NULL) {
        out.ops->free(out.state);
        out.ops = NULL;
    }
    config_free(cfg);
    cfg = NULL;
    mock_sink_free(sink);
    loop_free(lp);
    teardown();
}

/* Opens a remote_write output to the mock sink with the extra item keys @extra. */
static void
open_rw(const char *extra)
{
    char yaml[1024], err[256];
    struct config_errors errs = {0};

    snprintf(yaml, sizeof(yaml), "remote_write:\n  - url: http://127.0.0.1:%u/api/v1/write\n%s",
             mock_sink_port(sink), extra);
    cfg = load(yaml, &errs);
    ck_assert_msg(cfg != NULL, "%s", errs.n > 0 ? errs.v[0].text : "?");
    config_errors_release(&errs);
    ck_assert_int_eq(
        cfg->outputs[0].type->open(&cfg->outputs[0], "outputs[0]", lp, &out, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(out.ops->write_batch);
    ck_assert(out.ops->stale_markers);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    loop_stop(arg);
}

/* Runs the loop for @ms: loopback requests and the short backoffs here end well within it. */
static void
run_for(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    struct event *ev = evtimer_new(loop_base(lp), stop_cb, lp);

    evtimer_add(ev, &tv);
    loop_run(lp);
    event_free(ev);
}

/* Runs the loop until the sink got @requests requests and the output is idle (or 10 s pass). */
static void
run_until_requests(size_t requests)
{
    for (int i = 0; i < 500; i++) {
        run_for(20);
        if (mock_sink_requests(sink) >= requests && !out.ops->busy(out.state)) {
            return;
        }
    }
}

/* Writes a batch of @n samples named m0, m1, ... */
static void
write_batch(int n)
{
    char name[16][16];

    batch_clear(&b);
    for (int i = 0; i < n && i < 16; i++) {
        snprintf(name[i], sizeof(name[i]), "m%d", i);
        ck_assert_int_eq(batch_add(&b, name[i], SAMPLE_GAUGE, i, 0), 0);
    }
    ck_assert_int_eq(out.ops->write_batch(out.state, &b), 0);
}

static void
assert_books(uint64_t delivered, uint64_t rejected)
{
    struct output_stats st;

    out.ops->stats(out.state, &st);
    ck_assert_str_eq(st.type, "remote_write");
    ck_assert_uint_eq(st.delivered, delivered);
    ck_assert_uint_eq(st.dropped[OUTPUT_DROP_REJECTED], rejected);
    testutil_assert_books(&st);
}

START_TEST(test_request_headers_snappy_body_and_sample_bound)
{
    open_rw("    queue_config: {batch_send_deadline: 20ms, max_samples_per_send: 3, "
            "max_shards: 1}\n"
            "    headers: {X-Scope-OrgID: tenant1}\n");
    write_batch(2);
    write_batch(2);
    write_batch(1);
    run_until_requests(2);
    run_for(100); /* nothing more comes */
    /* 2 + 2 passes 3: the second batch waits for its own request, the third joins it. */
    ck_assert_uint_eq(mock_sink_accepted(sink), 2);
    ck_assert_str_eq(mock_sink_content_encoding(sink), "snappy");
    ck_assert_str_eq(mock_sink_content_type(sink), "application/x-protobuf");
    const char *h = mock_sink_headers(sink);
    ck_assert_msg(strstr(h, "X-Prometheus-Remote-Write-Version: 0.1.0\n") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "User-Agent: pollster/") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "X-Scope-OrgID: tenant1\n") != NULL, "%s", h);
    size_t len;
    const char *body = mock_sink_body(sink, 0, &len);
    Prometheus__WriteRequest *w = rw_decode(body, len, true);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(w->n_timeseries, 2);
    rw_decode_free(w);
    body = mock_sink_body(sink, 1, &len);
    w = rw_decode(body, len, true);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(w->n_timeseries, 3);
    ck_assert_str_eq(w->timeseries[2]->labels[1]->value, "m0"); /* after Zone */
    rw_decode_free(w);
    assert_books(5, 0);
}
END_TEST

/*
 * A big batch is queued in records of max_samples_per_send samples: no request passes the bound
 * (a record holding the whole batch made one request of it, encoded whole in memory), and the
 * samples keep their order.
 */
START_TEST(test_big_batch_in_records_of_max_samples_per_send)
{
    open_rw("    queue_config: {batch_send_deadline: 20ms, max_samples_per_send: 3, "
            "max_shards: 1}\n");
    write_batch(8);
    run_until_requests(3);
    run_for(100);
    ck_assert_uint_eq(mock_sink_accepted(sink), 3);
    size_t next = 0;
    for (size_t r = 0; r < 3; r++) {
        size_t len;
        const char *body = mock_sink_body(sink, r, &len);
        Prometheus__WriteRequest *w = rw_decode(body, len, true);
        ck_assert_ptr_nonnull(w);
        ck_assert_uint_le(w->n_timeseries, 3);
        for (size_t i = 0; i < w->n_timeseries; i++) {
            char name[16];
            snprintf(name, sizeof(name), "m%zu", next++);
            ck_assert_str_eq(w->timeseries[i]->labels[1]->value, name); /* after Zone */
        }
        rw_decode_free(w);
    }
    ck_assert_uint_eq(next, 8);
    assert_books(8, 0);
}
END_TEST

START_TEST(test_a_full_request_leaves_before_the_deadline)
{
    open_rw(
        "    queue_config: {batch_send_deadline: 1m, max_samples_per_send: 4, max_shards: 1}\n");
    write_batch(2);
    run_for(100);
    ck_assert_uint_eq(mock_sink_requests(sink), 0); /* half a request: it waits */
    write_batch(2);
    run_until_requests(1);
    ck_assert_uint_eq(mock_sink_accepted(sink), 1);
    assert_books(4, 0);
}
END_TEST

START_TEST(test_5xx_retried_429_rejected_when_told)
{
    open_rw("    queue_config: {batch_send_deadline: 10ms, min_backoff: 10ms, max_backoff: 20ms, "
            "retry_on_http_429: false, max_shards: 1}\n");
    mock_sink_script(sink, (struct mock_sink_answer){.status = 503});
    write_batch(3);
    run_until_requests(2);
    ck_assert_uint_eq(mock_sink_requests(sink), 2);
    ck_assert_uint_eq(mock_sink_accepted(sink), 1);
    assert_books(3, 0);
    mock_sink_script(sink, (struct mock_sink_answer){.status = 429});
    write_batch(4);
    run_until_requests(3);
    ck_assert_uint_eq(mock_sink_requests(sink), 3);
    assert_books(3, 4);
}
END_TEST

START_TEST(test_429_retried_by_default)
{
    open_rw(
        "    queue_config: {batch_send_deadline: 10ms, min_backoff: 10ms, max_backoff: 20ms}\n");
    mock_sink_script(sink, (struct mock_sink_answer){.status = 429});
    write_batch(2);
    run_until_requests(2);
    ck_assert_uint_eq(mock_sink_requests(sink), 2);
    assert_books(2, 0);
}
END_TEST

/* Whether the spool directory @dir holds a segment with data. */
static bool
has_segment_data(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool any = false;
    char path[512];
    struct stat st;

    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".seg") == 0 && stat(path, &st) == 0 &&
            st.st_size > 0) {
            any = true;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return any;
}

START_TEST(test_targets_of_one_instance_spread_over_shards)
{
    char dir[64], extra[256], sub[128];

    snprintf(dir, sizeof(dir), "/tmp/pollster-rwshard-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(extra, sizeof(extra),
             "    queue_config: {batch_send_deadline: 10ms, min_backoff: 10ms, max_backoff: 20ms, "
             "max_shards: 4}\n"
             "    spool_dir: %s/spool\n",
             dir);
    mock_sink_stop(sink); /* the receiver is down: every batch goes to its sender's spool */
    open_rw(extra);
    char urls[16][64];
    for (int i = 0; i < 16; i++) {
        /* One instance, sixteen metrics paths (as with __metrics_path__ relabeling). */
        snprintf(urls[i], sizeof(urls[i]), "http://h:9100/t/%d/metrics", i);
        b.url = urls[i];
        write_batch(1);
        run_for(20);
    }
    int used = 0;
    for (int k = 0; k < 4; k++) {
        snprintf(sub, sizeof(sub), "%s/spool/shard-%d", dir, k);
        used += has_segment_data(sub);
    }
    ck_assert_msg(used >= 2, "%d of 4 senders used", used);
    ck_assert_int_eq(mock_sink_start(sink), 0);
    struct output_stats st = {0};
    for (int i = 0; i < 500 && st.delivered < 16; i++) {
        run_for(20);
        out.ops->stats(out.state, &st);
    }
    assert_books(16, 0);
    out.ops->free(out.state);
    out.ops = NULL;
    testproc_rmtree(dir);
}
END_TEST

START_TEST(test_once_format_remote_write_prints_the_dump)
{
    unsigned port;
    pid_t mock = mock_server_spawn(&port, 30);
    char cmd[512], line[512];
    const char *bin = getenv("POLLSTER_BIN");

    ck_assert_ptr_nonnull(bin);
    ck_assert_int_gt(mock, 0);
    snprintf(cmd, sizeof(cmd),
             "%s --once --kind prometheus --job j --target http://127.0.0.1:%u/simple "
             "--format remote_write",
             bin, port);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0;
    bool found = false;
    while (fgets(line, sizeof(line), p) != NULL) {
        char want[128];
        snprintf(want, sizeof(want),
                 "{__name__=\"up_like\", instance=\"127.0.0.1:%u\", job=\"j\"} ", port);
        if (strncmp(line, want, strlen(want)) == 0) {
            found = strcmp(line + strlen(line) - 3, " 1\n") == 0;
        }
        n++;
    }
    ck_assert_int_eq(pclose(p), 0);
    mock_server_stop(mock);
    ck_assert_msg(found, "no up_like line");
    ck_assert_uint_ge(n, 5); /* up_like and the synthetic series */
}
END_TEST

static Suite *
remote_write_suite(void)
{
    Suite *s = suite_create("remote_write");
    TCase *tc = tcase_create("encoder");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_value_type_round_trips);
    tcase_add_test(tc, test_labels_sorted_once_and_no_empty_values);
    tcase_add_test(tc, test_write_relabel_drops_and_rewrites);
    tcase_add_test(tc, test_snappy_round_trip_and_concatenated_records);
    tcase_add_test(tc, test_text_dump);
    tcase_add_test(tc, test_stale_markers_for_vanished_series_and_removed_target);
    tcase_add_test(tc, test_stale_compact_memory_gives_series_back);
    tcase_add_test(tc, test_stale_markers_of_runs_in_parts);
    tcase_add_test(tc, test_stale_ids_of_shared_strings);
    tcase_add_test(tc, test_stale_ids_tell_every_byte_apart);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, test_config_prometheus_remote_write_list);
    tcase_add_test(tc, test_config_errors_name_the_place);
    suite_add_tcase(s, tc);
    tc = tcase_create("output");
    tcase_add_checked_fixture(tc, out_setup, out_teardown);
    tcase_add_test(tc, test_request_headers_snappy_body_and_sample_bound);
    tcase_add_test(tc, test_big_batch_in_records_of_max_samples_per_send);
    tcase_add_test(tc, test_a_full_request_leaves_before_the_deadline);
    tcase_add_test(tc, test_5xx_retried_429_rejected_when_told);
    tcase_add_test(tc, test_429_retried_by_default);
    tcase_add_test(tc, test_targets_of_one_instance_spread_over_shards);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_add_test(tc, test_once_format_remote_write_prints_the_dump);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(remote_write_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
