/*
 * Prometheus metric relabeling on one sample. The sample's labels are read-only (parsers share
 * label arrays between consecutive samples), so a rule that changes labels builds a new array in
 * the batch arena. Values are joined, matched and expanded in fixed stack buffers; a value
 * longer than RELABEL_VALUE_MAX is treated as not matching rather than truncated.
 */
#include "build-config.h"

#include "relabel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELABEL_VALUE_MAX 4096

static const char *const action_names[] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",           [RELABEL_DROP] = "drop",
    [RELABEL_LABELDROP] = "labeldrop", [RELABEL_LABELKEEP] = "labelkeep",
};

int
relabel_action_parse(const char *s, enum relabel_action *out)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (s != NULL && strcmp(s, action_names[i]) == 0) {
            *out = (enum relabel_action)i;
            return 0;
        }
    }
    return -EINVAL;
}

void
relabel_rule_release(struct relabel_rule *r)
{
    for (size_t i = 0; i < r->nsource; i++) {
        free(r->source_labels[i]);
    }
    free(r->separator);
    free(r->target_label);
    free(r->replacement);
    free(r->regex_text);
    if (r->compiled) {
        regfree(&r->re);
    }
    memset(r, 0, sizeof(*r));
}

static char *
dup_default(const char *s, const char *def, bool *oom)
{
    char *d = strdup(s != NULL ? s : def);

    if (d == NULL) {
        *oom = true;
    }
    return d;
}

int
relabel_rule_init(struct relabel_rule *r, enum relabel_action action,
                  const char *const *source_labels, size_t nsource, const char *separator,
                  const char *regex, const char *target_label, const char *replacement, char *err,
                  size_t errlen)
{
    bool oom = false;
    char *anchored;
    int rc;

    memset(r, 0, sizeof(*r));
    r->action = action;
    if (nsource > RELABEL_MAX_SOURCES) {
        snprintf(err, errlen, "too many source_labels (at most %d)", RELABEL_MAX_SOURCES);
        return -EINVAL;
    }
    for (size_t i = 0; i < nsource; i++) {
        r->source_labels[i] = dup_default(source_labels[i], "", &oom);
        r->nsource++;
    }
    r->separator = dup_default(separator, ";", &oom);
    r->target_label = target_label != NULL ? dup_default(target_label, "", &oom) : NULL;
    r->replacement = dup_default(replacement, "$1", &oom);
    r->regex_text = dup_default(regex, "(.*)", &oom);
    if (oom) {
        goto nomem;
    }
    if (action == RELABEL_REPLACE && r->target_label == NULL) {
        snprintf(err, errlen, "relabel action replace needs a target_label");
        relabel_rule_release(r);
        return -EINVAL;
    }
    anchored = malloc(strlen(r->regex_text) + 5);
    if (anchored == NULL) {
        goto nomem;
    }
    sprintf(anchored, "^(%s)$", r->regex_text);
    rc = regcomp(&r->re, anchored, REG_EXTENDED);
    free(anchored);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &r->re, msg, sizeof(msg));
        snprintf(err, errlen, "invalid regex \"%s\": %s", r->regex_text, msg);
        relabel_rule_release(r);
        return -EINVAL;
    }
    r->compiled = true;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    relabel_rule_release(r);
    return -ENOMEM;
}

static const char *
label_value(const struct sample *s, const char *name)
{
    if (strcmp(name, "__name__") == 0) {
        return s->name;
    }
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, name) == 0) {
            return s->labels[i].value;
        }
    }
    return "";
}

/* Joins the source label values with the separator. false when too long. */
static bool
join_sources(const struct relabel_rule *r, const struct sample *s, char *buf)
{
    size_t off = 0, seplen = strlen(r->separator);

    buf[0] = '\0';
    for (size_t i = 0; i < r->nsource; i++) {
        const char *v = label_value(s, r->source_labels[i]);
        size_t vl = strlen(v);
        if (off + vl + seplen + 1 > RELABEL_VALUE_MAX) {
            return false;
        }
        if (i > 0) {
            memcpy(buf + off, r->separator, seplen);
            off += seplen;
        }
        memcpy(buf + off, v, vl);
        off += vl;
    }
    buf[off] = '\0';
    return true;
}

/*
 * Expands $N and ${N} (N = 0..9, group 1 being the user's first group since the whole regex is
 * wrapped in one more) in @tmpl. false when the result does not fit.
 */
static bool
expand(const char *tmpl, const char *src, const regmatch_t *m, char *out)
{
    size_t off = 0;

    for (const char *p = tmpl; *p != '\0';) {
        int g = -1;
        const char *next = p + 1;
        if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
            g = p[1] - '0';
            next = p + 2;
        }
        else if (p[0] == '$' && p[1] == '{' && p[2] >= '0' && p[2] <= '9' && p[3] == '}') {
            g = p[2] - '0';
            next = p + 4;
        }
        else if (p[0] == '$' && p[1] == '$') {
            next = p + 2; /* "$$" is a literal "$" */
        }
        if (g >= 0) {
            /* Our group g+1 is the user's group g ($0 is the whole match = our group 1). */
            const regmatch_t *gm = &m[g + 1];
            if (g + 1 < 11 && gm->rm_so >= 0) {
                size_t len = (size_t)(gm->rm_eo - gm->rm_so);
                if (off + len >= RELABEL_VALUE_MAX) {
                    return false;
                }
                memcpy(out + off, src + gm->rm_so, len);
                off += len;
            }
        }
        else {
            if (off + 1 >= RELABEL_VALUE_MAX) {
                return false;
            }
            out[off++] = *p;
        }
        p = next;
    }
    out[off] = '\0';
    return true;
}

static bool
valid_label_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) {
        return false;
    }
    for (s++; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_')) {
            return false;
        }
    }
    return true;
}

/* Sets (or, with an empty value, removes) label @name on @s with a new array from @a. */
static bool
set_label(struct sample *s, struct arena *a, const char *name, const char *value)
{
    if (strcmp(name, "__name__") == 0) {
        if (value[0] == '\0') {
            return true;
        }
        char *n = arena_strdup(a, value);
        if (n == NULL) {
            return false;
        }
        s->name = n;
        return true;
    }
    struct label *l = arena_alloc(a, sizeof(*l) * (s->nlabels + 1));
    uint32_t n = 0;
    bool placed = false;
    if (l == NULL) {
        return false;
    }
    char *v = value[0] != '\0' ? arena_strdup(a, value) : NULL;
    char *k = value[0] != '\0' ? arena_strdup(a, name) : NULL;
    if (value[0] != '\0' && (v == NULL || k == NULL)) {
        return false;
    }
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, name) == 0) {
            if (v != NULL) {
                l[n].name = k;
                l[n++].value = v;
                placed = true;
            }
            continue;
        }
        l[n++] = s->labels[i];
    }
    if (!placed && v != NULL) {
        l[n].name = k;
        l[n++].value = v;
    }
    s->labels = l;
    s->nlabels = n;
    return true;
}

/* labeldrop / labelkeep: filters labels by name. */
static bool
filter_labels(const struct relabel_rule *r, struct sample *s, struct arena *a)
{
    bool keep_matching = r->action == RELABEL_LABELKEEP;
    uint32_t n = 0;
    bool changed = false;

    for (uint32_t i = 0; i < s->nlabels; i++) {
        bool match = regexec(&r->re, s->labels[i].name, 0, NULL, 0) == 0;
        if (match != keep_matching) {
            changed = true;
        }
    }
    if (!changed) {
        return true;
    }
    struct label *l = arena_alloc(a, sizeof(*l) * (s->nlabels > 0 ? s->nlabels : 1));
    if (l == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < s->nlabels; i++) {
        bool match = regexec(&r->re, s->labels[i].name, 0, NULL, 0) == 0;
        if (match == keep_matching) {
            l[n++] = s->labels[i];
        }
    }
    s->labels = l;
    s->nlabels = n;
    return true;
}

bool
relabel_apply(const struct relabel_rule *rules, size_t n, struct sample *s, struct arena *a)
{
    char val[RELABEL_VALUE_MAX], target[RELABEL_VALUE_MAX], repl[RELABEL_VALUE_MAX];
    regmatch_t m[11];

    for (size_t i = 0; i < n; i++) {
        const struct relabel_rule *r = &rules[i];
        bool match;

        switch (r->action) {
        case RELABEL_KEEP:
        case RELABEL_DROP:
            match = join_sources(r, s, val) && regexec(&r->re, val, 0, NULL, 0) == 0;
            if (match != (r->action == RELABEL_KEEP)) {
                return false;
            }
            break;
        case RELABEL_REPLACE:
            if (!join_sources(r, s, val) || regexec(&r->re, val, 11, m, 0) != 0) {
                break;
            }
            if (!expand(r->target_label, val, m, target) || !valid_label_name(target) ||
                !expand(r->replacement, val, m, repl)) {
                break;
            }
            set_label(s, a, target, repl);
            break;
        case RELABEL_LABELDROP:
        case RELABEL_LABELKEEP:
            filter_labels(r, s, a);
            break;
        }
    }
    return true;
}
