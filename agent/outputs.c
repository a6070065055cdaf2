/* The output types registry (see outputs.h): one row per type, the default first. */
#include "build-config.h"

#include "outputs.h"

#include <string.h>

#include "out_file.h"
#include "out_http.h"
#include "out_nats.h"
#include "out_remote_write.h"
#include "out_stdout.h"

const struct output_type *const outputs_table[] = {
    &out_stdout_type, &out_file_type, &out_http_type, &out_remote_write_type, &out_nats_type,
};

const size_t outputs_count = sizeof(outputs_table) / sizeof(outputs_table[0]);

const struct output_type *
outputs_find(const char *name)
{
    for (size_t i = 0; i < outputs_count; i++) {
        if (strcmp(outputs_table[i]->name, name) == 0) {
            return outputs_table[i];
        }
    }
    return NULL;
}

void
outputs_names(struct strbuf *sb)
{
    for (size_t i = 0; i < outputs_count; i++) {
        strbuf_printf(sb, "%s%s", i > 0 ? ", " : "", outputs_table[i]->name);
    }
}
