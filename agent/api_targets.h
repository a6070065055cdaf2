/*
 * GET /api/v1/targets: the engine's targets as JSON in Prometheus' shape (job, scrapePool,
 * scrapeUrl, discoveredLabels, labels, health, lastScrape, lastScrapeDuration, lastError) plus
 * kind, instance, lastWarning (what a run that may have succeeded wants seen: a json job's absent
 * paths), reason, nextScrape, inFlight and skipped tick counts: what an operator opens first when
 * something is wrong; and droppedTargets (the targets relabel_configs dropped, with their
 * discoveredLabels). Reads the engine through its read-only target accessors
 * (engine_target_info()).
 */
#ifndef POLLSTER_API_TARGETS_H
#define POLLSTER_API_TARGETS_H

#include "engine.h"
#include "strbuf.h"

/*
 * Appends the whole response body for @e's targets to @sb (oom is left in @sb for the caller).
 * Called on the loop thread by the status server's request handler.
 */
void api_targets_render(struct strbuf *sb, const struct engine *e);

/*
 * api_targets_render() with Prometheus' filters from the raw @query string (may be NULL):
 * state=active|dropped|any and scrapePool=JOB. 0, or -EINVAL with the cause in @err (nothing
 * appended) for a state it does not know.
 */
int api_targets_render_query(struct strbuf *sb, const struct engine *e, const char *query,
                             char *err, size_t errlen);

/* {"status":"error","errorType":"bad_data","error":@msg}, as Prometheus answers bad input. */
void api_targets_render_error(struct strbuf *sb, const char *msg);

/* api_targets_render() as a status_render_fn: @engine is the struct engine. */
void api_targets_render_cb(struct strbuf *sb, void *engine);

#endif
