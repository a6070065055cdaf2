/* The job kinds registry (see kinds.h): one row per kind. */
#include "build-config.h"

#include "kinds.h"

#include <string.h>

#include "job_json.h"
#include "job_probe.h"
#include "job_prom.h"
#include "probe_tcp.h"

const struct kind *const kinds_table[] = {
    &job_prom_kind,
    &job_probe_kind,
    &job_json_kind,
    &probe_tcp_kind,
};

const size_t kinds_count = sizeof(kinds_table) / sizeof(kinds_table[0]);

const struct kind *
kinds_find(const char *name)
{
    for (size_t i = 0; i < kinds_count; i++) {
        if (strcmp(kinds_table[i]->name, name) == 0) {
            return kinds_table[i];
        }
    }
    return NULL;
}

const struct kind *
kinds_find_section(const char *section)
{
    for (size_t i = 0; i < kinds_count; i++) {
        if (strcmp(kinds_table[i]->section, section) == 0) {
            return kinds_table[i];
        }
    }
    return NULL;
}

void
kinds_names(struct strbuf *sb)
{
    for (size_t i = 0; i < kinds_count; i++) {
        strbuf_printf(sb, "%s%s", i > 0 ? ", " : "", kinds_table[i]->name);
    }
}
