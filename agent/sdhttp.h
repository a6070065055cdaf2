/*
 * http_sd_configs: one fetch of an SD URL on the loop, through scrape.c's transfer (the shared
 * HTTP client with its deadlines, body cap, auth and TLS), and the check of the answer that
 * Prometheus makes: HTTP 200, Content-Type application/json, a JSON list of target groups
 * ({"targets": [strings], "labels": {name: string}}) with valid label names. A good answer is
 * rewritten as the SD cache's file_sd text, every group with __meta_url (the URL, redacted).
 */
#ifndef POLLSTER_SDHTTP_H
#define POLLSTER_SDHTTP_H

#include <stddef.h>

#include "config.h"
#include "strbuf.h"

struct loop;
struct sdhttp;

/*
 * The end of one fetch, from the loop: @text (@len bytes, borrowed until the callback returns)
 * is the list in the SD cache's format, or NULL with @error saying why the fetch failed.
 */
typedef void sdhttp_done_fn(void *arg, const char *text, size_t len, const char *error);

/*
 * A fetcher of @sd (copied: the config may go away) for job @job. NULL with @err set when the
 * client settings cannot be used or memory ran out.
 */
struct sdhttp *sdhttp_new(struct loop *l, const struct config_sd *sd, const char *job,
                          sdhttp_done_fn *done, void *arg, char *err, size_t errlen);
/* Starts a fetch (timeout: the refresh interval, as in Prometheus). 0, -EBUSY, or -EIO. */
int sdhttp_start(struct sdhttp *h);
/* Cancels a fetch in flight (done is not called) and frees @h. Accepts NULL. */
void sdhttp_free(struct sdhttp *h);

/*
 * Checks the body @body (@len bytes) of an answer from @url and appends the list in the SD cache's
 * format to @out. 0, or -EINVAL with why in @err.
 */
int sdhttp_groups(const char *url, const char *body, size_t len, struct strbuf *out, char *err,
                  size_t errlen);

#endif
