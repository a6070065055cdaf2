/*
 * Drift-free ticks for periodic collection. The tick index k is the authority: a timer that fires
 * early or late still runs tick k, and the next deadline is anchor + (k + 1) * interval, so
 * errors never accumulate. A one-shot evtimer re-armed per tick is used instead of EV_PERSIST,
 * which re-phases after a miss.
 */
#include "build-config.h"

#include "sched.h"

#include <errno.h>
#include <string.h>

#include <event2/event.h>

#include "fnv.h"
#include "log.h"

mono_ms
sched_offset(const char *job, const char *key, mono_ms interval)
{
    /* FNV-1a from a seed of its own (one digit short of FNV's: the offsets stay as they were) */
    uint64_t h = fnv64_str(1469598103934665603ULL, job);

    h = fnv64(h, "\xff", 1); /* separator: ("ab","c") != ("a","bc") */
    h = fnv64_str(h, key);
    if (interval <= 0) {
        return 0;
    }
    mono_ms off = (mono_ms)(h % (uint64_t)interval);
    mono_ms slot = sched_slot(interval);
    return off - off % slot;
}

mono_ms
sched_slot(mono_ms interval)
{
    mono_ms slot = interval / SCHED_SLOTS;

    if (slot < SCHED_SLOT_MIN_MS) {
        slot = SCHED_SLOT_MIN_MS;
    }
    if (slot > SCHED_SLOT_MAX_MS) {
        slot = SCHED_SLOT_MAX_MS;
    }
    return slot < interval ? slot : (interval > 0 ? interval : 1);
}

void
sched_init(struct sched_entry *e, mono_ms start, mono_ms interval, const char *job, const char *key,
           sched_fire_fn *fire, void *arg)
{
    memset(e, 0, sizeof(*e));
    e->interval = interval > 0 ? interval : 1;
    e->anchor = start + sched_offset(job, key, e->interval);
    e->fire = fire;
    e->arg = arg;
}

mono_ms
sched_next_at(const struct sched_entry *e)
{
    return e->anchor + (mono_ms)e->k * e->interval;
}

bool
sched_tick(struct sched_entry *e, mono_ms now)
{
    bool run = !e->in_flight;

    if (run) {
        e->fired++;
    }
    else {
        e->skipped_overlap++;
    }
    e->k++;
    /* The loop was late by a whole interval or more: skip (and count) the missed ticks. */
    if (sched_next_at(e) <= now) {
        uint64_t due = (uint64_t)((now - e->anchor) / e->interval) + 1;
        e->skipped_late += due - e->k;
        e->k = due;
    }
    return run;
}

static void
sched_arm(struct sched_entry *e)
{
    /* libevent adds the delay to its cached loop time, which lags inside callbacks. */
    event_base_update_cache_time(event_get_base(e->ev));
    mono_ms delay = sched_next_at(e) - clock_mono_ms();

    if (delay < 0) {
        delay = 0;
    }
    struct timeval tv = {.tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000};
    if (evtimer_add(e->ev, &tv) != 0) {
        log_err("sched: evtimer_add() failed");
    }
}

static void
sched_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sched_entry *e = arg;
    uint64_t overlap = e->skipped_overlap, late = e->skipped_late;
    mono_ms now = clock_mono_ms();

    e->last_lag = now - sched_next_at(e);
    bool run = sched_tick(e, now);

    /* Arm first: the callbacks may stop the entry. */
    sched_arm(e);
    if (e->skip != NULL && e->skipped_late > late) {
        e->skip(e, e->skipped_late - late, false, e->arg);
    }
    if (e->skip != NULL && e->skipped_overlap > overlap) {
        e->skip(e, e->skipped_overlap - overlap, true, e->arg);
    }
    if (run) {
        e->fire(e, e->arg);
    }
}

int
sched_start(struct sched_entry *e, struct event_base *base)
{
    if (e->ev == NULL) {
        e->ev = evtimer_new(base, sched_timer_cb, e);
        if (e->ev == NULL) {
            return -ENOMEM;
        }
    }
    /* A restarted entry resumes at its next future tick, keeping its phase. */
    mono_ms now = clock_mono_ms();
    if (sched_next_at(e) < now) {
        e->k = (uint64_t)((now - e->anchor) / e->interval) + 1;
    }
    sched_arm(e);
    return 0;
}

void
sched_stop(struct sched_entry *e)
{
    if (e->ev != NULL) {
        event_free(e->ev);
        e->ev = NULL;
    }
}
