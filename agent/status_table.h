/*
 * `pollster --once` for people: the targets' results as an aligned text table (target, kind,
 * state, reason or error, duration, samples) and a one-line summary ("3 targets: 2 up, 1 down
 * (connect)"), read from the engine after the run.
 */
#ifndef POLLSTER_STATUS_TABLE_H
#define POLLSTER_STATUS_TABLE_H

#include "engine.h"
#include "strbuf.h"

/* Appends the table, then the summary line, each line ending in '\n'. */
void status_table_render(struct strbuf *sb, const struct engine *e);

/* Appends the summary line alone, without '\n'. */
void status_table_summary(struct strbuf *sb, const struct engine *e);

/*
 * "reason: error" for a failed target, or the error alone when it begins with its reason
 * ("connect: connection refused"). Returns @buf.
 */
const char *status_table_why(const struct engine_target_info *t, char *buf, size_t len);

/* A run duration in the one style of the table and the page: "12.3ms", "1.25s". Returns @buf. */
const char *status_table_fmt_secs(double s, char *buf, size_t len);

#endif
