/*
 * Prometheus relabeling, one implementation for every place rules apply: target relabeling
 * (relabel_configs, on a discovered target's label set), metric relabeling
 * (metric_relabel_configs, on each scraped sample) and write relabeling. Every action of
 * Prometheus 2.42: replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop,
 * labelkeep, lowercase, uppercase; regexes anchored at both ends as Prometheus anchors them;
 * replacements expanded with Go's template rules ($1, ${1}, $name, $$). Rules are built once;
 * applying them allocates only from an arena, and only for label sets a rule changes.
 */
#ifndef POLLSTER_RELABEL_H
#define POLLSTER_RELABEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

/* The order is config.h's enum config_relabel_action (conf_relabel.c asserts it). */
enum relabel_action {
    RELABEL_REPLACE = 0,
    RELABEL_KEEP,
    RELABEL_DROP,
    RELABEL_LABELDROP,
    RELABEL_LABELKEEP,
    RELABEL_KEEPEQUAL,
    RELABEL_DROPEQUAL,
    RELABEL_HASHMOD,
    RELABEL_LABELMAP,
    RELABEL_LOWERCASE,
    RELABEL_UPPERCASE,
    RELABEL__COUNT
};

/* Kept for callers that build rules by hand; a rule has no fixed limit of sources. */
#define RELABEL_MAX_SOURCES 16

/*
 * A regex that is an alternation of literals, each maybe followed by ".*" ("go_.*|up", "tmp"):
 * matched without regexec, which costs about a microsecond per call. Only whole-match answers
 * use it (keep, drop, labeldrop, labelkeep), never group positions.
 */
struct relabel_literal {
    char *text; /* owned, unescaped */
    size_t len;
    bool prefix; /* followed by ".*": any rest matches */
};

struct relabel_rule {
    enum relabel_action action;
    struct relabel_literal *lits; /* owned; NULL: regexec only */
    size_t nlits;
    char **source_labels; /* owned; "__name__" is a sample's metric name */
    size_t nsource;
    char *separator;    /* owned; default ";" */
    char *target_label; /* owned; NULL when unset; replace: may hold $N references */
    char *replacement;  /* owned; default "$1" */
    char *regex_text;   /* owned: as written, for messages */
    uint64_t modulus;   /* hashmod: > 0 */
    regex_t re;         /* anchored ^(regex)$: the user's group N is our group N + 1 ... */
    unsigned *groups;   /* owned; ... or, with "(?:" groups before it, our group groups[N-1] + 1 */
    size_t nuser;       /* the user's capturing groups */
    size_t ngroups;     /* our groups + 1 (group 0 = the whole match): regexec's nmatch */
    bool compiled;
};

/* A rule as written (NULL strings: Prometheus' defaults). */
struct relabel_spec {
    enum relabel_action action;
    const char *const *source_labels;
    size_t nsource;
    bool sources_set;      /* source_labels given, even as [] (labeldrop/labelkeep reject it) */
    const char *separator; /* NULL = ";" */
    const char *regex;     /* NULL = "(.*)" */
    const char *target_label;
    const char *replacement; /* NULL = "$1" */
    uint64_t modulus;
};

/* The action's name ("replace", ...). */
const char *relabel_action_name(enum relabel_action a);
/* "replace" ... (any case, as Prometheus); -EINVAL for an unknown action. */
int relabel_action_parse(const char *s, enum relabel_action *out);

/*
 * Prometheus' checks of a rule (model/relabel Validate, as Prometheus 2.42 words them). Returns
 * NULL when @s is valid, else the message (in @buf or constant) and, in *@key, the key it is
 * about ("target_label", "replacement", "modulus", ... or "action" for the rule as a whole).
 * The regex itself is not checked here.
 */
const char *relabel_validate(const struct relabel_spec *s, const char **key, char *buf, size_t len);

/*
 * Initialises @r from @s: validates it, copies the strings and compiles the regex anchored.
 * 0, or -EINVAL / -ENOMEM with a message in @err (the rule is then released).
 */
int relabel_rule_make(struct relabel_rule *r, const struct relabel_spec *s, char *err,
                      size_t errlen);
/* relabel_rule_make() without modulus (any action but hashmod). */
int relabel_rule_init(struct relabel_rule *r, enum relabel_action action,
                      const char *const *source_labels, size_t nsource, const char *separator,
                      const char *regex, const char *target_label, const char *replacement,
                      char *err, size_t errlen);
void relabel_rule_release(struct relabel_rule *r);
/* Whether @r's regex matches all of @s, as keep, drop, labeldrop and labelkeep ask (tests). */
bool relabel_rule_matches(const struct relabel_rule *r, const char *s);

/*
 * A label set under relabeling. With @name non-NULL it is a sample: "__name__" is @name (and
 * setting it empty leaves @name ""). @labels may be shared with others: a change builds a new
 * array in the arena. Order is kept; a new label goes last.
 */
struct relabel_set {
    const char *name;
    const struct label *labels;
    uint32_t nlabels;
};

/*
 * Applies @n rules in order to @ls. Returns true to keep it, false when a rule drops it (or
 * when out of memory in @a). Strings of new labels are allocated from @a.
 */
bool relabel_process(const struct relabel_rule *rules, size_t n, struct relabel_set *ls,
                     struct arena *a);

/*
 * relabel_process() on sample @s: returns true to keep the sample, false when a keep/drop rule
 * drops it. Changed names and label arrays are allocated from @a; the sample's previous arrays
 * are not modified (parsers share them between samples). A rule that sets __name__ to "" leaves
 * s->name "" (the caller decides what a nameless sample means).
 */
bool relabel_apply(const struct relabel_rule *rules, size_t n, struct sample *s, struct arena *a);

#endif
