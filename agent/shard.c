/*
 * Rendezvous sharding of targets (see shard.h). A target's key is FNV-1a over its final labels;
 * each agent's weight for it is a 64-bit mix (splitmix64's finaliser) of the key and the agent's
 * index, and the R agents with the highest weights own it (ties, which need equal 64-bit weights,
 * go to the lower index). The filter runs once per job at config load, after every SD mechanism
 * and relabel_configs have made the job's final targets, so static_configs, file_sd, http_sd,
 * dns_sd, probes and json jobs are sharded alike, and a reload or an SD refresh (both build a new
 * config) shards the new list the same way.
 */
#include "build-config.h"

#include "shard.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_targets.h"
#include "config.h"
#include "dropped.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static void shard_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                        const char *path);

#define SH(k, m, ...) CONF_FLD(k, CONF_FT_INT, struct shard, m, __VA_ARGS__)
static const struct conf_field shard_fields[] = {
    SH("index", index, .def = "0", .min = 0, .max = SHARD_COUNT_MAX - 1,
       .desc = "pollster: this agent's place in the fleet, 0 to count - 1 (--shard K/N sets it)."),
    SH("count", count, .def = "1", .min = 1, .max = SHARD_COUNT_MAX,
       .desc = "pollster: how many agents share the targets (--shard K/N sets it); 1 keeps every "
               "target."),
    SH("replication", replication, .def = "1", .min = 1, .max = SHARD_COUNT_MAX,
       .desc = "pollster: how many agents scrape each target (at most count)."),
};
#undef SH
const struct conf_section shard_section = {
    .name = "global.shard", CONF_FIELDS(shard_fields), .check = shard_check};

static int64_t override_index, override_count; /* shard_override_set; count 0 = none */

void
shard_override_set(int64_t index, int64_t count)
{
    override_index = index;
    override_count = count;
}

void
shard_override_apply(struct shard *s)
{
    if (override_count > 0) {
        s->index = override_index;
        s->count = override_count;
    }
}

static void
shard_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct shard *s = base;
    char by[64] = "";

    (void)path;
    if (override_count > 0) {
        shard_override_apply(s);
        snprintf(by, sizeof(by), " (--shard %lld/%lld)", (long long)s->index, (long long)s->count);
    }
    else if (s->index >= s->count) {
        conf_err(x, conf_tree_get(map, "index"), "shard index %lld must be less than count %lld",
                 (long long)s->index, (long long)s->count);
    }
    if (s->replication > s->count) {
        conf_err(x, conf_tree_get(map, "replication"),
                 "shard replication %lld must not exceed count %lld%s", (long long)s->replication,
                 (long long)s->count, by);
    }
}

/*
 * FNV-1a of @s and its terminating NUL (so "ab","c" and "a","bc" differ); NULL (a job whose name
 * is missing: the config is reported invalid, but the filter still runs) hashes as "".
 */
static uint64_t
fnv_str(uint64_t h, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

    do {
        h ^= *p;
        h *= FNV_PRIME;
    } while (*p++ != '\0');
    return h;
}

uint64_t
shard_key(const char *job, const char *instance, const struct label *labels, size_t n)
{
    uint64_t h = FNV_OFFSET;

    h = fnv_str(h, "job");
    h = fnv_str(h, job);
    h = fnv_str(h, "instance");
    h = fnv_str(h, instance);
    for (size_t i = 0; i < n; i++) {
        h = fnv_str(h, labels[i].name);
        h = fnv_str(h, labels[i].value);
    }
    return h;
}

/* Agent @node's weight for @key: splitmix64's finaliser, so nearby keys or nodes spread. */
static uint64_t
weight(uint64_t key, uint64_t node)
{
    uint64_t z = key ^ ((node + 1) * 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

bool
shard_owns(const struct shard *s, uint64_t key)
{
    uint64_t me, above = 0;

    if (s->count <= 1 || s->replication >= s->count) {
        return true;
    }
    me = weight(key, (uint64_t)s->index);
    for (int64_t j = 0; j < s->count; j++) {
        uint64_t w = weight(key, (uint64_t)j);
        if (j != s->index && (w > me || (w == me && j < s->index))) {
            if (++above >= (uint64_t)s->replication) {
                return false;
            }
        }
    }
    return true;
}

/* The labels a dropped target shows: its discovered ones, else its final ones (one block). */
static struct label *
dropped_labels(const struct config_job *job, struct config_target *t, size_t *n)
{
    struct label *l, *block;

    if (t->discovered != NULL) {
        block = t->discovered;
        *n = t->ndiscovered;
        t->discovered = NULL;
        return block;
    }
    l = calloc(t->nlabels + 2, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    memcpy(l, t->labels, t->nlabels * sizeof(*l));
    *n = t->nlabels;
    if (conf_targets_label_get(l, *n, "job") == NULL) {
        l[(*n)++] = (struct label){.name = "job", .value = job->name};
    }
    l[(*n)++] = (struct label){.name = "instance", .value = t->instance};
    qsort(l, *n, sizeof(*l), conf_label_cmp);
    block = label_block_dup(l, *n, NULL, NULL);
    free(l);
    return block;
}

int
shard_filter_job(struct config_job *job, const struct shard *s)
{
    size_t kept = 0, i;
    int rc = 0;

    job->nseen = job->ntargets;
    for (i = 0; i < job->ntargets; i++) {
        struct config_target *t = &job->targets[i];
        if (rc == 0 && !shard_owns(s, shard_key(job->name, t->instance, t->labels, t->nlabels))) {
            struct config_dropped *arr = conf_grow(job->dropped, job->ndropped, sizeof(*arr));
            struct config_dropped dt = {.reason = "shard"};
            if (arr != NULL) {
                job->dropped = arr;
                dt.labels = dropped_labels(job, t, &dt.nlabels);
            }
            if (dt.labels == NULL) {
                rc = -ENOMEM; /* keep this one and the rest: still a valid job */
                job->targets[kept++] = *t;
                continue;
            }
            job->dropped[job->ndropped++] = dt;
            conf_targets_release(t);
            continue;
        }
        job->targets[kept++] = *t;
    }
    job->ntargets = kept;
    return rc;
}

int
shard_parse_arg(const char *arg, int64_t *index, int64_t *count, char *err, size_t errlen)
{
    const char *slash = strchr(arg, '/');
    char *end;
    long long k, n;

    if (slash == NULL || slash == arg || slash[1] == '\0' || arg[0] < '0' || arg[0] > '9' ||
        slash[1] < '0' || slash[1] > '9') {
        snprintf(err, errlen, "--shard \"%s\": expected K/N (for example 0/3)", arg);
        return -EINVAL;
    }
    errno = 0;
    k = strtoll(arg, &end, 10);
    if (errno != 0 || end != slash) {
        snprintf(err, errlen, "--shard \"%s\": K is not a number", arg);
        return -EINVAL;
    }
    n = strtoll(slash + 1, &end, 10);
    if (errno != 0 || *end != '\0') {
        snprintf(err, errlen, "--shard \"%s\": N is not a number", arg);
        return -EINVAL;
    }
    if (n < 1 || n > SHARD_COUNT_MAX) {
        snprintf(err, errlen, "--shard \"%s\": N must be 1 to %d", arg, SHARD_COUNT_MAX);
        return -EINVAL;
    }
    if (k >= n) {
        snprintf(err, errlen, "--shard \"%s\": K must be less than N (0 to %lld)", arg, n - 1);
        return -EINVAL;
    }
    *index = k;
    *count = n;
    return 0;
}
