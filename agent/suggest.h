/*
 * "Did you mean": the known name closest to a mistyped one. Every lookup of a name a user typed
 * (config keys, enum choices, output types, formats, job kinds, command-line options) feeds its
 * candidates to one struct suggest and appends the result to its error message.
 *
 * Distance is the optimal string alignment distance (Levenshtein plus the transposition of two
 * adjacent characters, as in "scrape_intreval"), compared case-insensitively, with '-' and '_'
 * counted as equal (so "scrape-interval" finds scrape_interval). A candidate is close enough when
 * the distance is at most 1 for names of up to 4 characters, 2 up to 8 and 3 beyond, and smaller
 * than the candidate's own length (so "x" never suggests "y"). Ties go to the first candidate.
 */
#ifndef POLLSTER_SUGGEST_H
#define POLLSTER_SUGGEST_H

#include <stddef.h>

#define SUGGEST_WORD_MAX 128 /* longer words get no suggestion (bounds the work) */

struct suggest {
    const char *word;                /* borrowed: what the user typed */
    char best[SUGGEST_WORD_MAX + 1]; /* the closest candidate so far ("" = none) */
    size_t dist;                     /* of best */
};

/* Starts a search for the candidate closest to @word (borrowed until the search ends). */
void suggest_init(struct suggest *s, const char *word);
/* Offers candidate @name (NULL is ignored). */
void suggest_add(struct suggest *s, const char *name);
/* Offers the first @len characters of @name. */
void suggest_add_n(struct suggest *s, const char *name, size_t len);
/* Offers each name of the list @csv, "a, b, c" (what the registries' *_names() print). */
void suggest_add_csv(struct suggest *s, const char *csv);
/*
 * The closest candidate offered (borrowed from @s), or NULL when none is close enough or @word
 * itself was offered.
 */
const char *suggest_best(const struct suggest *s);
/*
 * "did you mean \"@prefixNAME\"? " in @buf when @s found NAME, else ""; returns @buf. The part
 * every "unknown name" message shares, before its list of valid names.
 */
const char *suggest_phrase(const struct suggest *s, const char *prefix, char *buf, size_t len);
/* " (did you mean \"@prefixNAME\"?)" in @buf when @s found NAME, else ""; returns @buf. */
const char *suggest_paren(const struct suggest *s, const char *prefix, char *buf, size_t len);
/* The distance between @a and @b (@blen characters) as described above; SIZE_MAX: too long. */
size_t suggest_distance(const char *a, const char *b, size_t blen);

#endif
