/*
 * Secrets out of configuration text before anyone sees it (the status page's /config): a
 * line-based pass over YAML, so it needs no parse and shows the file as written, comments too.
 */
#ifndef POLLSTER_REDACT_H
#define POLLSTER_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

/*
 * True for a key whose value is a secret: one naming a password, secret, token, credential,
 * authorization or api key ("password", "bearer_token", "client_secret", "credentials",
 * "Authorization"), headers (every header value: "headers", "http_headers"), or "key" (an
 * inline TLS key), but not a *_file or *_url key (paths and
 * addresses are not secrets). Case-insensitive; @n bytes of @key.
 */
bool redact_key_is_secret(const char *key, size_t n);

/*
 * Appends @text (@len bytes of YAML) with the value of every secret key, the items of a
 * `secrets:` list, block scalars under a secret key, and the userinfo of URLs ("u:p@") replaced
 * by "<secret>".
 */
void redact_yaml(struct strbuf *sb, const char *text, size_t len);

#endif
