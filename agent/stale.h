/*
 * Staleness markers, as Prometheus writes them: when a series a target exposed in its previous
 * run is missing from this one (or the run failed), or when the target itself goes away, the
 * series gets one sample whose value is the staleness NaN (bit pattern 0x7ff0000000000002), so
 * a receiver ends it at once instead of after its lookback window.
 *
 * Per target, a struct stale_series remembers the last run's series: a 64-bit id per series
 * (a hash of its name and labels, independent of label order) and a copy of its name and
 * labels, which are the only thing a marker needs once the batch that held them is gone (one
 * compact block of the size it takes: each string written after the prefix it shares with the
 * same string of the series before, about 10-20 bytes a series). A target whose series set did not
 * change (the usual case: an exporter writes the same series in the same order every time) costs
 * one hash per sample (strings shared with the previous sample are not hashed again) and one
 * compare; the copy is rebuilt only when the set changes. Samples with their own timestamp are not
 * tracked (Prometheus does not mark those stale either). The engine keeps this memory only when an
 * output wants markers (output.h, stale_markers).
 */
#ifndef POLLSTER_STALE_H
#define POLLSTER_STALE_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

/* The staleness NaN's bits. */
#define STALE_NAN_BITS UINT64_C(0x7ff0000000000002)

/* The staleness NaN as a double. */
double stale_nan(void);
/* Whether @v is the staleness NaN (an ordinary NaN is not). */
bool stale_is_marker(double v);

struct stale_series;

/* An empty memory (no previous run). NULL when out of memory. */
struct stale_series *stale_series_new(void);
/* Frees @s (accepts NULL). */
void stale_series_free(struct stale_series *s);

/*
 * After a run of the target: appends to @b a marker, timestamped @b->ts_ms, for every series of
 * the previous run @b lacks (after its own samples: b->nstale), then remembers @b's series.
 * Returns 0, or -ENOMEM (the markers of this run may be missing; the memory is left as it was
 * or empty). Called on the loop thread once the batch is complete (synthetic series included).
 */
int stale_series_track(struct stale_series *s, struct batch *b);
/*
 * A run in parts (sample.h): each part but the last is added with stale_series_part() (its
 * series noted, nothing appended), the last batch then goes to stale_series_track() as above.
 * A memory made while a run was in parts (a reload) skips that run. Returns 0, or -ENOMEM at the
 * part that ran out of memory (the run is then not remembered: stale_series_track() says so too).
 */
int stale_series_part(struct stale_series *s, const struct batch *b);

/*
 * The target goes away: appends to @b a marker, timestamped @ts_ms, for every remembered series
 * and forgets them. Returns 0 or -ENOMEM.
 */
int stale_series_end(struct stale_series *s, struct batch *b, int64_t ts_ms);

/* The number of series remembered (for tests). */
size_t stale_series_count(const struct stale_series *s);

#endif
