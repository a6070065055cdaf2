/* The "otlp" output format: stub until implemented. */
#include "config.h"

#include "enc_otlp.h"

#include <errno.h>

static int
encode_otlp(struct strbuf *sb, const struct batch *b)
{
    (void)sb;
    (void)b;
    return -ENOSYS;
}

const struct encoder enc_otlp = {
    .name = "otlp",
    .content_type = "application/json",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = encode_otlp,
};
