/* The table of output formats, and the framing of records into documents (encoder.h). */
#include "build-config.h"

#include "encoder.h"

#include <stddef.h>
#include <string.h>

#include "enc_json.h"
#include "enc_otlp.h"
#include "enc_remote_write.h"
#include "enc_telegraf.h"
#include "enc_vm.h"

static const struct encoder *const encoders[] = {&enc_json, &enc_vm, &enc_otlp, &enc_telegraf,
                                                 &enc_remote_write};

const struct encoder *
encoder_find(const char *name)
{
    for (size_t i = 0; i < sizeof(encoders) / sizeof(encoders[0]); i++) {
        if (strcmp(encoders[i]->name, name) == 0) {
            return encoders[i];
        }
    }
    return NULL;
}

void
encoder_names(struct strbuf *sb)
{
    for (size_t i = 0; i < sizeof(encoders) / sizeof(encoders[0]); i++) {
        strbuf_printf(sb, "%s%s", i > 0 ? ", " : "", encoders[i]->name);
    }
}

void
encoder_document(const struct encoder *enc, struct strbuf *sb, const char *rec, size_t len)
{
    strbuf_puts(sb, enc->doc_open);
    strbuf_append(sb, rec, len);
    strbuf_puts(sb, enc->doc_close);
}
