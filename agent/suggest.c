/*
 * Did-you-mean (see suggest.h): one small edit distance, used by every name lookup.
 */
#include "build-config.h"

#include "suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

/* Characters compare equal ignoring case, and '-' equals '_'. */
static int
fold(char c)
{
    if (c == '-') {
        return '_';
    }
    return tolower((unsigned char)c);
}

static size_t
min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t
suggest_distance(const char *a, const char *b, size_t blen)
{
    /* rows i - 2, i - 1 and i of the optimal string alignment table, as rows[i % 3] */
    size_t rows[3][SUGGEST_WORD_MAX + 1];
    size_t la = strlen(a), lb = blen;

    if (la > SUGGEST_WORD_MAX || lb > SUGGEST_WORD_MAX) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        rows[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
                fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < cur[j]) {
                cur[j] = prev2[j - 2] + 1; /* a transposition */
            }
        }
    }
    return rows[la % 3][lb];
}

void
suggest_init(struct suggest *s, const char *word)
{
    s->word = word;
    s->best[0] = '\0';
    s->dist = SIZE_MAX;
}

/* The largest distance still worth suggesting for a word of @len characters. */
static size_t
limit(size_t len)
{
    if (len <= 4) {
        return 1;
    }
    return len <= 8 ? 2 : 3;
}

void
suggest_add_n(struct suggest *s, const char *name, size_t len)
{
    size_t d;

    if (name == NULL || s->word == NULL || len == 0) {
        return;
    }
    d = suggest_distance(s->word, name, len);
    if (d < s->dist) {
        s->dist = d;
        memcpy(s->best, name, len);
        s->best[len] = '\0';
    }
}

void
suggest_add(struct suggest *s, const char *name)
{
    if (name != NULL) {
        suggest_add_n(s, name, strlen(name));
    }
}

void
suggest_add_csv(struct suggest *s, const char *csv)
{
    while (csv != NULL && *csv != '\0') {
        size_t n = strcspn(csv, ",");
        size_t skip = strspn(csv, " ");
        if (n > skip) {
            suggest_add_n(s, csv + skip, n - skip);
        }
        csv += n;
        csv += *csv == ',';
    }
}

const char *
suggest_best(const struct suggest *s)
{
    size_t len = strlen(s->best);

    if (len == 0 || strcmp(s->best, s->word) == 0 || s->dist > limit(strlen(s->word)) ||
        s->dist >= len) {
        return NULL;
    }
    return s->best;
}

const char *
suggest_phrase(const struct suggest *s, const char *prefix, char *buf, size_t len)
{
    const char *best = suggest_best(s);

    if (best == NULL) {
        buf[0] = '\0';
    }
    else {
        snprintf(buf, len, "did you mean \"%s%s\"? ", prefix, best);
    }
    return buf;
}

const char *
suggest_paren(const struct suggest *s, const char *prefix, char *buf, size_t len)
{
    const char *best = suggest_best(s);

    if (best == NULL) {
        buf[0] = '\0';
    }
    else {
        snprintf(buf, len, " (did you mean \"%s%s\"?)", prefix, best);
    }
    return buf;
}
