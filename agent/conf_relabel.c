/*
 * One relabel rule in the config (metric_relabel_configs; later relabel_configs and
 * write_relabel_configs): its section, its regex compiled anchored, and the rules between its
 * keys that depend on the action.
 */
#include "build-config.h"

#include "conf_relabel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_regex.h"
#include "relabel.h"

static const struct conf_choice action_choices[] = {
    {"replace", CONFIG_RELABEL_REPLACE, false},
    {"keep", CONFIG_RELABEL_KEEP, false},
    {"drop", CONFIG_RELABEL_DROP, false},
    {"labeldrop", CONFIG_RELABEL_LABELDROP, false},
    {"labelkeep", CONFIG_RELABEL_LABELKEEP, false},
    {"hashmod", 0, true},
    {"labelmap", 0, true},
    {"lowercase", 0, true},
    {"uppercase", 0, true},
    {"keepequal", 0, true},
    {"dropequal", 0, true},
    {NULL, 0, false},
};

static void relabel_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                          const char *path);
static void relabel_release(void *base);

#define RL(k, t, m, ...) CONF_FLD(k, t, struct config_relabel, m, __VA_ARGS__)
static const struct conf_field relabel_fields[] = {
    CONF_FLDN("source_labels", CONF_FT_STRLIST, struct config_relabel, source_labels,
              nsource_labels, .flags = CONF_F_LABELNAME,
              .desc = "Labels whose values are joined with separator."),
    RL("separator", CONF_FT_STR, separator, .def = ";", .desc = "Joins the source label values."),
    RL("regex", CONF_FT_STR, regex, .def = "(.*)",
       .desc = "POSIX extended regex, anchored at both ends (RE2-only syntax is rejected)."),
    RL("target_label", CONF_FT_STR, target_label, .flags = CONF_F_NONEMPTY,
       .desc = "Label written by replace."),
    RL("replacement", CONF_FT_STR, replacement, .def = "$1",
       .desc = "Value written by replace ($1, ${1}: regex groups)."),
    RL("action", CONF_FT_ENUM, action, .def = "replace", .choices = action_choices,
       .desc = "replace, keep, drop, labeldrop or labelkeep."),
    RL("modulus", CONF_FT_INT, modulus, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "For hashmod (not supported yet)."),
};
#undef RL
const struct conf_section conf_relabel_section = {.name = "metric_relabel_configs[]",
                                                  CONF_FIELDS(relabel_fields),
                                                  .size = sizeof(struct config_relabel),
                                                  .check = relabel_check,
                                                  .release = relabel_release};

static void
relabel_release(void *base)
{
    struct config_relabel *r = base;

    if (r->re != NULL) {
        regfree(r->re);
        free(r->re);
        r->re = NULL;
    }
}

static void
relabel_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_relabel *r = base;
    const struct conf_node *rn = conf_tree_get(map, "regex"),
                           *tl = conf_tree_get(map, "target_label");
    const struct conf_node *an = conf_tree_get(map, "action");
    const char *action = conf_choice_name(action_choices, (int)r->action);
    char buf[256];

    if (r->regex != NULL) {
        const char *why = conf_regex_compile(x, r->regex, &r->re, buf, sizeof(buf));
        if (why != NULL) {
            conf_err(x, rn != NULL ? rn : map, "invalid regex \"%s\" in %s: %s", r->regex, path,
                     why);
        }
    }
    if (an != NULL && (an->kind != CONF_NODE_SCALAR || strcasecmp(an->str, action) != 0)) {
        return; /* a bad action, already reported */
    }
    switch (r->action) {
    case CONFIG_RELABEL_REPLACE:
        if (r->target_label == NULL) {
            conf_err(x, map, "relabel action replace requires target_label in %s", path);
        }
        else if (strchr(r->target_label, '$') == NULL && !conf_is_label_name(r->target_label)) {
            conf_err(x, tl, "invalid target_label \"%s\" in %s", r->target_label, path);
        }
        break;
    case CONFIG_RELABEL_LABELDROP:
    case CONFIG_RELABEL_LABELKEEP: {
        static const char *const others[] = {"source_labels", "separator", "target_label",
                                             "replacement", "modulus"};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
            const struct conf_node *k = conf_tree_get_key(map, others[i]);
            if (k != NULL && conf_tree_get(map, others[i]) != NULL) {
                conf_err(x, k, "relabel action %s takes only regex, not %s, in %s", action,
                         others[i], path);
            }
        }
        break;
    }
    default:
        break;
    }
}

int
conf_relabel_rules_new(const struct config_relabel *c, size_t n, const char *who,
                       struct relabel_rule **out, char *err, size_t errlen)
{
    struct relabel_rule *rules = NULL;

    *out = NULL;
    if (n == 0) {
        return 0;
    }
    rules = calloc(n, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct config_relabel *r = &c[i];
        char why[256];
        /* The enums share their order (config.h and relabel.h). */
        int rc = relabel_rule_init(&rules[i], (enum relabel_action)r->action,
                                   (const char *const *)r->source_labels, r->nsource_labels,
                                   r->separator, r->regex, r->target_label, r->replacement, why,
                                   sizeof(why));
        if (rc != 0) {
            snprintf(err, errlen, "%s[%zu]: %s", who, i, why);
            conf_relabel_rules_free(rules, i);
            return rc;
        }
    }
    *out = rules;
    return 0;
}

void
conf_relabel_rules_free(struct relabel_rule *rules, size_t n)
{
    for (size_t i = 0; rules != NULL && i < n; i++) {
        relabel_rule_release(&rules[i]);
    }
    free(rules);
}
