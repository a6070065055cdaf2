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

/*
 * True when the outputs of @a and @b differ in anything that needs them reopened; @what then
 * names the first difference ("outputs[1] (http)", "the number of outputs (1 -> 2)").
 */
bool setup_outputs_changed(const struct config *a, const struct config *b, char *what, size_t len);

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
