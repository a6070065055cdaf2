/*
 * The pieces of the agent's fast string hashes (staleness ids, stale.c; OpenMetrics Metric keys,
 * prom_parse_metric.c): eight bytes a step, and the last 1-7 bytes read in registers. Not for
 * adversarial input: both hashes stay within one process and are checked on collision.
 */
#ifndef POLLSTER_WORDHASH_H
#define POLLSTER_WORDHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WORDHASH_K UINT64_C(0x9e3779b97f4a7c15)

/* @h with the 8-byte word @w mixed in. */
static inline uint64_t
wordhash_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * WORDHASH_K;
    return h ^ (h >> 29);
}

/*
 * s[0..n), n < 8, as the little-endian value of its bytes, without copying them to memory and
 * reading 8 bytes back (that stalls store forwarding): two overlapping 4-byte loads, or for n < 4
 * the first, middle and last bytes, which cover them.
 */
static inline uint64_t
wordhash_tail(const char *s, size_t n)
{
    uint32_t lo, hi;

    if (n >= 4) {
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        return (uint64_t)lo | ((uint64_t)hi << (8 * (n - 4)));
    }
    if (n == 0) {
        return 0;
    }
    return (uint64_t)(unsigned char)s[0] | ((uint64_t)(unsigned char)s[n / 2] << (8 * (n / 2))) |
           ((uint64_t)(unsigned char)s[n - 1] << (8 * (n - 1)));
}

/* The 64-bit finalizer (MurmurHash3's fmix64): every input bit reaches every output bit. */
static inline uint64_t
wordhash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 33);
}

#endif
