/*
 * Tests for sched.c: the spread offset, the drift-free tick arithmetic driven by a fake clock
 * over many ticks, overlap and late-loop skipping, and a short real-loop run.
 */
#include "build-config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "sched.h"

START_TEST(test_offset_deterministic_and_spread)
{
    mono_ms interval = 5000;
    int buckets[10] = {0};
    char key[64];

    ck_assert_int_eq(sched_offset("node", "a:1", interval), sched_offset("node", "a:1", interval));
    ck_assert_int_ne(sched_offset("ab", "c", interval), sched_offset("a", "bc", interval));
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "http://10.0.%d.%d:9100/metrics", i / 250, i % 250);
        mono_ms off = sched_offset("node", key, interval);
        ck_assert(off >= 0 && off < interval);
        buckets[off * 10 / interval]++;
    }
    ck_assert_int_eq(sched_slot(5000), 100);
    ck_assert_int_eq(sched_slot(100), 10);
    ck_assert_int_eq(sched_slot(5), 5);
    ck_assert_int_eq(sched_slot(3600000), 1000);
    ck_assert_int_eq(sched_offset("node", "x", 5000) % 100, 0);
    /* 1000 targets over 10 slices of the interval: none empty, none holding a third. */
    for (int i = 0; i < 10; i++) {
        ck_assert_msg(buckets[i] > 40 && buckets[i] < 330, "slice %d holds %d", i, buckets[i]);
    }
    ck_assert_int_eq(sched_offset("x", "y", 0), 0);
}
END_TEST

/* Fires every tick late by a pseudo-random jitter below the interval for ~28 hours of 100 ms
 * ticks: the schedule must stay exactly on anchor + k * interval. */
START_TEST(test_no_drift_over_many_ticks)
{
    struct sched_entry e;
    const mono_ms start = 123456;
    /* ~28 hours of 100 ms ticks; a tenth of that under valgrind, which is 50x slower. */
    const char *vg = getenv("VALGRIND");
    const uint64_t ticks = vg != NULL && *vg != '\0' ? 100000 : 1000000;
    unsigned seed = 42;

    sched_init(&e, start, 100, "job", "target", NULL, NULL);
    for (uint64_t i = 0; i < ticks; i++) {
        mono_ms due = sched_next_at(&e);
        ck_assert_int_eq(due, e.anchor + (mono_ms)i * 100);
        mono_ms now = due + (mono_ms)(rand_r(&seed) % 100); /* late, < 1 interval */
        ck_assert(sched_tick(&e, now));
    }
    ck_assert_int_eq(e.fired, ticks);
    ck_assert_int_eq(e.skipped_overlap, 0);
    ck_assert_int_eq(e.skipped_late, 0);
    ck_assert_int_eq(sched_next_at(&e), e.anchor + (mono_ms)ticks * 100);
    ck_assert(e.anchor >= start && e.anchor < start + 100);
}
END_TEST

START_TEST(test_early_fire_keeps_phase)
{
    struct sched_entry e;

    sched_init(&e, 0, 1000, "j", "t", NULL, NULL);
    mono_ms first = sched_next_at(&e);
    /* A timer that fires 3 ms early still runs its tick and the next stays on the grid. */
    ck_assert(sched_tick(&e, first - 3));
    ck_assert_int_eq(sched_next_at(&e), first + 1000);
}
END_TEST

START_TEST(test_overlap_skipped_and_counted)
{
    struct sched_entry e;

    sched_init(&e, 0, 1000, "j", "t", NULL, NULL);
    mono_ms t0 = sched_next_at(&e);
    ck_assert(sched_tick(&e, t0));
    e.in_flight = true;
    ck_assert(!sched_tick(&e, t0 + 1000));
    ck_assert(!sched_tick(&e, t0 + 2000));
    e.in_flight = false;
    ck_assert(sched_tick(&e, t0 + 3000));
    ck_assert_int_eq(e.skipped_overlap, 2);
    ck_assert_int_eq(e.fired, 2);
    ck_assert_int_eq(sched_next_at(&e), t0 + 4000);
}
END_TEST

START_TEST(test_late_loop_skips_not_bursts)
{
    struct sched_entry e;

    sched_init(&e, 0, 1000, "j", "t", NULL, NULL);
    mono_ms t0 = sched_next_at(&e);
    /* The loop wakes 5.5 intervals after tick 0: run once, skip ticks 1..5, next is tick 6. */
    ck_assert(sched_tick(&e, t0 + 5500));
    ck_assert_int_eq(e.skipped_late, 5);
    ck_assert_int_eq(sched_next_at(&e), t0 + 6000);
    ck_assert(sched_tick(&e, t0 + 6000));
    ck_assert_int_eq(e.fired, 2);
}
END_TEST

struct loop_probe {
    struct event_base *base;
    mono_ms fires[64];
    uint64_t ks[64];
    int n;
    int stop_after;
    uint64_t skip_overlap_seen;
};

static void
fire_cb(struct sched_entry *e, void *arg)
{
    struct loop_probe *p = arg;

    p->ks[p->n] = e->k - 1;
    p->fires[p->n++] = clock_mono_ms();
    /* Ticks 3 and 4 find the run of tick 2 still in flight. */
    if (p->n == 3) {
        e->in_flight = true;
    }
    if (p->n >= p->stop_after) {
        event_base_loopbreak(p->base);
    }
}

static void
skip_cb(struct sched_entry *e, uint64_t n, bool overlap, void *arg)
{
    struct loop_probe *p = arg;

    if (overlap) {
        p->skip_overlap_seen += n;
        if (e->skipped_overlap == 2) {
            e->in_flight = false;
        }
    }
}

START_TEST(test_real_loop_ticks_on_grid)
{
    struct loop_probe p;
    struct sched_entry e;
    struct event_config *cfg = event_config_new();

    memset(&p, 0, sizeof(p));
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    p.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    p.stop_after = 12;
    sched_init(&e, clock_mono_ms(), 40, "job", "grid", fire_cb, &p);
    e.skip = skip_cb;
    ck_assert_int_eq(sched_start(&e, p.base), 0);
    event_base_dispatch(p.base);
    sched_stop(&e);
    event_base_free(p.base);

    ck_assert_int_eq(p.n, 12);
    ck_assert_int_eq(p.skip_overlap_seen, 2);
    ck_assert_int_eq(e.skipped_overlap, 2);
    for (int i = 0; i < p.n; i++) {
        mono_ms due = e.anchor + (mono_ms)p.ks[i] * 40;
        /* Never early (1 ms of clock rounding); late by less than a generous 30 ms. */
        ck_assert_msg(p.fires[i] >= due - 1 && p.fires[i] - due < 30, "tick %llu fired at %+lld ms",
                      (unsigned long long)p.ks[i], (long long)(p.fires[i] - due));
    }
    /* Tick indexes: 0,1,2 then 5.. (3 and 4 skipped as overlaps). */
    ck_assert_int_eq(p.ks[2], 2);
    ck_assert_int_eq(p.ks[3], 5);
}
END_TEST

static Suite *
sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("arithmetic");
    TCase *tl = tcase_create("loop");

    tcase_add_test(tc, test_offset_deterministic_and_spread);
    tcase_add_test(tc, test_no_drift_over_many_ticks);
    tcase_add_test(tc, test_early_fire_keeps_phase);
    tcase_add_test(tc, test_overlap_skipped_and_counted);
    tcase_add_test(tc, test_late_loop_skips_not_bursts);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tl, test_real_loop_ticks_on_grid);
    tcase_set_timeout(tl, 30);
    suite_add_tcase(s, tl);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sched_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
