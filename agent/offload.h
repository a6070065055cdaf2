/*
 * A worker thread for CPU-heavy work that must not stall the loop (issue 13 item 2: encoding a
 * 200,000-series batch takes tens of milliseconds). work() runs on the worker; done() runs on
 * the loop afterwards, in submission order. work() may only touch what its argument owns or
 * reads immutably (an encoder over a batch nobody changes meanwhile): not the arena free list,
 * not the log, not libevent.
 */
#ifndef POLLSTER_OFFLOAD_H
#define POLLSTER_OFFLOAD_H

#include <stddef.h>

struct event_base;
struct offload;

typedef void offload_fn(void *arg);

/* A worker whose done() calls run on @base. NULL when the thread or pipe cannot be made. */
struct offload *offload_new(struct event_base *base);
/*
 * Queues @work(@arg) for the worker, then @done(@arg) on the loop. Returns 0, or -errno (the
 * caller does the work itself then).
 */
int offload_submit(struct offload *o, offload_fn *work, offload_fn *done, void *arg);
/* Jobs submitted whose done() has not run yet. */
size_t offload_pending(const struct offload *o);
/*
 * Stops the worker after it finished the queued jobs, then runs their done() calls (and the work
 * and done of any job those submit) on the caller's thread. Accepts NULL.
 */
void offload_free(struct offload *o);

#endif
