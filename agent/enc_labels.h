/*
 * The identity labels of a sample as JSON object members, shared by the text encoders that
 * flatten a batch's labels into one object per sample (vm's "metric", telegraf's "tags"): job,
 * instance, the target labels and the sample's own labels, each name written once, the most
 * specific winning. Their common part, the same for every sample of a batch, is escaped once
 * per encode() call and copied from the output for the following samples.
 */
#ifndef POLLSTER_ENC_LABELS_H
#define POLLSTER_ENC_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "strbuf.h"

/*
 * What one encode() call needs to write the identity labels of its batch's samples: which
 * names a sample label may override, and where the text of the labels every sample shares was
 * written (an offset: sb->data moves when it grows). Lives on the encoder's stack for one call
 * and one strbuf; nothing in it is owned.
 */
struct enc_labels_ident {
    const struct batch *b;  /* borrowed */
    uint64_t first[4];      /* first bytes of the names a sample label overrides */
    bool job_shadowed;      /* a target label named "job" replaces b->job */
    bool instance_shadowed; /* a target label named "instance" replaces b->instance */
    bool drop_name_label;   /* vm: labels named "__name__" are dropped (the name wins) */
    bool cached;            /* the shared text is at sb->data[off .. off + len) */
    size_t off;
    size_t len;
};

/*
 * Prepares @id for writing the samples of @b (read only, and kept unchanged until the last
 * enc_labels_ident_put()). @drop_name_label: leave out target and sample labels named "__name__"
 * (for a label set that already holds the name).
 */
void enc_labels_ident_init(struct enc_labels_ident *id, const struct batch *b,
                           bool drop_name_label);

/*
 * Appends the identity labels of @s as JSON object members "name":"value" separated by
 * commas, without braces, preceded by a comma when @comma and anything is written: job and
 * instance (from the batch; left out when NULL), the target labels, then @s's labels. A label
 * overrides every earlier one of the same name (sample over target over job/instance), so no
 * name is written twice. NULL names and values are written "". Returns whether anything was
 * written. Called from an encode() on the loop thread; the strbuf is the one passed to
 * enc_labels_ident_init()'s caller, not truncated in between.
 */
bool enc_labels_ident_put(struct strbuf *sb, struct enc_labels_ident *id, const struct sample *s,
                          bool comma);

#endif
