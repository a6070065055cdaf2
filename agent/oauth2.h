/*
 * OAuth 2.0 client credentials tokens (Prometheus' oauth2): a token source fetches its token with
 * a POST through the loop's curl multi (never blocking), keeps it until 10 seconds before it
 * expires (as Go's oauth2 package does) and hands the Authorization header line to everyone
 * waiting for it. Targets and sinks with the same oauth2 settings on the same loop share one
 * source (as Prometheus shares one client per scrape job): one request, one token. A failed fetch
 * reports a failure reason from the fixed set and an error text that says what happened, so the
 * scrape fails with them.
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
 * The token source for @o on loop @l: an existing one with the same settings (one more
 * reference), or a new one (@o deep-copied). Release with oauth2_release. NULL when out of
 * memory or curl refuses a setting. Not from a curl callback.
 */
struct oauth2 *oauth2_new(struct loop *l, const struct httpc_oauth2 *o);
/*
 * Drops @arg's waits (its done is not called) and one reference; the last one cancels a fetch in
 * flight and frees @o. Accepts NULL.
 */
void oauth2_release(struct oauth2 *o, void *arg);

/* The header line of the cached token when it is still good at @now_ms; else NULL. */
const char *oauth2_cached(struct oauth2 *o, int64_t now_ms);

/*
 * Waits for a new token: @done(@arg, ...) gets the result. Starts a fetch bounded by
 * @timeout_ms unless one is in flight already (then @arg waits for that one). 0, or a negative
 * errno (done not called) with the cause in @err.
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
