/*
 * A bounded queue of whole records for the outputs that write one document per batch (stdout,
 * file): what the reader or the disk has not taken yet, oldest first, booked in the owner's
 * output_stats (output.h: collected + recovered = delivered + dropped + pending at every moment).
 * A record that has begun to go out must finish (a line is never cut); when a new record does not
 * fit the bound, the oldest records not yet begun are dropped (queue_full) to make room.
 */
#ifndef POLLSTER_RECQ_H
#define POLLSTER_RECQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "output.h"

struct recq_rec;

struct recq {
    struct recq_rec *head, *tail; /* owned: oldest first */
    size_t max_bytes;             /* bound on queue_bytes for records not yet begun */
    struct output_stats *st;      /* borrowed: the owner's books (pending_samples, queue_bytes) */
};

/* An empty queue of at most @max_bytes booked in @st. Nothing to free while it is empty. */
void recq_init(struct recq *q, size_t max_bytes, struct output_stats *st);

/* True when nothing waits. */
bool recq_empty(const struct recq *q);

/* True when the oldest record has begun to go out (part of it written: the rest must follow). */
bool recq_begun(const struct recq *q);

/*
 * Drops the oldest records not yet begun until @len more bytes fit the bound, booking them as
 * queue_full; adds their samples to *@dropped. False when @len cannot fit (larger than the bound,
 * or only a begun record is left).
 */
bool recq_make_room(struct recq *q, size_t len, uint64_t *dropped);

/*
 * Queues a copy of the @len bytes at @data holding @nsamples samples, of which the first @off
 * were written already (the record has begun when @off > 0). The bound is the caller's business
 * (recq_make_room). 0, or -ENOMEM with nothing queued and nothing booked.
 */
int recq_add(struct recq *q, const char *data, size_t len, size_t off, uint32_t nsamples);

/* Books @nsamples as delivered by one write that took a whole record. */
void recq_delivered(struct output_stats *st, uint32_t nsamples);

/* Writes up to @len bytes of @data: the bytes taken, or -errno (-EAGAIN: not now). */
typedef ssize_t recq_write_fn(void *arg, const char *data, size_t len);

/*
 * Writes the queued records, oldest first, with @w until the queue is empty (0) or @w fails
 * (its -errno; a write of 0 bytes is -EIO). Each record written whole is delivered.
 */
int recq_push(struct recq *q, recq_write_fn *w, void *arg);

/* Drops every queued record under @why; the samples dropped. */
uint64_t recq_drop_all(struct recq *q, enum output_drop why);

#endif
