/*
 * Record packing (issue 16, memory): a record waiting in an output's memory queue while the sink
 * lags is kept deflated (raw deflate, level 1: metrics text shrinks 8-15x) rather than as text,
 * and inflated again when it goes into a request or the spool. Only a lagging sink pays for it:
 * the caller packs records pushed while a full request (and at least RECPACK_AT bytes) already
 * waits behind the one in flight.
 */
#ifndef POLLSTER_RECPACK_H
#define POLLSTER_RECPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <zlib.h>

struct strbuf;

/* Unsent text below this is never packed. */
#define RECPACK_AT (1024 * 1024)

struct recpack {
    z_stream def, inf;
    bool def_ready, inf_ready;
};

void recpack_init(struct recpack *p);
void recpack_release(struct recpack *p);

/*
 * @len bytes of @src deflated into @out (replacing its contents). 0, or -ENOMEM. The caller
 * keeps @src when packing fails or does not pay (out->len >= @len).
 */
int recpack_pack(struct recpack *p, struct strbuf *out, const char *src, size_t len);
/*
 * Appends the @plain_len bytes that recpack_pack() packed into @zlen bytes at @src to @out.
 * 0, -ENOMEM, or -EIO when @src is not what recpack_pack() made of @plain_len bytes.
 */
int recpack_unpack(struct recpack *p, struct strbuf *out, const char *src, size_t zlen,
                   size_t plain_len);

#endif
