/*
 * metric_relabel_configs: Prometheus' per-sample rewrite rules, applied after parsing. Actions
 * replace, keep, drop, labeldrop and labelkeep, with regexes anchored at both ends as Prometheus
 * anchors them. Rules are built once from the config; applying them allocates only from the
 * batch's arena, and only for samples a rule changes.
 */
#ifndef POLLSTER_RELABEL_H
#define POLLSTER_RELABEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "sample.h"

enum relabel_action {
    RELABEL_REPLACE = 0,
    RELABEL_KEEP,
    RELABEL_DROP,
    RELABEL_LABELDROP,
    RELABEL_LABELKEEP,
};

#define RELABEL_MAX_SOURCES 16

struct relabel_rule {
    enum relabel_action action;
    char *source_labels[RELABEL_MAX_SOURCES]; /* owned; "__name__" is the metric name */
    size_t nsource;
    char *separator;    /* owned; default ";" */
    char *target_label; /* owned; may hold $N references (replace) */
    char *replacement;  /* owned; default "$1" */
    char *regex_text;   /* owned: as written, for messages */
    regex_t re;         /* anchored ^(regex)$ */
    bool compiled;
};

/* "replace" ... ; -EINVAL for an unknown or unsupported action. */
int relabel_action_parse(const char *s, enum relabel_action *out);

/*
 * Initialises @r: copies the strings (NULL = Prometheus default), compiles @regex anchored.
 * 0, or -EINVAL / -ENOMEM with a message in @err (the rule is then released).
 */
int relabel_rule_init(struct relabel_rule *r, enum relabel_action action,
                      const char *const *source_labels, size_t nsource, const char *separator,
                      const char *regex, const char *target_label, const char *replacement,
                      char *err, size_t errlen);
void relabel_rule_release(struct relabel_rule *r);

/*
 * Applies @n rules in order to @s. Returns true to keep the sample, false when a keep/drop rule
 * drops it. Changed names and label arrays are allocated from @a; the sample's previous arrays
 * are not modified (parsers share them between samples).
 */
bool relabel_apply(const struct relabel_rule *rules, size_t n, struct sample *s, struct arena *a);

#endif
