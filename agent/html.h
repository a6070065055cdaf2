/*
 * HTML escaping for the status page: text and attribute values are written through these, never
 * raw, so a label value or an error text from a target cannot inject markup.
 */
#ifndef POLLSTER_HTML_H
#define POLLSTER_HTML_H

#include "strbuf.h"

/* Appends @s (NULL = "") with & < > " ' escaped: safe in text and in quoted attribute values. */
void html_escape(struct strbuf *sb, const char *s);

/* html_escape() of a printf-formatted string (truncated at 1024 bytes). */
void html_escapef(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
