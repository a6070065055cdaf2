/* The input types registry (see inputs.h): one row per type. */
#include "build-config.h"

#include "inputs.h"

#include <string.h>

#include "in_nats.h"

const struct input_type *const inputs_table[] = {
    &in_nats_type,
};

const size_t inputs_count = sizeof(inputs_table) / sizeof(inputs_table[0]);

const struct input_type *
inputs_find(const char *name)
{
    for (size_t i = 0; i < inputs_count; i++) {
        if (strcmp(inputs_table[i]->name, name) == 0) {
            return inputs_table[i];
        }
    }
    return NULL;
}

void
inputs_names(struct strbuf *sb)
{
    for (size_t i = 0; i < inputs_count; i++) {
        strbuf_printf(sb, "%s%s", i > 0 ? ", " : "", inputs_table[i]->name);
    }
}
