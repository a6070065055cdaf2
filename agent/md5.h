/*
 * MD5 (RFC 1321): the digest Prometheus' hashmod relabel action uses. Not a secure hash.
 */
#ifndef POLLSTER_MD5_H
#define POLLSTER_MD5_H

#include <stddef.h>

/* The 16-byte MD5 digest of @len bytes at @data. */
void md5_digest(const void *data, size_t len, unsigned char out[16]);

#endif
