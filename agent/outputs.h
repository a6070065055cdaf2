/*
 * The registry of output types: one const row per type, in outputs.c, the only place that lists
 * them. A row ties a type's config section (the keys of one item of `outputs`) to what opens the
 * running output (struct output) from it. The config core and setup find types here, by name.
 */
#ifndef POLLSTER_OUTPUTS_H
#define POLLSTER_OUTPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "output.h"
#include "strbuf.h"

struct conf_section;
struct loop;

struct output_type {
    const char *name; /* "http": the value of `type:` */
    const char *desc; /* for the reference text */
    /*
     * The keys of one output of this type: CONF_OUTPUT_FIELDS (type, format: offsets into struct
     * config_output), then its own, flagged CONF_F_OPTS (offsets into its opts struct). Its check
     * hook checks what a table cannot and claims the resources it must not share (conf_claim).
     */
    const struct conf_section *conf;
    /*
     * Opens the running output of @co into @out. @what names it in messages and self metrics
     * ("outputs[1]"); @l is the loop its transfers run on. 0, or a negative errno with the cause
     * in @err.
     */
    int (*open)(const struct config_output *co, const char *what, struct loop *l,
                struct output *out, char *err, size_t errlen);
    /* Optional: the rest of its --check-config line after "output TYPE (FORMAT)", with "\n". */
    void (*summary)(FILE *f, const struct config_output *co);
    /* Appends what a reload cannot change without reopening the output. Never printed. */
    void (*identity)(const struct config_output *co, struct strbuf *sb);
    /*
     * Optional: the spool directory @co locks while open (NULL: none). A reload closes the
     * instance that holds it before another opens it.
     */
    const char *(*spool_dir)(const struct config_output *co);
};

/* The types; the first is the default output (a config without `outputs`). */
extern const struct output_type *const outputs_table[];
extern const size_t outputs_count;

/* The type named @name ("stdout", "file", "http"), or NULL. */
const struct output_type *outputs_find(const char *name);
/* Appends "stdout, file, http" to @sb (for messages). */
void outputs_names(struct strbuf *sb);

#endif
