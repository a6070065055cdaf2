/*
 * The remote_write wire format, byte for byte: the hand-written encoder's record against
 * protobuf-c packing the same WriteRequest (built here from a naive reference of the label
 * rules: job, instance, target labels, sample labels, later names winning, __name__ from the
 * sample's name, empty values left out, sorted by name) for a table of batches (NaN, infinities,
 * staleness markers, negative timestamps, many labels, empty values, unicode, long values,
 * label names shared by consecutive samples);
 * and the queued form: records snappy-compressed one by one (out_remote_write_pack) and joined
 * into a request body (out_remote_write_snappy) decode to exactly the records joined, framed and
 * bare records mixed, while cut or corrupt framed records are refused.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc_remote_write.h"
#include "out_remote_write.h"
#include "rw_decode.h"
#include "stale.h"

#define MAXL 64

static struct batch b;
static char *owned[256]; /* strings the table allocates, freed in teardown */
static size_t nowned;

static void
setup(void)
{
    batch_init(&b);
    b.ts_ms = 1764220800123;
    nowned = 0;
}

static void
teardown(void)
{
    batch_release(&b);
    for (size_t i = 0; i < nowned; i++) {
        free(owned[i]);
    }
}

static const char *
keep(char *s)
{
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_lt(nowned, sizeof(owned) / sizeof(owned[0]));
    owned[nowned++] = s;
    return s;
}

/* The reference label set of @s: naive, quadratic, obviously right. */
static size_t
ref_labels(const struct sample *s, struct label *out)
{
    struct label all[MAXL];
    size_t n = 0, k = 0;

    if (b.job != NULL) {
        all[n++] = (struct label){"job", b.job};
    }
    if (b.instance != NULL) {
        all[n++] = (struct label){"instance", b.instance};
    }
    for (uint32_t i = 0; i < b.ntarget_labels; i++) {
        all[n++] = b.target_labels[i];
    }
    for (uint32_t i = 0; i < s->nlabels; i++) {
        all[n++] = s->labels[i];
    }
    ck_assert_uint_le(n, MAXL - 1);
    for (size_t i = 0; i < n; i++) {
        bool later = false;
        for (size_t j = i + 1; j < n; j++) {
            later = later || strcmp(all[i].name, all[j].name) == 0;
        }
        if (!later && strcmp(all[i].name, "__name__") != 0 && all[i].value[0] != '\0') {
            out[k++] = all[i];
        }
    }
    if (s->name != NULL && s->name[0] != '\0') {
        out[k++] = (struct label){"__name__", s->name};
    }
    for (size_t i = 1; i < k; i++) { /* insertion sort by name */
        for (size_t j = i; j > 0 && strcmp(out[j - 1].name, out[j].name) > 0; j--) {
            struct label t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    return k;
}

/* The batch's WriteRequest packed by protobuf-c, into @out (malloc'ed); its length. */
static size_t
ref_pack(uint8_t **out)
{
    size_t n = b.nsamples + b.nstale;
    Prometheus__WriteRequest w = PROMETHEUS__WRITE_REQUEST__INIT;
    Prometheus__TimeSeries *ts = calloc(n, sizeof(*ts));
    Prometheus__TimeSeries **tsp = calloc(n, sizeof(*tsp));
    Prometheus__Label *lab = calloc(n * MAXL, sizeof(*lab));
    Prometheus__Label **labp = calloc(n * MAXL, sizeof(*labp));
    Prometheus__Sample *sm = calloc(n, sizeof(*sm));
    Prometheus__Sample **smp = calloc(n, sizeof(*smp));

    ck_assert(ts != NULL && tsp != NULL && lab != NULL && labp != NULL && sm != NULL &&
              smp != NULL);
    for (size_t i = 0; i < n; i++) {
        const struct sample *s = &b.samples[i];
        struct label l[MAXL];
        size_t k = ref_labels(s, l);
        prometheus__time_series__init(&ts[i]);
        for (size_t j = 0; j < k; j++) {
            Prometheus__Label *p = &lab[i * MAXL + j];
            prometheus__label__init(p);
            p->name = (char *)l[j].name;
            p->value = (char *)l[j].value;
            labp[i * MAXL + j] = p;
        }
        ts[i].labels = &labp[i * MAXL];
        ts[i].n_labels = k;
        prometheus__sample__init(&sm[i]);
        sm[i].value = s->value;
        sm[i].timestamp = s->has_ts ? s->ts_ms : b.ts_ms;
        smp[i] = &sm[i];
        ts[i].samples = &smp[i];
        ts[i].n_samples = 1;
        tsp[i] = &ts[i];
    }
    w.timeseries = tsp;
    w.n_timeseries = n;
    size_t len = prometheus__write_request__get_packed_size(&w);
    *out = malloc(len + 1);
    ck_assert_ptr_nonnull(*out);
    ck_assert_uint_eq(prometheus__write_request__pack(&w, *out), len);
    free(ts);
    free(tsp);
    free(lab);
    free(labp);
    free(sm);
    free(smp);
    return len;
}

static const struct label tl_plain[] = {{"env", "prod"}, {"Zone", "a"}};
static const struct label tl_override[] = {
    {"instance", "override"}, {"job", "other"}, {"__name__", "never"}, {"empty", ""}};
static const struct label tl_unicode[] = {{"région", "Île-de-France"}, {"zz", "日本語"}};

/* Label names as one string each, so that consecutive samples share them as parsed ones do. */
static const char s_job[] = "job", s_x[] = "x", s_env[] = "env";

/* Row @row of the table into b (values are never 0: proto3 packing leaves zeros out). */
static void
table_row(int row)
{
    char name[32], value[300];

    b.job = "node";
    b.instance = "h:9100";
    switch (row) {
    case 0: /* every kind of value, own and negative timestamps */
        b.target_labels = tl_plain;
        b.ntarget_labels = 2;
        ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, 0.25, 1, "a", "1"), 0);
        ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, NAN, 1, "a", "2"), 0);
        ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, INFINITY, 1, "a", "3"), 0);
        ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, -INFINITY, 1, "a", "4"), 0);
        ck_assert_int_eq(batch_add(&b, "m", SAMPLE_GAUGE, -1e300, 1, "a", "5"), 0);
        ck_assert_int_eq(batch_add(&b, "m_total", SAMPLE_COUNTER, 12345678901.0, 0), 0);
        b.samples[4].has_ts = true;
        b.samples[4].ts_ms = -5;
        b.samples[5].has_ts = true;
        b.samples[5].ts_ms = 1;
        ck_assert_int_eq(batch_add(&b, "gone", SAMPLE_UNTYPED, stale_nan(), 1, "a", "6"), 0);
        b.nsamples--; /* the last one is a staleness marker */
        b.nstale = 1;
        break;
    case 1: /* many labels, in reverse order, overriding target labels */
        b.target_labels = tl_plain;
        b.ntarget_labels = 2;
        ck_assert_int_eq(batch_add(&b, "wide", SAMPLE_GAUGE, 7, 0), 0);
        {
            struct sample *s = &b.samples[0];
            struct label *l = arena_alloc(&b.arena, 40 * sizeof(*l));
            ck_assert_ptr_nonnull(l);
            for (int i = 0; i < 40; i++) {
                snprintf(name, sizeof(name), "l%02d", 39 - i);
                snprintf(value, sizeof(value), "v%d", i);
                l[i].name = keep(strdup(name));
                l[i].value = keep(strdup(value));
            }
            l[5].name = "env"; /* overrides env="prod" */
            s->labels = l;
            s->nlabels = 40;
        }
        break;
    case 2: /* target labels overriding job and instance, __name__ and empty values ignored */
        b.target_labels = tl_override;
        b.ntarget_labels = 4;
        ck_assert_int_eq(
            batch_add(&b, "up", SAMPLE_GAUGE, 1, 3, "b", "", "__name__", "x", "c", "3"), 0);
        ck_assert_int_eq(batch_add(&b, "up", SAMPLE_GAUGE, 2, 1, "instance", "mine"), 0);
        ck_assert_int_eq(batch_add(&b, "up", SAMPLE_GAUGE, 3, 1, "job", ""), 0); /* no job */
        break;
    case 3: /* unicode, long values (2- and 3-byte lengths), no job or instance */
        b.job = NULL;
        b.instance = NULL;
        b.target_labels = tl_unicode;
        b.ntarget_labels = 2;
        memset(value, 'v', 299);
        value[299] = '\0';
        ck_assert_int_eq(batch_add(&b, "ünïcode", SAMPLE_GAUGE, 3.5, 1, "k", keep(strdup(value))),
                         0);
        {
            char *big = malloc(20000);
            ck_assert_ptr_nonnull(big);
            memset(big, 'x', 19999);
            big[19999] = '\0';
            ck_assert_int_eq(batch_add(&b, "big", SAMPLE_GAUGE, 4, 1, "k", keep(big)), 0);
        }
        ck_assert_int_eq(batch_add(&b, "bare", SAMPLE_GAUGE, 5, 0), 0);
        break;
    case 4: /* the same label name strings in a row (a template reused), values empty or not */
        b.target_labels = tl_plain;
        b.ntarget_labels = 2;
        for (int i = 0; i < 8; i++) {
            static const char *const vals[] = {"", "v"};
            ck_assert_int_eq(batch_add(&b, i < 4 ? "m" : "n", SAMPLE_GAUGE, i + 1, 3, s_job,
                                       vals[i & 1], s_x, vals[(i >> 1) & 1], s_env, vals[i >> 2]),
                             0);
        }
        ck_assert_int_eq(batch_add(&b, "n", SAMPLE_GAUGE, 9, 2, s_job, "j", s_x, "x"), 0);
        ck_assert_int_eq(batch_add(&b, "n", SAMPLE_GAUGE, 10, 2, s_x, "x", s_job, "j"), 0);
        break;
    default:
        ck_abort_msg("no row %d", row);
    }
}

#define NROWS 5

/* Encodes the batch into @sb; the number of series. */
static uint32_t
encode(struct strbuf *sb)
{
    struct enc_rw_scratch x = {0};
    uint32_t n = 0;

    ck_assert_int_eq(enc_remote_write_encode(sb, &b, NULL, 0, &x, &n), 0);
    enc_rw_scratch_release(&x);
    return n;
}

START_TEST(test_record_is_byte_identical_to_protobuf_c)
{
    struct strbuf sb;
    uint8_t *want = NULL;

    table_row(_i);
    strbuf_init(&sb);
    ck_assert_uint_eq(encode(&sb), b.nsamples + b.nstale);
    size_t len = ref_pack(&want);
    ck_assert_uint_eq(sb.len, len);
    ck_assert_msg(memcmp(sb.data, want, len) == 0, "row %d: the bytes differ", _i);
    free(want);
    strbuf_release(&sb);
}
END_TEST

/* The snappy body @z decompressed into @out (reset first). */
static void
unsnappy(const struct strbuf *z, struct strbuf *out)
{
    size_t n = 0;

    strbuf_reset(out);
    ck_assert_int_eq(snappy_uncompressed_length(z->data, z->len, &n), SNAPPY_OK);
    ck_assert_int_eq(strbuf_reserve(out, n), 0);
    ck_assert_int_eq(snappy_uncompress(z->data, z->len, out->data, &n), SNAPPY_OK);
    out->len = n;
}

START_TEST(test_packed_records_join_into_one_body)
{
    struct strbuf raw, queued, body, back;
    size_t nseries = 0;

    strbuf_init(&raw);
    strbuf_init(&queued);
    strbuf_init(&body);
    strbuf_init(&back);
    /* Every row as one record (and row 0 twice), each packed as the output queues it. */
    for (int r = 0; r <= NROWS; r++) {
        struct strbuf rec;
        strbuf_init(&rec);
        batch_clear(&b);
        table_row(r % NROWS);
        nseries += encode(&rec);
        ck_assert_int_eq(out_remote_write_pack(&queued, rec.data, rec.len), 0);
        ck_assert_int_eq(queued.data[0], 0); /* framed: never a bare record's 0x0a */
        strbuf_append(&raw, rec.data, rec.len);
        strbuf_release(&rec);
    }
    ck_assert_uint_lt(queued.len, raw.len);
    ck_assert_int_eq(out_remote_write_snappy(&body, queued.data, queued.len), 0);
    unsnappy(&body, &back);
    ck_assert_uint_eq(back.len, raw.len);
    ck_assert(memcmp(back.data, raw.data, raw.len) == 0);
    Prometheus__WriteRequest *w = rw_decode(body.data, body.len, true);
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_eq(w->n_timeseries, nseries);
    rw_decode_free(w);
    strbuf_release(&raw);
    strbuf_release(&queued);
    strbuf_release(&body);
    strbuf_release(&back);
}
END_TEST

START_TEST(test_bare_and_framed_records_mixed)
{
    struct strbuf r1, r2, queued, body, back, want;

    strbuf_init(&r1);
    strbuf_init(&r2);
    strbuf_init(&queued);
    strbuf_init(&body);
    strbuf_init(&back);
    strbuf_init(&want);
    table_row(0);
    encode(&r1);
    batch_clear(&b);
    table_row(3);
    encode(&r2);
    /* bare, bare, framed, bare, framed: as an earlier version's spool followed by new records */
    strbuf_append(&queued, r1.data, r1.len);
    strbuf_append(&queued, r2.data, r2.len);
    ck_assert_int_eq(out_remote_write_pack(&queued, r1.data, r1.len), 0);
    strbuf_append(&queued, r2.data, r2.len);
    ck_assert_int_eq(out_remote_write_pack(&queued, r2.data, r2.len), 0);
    for (int i = 0; i < 5; i++) {
        const struct strbuf *r = i == 0 || i == 2 ? &r1 : &r2;
        strbuf_append(&want, r->data, r->len);
    }
    ck_assert_int_eq(out_remote_write_snappy(&body, queued.data, queued.len), 0);
    unsnappy(&body, &back);
    ck_assert_uint_eq(back.len, want.len);
    ck_assert(memcmp(back.data, want.data, want.len) == 0);
    /* Only bare records: what compressing them whole gives, decoded. */
    ck_assert_int_eq(out_remote_write_snappy(&body, r1.data, r1.len), 0);
    unsnappy(&body, &back);
    ck_assert(back.len == r1.len && memcmp(back.data, r1.data, r1.len) == 0);
    /* Nothing: an empty body. */
    ck_assert_int_eq(out_remote_write_snappy(&body, "", 0), 0);
    unsnappy(&body, &back);
    ck_assert_uint_eq(back.len, 0);
    strbuf_release(&r1);
    strbuf_release(&r2);
    strbuf_release(&queued);
    strbuf_release(&body);
    strbuf_release(&back);
    strbuf_release(&want);
}
END_TEST

START_TEST(test_cut_or_corrupt_framed_records_refused)
{
    struct strbuf rec, queued, body;

    strbuf_init(&rec);
    strbuf_init(&queued);
    strbuf_init(&body);
    table_row(0);
    encode(&rec);
    ck_assert_int_eq(out_remote_write_pack(&queued, rec.data, rec.len), 0);
    /* Cut anywhere inside the frame's head or its block. */
    const size_t cuts[] = {1, 3, 5, queued.len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        ck_assert_int_eq(out_remote_write_snappy(&body, queued.data, cuts[i]), -EIO);
    }
    /* A length past the end. */
    queued.data[4] = (char)0x7f;
    ck_assert_int_eq(out_remote_write_snappy(&body, queued.data, queued.len), -EIO);
    /* A block that is no snappy block: its preamble never ends. */
    const char bad[] = {0,          11,         0,          0,          0,          (char)0xff,
                        (char)0xff, (char)0xff, (char)0xff, (char)0xff, (char)0xff, (char)0xff,
                        (char)0xff, (char)0xff, (char)0xff, (char)0xff};
    ck_assert_int_eq(out_remote_write_snappy(&body, bad, sizeof(bad)), -EIO);
    strbuf_release(&rec);
    strbuf_release(&queued);
    strbuf_release(&body);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("rw_wire");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_record_is_byte_identical_to_protobuf_c, 0, NROWS);
    tcase_add_test(tc, test_packed_records_join_into_one_body);
    tcase_add_test(tc, test_bare_and_framed_records_mixed);
    tcase_add_test(tc, test_cut_or_corrupt_framed_records_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());

    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
