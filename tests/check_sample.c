/*
 * Unit tests for sample.c: the arena (alignment, big requests, block reuse through the free list
 * and its cap), the batch sample array and its helpers, and the name tables.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sample.h"

/*
 * Check sends a location record through a pipe for every passing ck_assert_*(), a write(2)
 * each: loops that check hundreds of thousands of times fail through this instead.
 */
#define T_REQUIRE(expr, ...)                                                                       \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

/* Mirrors sample.c: a standard block is 64 KiB including its header. */
#define STD_BLOCK (64 * 1024)

/* Every test starts and ends with an empty free list, so counts are exact and nothing leaks. */
static void
cache_setup(void)
{
    arena_free_cache();
}

static void
cache_teardown(void)
{
    arena_free_cache();
}

START_TEST(test_arena_alignment)
{
    static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 33, 100, 1000, 4095};
    struct arena a;
    unsigned char *prev = NULL;
    size_t prev_n = 0;
    size_t round, i;

    arena_init(&a);
    for (round = 0; round < 200; round++) {
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            unsigned char *p = arena_alloc(&a, sizes[i]);

            T_REQUIRE(p != NULL && (uintptr_t)p % 8 == 0, "arena_alloc(%zu) = %p", sizes[i],
                      (void *)p);
            memset(p, 0xA5, sizes[i]);
            /* Consecutive allocations in one block never overlap. */
            if (prev != NULL && p > prev && p < prev + STD_BLOCK) {
                T_REQUIRE(p >= prev + prev_n, "overlap");
            }
            prev = p;
            prev_n = sizes[i];
        }
    }
    arena_release(&a);
}
END_TEST

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* Under ASan, bytes the arena has not handed out are poisoned, released ones too. */
START_TEST(test_arena_poisoned)
{
    struct arena a;
    char *p, *q;

    arena_init(&a);
    p = arena_alloc(&a, 5);
    ck_assert_ptr_nonnull(p);
    ck_assert(!__asan_address_is_poisoned(p + 4));
    ck_assert(__asan_address_is_poisoned(p + 5));
    q = arena_alloc(&a, 100000);
    ck_assert_ptr_nonnull(q);
    ck_assert(!__asan_address_is_poisoned(q + 99999));
    arena_release(&a);
    ck_assert(__asan_address_is_poisoned(p)); /* back on the free list */
}
END_TEST
#endif

START_TEST(test_arena_zero_and_absurd)
{
    struct arena a;

    arena_init(&a);
    ck_assert_ptr_nonnull(arena_alloc(&a, 0));
    /* Sizes whose rounding would overflow fail cleanly instead of wrapping around. */
    ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX));
    ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 3));
    ck_assert_ptr_null(arena_strndup(&a, "x", SIZE_MAX));
    arena_release(&a);
}
END_TEST

START_TEST(test_arena_strdup)
{
    static const char bin[] = {'a', '\0', 'b'};
    struct arena a;
    char *p, *q;

    arena_init(&a);
    p = arena_strdup(&a, "node_cpu_seconds_total");
    ck_assert_str_eq(p, "node_cpu_seconds_total");
    q = arena_strndup(&a, bin, sizeof(bin));
    ck_assert_mem_eq(q, bin, sizeof(bin));
    ck_assert_int_eq(q[3], '\0');
    q = arena_strndup(&a, "abcdef", 3);
    ck_assert_str_eq(q, "abc");
    q = arena_strndup(&a, NULL, 0);
    ck_assert_str_eq(q, "");
    ck_assert_str_eq(p, "node_cpu_seconds_total");
    arena_release(&a);
}
END_TEST

START_TEST(test_arena_big)
{
    static const size_t big[] = {STD_BLOCK, STD_BLOCK + 1, 200000, 3 * 1024 * 1024};
    struct arena a;
    unsigned char *small1, *small2, *p;
    size_t i;

    arena_init(&a);
    small1 = arena_alloc(&a, 16);
    ck_assert_ptr_nonnull(small1);
    for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        p = arena_alloc(&a, big[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 8, 0);
        memset(p, (int)i, big[i]); /* ASan/valgrind catch an undersized block */
        ck_assert_uint_eq(p[big[i] - 1], i);
    }
    /* Big blocks go behind the current block: small requests keep filling it. */
    small2 = arena_alloc(&a, 16);
    ck_assert_ptr_eq(small2, small1 + 16);
    arena_release(&a);
    /* Only the one standard block is cached; the exactly-sized ones were freed. */
    ck_assert_uint_eq(arena_cached_blocks(), 1);

    /* A big request into an empty arena, then small ones. */
    arena_init(&a);
    p = arena_alloc(&a, 100000);
    ck_assert_ptr_nonnull(p);
    memset(p, 1, 100000);
    small1 = arena_alloc(&a, 8);
    ck_assert_ptr_nonnull(small1);
    memset(small1, 2, 8);
    ck_assert_uint_eq(p[99999], 1);
    arena_release(&a);
    ck_assert_uint_eq(arena_cached_blocks(), 1);
}
END_TEST

START_TEST(test_arena_fills_blocks)
{
    struct arena a;
    unsigned char *p;
    size_t i, n = 0;

    /* 1000-byte requests: about 65 per block, so 10000 of them need well over 100 blocks. */
    arena_init(&a);
    for (i = 0; i < 10000; i++) {
        p = arena_alloc(&a, 1000);
        T_REQUIRE(p != NULL, "arena_alloc");
        memset(p, (int)(i & 0xFF), 1000);
        n += 1000;
    }
    ck_assert_uint_eq(n, 10000000);
    arena_release(&a);
    ck_assert_uint_eq(arena_cached_blocks(), ARENA_CACHE_MAX); /* capped; the rest were freed */
}
END_TEST

START_TEST(test_arena_reuse)
{
    struct arena a, b;
    void *p1, *p2;
    size_t i;

    arena_init(&a);
    p1 = arena_alloc(&a, 64);
    ck_assert_ptr_nonnull(p1);
    ck_assert_uint_eq(arena_cached_blocks(), 0);
    arena_release(&a);
    ck_assert_ptr_null(a.head);
    ck_assert_uint_eq(arena_cached_blocks(), 1);

    /* The released block comes back, to the same or another arena. */
    p2 = arena_alloc(&a, 64);
    ck_assert_ptr_eq(p2, p1);
    ck_assert_uint_eq(arena_cached_blocks(), 0);
    arena_release(&a);

    arena_init(&b);
    p2 = arena_alloc(&b, 8);
    ck_assert_ptr_eq(p2, p1);
    arena_release(&b);

    /* Steady state: many scrape-sized cycles never grow the cache beyond what one needs. */
    for (i = 0; i < 100; i++) {
        ck_assert_ptr_nonnull(arena_alloc(&a, 40000));
        ck_assert_ptr_nonnull(arena_alloc(&a, 40000));
        ck_assert_ptr_nonnull(arena_alloc(&a, 40000));
        arena_release(&a);
        ck_assert_uint_eq(arena_cached_blocks(), 3);
    }

    arena_free_cache();
    ck_assert_uint_eq(arena_cached_blocks(), 0);
    /* The arena still works after the cache is gone. */
    ck_assert_ptr_nonnull(arena_alloc(&a, 8));
    arena_release(&a);
}
END_TEST

START_TEST(test_batch_init_release)
{
    struct batch b;

    batch_init(&b);
    ck_assert_uint_eq(b.nsamples, 0);
    ck_assert_ptr_null(b.samples);
    ck_assert(!b.ok);
    ck_assert_int_eq(b.reason, REASON_NONE);
    ck_assert_str_eq(b.error, "");
    batch_release(&b);
    batch_release(&b); /* idempotent */
    batch_init(&b);
    ck_assert_ptr_nonnull(batch_push(&b));
    batch_release(&b);
    ck_assert_ptr_null(b.samples);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_batch_push_growth)
{
    struct batch b;
    struct sample *s;
    size_t i, last_cap = 0;

    batch_init(&b);
    for (i = 0; i < 100000; i++) {
        s = batch_push(&b);
        T_REQUIRE(s != NULL, "batch_push %zu", i);
        T_REQUIRE(s->name == NULL && s->labels == NULL && s->nlabels == 0 &&
                      s->type == SAMPLE_UNTYPED && !s->has_ts && s->value == 0.0 && s->ts_ms == 0,
                  "sample %zu not zeroed", i);
        s->value = (double)i;
        s->ts_ms = (int64_t)i;
        if (b.cap != last_cap) {
            /* 256, then doubling */
            ck_assert_uint_eq(b.cap, last_cap == 0 ? 256 : last_cap * 2);
            last_cap = b.cap;
        }
    }
    ck_assert_uint_eq(b.nsamples, 100000);
    ck_assert_uint_eq(b.cap, 131072);
    for (i = 0; i < b.nsamples; i++) {
        T_REQUIRE(b.samples[i].value == (double)i && b.samples[i].ts_ms == (int64_t)i,
                  "sample %zu lost its values", i);
    }
    batch_release(&b);
}
END_TEST

START_TEST(test_batch_add_labels)
{
    /* Strings not in static storage, to show they are borrowed, not copied. */
    char mode[] = "idle";
    const char *cpu = "0";
    struct batch b;
    const struct sample *s;

    batch_init(&b);
    ck_assert_int_eq(batch_add(&b, "up", SAMPLE_GAUGE, 1.0, 0), 0);
    ck_assert_int_eq(batch_add(&b, "node_cpu_seconds_total", SAMPLE_COUNTER, 12345.67, 2, "cpu",
                               cpu, "mode", mode),
                     0);
    ck_assert_int_eq(batch_add(&b, "node_filesystem_avail_bytes", SAMPLE_GAUGE, 1e9, 3, "device",
                               "/dev/sda1", "fstype", "ext4", "mountpoint", "/"),
                     0);
    ck_assert_uint_eq(b.nsamples, 3);

    s = &b.samples[0];
    ck_assert_str_eq(s->name, "up");
    ck_assert_uint_eq(s->nlabels, 0);
    ck_assert_ptr_null(s->labels);
    ck_assert_uint_eq(s->type, SAMPLE_GAUGE);
    ck_assert(s->value == 1.0);
    ck_assert(!s->has_ts);

    s = &b.samples[1];
    ck_assert_uint_eq(s->nlabels, 2);
    ck_assert_uint_eq(s->type, SAMPLE_COUNTER);
    ck_assert(s->value == 12345.67);
    ck_assert_uint_eq((uintptr_t)s->labels % 8, 0);
    ck_assert_str_eq(s->labels[0].name, "cpu");
    ck_assert_ptr_eq(s->labels[0].value, cpu);
    ck_assert_str_eq(s->labels[1].name, "mode");
    ck_assert_ptr_eq(s->labels[1].value, mode); /* borrowed */

    s = &b.samples[2];
    ck_assert_uint_eq(s->nlabels, 3);
    ck_assert_str_eq(s->labels[0].value, "/dev/sda1");
    ck_assert_str_eq(s->labels[1].value, "ext4");
    ck_assert_str_eq(s->labels[2].name, "mountpoint");
    ck_assert_str_eq(s->labels[2].value, "/");
    /* The label array itself lives in the batch arena. */
    ck_assert_ptr_nonnull(b.arena.head);
    batch_release(&b);
}
END_TEST

START_TEST(test_batch_fail)
{
    struct batch b;
    char longmsg[1000];

    batch_init(&b);
    b.ok = true;
    batch_fail(&b, REASON_CONNECT, "connect: %s", "connection refused");
    ck_assert(!b.ok);
    ck_assert_int_eq(b.reason, REASON_CONNECT);
    ck_assert_str_eq(b.error, "connect: connection refused");

    /* Truncated to BATCH_ERROR_MAX - 1 bytes, always terminated. */
    memset(longmsg, 'x', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    batch_fail(&b, REASON_PARSE, "parse error at line %d: %s", 17, longmsg);
    ck_assert_int_eq(b.reason, REASON_PARSE);
    ck_assert_uint_eq(strlen(b.error), BATCH_ERROR_MAX - 1);
    ck_assert(strncmp(b.error, "parse error at line 17: xxx", 27) == 0);

    batch_fail(&b, REASON_HTTP_5XX, "HTTP %d", 503);
    ck_assert_str_eq(b.error, "HTTP 503");
    batch_release(&b);
}
END_TEST

START_TEST(test_batch_fail_utf8_cut)
{
    struct batch b;
    char msg[BATCH_ERROR_MAX + 8];
    size_t pad;

    /* Place a 3-byte character (U+20AC) across the cut at each possible offset. */
    for (pad = BATCH_ERROR_MAX - 4; pad < BATCH_ERROR_MAX; pad++) {
        memset(msg, 'a', pad);
        memcpy(msg + pad, "\xE2\x82\xAC", 4);
        batch_init(&b);
        batch_fail(&b, REASON_INTERNAL, "%s", msg);
        if (pad + 3 <= BATCH_ERROR_MAX - 1) {
            ck_assert_uint_eq(strlen(b.error), pad + 3);
        }
        else {
            ck_assert_uint_eq(strlen(b.error), pad); /* the partial character is dropped */
        }
        batch_release(&b);
    }
}
END_TEST

START_TEST(test_batch_clear)
{
    static const struct label tl[] = {{"env", "prod"}};
    struct batch b;
    struct sample *before;

    batch_init(&b);
    b.job = "node";
    b.instance = "127.0.0.1:9100";
    b.url = "http://127.0.0.1:9100/metrics";
    b.target_labels = tl;
    b.ntarget_labels = 1;
    b.ts_ms = 1764220800123;
    b.duration_s = 0.5;
    b.http_status = 200;
    ck_assert_int_eq(batch_add(&b, "a", SAMPLE_GAUGE, 1, 1, "k", "v"), 0);
    ck_assert_ptr_nonnull(arena_strdup(&b.arena, "text"));
    batch_fail(&b, REASON_TIMEOUT, "timeout after %d ms", 10000);
    before = b.samples;

    batch_clear(&b);
    ck_assert_str_eq(b.job, "node");
    ck_assert_str_eq(b.instance, "127.0.0.1:9100");
    ck_assert_str_eq(b.url, "http://127.0.0.1:9100/metrics");
    ck_assert_ptr_eq(b.target_labels, tl);
    ck_assert_uint_eq(b.ntarget_labels, 1);
    ck_assert_uint_eq(b.nsamples, 0);
    ck_assert_ptr_null(b.arena.head);
    ck_assert(!b.ok);
    ck_assert_int_eq(b.reason, REASON_NONE);
    ck_assert_str_eq(b.error, "");
    ck_assert_int_eq(b.http_status, 0);
    ck_assert_int_eq(b.ts_ms, 0);
    /* The sample array is kept for the next run. */
    ck_assert_ptr_eq(b.samples, before);
    ck_assert_uint_eq(b.cap, 256);
    ck_assert_ptr_eq(batch_push(&b), before);
    batch_release(&b);
}
END_TEST

START_TEST(test_batch_clear_gives_back_big)
{
    struct batch b;
    size_t i;

    batch_init(&b);
    for (i = 0; i < BATCH_KEEP_CAP; i++) {
        ck_assert_ptr_nonnull(batch_push(&b));
    }
    ck_assert_uint_eq(b.cap, BATCH_KEEP_CAP);
    ck_assert_uint_eq(batch_footprint(&b), BATCH_KEEP_CAP * sizeof(struct sample));
    /* At the high-water mark the array is kept... */
    batch_clear(&b);
    ck_assert_ptr_nonnull(b.samples);
    ck_assert_uint_eq(b.cap, BATCH_KEEP_CAP);
    /* ...one sample more and it is given back. */
    for (i = 0; i <= BATCH_KEEP_CAP; i++) {
        ck_assert_ptr_nonnull(batch_push(&b));
    }
    ck_assert_uint_gt(b.cap, BATCH_KEEP_CAP);
    ck_assert_ptr_nonnull(arena_alloc(&b.arena, 100));
    ck_assert_uint_ge(batch_footprint(&b), b.cap * sizeof(struct sample) + 100);
    batch_clear(&b);
    ck_assert_ptr_null(b.samples);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert_uint_eq(b.nsamples, 0);
    ck_assert_uint_eq(batch_footprint(&b), 0);
    ck_assert_ptr_nonnull(batch_push(&b));
    batch_release(&b);
}
END_TEST

/* Resident set size of this process in KiB, from /proc/self/statm. */
static long
rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* False under AddressSanitizer or valgrind: their allocators, not glibc's, serve malloc. */
static bool
native_malloc(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return false;
#else
    const char *pre = getenv("LD_PRELOAD");
    return pre == NULL || strstr(pre, "vgpreload") == NULL;
#endif
}

/*
 * One big run (a million samples, 64 MiB of strings) must not leave the process at its
 * high-water mark: after batch_clear and mem_give_back the RSS is back near where it started.
 */
START_TEST(test_big_batch_memory_returns)
{
    struct batch b;
    long before, peak, after;

    mem_policy_init();
    before = rss_kib();
    batch_init(&b);
    for (int i = 0; i < 1000000; i++) {
        struct sample *sm = batch_push(&b);
        ck_assert_ptr_nonnull(sm);
        sm->value = i;
    }
    for (int i = 0; i < 1024; i++) {
        char *p = arena_alloc(&b.arena, 64 * 1024 - 64);
        ck_assert_ptr_nonnull(p);
        memset(p, 'x', 64 * 1024 - 64);
    }
    /* Something long-lived allocated after the run pins the top of the heap. */
    char *pin = malloc(100 * 1024);
    ck_assert_ptr_nonnull(pin);
    peak = rss_kib();
    if (native_malloc()) {
        ck_assert_int_gt(peak - before, 80 * 1024);
    }
    batch_clear(&b);
    arena_free_cache();
    mem_give_back();
    after = rss_kib();
    ck_assert_msg(!native_malloc() || after - before < 8 * 1024,
                  "RSS %ld KiB before, %ld at the peak, %ld after", before, peak, after);
    free(pin);
    batch_release(&b);
}
END_TEST

START_TEST(test_names)
{
    static const char *const types[] = {"untyped", "counter",        "gauge",    "histogram",
                                        "summary", "gaugehistogram", "stateset", "info"};
    static const char *const reasons[] = {"",         "dns",      "connect",   "tls",   "timeout",
                                          "http_4xx", "http_5xx", "too_large", "parse", "limit",
                                          "internal", "network",  "protocol"};
    int i;

    ck_assert_int_eq(sizeof(types) / sizeof(types[0]), SAMPLE_TYPE__COUNT);
    ck_assert_int_eq(sizeof(reasons) / sizeof(reasons[0]), REASON__COUNT);
    for (i = 0; i < SAMPLE_TYPE__COUNT; i++) {
        ck_assert_str_eq(sample_type_name((enum sample_type)i), types[i]);
    }
    for (i = 0; i < REASON__COUNT; i++) {
        ck_assert_str_eq(reason_name((enum reason)i), reasons[i]);
    }
    /* Out of range: never NULL. */
    ck_assert_str_eq(sample_type_name(SAMPLE_TYPE__COUNT), "untyped");
    ck_assert_str_eq(sample_type_name((enum sample_type)200), "untyped");
    ck_assert_str_eq(reason_name(REASON__COUNT), "internal");
    ck_assert_str_eq(reason_name((enum reason) - 1), "internal");
}
END_TEST

static Suite *
sample_suite(void)
{
    Suite *s = suite_create("sample");
    TCase *tc;

    tc = tcase_create("arena");
    tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
    tcase_add_test(tc, test_arena_alignment);
    tcase_add_test(tc, test_arena_zero_and_absurd);
#if defined(__SANITIZE_ADDRESS__)
    tcase_add_test(tc, test_arena_poisoned);
#endif
    tcase_add_test(tc, test_arena_strdup);
    tcase_add_test(tc, test_arena_big);
    tcase_add_test(tc, test_arena_fills_blocks);
    tcase_add_test(tc, test_arena_reuse);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
    tcase_add_test(tc, test_batch_init_release);
    tcase_add_test(tc, test_batch_push_growth);
    tcase_add_test(tc, test_batch_add_labels);
    tcase_add_test(tc, test_batch_fail);
    tcase_add_test(tc, test_batch_fail_utf8_cut);
    tcase_add_test(tc, test_batch_clear);
    tcase_add_test(tc, test_batch_clear_gives_back_big);
    tcase_add_test(tc, test_big_batch_memory_returns);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sample_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
