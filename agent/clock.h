/*
 * Time: monotonic milliseconds for schedules and durations, wall-clock milliseconds for
 * timestamps. Two types so the two are never mixed. Tests may install a fake monotonic clock.
 */
#ifndef POLLSTER_CLOCK_H
#define POLLSTER_CLOCK_H

#include <stdint.h>

typedef int64_t mono_ms; /* CLOCK_MONOTONIC, milliseconds */

typedef mono_ms clock_mono_fn(void);

/* CLOCK_MONOTONIC now (or the fake installed with clock_set_mono). */
mono_ms clock_mono_ms(void);
/* CLOCK_MONOTONIC in seconds with ns resolution, for durations. */
double clock_mono_s(void);
/* Wall clock, ms since the epoch. */
int64_t clock_wall_ms(void);
/* Installs a fake monotonic clock (tests); NULL restores the real one. */
void clock_set_mono(clock_mono_fn *fn);

#endif
