/*
 * FNV-1a, 64 bits: the small non-cryptographic hash the agent uses for slots, shards and
 * fingerprints (the parser keeps its 32-bit one for its family table, prom_parse-internal.h).
 */
#ifndef POLLSTER_FNV_H
#define POLLSTER_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV64_INIT UINT64_C(14695981039346656037)

/* @h with the @n bytes at @p mixed in. */
static inline uint64_t
fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * UINT64_C(1099511628211);
    }
    return h;
}

/* @h with the bytes of the NUL-terminated @s (not the NUL) mixed in; NULL counts as "". */
static inline uint64_t
fnv64_str(uint64_t h, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    }
    return h;
}

#endif
