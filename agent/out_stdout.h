/* The stdout output: encoded batches written to file descriptor 1, one record per line. */
#ifndef POLLSTER_OUT_STDOUT_H
#define POLLSTER_OUT_STDOUT_H

#include "output.h"
#include "outputs.h"

extern const struct output_ops out_stdout_ops;

/* The stdout output's row in the outputs registry. */
extern const struct output_type out_stdout_type;

/* Bytes of records a stalled reader may leave queued before the oldest are dropped. */
#define OUT_STDOUT_QUEUE_MAX ((size_t)64 * 1024 * 1024)

/* A stdout output's settings: config_output.opts of a stdout output. */
struct out_stdout_conf {
    uint64_t queue_max_bytes; /* default 64MiB (OUT_STDOUT_QUEUE_MAX) */
};

struct loop;

/*
 * State for writing to @fd that waits for the reader in every write (no loop: tests, tools).
 * NULL when out of memory.
 */
void *out_stdout_new(int fd);
/*
 * State for writing to @fd (1 in production; tests pass a pipe) without ever blocking the loop
 * @l: at most @max_bytes wait for a slow reader, the rest is dropped and counted. NULL when out
 * of memory.
 */
void *out_stdout_open(int fd, struct loop *l, size_t max_bytes);

#endif
