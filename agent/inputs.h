/*
 * The registry of input types: one const row per type, in inputs.c, the only place that lists
 * them. An input brings records pollster did not collect itself (a relay: messages of a NATS
 * JetStream stream) to the outputs. A row ties a type's config section (the keys of one item of
 * the top-level `inputs` list) to what opens the running input.
 */
#ifndef POLLSTER_INPUTS_H
#define POLLSTER_INPUTS_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "strbuf.h"

struct conf_section;
struct engine;
struct loop;

struct input_ops {
    const char *name;
    /* Frees the state (accepts NULL): stops taking records; what was not acknowledged stays. */
    void (*free)(void *state);
};

/* A running input. */
struct input {
    const struct input_ops *ops; /* borrowed: static table */
    void *state;                 /* owned */
};

struct input_type {
    const char *name; /* the value of `type:` */
    const char *desc; /* for the reference text */
    /* The keys of one input of this type: CONF_INPUT_FIELDS, then its own (CONF_F_OPTS). */
    const struct conf_section *conf;
    /*
     * Opens the input of @ci into @in: it hands records to @e's outputs (engine_relay_write),
     * on the loop @l. @what names it in messages ("inputs[0]"). 0, or a negative errno with the
     * cause in @err.
     */
    int (*open)(const struct config_input *ci, const char *what, struct loop *l, struct engine *e,
                struct input *in, char *err, size_t errlen);
    /* Optional: the rest of its --check-config line after "input TYPE (FORMAT)", with "\n". */
    void (*summary)(FILE *f, const struct config_input *ci);
};

/* The type and format keys every input section starts with (offsets into struct config_input). */
#define CONF_INPUT_FIELDS                                                                          \
    CONF_FLD("type", CONF_FT_DEFER, struct config_input, type, .flags = CONF_F_REQUIRED,           \
             .desc = "The input type (this section's)."),                                          \
        CONF_FLD("format", CONF_FT_STR, struct config_input, format, .def = "json",                \
                 .flags = CONF_F_NONEMPTY,                                                         \
                 .desc = "The format of the records it brings (json or vm); every output must "    \
                         "have it.")

extern const struct input_type *const inputs_table[];
extern const size_t inputs_count;

/* The type named @name, or NULL. */
const struct input_type *inputs_find(const char *name);
/* Appends "nats" (every name, comma-separated) to @sb. */
void inputs_names(struct strbuf *sb);

#endif
