/*
 * Regexes in the config: POSIX ERE (regcomp) standing in for the RE2 syntax Prometheus and
 * blackbox_exporter use. The constructs where the two differ are rejected rather than silently
 * meaning something else, and the compile cost of all the regexes of one load is bounded.
 */
#ifndef POLLSTER_CONF_REGEX_H
#define POLLSTER_CONF_REGEX_H

#include <regex.h>
#include <stddef.h>

struct conf_ctx;

/*
 * Checks regex @re and, with @out, compiles it anchored ("^(" re ")$": the user's group N is
 * N + 1) into *@out (caller frees with regfree + free). The cost counts against @x's budget.
 * Returns NULL, or why not (in @buf or a constant string).
 */
const char *conf_regex_compile(struct conf_ctx *x, const char *re, regex_t **out, char *buf,
                               size_t len);

#endif
