/*
 * MD5 as RFC 1321 specifies it (section 3: padding, length, the four rounds; the constants T[i]
 * computed from sin() as the RFC defines them). Used for relabeling's hashmod, where Prometheus
 * hashes with MD5; not for anything that needs a secure hash.
 */
#include "build-config.h"

#include "md5.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint32_t
rotl32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void
md5_block(uint32_t st[4], const unsigned char *p)
{
    static const unsigned char shift[4][4] = {
        {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
    static uint32_t t[64];
    uint32_t x[16], a = st[0], b = st[1], c = st[2], d = st[3];

    if (t[0] == 0) {
        /* RFC 1321 3.4: T[i] is the integer part of 4294967296 * abs(sin(i)), i in radians. */
        for (int i = 0; i < 64; i++) {
            t[i] = (uint32_t)(fabs(sin((double)(i + 1))) * 4294967296.0);
        }
    }
    for (int i = 0; i < 16; i++) {
        x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    }
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, round = i / 16;
        switch (round) {
        case 0:
            f = (b & c) | (~b & d);
            g = i;
            break;
        case 1:
            f = (b & d) | (c & ~d);
            g = (5 * i + 1) % 16;
            break;
        case 2:
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
            break;
        }
        uint32_t tmp = d;
        d = c;
        c = b;
        b = b + rotl32(a + f + t[i] + x[g], shift[round][i % 4]);
        a = tmp;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void
md5_digest(const void *data, size_t len, unsigned char out[16])
{
    uint32_t st[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    const unsigned char *p = data;
    unsigned char tail[128];
    size_t full = len / 64 * 64, rest = len - full, tlen;
    uint64_t bits = (uint64_t)len * 8;

    for (size_t off = 0; off < full; off += 64) {
        md5_block(st, p + off);
    }
    memset(tail, 0, sizeof(tail));
    memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) {
        tail[tlen - 8 + i] = (unsigned char)(bits >> (8 * i));
    }
    md5_block(st, tail);
    if (tlen == 128) {
        md5_block(st, tail + 64);
    }
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 4; k++) {
            out[4 * i + k] = (unsigned char)(st[i] >> (8 * k));
        }
    }
}
