/*
 * The scheduler: one one-shot timer per target, re-armed to the next absolute tick
 * anchor + k * interval, where anchor = start + a deterministic spread offset
 * hash(job, key) % interval, rounded down to one of SCHED_SLOTS slots. Ticks never drift (they are
 * computed, not accumulated), a tick whose previous run is still in flight is skipped and counted,
 * and ticks missed because the loop was late are skipped and counted too, never bursted.
 */
#ifndef POLLSTER_SCHED_H
#define POLLSTER_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

struct event;
struct event_base;
struct sched_entry;

/* Called at a tick when the previous run is not in flight. */
typedef void sched_fire_fn(struct sched_entry *e, void *arg);
/* Optional: called when ticks are skipped (@overlap: previous run in flight; else: loop late). */
typedef void sched_skip_fn(struct sched_entry *e, uint64_t n, bool overlap, void *arg);

struct sched_entry {
    mono_ms anchor;           /* tick 0 */
    mono_ms interval;         /* > 0 */
    uint64_t k;               /* index of the next tick */
    bool in_flight;           /* set by the owner while a run is going on */
    uint64_t skipped_overlap; /* ticks skipped because the previous run was in flight */
    uint64_t skipped_late;    /* ticks missed because the loop was late */
    uint64_t fired;
    mono_ms last_lag; /* how late the last timer fired after its tick (ms; < 0 when early) */
    sched_fire_fn *fire;
    sched_skip_fn *skip; /* may be NULL; set after sched_init */
    void *arg;
    struct event *ev; /* owned: NULL until sched_start */
};

/*
 * Offsets are spread over SCHED_SLOTS slots per interval (each slot interval / SCHED_SLOTS long,
 * clamped to [SCHED_SLOT_MIN_MS, SCHED_SLOT_MAX_MS]) rather than over every millisecond: the
 * targets of one slot start in the same loop wakeup and their responses are handled together,
 * which halved CPU per sample in tests/bench/scrape.sh (500 targets, 5 s: 0.79 -> 0.41 s per
 * million samples) at the price of a few ms of extra start lag for the last target of a slot.
 */
#define SCHED_SLOTS 50
#define SCHED_SLOT_MIN_MS 10
#define SCHED_SLOT_MAX_MS 1000

/* Deterministic spread offset in [0, interval): FNV-1a of job and key, rounded down to a slot. */
mono_ms sched_offset(const char *job, const char *key, mono_ms interval);
/* The slot length for @interval. */
mono_ms sched_slot(mono_ms interval);

/* Sets up @e (no timer yet). The first tick is at @start + sched_offset(job, key, interval). */
void sched_init(struct sched_entry *e, mono_ms start, mono_ms interval, const char *job,
                const char *key, sched_fire_fn *fire, void *arg);

/* Absolute time of the next tick. */
mono_ms sched_next_at(const struct sched_entry *e);

/*
 * The decision at a timer firing at @now (pure; no event involved, so tests drive it with any
 * clock): returns true when the run should start (false: in flight, counted as an overlap), and
 * advances k past @now, counting the ticks that were missed.
 */
bool sched_tick(struct sched_entry *e, mono_ms now);

/* Creates the timer on @base and arms it for the next tick. 0 or -ENOMEM. */
int sched_start(struct sched_entry *e, struct event_base *base);
/* Deletes the timer; the entry may be started again (keeps anchor, so keeps its phase). */
void sched_stop(struct sched_entry *e);

#endif
