/*
 * Record packing (recpack.h): one deflate and one inflate stream per queue, reset per record so
 * no record depends on another (the queue drops, spills and sends them one by one).
 */
#include "build-config.h"

#include "recpack.h"

#include <errno.h>
#include <string.h>

#include "strbuf.h"

void
recpack_init(struct recpack *p)
{
    memset(p, 0, sizeof(*p));
}

void
recpack_release(struct recpack *p)
{
    if (p->def_ready) {
        deflateEnd(&p->def);
    }
    if (p->inf_ready) {
        inflateEnd(&p->inf);
    }
    recpack_init(p);
}

int
recpack_pack(struct recpack *p, struct strbuf *out, const char *src, size_t len)
{
    if (!p->def_ready) {
        /* Raw deflate (no header or checksum), a 32 KiB window, 64 KiB of state (memLevel 7). */
        if (deflateInit2(&p->def, 1, Z_DEFLATED, -15, 7, Z_DEFAULT_STRATEGY) != Z_OK) {
            return -ENOMEM;
        }
        p->def_ready = true;
    }
    else {
        deflateReset(&p->def);
    }
    size_t bound = deflateBound(&p->def, (uLong)len);
    strbuf_reset(out);
    if (len > (uInt)-1 || strbuf_reserve(out, bound) != 0) {
        return -ENOMEM;
    }
    p->def.next_in = (Bytef *)src;
    p->def.avail_in = (uInt)len;
    p->def.next_out = (Bytef *)out->data;
    p->def.avail_out = (uInt)bound;
    if (deflate(&p->def, Z_FINISH) != Z_STREAM_END) {
        return -ENOMEM;
    }
    out->len = bound - p->def.avail_out;
    return 0;
}

int
recpack_unpack(struct recpack *p, struct strbuf *out, const char *src, size_t zlen,
               size_t plain_len)
{
    if (!p->inf_ready) {
        if (inflateInit2(&p->inf, -15) != Z_OK) {
            return -ENOMEM;
        }
        p->inf_ready = true;
    }
    else {
        inflateReset(&p->inf);
    }
    if (zlen > (uInt)-1 || plain_len > (uInt)-1 || strbuf_reserve(out, plain_len) != 0) {
        return -ENOMEM;
    }
    p->inf.next_in = (Bytef *)src;
    p->inf.avail_in = (uInt)zlen;
    p->inf.next_out = (Bytef *)(out->data + out->len);
    p->inf.avail_out = (uInt)plain_len;
    int rc = inflate(&p->inf, Z_FINISH);
    if (rc != Z_STREAM_END || p->inf.avail_out != 0 || p->inf.avail_in != 0) {
        out->data[out->len] = '\0';
        return rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
    }
    out->len += plain_len;
    out->data[out->len] = '\0';
    return 0;
}
