/* Secrets out of configuration text; see redact.h. */
#include "build-config.h"

#include "redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define REDACT_MARK "<secret>"

static bool
ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* Case-insensitive search of @word in @n bytes of @s. */
static bool
has_word(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);

    for (size_t i = 0; i + k <= n; i++) {
        if (strncasecmp(s + i, word, k) == 0) {
            return true;
        }
    }
    return false;
}

bool
redact_key_is_secret(const char *key, size_t n)
{
    static const char *const words[] = {"passw",         "secret",  "token",  "credential",
                                        "authorization", "api_key", "apikey", "headers"};

    if (ends_with(key, n, "_file") || ends_with(key, n, "_url") || ends_with(key, n, "_path")) {
        return false;
    }
    if (n == 3 && strncasecmp(key, "key", 3) == 0) {
        return true;
    }
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (has_word(key, n, words[i])) {
            return true;
        }
    }
    return false;
}

/* Appends @n bytes of @s with the userinfo of every URL ("scheme://user:pass@host") redacted. */
static void
put_urls_redacted(struct strbuf *sb, const char *s, size_t n)
{
    size_t i = 0, run = 0;

    while (i + 3 <= n) {
        if (memcmp(s + i, "://", 3) != 0) {
            i++;
            continue;
        }
        size_t start = i + 3, end = start, at = 0;
        while (end < n && s[end] != '/' && s[end] != '"' && s[end] != '\'' && s[end] != ' ' &&
               s[end] != '\t' && s[end] != '?' && s[end] != '#') {
            if (s[end] == '@') {
                at = end;
            }
            end++;
        }
        if (at > start) {
            strbuf_append(sb, s + run, start - run);
            strbuf_puts(sb, REDACT_MARK);
            run = at;
        }
        i = end;
    }
    strbuf_append(sb, s + run, n - run);
}

/* Skips a quoted scalar starting at @p (a quote): the position after its closing quote. */
static const char *
skip_quoted(const char *p, const char *end)
{
    char q = *p++;

    while (p < end && *p != q) {
        p += *p == '\\' && q == '"' && p + 1 < end ? 2 : 1;
    }
    return p < end ? p + 1 : end;
}

/*
 * Appends @n bytes of @s with the values of secret keys inside flow mappings
 * ("{username: u, password: p}", JSON objects) redacted, then URL userinfo.
 */
static void
put_flow_redacted(struct strbuf *sb, const char *s, size_t n)
{
    const char *p = s, *end = s + n, *run = s;
    struct strbuf tmp;

    strbuf_init(&tmp);
    while (p < end) {
        if (*p == '"' || *p == '\'') {
            p = skip_quoted(p, end);
            continue;
        }
        if (*p != '{' && *p != ',') {
            p++;
            continue;
        }
        const char *k = p + 1;
        while (k < end && (*k == ' ' || *k == '\t')) {
            k++;
        }
        const char *ks = k, *ke;
        if (k < end && (*k == '"' || *k == '\'')) {
            ke = skip_quoted(k, end);
            ks = k + 1;
            k = ke;
            ke--;
        }
        else {
            while (k < end && *k != ':' && *k != ',' && *k != '}' && *k != ' ') {
                k++;
            }
            ke = k;
        }
        while (k < end && (*k == ' ' || *k == '\t')) {
            k++;
        }
        if (k >= end || *k != ':' || ke <= ks || !redact_key_is_secret(ks, (size_t)(ke - ks))) {
            p++;
            continue;
        }
        const char *v = k + 1;
        while (v < end && (*v == ' ' || *v == '\t')) {
            v++;
        }
        const char *ve = v;
        if (ve < end && (*ve == '"' || *ve == '\'')) {
            ve = skip_quoted(ve, end);
        }
        while (ve < end && *ve != ',' && *ve != '}') {
            ve++;
        }
        strbuf_append(&tmp, run, (size_t)(v - run));
        strbuf_puts(&tmp, REDACT_MARK);
        run = p = ve;
    }
    strbuf_append(&tmp, run, (size_t)(end - run));
    put_urls_redacted(sb, tmp.data != NULL ? tmp.data : "", tmp.len);
    sb->oom |= tmp.oom;
    strbuf_release(&tmp);
}

/* The span of a line's key ("- key: value", "\"key\": value"); false when it has none. */
static bool
line_key(const char *p, const char *end, const char **key, size_t *keylen, const char **value)
{
    while (p + 1 < end && p[0] == '-' && (p[1] == ' ' || p[1] == '\t')) {
        p += 2;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
    }
    const char *k = p;
    char quote = 0;
    if (p < end && (*p == '"' || *p == '\'')) {
        quote = *p++;
        k = p;
        while (p < end && *p != quote) {
            p++;
        }
        *keylen = (size_t)(p - k);
        p += p < end;
    }
    else {
        while (p < end && *p != ':' && *p != '#' && *p != ' ' && *p != '\t') {
            p++;
        }
        *keylen = (size_t)(p - k);
    }
    if (*keylen == 0 || p >= end || *p != ':' || (p + 1 < end && p[1] != ' ' && p[1] != '\t')) {
        return false;
    }
    *key = k;
    *value = p + 1;
    return true;
}

void
redact_yaml(struct strbuf *sb, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    long block = -1; /* indent of a secret key whose value is on the lines below; -1 = none */

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        const char *q = p, *key = NULL, *value = NULL;
        size_t keylen = 0;

        while (q < le && *q == ' ') {
            q++;
        }
        long indent = q - p;
        bool blank = q == le || *q == '#' || *q == '\r';
        if (block >= 0 && !blank && indent <= block) {
            block = -1;
        }
        if (block >= 0 && !blank) {
            /* Under a secret: keep the structure ("- ", "key: "), never the value. */
            const char *v = q;
            if (line_key(q, le, &key, &keylen, &value)) {
                v = value;
            }
            else {
                while (v + 1 < le && v[0] == '-' && (v[1] == ' ' || v[1] == '\t')) {
                    v += 2;
                }
            }
            const char *w = v;
            while (w < le && (*w == ' ' || *w == '\t' || *w == '\r')) {
                w++;
            }
            if (w == le) {
                strbuf_append(sb, p, (size_t)(le - p)); /* "key:" of a nested map: no value */
            }
            else {
                strbuf_append(sb, p, (size_t)(v - p));
                strbuf_puts(sb,
                            v < le && (*v == ' ' || *v == '\t') ? " " REDACT_MARK : REDACT_MARK);
            }
        }
        else if (!blank && line_key(q, le, &key, &keylen, &value) &&
                 redact_key_is_secret(key, keylen)) {
            const char *v = value;
            while (v < le && (*v == ' ' || *v == '\t')) {
                v++;
            }
            strbuf_append(sb, p, (size_t)(value - p));
            if (v == le || *v == '#' || *v == '\r' || *v == '|' || *v == '>') {
                block = indent; /* the value (a list, a map, a block scalar) follows */
                if (v < le && (*v == '|' || *v == '>')) {
                    strbuf_puts(sb, " " REDACT_MARK);
                }
            }
            else {
                strbuf_puts(sb, " " REDACT_MARK);
            }
        }
        else {
            put_flow_redacted(sb, p, (size_t)(le - p));
        }
        if (nl == NULL) {
            break;
        }
        strbuf_putc(sb, '\n');
        p = nl + 1;
    }
}
