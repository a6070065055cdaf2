/*
 * From a loaded struct config to a running engine: one target spec per config target (with its
 * job kind's state, HTTP settings and an identity string that lets a reload keep unchanged
 * targets), and the outputs. The only module that knows both the config and the job kinds.
 */
#ifndef POLLSTER_SETUP_H
#define POLLSTER_SETUP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "engine.h"

struct loop;
struct input;

/*
 * Adds the targets of every job of @c (only of job @only_job when not NULL) to @e, and on success
 * records each job's targets seen and owned (stats_set_targets). Returns 0,
 * or -EINVAL / -ENOMEM with the cause in @err (the targets added so far stay: the caller aborts
 * a reload or stops).
 */
int setup_targets(struct engine *e, const struct config *c, const char *only_job, char *err,
                  size_t errlen);

/*
 * Adds the outputs of @c to @e (http outputs send through @l and open their spools now). 0, or
 * a negative errno with the cause in @err.
 */
int setup_outputs(struct engine *e, struct loop *l, const struct config *c, char *err,
                  size_t errlen);

/* True when @a and @b have the same outputs, status address and log settings (what a reload
 * does not apply). */
bool setup_same_outputs(const struct config *a, const struct config *b);

/* True when the outputs of @a and @b differ in anything (a reload then replaces some). */
bool setup_outputs_changed(const struct config *a, const struct config *b);

/* What a reload does to one output of the new configuration. */
enum setup_output_change {
    SETUP_OUTPUT_KEEP,    /* the same settings: the running one stays */
    SETUP_OUTPUT_ADD,     /* a new name */
    SETUP_OUTPUT_REPLACE, /* the name was there with other settings: a new instance takes over */
};

struct setup_output_plan {
    const struct config_output *co;  /* borrowed: in the new configuration */
    const struct config_output *old; /* borrowed: the same name in the old one; NULL when added */
    enum setup_output_change change;
    /*
     * Not kept, and a running output (of the old configuration, not kept either) locks the spool
     * directory this one opens: that one is closed first. NULL: none.
     */
    const struct config_output *after;
};

/* Fills @plan (@c->noutputs entries, in order) for a reload from @old to @c. */
void setup_outputs_plan(const struct config *old, const struct config *c,
                        struct setup_output_plan *plan);

/*
 * Appends what the plan does, for the reload's log line: "kept stdout[0], replaced http[0]
 * (http://a/ -> http://b/), added b, removed c".
 */
void setup_outputs_describe(const struct config *old, const struct config *c,
                            const struct setup_output_plan *plan, struct strbuf *sb);

/* Opens output @co into @spec (its name borrowed from @co). 0, or a negative errno and @err. */
int setup_output_open(const struct config_output *co, struct loop *l,
                      struct engine_output_spec *spec, char *err, size_t errlen);

/* True when @c has a job named @name. */
int setup_has_job(const struct config *c, const char *name);

/*
 * Opens the inputs of @c (relays), which hand records to @e's outputs: *@v (caller frees with
 * setup_inputs_free, also on failure) holds *@n of them. 0, or a negative errno with the cause in
 * @err.
 */
int setup_inputs(struct engine *e, struct loop *l, const struct config *c, struct input **v,
                 size_t *n, char *err, size_t errlen);
/* Closes and frees the @n inputs @v (accepts NULL). */
void setup_inputs_free(struct input *v, size_t n);

#endif
