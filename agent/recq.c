/*
 * The record queue of the stdout and file outputs (recq.h): a singly linked list of records,
 * each one allocation holding its bytes, and the books kept in step with every change.
 */
#include "build-config.h"

#include "recq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct recq_rec {
    struct recq_rec *next; /* owned */
    size_t len;
    size_t off; /* bytes already written: > 0 means the record has begun and must finish */
    uint32_t nsamples;
    char data[];
};

void
recq_init(struct recq *q, size_t max_bytes, struct output_stats *st)
{
    q->head = NULL;
    q->tail = NULL;
    q->max_bytes = max_bytes;
    q->st = st;
}

bool
recq_empty(const struct recq *q)
{
    return q->head == NULL;
}

bool
recq_begun(const struct recq *q)
{
    return q->head != NULL && q->head->off > 0;
}

/* Unlinks the record after @prev (the head when NULL) from the queue and its books. */
static struct recq_rec *
take(struct recq *q, struct recq_rec *prev)
{
    struct recq_rec *r = prev != NULL ? prev->next : q->head;

    if (prev != NULL) {
        prev->next = r->next;
    }
    else {
        q->head = r->next;
    }
    if (q->tail == r) {
        q->tail = prev;
    }
    q->st->pending_samples -= r->nsamples;
    q->st->queue_bytes -= r->len;
    return r;
}

/* Drops the record after @prev (the head when NULL), booked under @why; its sample count. */
static uint32_t
drop_after(struct recq *q, struct recq_rec *prev, enum output_drop why)
{
    struct recq_rec *r = take(q, prev);
    uint32_t n = r->nsamples;

    q->st->dropped[why] += n;
    free(r);
    return n;
}

bool
recq_make_room(struct recq *q, size_t len, uint64_t *dropped)
{
    if (len > q->max_bytes) {
        return false;
    }
    while (q->st->queue_bytes + len > q->max_bytes && q->head != NULL) {
        /* A record being written must finish: drop the one after it instead. */
        struct recq_rec *begun = q->head->off > 0 ? q->head : NULL;
        if (begun != NULL && begun->next == NULL) {
            break;
        }
        *dropped += drop_after(q, begun, OUTPUT_DROP_QUEUE_FULL);
    }
    return q->st->queue_bytes + len <= q->max_bytes;
}

int
recq_add(struct recq *q, const char *data, size_t len, size_t off, uint32_t nsamples)
{
    struct recq_rec *r = malloc(sizeof(*r) + len);

    if (r == NULL) {
        return -ENOMEM;
    }
    memcpy(r->data, data, len);
    r->len = len;
    r->off = off;
    r->nsamples = nsamples;
    r->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = r;
    }
    else {
        q->head = r;
    }
    q->tail = r;
    q->st->pending_samples += nsamples;
    q->st->queue_bytes += len;
    return 0;
}

void
recq_delivered(struct output_stats *st, uint32_t nsamples)
{
    st->delivered += nsamples;
    st->requests++;
    st->last_success = (double)clock_wall_ms() / 1000.0;
}

int
recq_push(struct recq *q, recq_write_fn *w, void *arg)
{
    while (q->head != NULL) {
        struct recq_rec *r = q->head;
        ssize_t n = w(arg, r->data + r->off, r->len - r->off);
        if (n <= 0) {
            return n < 0 ? (int)n : -EIO;
        }
        r->off += (size_t)n;
        if (r->off == r->len) {
            take(q, NULL);
            recq_delivered(q->st, r->nsamples);
            free(r);
        }
    }
    return 0;
}

uint64_t
recq_drop_all(struct recq *q, enum output_drop why)
{
    uint64_t n = 0;

    while (q->head != NULL) {
        n += drop_after(q, NULL, why);
    }
    return n;
}
