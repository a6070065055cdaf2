/* RE2 to POSIX ERE (see re2ere.h). */
#include "build-config.h"

#include "re2ere.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* RE2's ASCII classes (Perl classes, RE2 syntax): the bracket contents of each. */
static const char DIGITS[] = "0-9";
static const char WORD[] = "0-9A-Za-z_";
static const char SPACE[] = "\t\n\f\r ";

/* The control character of \t \n \r \f \v, or 0. */
static char
control_escape(char c)
{
    switch (c) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    default:
        return 0;
    }
}

/* Why "\@c" cannot be spelt in ERE (@c alphanumeric, not a class or control escape). */
static const char *
unsupported_escape(char c, char *err, size_t errlen)
{
    snprintf(err, errlen, "\\%c is not supported in POSIX extended regular expressions%s", c,
             c == 'p' || c == 'P' ? " (no Unicode classes)" : "");
    return err;
}

/*
 * Translates the bracket expression starting at @p ("[") into @sb. Returns the position of its
 * closing "]", or NULL with the reason in @err (an unterminated bracket is copied as it is for
 * regcomp to report: *@open is then set).
 */
static const char *
bracket(const char *p, struct strbuf *sb, bool *open, char *err, size_t errlen)
{
    const char *q = p + 1;
    bool negated = false, rbracket = false, dash = false, caret = false;
    struct strbuf body;

    strbuf_init(&body);
    if (*q == '^') {
        negated = true;
        q++;
    }
    if (*q == ']') {
        rbracket = true;
        q++;
    }
    for (; *q != '\0' && *q != ']'; q++) {
        if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
            const char *end = strchr(q + 2, q[1]);
            if (end != NULL && end[1] == ']') {
                strbuf_append(&body, q, (size_t)(end + 2 - q));
                q = end + 1;
                continue;
            }
        }
        if (*q != '\\') {
            strbuf_append(&body, q, 1);
            continue;
        }
        char c = *++q, ctl = control_escape(c);
        if (c == '\0') {
            break;
        }
        if (c == 'd') {
            strbuf_puts(&body, DIGITS);
        }
        else if (c == 'w') {
            strbuf_puts(&body, WORD);
        }
        else if (c == 's') {
            strbuf_puts(&body, SPACE);
        }
        else if (c == 'D' || c == 'W' || c == 'S') {
            snprintf(err, errlen,
                     "\\%c inside brackets has no POSIX spelling (write the class out, e.g. "
                     "[^0-9] for [\\D])",
                     c);
            strbuf_release(&body);
            return NULL;
        }
        else if (ctl != 0) {
            strbuf_append(&body, &ctl, 1);
        }
        else if (isalnum((unsigned char)c)) {
            unsupported_escape(c, err, errlen);
            strbuf_release(&body);
            return NULL;
        }
        else if (c == ']') {
            rbracket = true;
        }
        else if (c == '-') {
            dash = true;
        }
        else if (c == '^') {
            caret = true;
        }
        else {
            strbuf_append(&body, &c, 1); /* POSIX brackets take every other character as it is */
        }
    }
    if (*q != ']') {
        *open = true; /* regcomp reports the unmatched [ */
        strbuf_puts(sb, p);
        strbuf_release(&body);
        return q;
    }
    if (!negated && !rbracket && !dash && body.len == 0 && caret) {
        strbuf_puts(sb, "\\^"); /* "[\^]": a caret alone cannot be a POSIX bracket's first item */
    }
    else {
        /* "]" first, "^" anywhere but first, "-" last: literal in POSIX brackets */
        strbuf_puts(sb, negated ? "[^" : "[");
        if (rbracket) {
            strbuf_puts(sb, "]");
        }
        strbuf_append(sb, body.data != NULL ? body.data : "", body.len);
        if (caret) {
            strbuf_puts(sb, "^");
        }
        if (dash) {
            strbuf_puts(sb, "-");
        }
        strbuf_puts(sb, "]");
    }
    strbuf_release(&body);
    return q;
}

char *
re2ere_dup(const char *re, char *err, size_t errlen)
{
    unsigned *map = NULL;
    size_t nuser = 0;
    char *ere = re2ere_dup_groups(re, &map, &nuser, err, errlen);

    free(map);
    return ere;
}

/* Notes ERE group @ere as the next RE2 group in @map (grown as needed). false: out of memory. */
static bool
map_add(struct strbuf *map, size_t *nuser, unsigned ere)
{
    strbuf_append(map, (const char *)&ere, sizeof(ere));
    (*nuser)++;
    return !map->oom;
}

char *
re2ere_dup_groups(const char *re, unsigned **map, size_t *nuser, char *err, size_t errlen)
{
    struct strbuf sb, mb; /* the ERE; the group map (unsigned values) */
    unsigned nere = 0;    /* ERE groups so far */
    bool moved = false;   /* a "(?:" group came before an RE2 group */

    *map = NULL;
    *nuser = 0;
    strbuf_init(&sb);
    strbuf_init(&mb);
    for (const char *p = re; *p != '\0'; p++) {
        if (*p == '[') {
            bool open = false;
            p = bracket(p, &sb, &open, err, errlen);
            if (p == NULL) {
                goto fail;
            }
            if (open) {
                break;
            }
            continue;
        }
        if (*p == '(' && p[1] == '?' && p[2] == ':') {
            strbuf_putc(&sb, '('); /* an ERE group no replacement can name */
            nere++;
            moved = true;
            p += 2;
            continue;
        }
        if (*p == '(' && p[1] != '?') {
            nere++;
            if (!map_add(&mb, nuser, nere)) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        }
        if (*p != '\\') {
            strbuf_append(&sb, p, 1);
            continue;
        }
        char c = p[1], ctl = control_escape(c);
        if (c == '\0') {
            snprintf(err, errlen, "trailing backslash");
            goto fail;
        }
        p++;
        switch (c) {
        case 'd':
            strbuf_puts(&sb, "[0-9]");
            break;
        case 'D':
            strbuf_puts(&sb, "[^0-9]");
            break;
        case 'w':
            strbuf_puts(&sb, "[0-9A-Za-z_]");
            break;
        case 'W':
            strbuf_puts(&sb, "[^0-9A-Za-z_]");
            break;
        case 's':
            strbuf_puts(&sb, "[\t\n\f\r ]");
            break;
        case 'S':
            strbuf_puts(&sb, "[^\t\n\f\r ]");
            break;
        case 'b':
        case 'B':
            strbuf_append(&sb, p - 1, 2); /* glibc knows \b and \B as RE2 does (ASCII words) */
            break;
        default:
            if (ctl != 0) {
                strbuf_append(&sb, &ctl, 1);
            }
            else if (isalnum((unsigned char)c)) {
                unsupported_escape(c, err, errlen);
                goto fail;
            }
            else if (strchr(".[]()*+?{}|^$\\", c) != NULL) {
                strbuf_append(&sb, p - 1, 2);
            }
            else {
                strbuf_append(&sb, &c, 1); /* "\/", "\-", "\:": the character itself */
            }
            break;
        }
    }
    if (sb.oom || (sb.data == NULL && strbuf_reserve(&sb, 1) != 0)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (moved) {
        *map = (unsigned *)(void *)mb.data; /* strbuf memory is malloc'd: the caller frees it */
    }
    else {
        strbuf_release(&mb);
    }
    sb.data[sb.len] = '\0';
    return sb.data;
fail:
    strbuf_release(&sb);
    strbuf_release(&mb);
    *nuser = 0;
    return NULL;
}
