/* HTML escaping; see html.h. */
#include "build-config.h"

#include "html.h"

#include <stdarg.h>
#include <stdio.h>

void
html_escape(struct strbuf *sb, const char *s)
{
    const char *run = s;

    if (s == NULL) {
        return;
    }
    for (; *s != '\0'; s++) {
        const char *rep;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        strbuf_append(sb, run, (size_t)(s - run));
        strbuf_puts(sb, rep);
        run = s + 1;
    }
    strbuf_append(sb, run, (size_t)(s - run));
}

void
html_escapef(struct strbuf *sb, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    html_escape(sb, buf);
}
