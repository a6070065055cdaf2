/*
 * Sharding without a coordinator: N agents with the same config each keep the targets whose
 * rendezvous (highest random weight) hash over the target's final labels ranks the agent among
 * the top R of the N. Every agent computes the same ranking from the labels alone, so the N
 * agents own each target exactly R times; going from N to N+1 agents moves only the targets the
 * new agent now ranks in the top R (about R/(N+1) of them), nothing between the old agents.
 * Config: global.shard {index, count, replication}; the command line's --shard K/N overrides
 * index and count (shard_override_set).
 */
#ifndef POLLSTER_SHARD_H
#define POLLSTER_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

/* Upper bound of count (and so of index + 1): far above any fleet, keeps the ranking O(count). */
#define SHARD_COUNT_MAX 65536

/* global.shard. count 1 (the default) keeps every target. */
struct shard {
    int64_t index;       /* 0 <= index < count: this agent */
    int64_t count;       /* >= 1: agents in the fleet */
    int64_t replication; /* 1 <= replication <= count: agents that own each target */
};

struct config_job;
struct conf_section;

/*
 * The section of global.shard; its check applies --shard (shard_override_apply), then requires
 * index < count and replication <= count.
 */
extern const struct conf_section shard_section;

/*
 * The key of a target: a 64-bit hash of its job name, its instance and its @n labels (sorted by
 * name, as struct config_target keeps them). Pure function of its arguments.
 */
uint64_t shard_key(const char *job, const char *instance, const struct label *labels, size_t n);

/* Whether agent @s->index is among the top @s->replication of @s->count agents for @key. */
bool shard_owns(const struct shard *s, uint64_t key);

/*
 * Keeps in @job only the targets @s owns: the others are moved to job->dropped with the reason
 * "shard" (their discovered labels, or for targets without any, their final labels with
 * instance and job). Sets job->nseen to the number of targets before the filter. 0 or -ENOMEM
 * (@job is then still valid: every target is either kept or dropped).
 */
int shard_filter_job(struct config_job *job, const struct shard *s);

/*
 * --shard K/N: the config loads that follow use @index and @count instead of global.shard's (its
 * replication stays). @count 0 turns the override off. Call before loading (main.c).
 */
void shard_override_set(int64_t index, int64_t count);
/* Puts the override's index and count (if any) into @s. */
void shard_override_apply(struct shard *s);

/*
 * Parses --shard's argument "K/N" (decimal, 0 <= K < N <= SHARD_COUNT_MAX). 0, or -EINVAL
 * with the reason in @err.
 */
int shard_parse_arg(const char *arg, int64_t *index, int64_t *count, char *err, size_t errlen);

#endif
