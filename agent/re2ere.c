/* RE2 to POSIX ERE (see re2ere.h). */
#include "build-config.h"

#include "re2ere.h"

#include <ctype.h>
#include <limits.h>
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

/*
 * RE2's repetition rules (Go's regexp/syntax), checked on the ERE @ere that regcomp would get,
 * which reads some of them differently or not at all: a repetition operator needs something to
 * repeat; operators do not stack ("a**", "a++", "a{2}{3}"; "a*?" is the lazy form, which matches
 * the same anchored strings); counts are at most 1000, {n,m} needs n <= m, and nested counted
 * repetitions multiply to at most 1000. Brackets come here closed and in POSIX spelling
 * (bracket() made them); a "{" that is no count was escaped. The size regcomp would build is
 * conf_regex.c's to bound. false with the reason in @err.
 */
#define RE2REP_MAX 1000

struct rep_frame {
    bool atom;           /* the last token can be repeated */
    int rep;             /* the last token: 0 atom, 1 repetition, 2 its lazy "?" */
    unsigned long count; /* product of the counted repetitions inside the last atom */
    unsigned long inner; /* largest such product inside this group */
};

/* Length of the count "{n}", "{n,}" or "{n,m}" at @p (0: not a count), its bounds in @lo/@hi. */
static size_t
count_at(const char *p, unsigned long *lo, unsigned long *hi)
{
    const char *q = p + 1;
    char *end;

    if (!isdigit((unsigned char)*q)) {
        return 0;
    }
    *lo = strtoul(q, &end, 10);
    *hi = *lo;
    if (*end == ',') {
        q = end + 1;
        if (*q == '}') {
            *hi = ULONG_MAX; /* no upper bound: the lower bound counts */
            end = (char *)q;
        }
        else if (!isdigit((unsigned char)*q)) {
            return 0;
        }
        else {
            *hi = strtoul(q, &end, 10);
        }
    }
    return *end == '}' ? (size_t)(end + 1 - p) : 0;
}

/* Skips a POSIX bracket at @p ("[...]", classes "[:x:]" inside); returns its last character. */
static const char *
skip_bracket(const char *p)
{
    const char *q = p + 1;

    if (*q == '^') {
        q++;
    }
    if (*q == ']') {
        q++;
    }
    for (; *q != '\0' && *q != ']'; q++) {
        if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
            const char *end = strstr(q + 2, q[1] == ':' ? ":]" : q[1] == '.' ? ".]" : "=]");
            if (end != NULL) {
                q = end + 1;
            }
        }
    }
    return *q == '\0' ? q - 1 : q;
}

/* A count's check: @n characters at @p, bounds @lo..@hi, repeating what @f's last atom holds. */
static bool
count_check(struct rep_frame *f, const char *p, size_t n, unsigned long lo, unsigned long hi,
            char *err, size_t errlen)
{
    unsigned long k = hi == ULONG_MAX ? lo : hi;

    if (lo > RE2REP_MAX || (hi != ULONG_MAX && (hi > RE2REP_MAX || hi < lo))) {
        snprintf(err, errlen, "invalid repeat count \"%.*s\" (at most %d, min <= max)", (int)n, p,
                 RE2REP_MAX);
        return false;
    }
    if (k > 0 && f->count * k > RE2REP_MAX) {
        snprintf(err, errlen,
                 "invalid repeat count \"%.*s\": nested repetitions count more than %d", (int)n, p,
                 RE2REP_MAX);
        return false;
    }
    f->count *= k > 0 ? k : 1;
    return true;
}

static bool
repeat_check(const char *ere, char *err, size_t errlen)
{
    struct rep_frame *st;
    size_t depth = 0, max = 1;
    bool ok = false;

    for (const char *p = ere; *p != '\0'; p++) {
        max += *p == '(';
    }
    st = calloc(max, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (const char *p = ere; *p != '\0'; p++) {
        struct rep_frame *f = &st[depth];
        unsigned long lo = 1, hi = 1;
        size_t n = 0;

        if (*p == '*' || *p == '+' || *p == '?' || (*p == '{' && (n = count_at(p, &lo, &hi)) > 0)) {
            size_t len = n > 0 ? n : 1;
            if (*p == '?' && f->rep == 1) {
                f->rep = 2; /* lazy */
                continue;
            }
            if (f->rep != 0) {
                snprintf(err, errlen, "invalid nested repetition operator at \"%.*s\"",
                         (int)(len + 1), p - 1);
                goto out;
            }
            if (!f->atom) {
                snprintf(err, errlen, "missing argument to repetition operator \"%.*s\"", (int)len,
                         p);
                goto out;
            }
            if (n > 0) {
                if (!count_check(f, p, n, lo, hi, err, errlen)) {
                    goto out;
                }
                p += n - 1;
            }
            f->inner = f->count > f->inner ? f->count : f->inner;
            f->rep = 1;
            continue;
        }
        if (*p == '(') {
            if (p[1] == '?') {
                break; /* flags: conf_regex.c and regcomp name them */
            }
            st[++depth] = (struct rep_frame){.count = 1};
            continue;
        }
        if (*p == ')' && depth > 0) {
            unsigned long inner = st[depth--].inner;
            f = &st[depth];
            f->count = inner > 0 ? inner : 1;
        }
        else if (*p == '|') {
            *f = (struct rep_frame){.count = 1, .inner = f->inner};
            continue;
        }
        else {
            if (*p == '[') {
                p = skip_bracket(p);
            }
            else if (*p == '\\' && p[1] != '\0') {
                p++;
            }
            f->count = 1;
        }
        f->atom = true;
        f->rep = 0;
    }
    ok = true;
out:
    free(st);
    return ok;
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
    unsigned long lo, hi; /* a count's bounds (unused) */

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
        if (*p == '{' && count_at(p, &lo, &hi) == 0) {
            strbuf_puts(&sb, "\\{"); /* no count: a literal in RE2 ("{,5}" would count in ERE) */
            continue;
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
    sb.data[sb.len] = '\0';
    if (!repeat_check(sb.data, err, errlen)) {
        goto fail;
    }
    if (moved) {
        *map = (unsigned *)(void *)mb.data; /* strbuf memory is malloc'd: the caller frees it */
    }
    else {
        strbuf_release(&mb);
    }
    return sb.data;
fail:
    strbuf_release(&sb);
    strbuf_release(&mb);
    *nuser = 0;
    return NULL;
}
