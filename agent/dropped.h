/*
 * Dropped targets: the targets relabel_configs dropped or another agent owns (shard.h), each with
 * its job and the labels it was discovered with, as /api/v1/targets lists them (droppedTargets).
 * One allocation per target (label_block_dup, also used for active targets' discovered labels); the
 * engine keeps the set of the configuration in force (and, during a reload, the previous one).
 */
#ifndef POLLSTER_DROPPED_H
#define POLLSTER_DROPPED_H

#include <stddef.h>

#include "sample.h"

struct dropped_target {
    const char *job;            /* in the same allocation */
    const struct label *labels; /* sorted by name; strings in the same allocation */
    size_t nlabels;
    const char *reason; /* static: "relabeling" or "shard" */
};

struct dropped_set {
    struct dropped_target *v; /* owned; each element's block is owned too */
    size_t n;
};

/*
 * The @n labels @l and the string @tail (NULL: none) copied into one block: free() it. The copy
 * of @tail is in *@tail_copy. NULL when out of memory.
 */
struct label *label_block_dup(const struct label *l, size_t n, const char *tail,
                              const char **tail_copy);

/*
 * Copies @job and the @n labels @l into a new element dropped for @reason (a static string:
 * NULL means "relabeling"). 0 or -ENOMEM.
 */
int dropped_set_add(struct dropped_set *s, const char *job, const struct label *l, size_t n,
                    const char *reason);
/* Frees everything; @s is then empty (and reusable). */
void dropped_set_clear(struct dropped_set *s);

#endif
