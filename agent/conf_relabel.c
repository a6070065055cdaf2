/*
 * One relabel rule in the config (relabel_configs, metric_relabel_configs and
 * write_relabel_configs share it): its section, its regex checked (RE2-only syntax rejected) and
 * compiled anchored, and Prometheus' rules between its keys (relabel_validate), each error at
 * the key it is about. conf_relabel_rules() turns the mapped rules into relabel.c's rules.
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
#include "strbuf.h"

#define SAME(a) _Static_assert((int)CONFIG_##a == (int)a, "relabel action order: " #a)
SAME(RELABEL_REPLACE);
SAME(RELABEL_KEEP);
SAME(RELABEL_DROP);
SAME(RELABEL_LABELDROP);
SAME(RELABEL_LABELKEEP);
SAME(RELABEL_KEEPEQUAL);
SAME(RELABEL_DROPEQUAL);
SAME(RELABEL_HASHMOD);
SAME(RELABEL_LABELMAP);
SAME(RELABEL_LOWERCASE);
SAME(RELABEL_UPPERCASE);
#undef SAME

static const struct conf_choice action_choices[] = {
    {"replace", CONFIG_RELABEL_REPLACE, false},     {"keep", CONFIG_RELABEL_KEEP, false},
    {"drop", CONFIG_RELABEL_DROP, false},           {"labeldrop", CONFIG_RELABEL_LABELDROP, false},
    {"labelkeep", CONFIG_RELABEL_LABELKEEP, false}, {"keepequal", CONFIG_RELABEL_KEEPEQUAL, false},
    {"dropequal", CONFIG_RELABEL_DROPEQUAL, false}, {"hashmod", CONFIG_RELABEL_HASHMOD, false},
    {"labelmap", CONFIG_RELABEL_LABELMAP, false},   {"lowercase", CONFIG_RELABEL_LOWERCASE, false},
    {"uppercase", CONFIG_RELABEL_UPPERCASE, false}, {NULL, 0, false},
};

static void relabel_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                          const char *path);
static void relabel_release(void *base);

#define RL(k, t, m, ...) CONF_FLD(k, t, struct config_relabel, m, __VA_ARGS__)
static const struct conf_field relabel_fields[] = {
    CONF_FLDN("source_labels", CONF_FT_STRLIST, struct config_relabel, source_labels,
              nsource_labels, .flags = CONF_F_LABELNAME,
              .desc = "Labels whose values are joined with separator (a missing label is \"\")."),
    RL("separator", CONF_FT_STR, separator, .def = ";", .desc = "Joins the source label values."),
    RL("regex", CONF_FT_STR, regex, .def = "(.*)",
       .desc = "POSIX extended regex, anchored at both ends (RE2-only syntax is rejected)."),
    RL("target_label", CONF_FT_STR, target_label,
       .desc = "Label written by replace, hashmod, lowercase, uppercase; compared by keepequal "
               "and dropequal."),
    RL("replacement", CONF_FT_STR, replacement, .def = "$1",
       .desc = "Value written by replace, new name written by labelmap ($1, ${1}: regex groups; "
               "$$: a $)."),
    RL("action", CONF_FT_ENUM, action, .def = "replace", .choices = action_choices,
       .desc = "replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, "
               "labelkeep, lowercase or uppercase."),
    RL("modulus", CONF_FT_INT, modulus, .def = "0", .min = 0, .max = INT64_MAX,
       .desc = "hashmod: the MD5 of the joined values modulo this."),
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

/* The rule as relabel.c sees it; @regex_set: the regex key was given. */
static struct relabel_spec
spec_of(const struct config_relabel *r)
{
    return (struct relabel_spec){
        .action = (enum relabel_action)r->action,
        .source_labels = (const char *const *)r->source_labels,
        .nsource = r->nsource_labels,
        .sources_set = r->sources_set,
        .separator = r->separator,
        .regex = r->regex_set ? r->regex : NULL,
        .target_label = r->target_label,
        .replacement = r->replacement,
        .modulus = (uint64_t)r->modulus,
    };
}

static void
relabel_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_relabel *r = base;
    const struct conf_node *rn = conf_tree_get(map, "regex");
    const struct conf_node *an = conf_tree_get(map, "action");
    const char *action = conf_choice_name(action_choices, (int)r->action);
    const char *key, *why;
    struct relabel_spec spec;
    char buf[256];

    r->sources_set = conf_tree_get(map, "source_labels") != NULL;
    r->regex_set = rn != NULL;
    if (r->regex != NULL) {
        why = conf_regex_compile(x, r->regex, &r->re, buf, sizeof(buf));
        if (why != NULL) {
            conf_err(x, rn != NULL ? rn : map, "invalid regex \"%s\" in %s: %s", r->regex, path,
                     why);
            r->refused = true;
        }
    }
    if (an != NULL && (an->kind != CONF_NODE_SCALAR || strcasecmp(an->str, action) != 0)) {
        r->refused = true;
        return; /* a bad action, already reported */
    }
    spec = spec_of(r);
    why = relabel_validate(&spec, &key, buf, sizeof(buf));
    if (why != NULL) {
        const struct conf_node *at = conf_tree_get_key(map, key);
        if (at == NULL) {
            at = conf_tree_get_key(map, "action"); /* a missing key: the action wants it */
        }
        conf_err(x, at != NULL ? at : map, "%s in %s", why, path);
        r->refused = true;
    }
}

int
conf_relabel_rules(const struct config_relabel *c, size_t n, struct relabel_rule **out,
                   size_t *nout, char *err, size_t errlen)
{
    struct relabel_rule *rules = NULL;

    *out = NULL;
    *nout = 0;
    if (n == 0) {
        return 0;
    }
    rules = calloc(n, sizeof(*rules));
    if (rules == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct relabel_spec spec = spec_of(&c[i]);
        char why[256];
        int rc = relabel_rule_make(&rules[i], &spec, why, sizeof(why));
        if (rc != 0) {
            snprintf(err, errlen, "[%zu]: %s", i, why);
            conf_relabel_rules_free(rules, i);
            return rc;
        }
    }
    *out = rules;
    *nout = n;
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

void
conf_relabel_identity(const struct config_relabel *c, size_t n, struct strbuf *sb)
{
    for (size_t i = 0; i < n; i++) {
        const struct config_relabel *r = &c[i];
        strbuf_printf(sb, "M%d|%s|%s|%s|%s|%lld|", (int)r->action, r->separator ? r->separator : "",
                      r->regex ? r->regex : "", r->target_label ? r->target_label : "",
                      r->replacement ? r->replacement : "", (long long)r->modulus);
        for (size_t k = 0; k < r->nsource_labels; k++) {
            strbuf_printf(sb, "%s,", r->source_labels[k]);
        }
        strbuf_putc(sb, '\x1f');
    }
}
