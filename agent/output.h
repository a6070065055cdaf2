/*
 * The output interface: where encoded batches go (stdout, files, HTTP sinks). An output receives
 * bytes already encoded in its format; it knows nothing about job kinds, and the engine knows
 * nothing about an output beyond this table.
 */
#ifndef POLLSTER_OUTPUT_H
#define POLLSTER_OUTPUT_H

#include <stddef.h>

struct output_ops {
    const char *name;
    /*
     * Takes @len bytes of complete records (copied or written before returning). Returns 0, or
     * a negative errno after logging; the engine counts the failure and carries on.
     */
    int (*write)(void *state, const char *data, size_t len);
    /* Pushes out anything buffered (shutdown). May be NULL. */
    int (*flush)(void *state);
    /* Reopens files after log rotation (SIGHUP). May be NULL. */
    int (*reopen)(void *state);
    /* Frees the state (accepts NULL). */
    void (*free)(void *state);
};

struct output {
    const struct output_ops *ops; /* borrowed: static table */
    void *state;                  /* owned */
};

#endif
