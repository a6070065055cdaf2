/* The "vm" output format: stub until implemented. */
#include "config.h"

#include "enc_vm.h"

#include <errno.h>

static int
encode_vm(struct strbuf *sb, const struct batch *b)
{
    (void)sb;
    (void)b;
    return -ENOSYS;
}

const struct encoder enc_vm = {
    .name = "vm",
    .content_type = "application/json",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = encode_vm,
};
