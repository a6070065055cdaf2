/*
 * The encoder interface: one const table entry per output format (DESIGN.md, "Modules"). An
 * output looks its format up by name in a table of these and calls encode() for every batch; it
 * never knows which format it writes. A new format is one enc_<format>.c defining one
 * `const struct encoder` with designated initializers, plus one row in that table.
 */
#ifndef POLLSTER_ENCODER_H
#define POLLSTER_ENCODER_H

#include "sample.h"
#include "strbuf.h"

struct encoder {
    const char *name; /* the config's `format:` value, e.g. "json"; static storage */
    /*
     * Appends the encoding of @b to @sb (the batch is only read). Returns 0, or -ENOMEM when @sb
     * ran out of memory; @sb then holds what it held before the call, with its oom flag set.
     * Called on the loop thread; must not block.
     */
    int (*encode)(struct strbuf *sb, const struct batch *b);
};

#endif
