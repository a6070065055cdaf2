/*
 * The native JSON encoder: a batch becomes one line of JSON (DESIGN.md, "Output JSON"), written
 * as text straight into a struct strbuf with jsonw (the JSON text writer the text encoders
 * share). Every writer appends to @sb and is a no-op once @sb is oom.
 */
#ifndef POLLSTER_ENC_JSON_H
#define POLLSTER_ENC_JSON_H

#include "encoder.h"
#include "sample.h"
#include "strbuf.h"

/* The "json" row of the encoder table: .encode = enc_json_batch. */
extern const struct encoder enc_json;

/*
 * Appends one sample object:
 * {"name":..,"labels":{..},"value":..,"type":".."} with ,"ts_ms":N before the brace when
 * s->has_ts. Labels are written in array order; a NULL name or string is written as "".
 */
void enc_json_sample(struct strbuf *sb, const struct sample *s);

/*
 * Appends @b as one line ending in '\n' with the keys ts_ms, job, instance, url, ok, reason
 * (only when !ok), status, duration_s, error, labels, samples in that order. A batch that is not
 * ok but has REASON_NONE reads "reason":"internal". Returns 0, or -ENOMEM when @sb is (or
 * becomes) oom; the partial line is then removed, so @sb only ever holds whole lines.
 */
int enc_json_batch(struct strbuf *sb, const struct batch *b);

#endif
