/* Monotonic and wall clocks, with a seam for a fake monotonic clock in tests. */
#include "build-config.h"

#include "clock.h"

#include <time.h>

static clock_mono_fn *fake_mono;

mono_ms
clock_mono_ms(void)
{
    struct timespec ts;

    if (fake_mono != NULL) {
        return fake_mono();
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (mono_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
clock_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
clock_set_mono(clock_mono_fn *fn)
{
    fake_mono = fn;
}
