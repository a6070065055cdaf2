/* The "telegraf" output format: stub until implemented. */
#include "config.h"

#include "enc_telegraf.h"

#include <errno.h>

static int
encode_telegraf(struct strbuf *sb, const struct batch *b)
{
    (void)sb;
    (void)b;
    return -ENOSYS;
}

const struct encoder enc_telegraf = {
    .name = "telegraf",
    .content_type = "application/json",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = encode_telegraf,
};
