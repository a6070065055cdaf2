/*
 * OAuth 2.0 client credentials tokens (Prometheus' oauth2): one token source per target or
 * sink fetches its token with a POST through the loop's curl multi (never blocking), keeps it
 * until 10 seconds before it expires (as Go's oauth2 package does) and hands the Authorization
 * header line to whoever waits for it. A failed fetch reports a failure reason from the fixed
 * set and an error text that says what happened, so the scrape fails with them.
 */
#ifndef POLLSTER_OAUTH2_H
#define POLLSTER_OAUTH2_H

#include <stdint.h>

#include "httpc.h"
#include "sample.h"

struct loop;
struct oauth2;

/* A cached token is used until this long before its expiry (Go's oauth2 expiryDelta). */
#define OAUTH2_EXPIRY_DELTA_MS 10000
/* Largest token response read. */
#define OAUTH2_MAX_RESPONSE (64u << 10)

/*
 * Called from the loop (never from inside a curl callback) when a fetch ends: @line is the
 * header line ("Authorization: Bearer TOKEN", borrowed until the next fetch) or NULL with
 * @reason and @error saying why.
 */
typedef void oauth2_done_fn(void *arg, const char *line, enum reason reason, const char *error);

/*
 * A token source for @o (deep-copied), on loop @l. Each fetch is bounded by its own deadline
 * given to oauth2_fetch. NULL when out of memory or curl refuses a setting.
 */
struct oauth2 *oauth2_new(struct loop *l, const struct httpc_oauth2 *o);
/* Cancels a fetch in flight (done is not called) and frees @o. Accepts NULL. */
void oauth2_free(struct oauth2 *o);

/* The header line of the cached token when it is still good at @now_ms; else NULL. */
const char *oauth2_cached(struct oauth2 *o, int64_t now_ms);

/*
 * Starts a fetch of a new token, bounded by @timeout_ms; @done gets the result. One fetch at a
 * time: -EBUSY while one is in flight. 0, or a negative errno (done not called) with the cause
 * in @err.
 */
int oauth2_fetch(struct oauth2 *o, int64_t timeout_ms, oauth2_done_fn *done, void *arg, char *err,
                 size_t errlen);

/*
 * Sets @e's CURLOPT_HTTPHEADER to @base's lines followed by the token's header @line, as the
 * list *@list (replaced and freed; the caller frees the last one with curl_slist_free_all after
 * the last transfer). Nothing changes when *@list already ends with @line. 0 or -ENOMEM.
 */
int oauth2_set_header(const char *line, CURL *e, const struct curl_slist *base,
                      struct curl_slist **list);

#endif
