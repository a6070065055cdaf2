/*
 * Prometheus relabeling on one label set (see relabel.h). The set's labels are read-only (parsers
 * share label arrays between consecutive samples; targets keep their discovered labels), so a
 * rule that changes labels builds a new array in the arena. Joined values and expansions are
 * built in stack buffers that move to the arena when a value is longer, so no value is too long.
 */
#include "build-config.h"

#include "relabel.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "md5.h"
#include "re2ere.h"

#define RELABEL_STACK_BUF 1024
#define RELABEL_STACK_GROUPS 32

static const char *const action_names[RELABEL__COUNT] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",
    [RELABEL_DROP] = "drop",           [RELABEL_LABELDROP] = "labeldrop",
    [RELABEL_LABELKEEP] = "labelkeep", [RELABEL_KEEPEQUAL] = "keepequal",
    [RELABEL_DROPEQUAL] = "dropequal", [RELABEL_HASHMOD] = "hashmod",
    [RELABEL_LABELMAP] = "labelmap",   [RELABEL_LOWERCASE] = "lowercase",
    [RELABEL_UPPERCASE] = "uppercase",
};

const char *
relabel_action_name(enum relabel_action a)
{
    return (unsigned)a < RELABEL__COUNT ? action_names[a] : "?";
}

int
relabel_action_parse(const char *s, enum relabel_action *out)
{
    for (size_t i = 0; i < RELABEL__COUNT; i++) {
        if (s != NULL && strcasecmp(s, action_names[i]) == 0) {
            *out = (enum relabel_action)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* Go's \w: ASCII letters, digits and '_'. */
static bool
is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool
is_label_name(const char *s)
{
    if (*s == '\0' || (*s >= '0' && *s <= '9')) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!is_word(*s)) {
            return false;
        }
    }
    return true;
}

/*
 * Prometheus' relabelTarget, ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$: label name characters
 * and $N / ${N} references. Each piece is a letter or '_', or a reference, then word characters.
 */
static bool
is_relabel_target(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    while (*s != '\0') {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_') {
            s++;
        }
        else if (s[0] == '$' && s[1] == '{') {
            const char *p = s + 2;
            while (is_word(*p)) {
                p++;
            }
            if (p == s + 2 || *p != '}') {
                return false;
            }
            s = p + 1;
        }
        else if (s[0] == '$' && is_word(s[1])) {
            s++;
        }
        else {
            return false;
        }
        while (is_word(*s)) {
            s++;
        }
    }
    return true;
}

/* Prometheus' Validate (2.42), in its order and words. */
const char *
relabel_validate(const struct relabel_spec *s, const char **key, char *buf, size_t len)
{
    enum relabel_action a = s->action;
    const char *name = relabel_action_name(a);
    const char *tl = s->target_label != NULL ? s->target_label : "";
    const char *repl = s->replacement != NULL ? s->replacement : "$1";
    const char *sep = s->separator != NULL ? s->separator : ";";
    bool case_action = a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE;
    bool equal_action = a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;

    *key = "action";
    if ((unsigned)a >= RELABEL__COUNT) {
        return "unknown relabel action";
    }
    if (a == RELABEL_HASHMOD && s->modulus == 0) {
        *key = "modulus";
        return "relabel action hashmod requires a non-zero modulus";
    }
    if ((a == RELABEL_REPLACE || a == RELABEL_HASHMOD || case_action || equal_action) &&
        tl[0] == '\0') {
        snprintf(buf, len, "relabel action %s requires target_label", name);
        return buf;
    }
    *key = "target_label";
    if ((a == RELABEL_REPLACE || case_action) &&
        (strchr(tl, '$') == NULL ? !is_label_name(tl) : !is_relabel_target(tl))) {
        snprintf(buf, len, "\"%s\" is an invalid target_label for the %s action", tl, name);
        return buf;
    }
    if ((case_action || equal_action) && strcmp(repl, "$1") != 0) {
        *key = "replacement";
        snprintf(buf, len, "replacement cannot be set for the %s action", name);
        return buf;
    }
    if (a == RELABEL_LABELMAP && !is_relabel_target(repl)) {
        *key = "replacement";
        snprintf(buf, len, "\"%s\" is an invalid replacement for the labelmap action", repl);
        return buf;
    }
    if (a == RELABEL_HASHMOD && !is_label_name(tl)) {
        snprintf(buf, len, "\"%s\" is an invalid target_label for the hashmod action", tl);
        return buf;
    }
    if (equal_action) {
        const char *k = s->regex != NULL        ? "regex"
                        : s->modulus != 0       ? "modulus"
                        : strcmp(sep, ";") != 0 ? "separator"
                                                : NULL;
        if (k != NULL) {
            *key = k;
            snprintf(buf, len,
                     "relabel action %s takes only source_labels and target_label, not %s", name,
                     k);
            return buf;
        }
    }
    if (a == RELABEL_LABELDROP || a == RELABEL_LABELKEEP) {
        const char *k = s->sources_set || s->nsource > 0 ? "source_labels"
                        : tl[0] != '\0'                  ? "target_label"
                        : s->modulus != 0                ? "modulus"
                        : strcmp(sep, ";") != 0          ? "separator"
                        : strcmp(repl, "$1") != 0        ? "replacement"
                                                         : NULL;
        if (k != NULL) {
            *key = k;
            snprintf(buf, len, "relabel action %s takes only regex, not %s", name, k);
            return buf;
        }
    }
    return NULL;
}

/*
 * Reads @re as literals joined by '|', each maybe ending in ".*" (a backslash makes the next
 * non-alphanumeric character literal). Fills r->lits, or leaves them NULL when @re is anything
 * else (or out of memory: regexec is always right).
 */
static void
literals_build(struct relabel_rule *r, const char *re)
{
    size_t n = 1, len = strlen(re);
    struct relabel_literal *v;
    char *buf;

    for (const char *p = re; *p != '\0'; p++) {
        if (*p == '\\') {
            if (p[1] == '\0' || (p[1] >= '0' && p[1] <= '9') || (p[1] >= 'a' && p[1] <= 'z') ||
                (p[1] >= 'A' && p[1] <= 'Z')) {
                return;
            }
            p++;
        }
        else if (*p == '|') {
            n++;
        }
        else if (*p == '.' && p[1] == '*' && (p[2] == '|' || p[2] == '\0')) {
            p++;
        }
        else if (strchr(".[]()*+?{}^$", *p) != NULL) {
            return;
        }
    }
    v = calloc(n, sizeof(*v));
    buf = malloc(len + n);
    if (v == NULL || buf == NULL) {
        free(v);
        free(buf);
        return;
    }
    size_t k = 0, o = 0;
    v[0].text = buf;
    for (const char *p = re;; p++) {
        if (*p == '\0' || *p == '|') {
            buf[o++] = '\0';
            if (*p == '\0') {
                break;
            }
            v[++k].text = buf + o;
            continue;
        }
        if (*p == '.' && p[1] == '*') {
            v[k].prefix = true;
            p++;
            continue;
        }
        if (*p == '\\') {
            p++;
        }
        buf[o++] = *p;
        v[k].len++;
    }
    r->lits = v;
    r->nlits = n;
}

/* Whether @s matches the literal alternation of @r (anchored, as regexec would say). */
static bool
literals_match(const struct relabel_rule *r, const char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < r->nlits; i++) {
        const struct relabel_literal *l = &r->lits[i];
        if ((l->prefix ? len >= l->len : len == l->len) && memcmp(s, l->text, l->len) == 0) {
            return true;
        }
    }
    return false;
}

/* The rule's regex matches all of @s (no group positions). */
static bool
whole_match(const struct relabel_rule *r, const char *s)
{
    if (r->lits != NULL) {
        return literals_match(r, s);
    }
    return regexec(&r->re, s, 0, NULL, 0) == 0;
}

bool
relabel_rule_matches(const struct relabel_rule *r, const char *s)
{
    return whole_match(r, s);
}

void
relabel_rule_release(struct relabel_rule *r)
{
    if (r->lits != NULL) {
        free(r->lits[0].text);
        free(r->lits);
    }
    for (size_t i = 0; i < r->nsource; i++) {
        free(r->source_labels[i]);
    }
    free(r->source_labels);
    free(r->separator);
    free(r->target_label);
    free(r->replacement);
    free(r->regex_text);
    free(r->groups);
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
relabel_rule_make(struct relabel_rule *r, const struct relabel_spec *s, char *err, size_t errlen)
{
    bool oom = false;
    const char *key, *why;
    char *anchored, *ere;
    int rc;

    memset(r, 0, sizeof(*r));
    why = relabel_validate(s, &key, err, errlen);
    if (why != NULL) {
        if (why != err) {
            snprintf(err, errlen, "%s", why);
        }
        return -EINVAL;
    }
    r->action = s->action;
    r->modulus = s->modulus;
    if (s->nsource > 0) {
        r->source_labels = calloc(s->nsource, sizeof(*r->source_labels));
        if (r->source_labels == NULL) {
            goto nomem;
        }
    }
    for (size_t i = 0; i < s->nsource; i++) {
        r->source_labels[i] = dup_default(s->source_labels[i], "", &oom);
        r->nsource++;
    }
    r->separator = dup_default(s->separator, ";", &oom);
    r->target_label = s->target_label != NULL ? dup_default(s->target_label, "", &oom) : NULL;
    r->replacement = dup_default(s->replacement, "$1", &oom);
    r->regex_text = dup_default(s->regex, "(.*)", &oom);
    if (oom) {
        goto nomem;
    }
    ere = re2ere_dup_groups(r->regex_text, &r->groups, &r->nuser, err, errlen);
    if (ere == NULL) {
        relabel_rule_release(r);
        return strcmp(err, "out of memory") == 0 ? -ENOMEM : -EINVAL;
    }
    anchored = malloc(strlen(ere) + 5);
    if (anchored == NULL) {
        free(ere);
        goto nomem;
    }
    sprintf(anchored, "^(%s)$", ere);
    rc = regcomp(&r->re, anchored, REG_EXTENDED);
    free(anchored);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &r->re, msg, sizeof(msg));
        snprintf(err, errlen, "invalid regex \"%s\": %s", r->regex_text, msg);
        free(ere);
        relabel_rule_release(r);
        return -EINVAL;
    }
    r->compiled = true;
    r->ngroups = r->re.re_nsub + 1;
    literals_build(r, ere);
    free(ere);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    relabel_rule_release(r);
    return -ENOMEM;
}

int
relabel_rule_init(struct relabel_rule *r, enum relabel_action action,
                  const char *const *source_labels, size_t nsource, const char *separator,
                  const char *regex, const char *target_label, const char *replacement, char *err,
                  size_t errlen)
{
    struct relabel_spec s = {
        .action = action,
        .source_labels = source_labels,
        .nsource = nsource,
        .separator = separator,
        .regex = regex,
        .target_label = target_label,
        .replacement = replacement,
    };
    return relabel_rule_make(r, &s, err, errlen);
}

/* A string being built: in a caller's stack buffer, moved to the arena when it grows. */
struct rbuf {
    char *p;
    size_t len, cap;
    struct arena *a;
    bool fail;
};

static void
rbuf_init(struct rbuf *b, char *stack, size_t cap, struct arena *a)
{
    b->p = stack;
    b->len = 0;
    b->cap = cap;
    b->a = a;
    b->fail = false;
    stack[0] = '\0';
}

static void
rbuf_put(struct rbuf *b, const char *s, size_t n)
{
    if (b->fail) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->len + n + 1) * 2;
        char *np = arena_alloc(b->a, nc);
        if (np == NULL) {
            b->fail = true;
            return;
        }
        memcpy(np, b->p, b->len);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static const char *
label_value(const struct relabel_set *ls, const char *name)
{
    if (ls->name != NULL && strcmp(name, "__name__") == 0) {
        return ls->name;
    }
    for (uint32_t i = 0; i < ls->nlabels; i++) {
        if (strcmp(ls->labels[i].name, name) == 0) {
            return ls->labels[i].value;
        }
    }
    return "";
}

/* Joins the source label values with the separator into @b. */
static void
join_sources(const struct relabel_rule *r, const struct relabel_set *ls, struct rbuf *b)
{
    size_t seplen = strlen(r->separator);

    for (size_t i = 0; i < r->nsource; i++) {
        const char *v = label_value(ls, r->source_labels[i]);
        if (i > 0) {
            rbuf_put(b, r->separator, seplen);
        }
        rbuf_put(b, v, strlen(v));
    }
}

/*
 * Expands @tmpl into @out as Go's Regexp.ExpandString does: "$$" is "$"; "$name" takes the
 * longest run of letters, digits and '_' ("$1x" is the group named "1x": empty), "${name}" ends
 * at the brace; a number without a leading zero is a group index, any other name a named group
 * (POSIX regexes have none: empty); a malformed reference is copied as text.
 */
static void
expand(const char *tmpl, const char *src, const regmatch_t *m, const struct relabel_rule *r,
       struct rbuf *out)
{
    const char *p = tmpl;

    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL) {
            rbuf_put(out, p, strlen(p));
            return;
        }
        rbuf_put(out, p, (size_t)(dollar - p));
        p = dollar + 1;
        if (*p == '$') {
            rbuf_put(out, "$", 1);
            p++;
            continue;
        }
        bool brace = *p == '{';
        const char *name = brace ? p + 1 : p, *e = name;
        while (is_word(*e)) {
            e++;
        }
        if (e == name || (brace && *e != '}')) {
            rbuf_put(out, "$", 1); /* malformed: the '$' is text */
            continue;
        }
        long num = 0;
        for (const char *q = name; q < e; q++) {
            if (*q < '0' || *q > '9' || num >= 100000000) {
                num = -1;
                break;
            }
            num = num * 10 + (*q - '0');
        }
        if (name[0] == '0' && e - name > 1) {
            num = -1;
        }
        p = brace ? e + 1 : e;
        /* The user's group num is our group num + 1 (the whole regex is wrapped in one more),
           unless "(?:" groups before it moved it. */
        if (num >= 0 && (size_t)num <= r->nuser) {
            size_t g = num == 0 || r->groups == NULL ? (size_t)num + 1 : r->groups[num - 1] + 1;
            if (g < r->ngroups && m[g].rm_so >= 0) {
                rbuf_put(out, src + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
            }
        }
    }
}

/*
 * Sets label @name to @value on @ls with a new array from @a; an empty @value removes it (as
 * Prometheus' labels.Builder does). @name and @value are copied into @a. false when out of memory.
 */
static bool
set_label(struct relabel_set *ls, struct arena *a, const char *name, const char *value)
{
    bool del = value[0] == '\0';

    if (ls->name != NULL && strcmp(name, "__name__") == 0) {
        const char *n = del ? "" : arena_strdup(a, value);
        if (n == NULL) {
            return false;
        }
        ls->name = n;
        return true;
    }
    const char *old = label_value(ls, name);
    if (del && old[0] == '\0') {
        return true;
    }
    if (!del && strcmp(old, value) == 0) {
        return true;
    }
    struct label *l = arena_alloc(a, sizeof(*l) * (ls->nlabels + 1));
    char *v = del ? NULL : arena_strdup(a, value);
    char *k = del ? NULL : arena_strdup(a, name);
    uint32_t n = 0;
    bool placed = false;
    if (l == NULL || (!del && (v == NULL || k == NULL))) {
        return false;
    }
    for (uint32_t i = 0; i < ls->nlabels; i++) {
        if (strcmp(ls->labels[i].name, name) == 0) {
            if (!del) {
                l[n].name = k;
                l[n++].value = v;
                placed = true;
            }
            continue;
        }
        l[n++] = ls->labels[i];
    }
    if (!placed && !del) {
        l[n].name = k;
        l[n++].value = v;
    }
    ls->labels = l;
    ls->nlabels = n;
    return true;
}

/* The regmatch array for @r: on the stack when it fits, else in the arena. */
static regmatch_t *
groups(const struct relabel_rule *r, regmatch_t *stack, struct arena *a)
{
    if (r->ngroups <= RELABEL_STACK_GROUPS) {
        return stack;
    }
    return arena_alloc(a, sizeof(regmatch_t) * r->ngroups);
}

/* One UTF-8 sequence at @s: its code point and length; invalid bytes are U+FFFD, length 1. */
static size_t
utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        c = s[0] & 0x1fu;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        c = s[0] & 0x0fu;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        c = s[0] & 0x07u;
    }
    else {
        *cp = 0xfffd;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (n == 4 && c < 0x10000) ||
        c > 0x10ffff) {
        *cp = 0xfffd;
        return 1;
    }
    *cp = c;
    return n;
}

static void
utf8_encode(uint32_t c, struct rbuf *b)
{
    char o[4];
    size_t n;

    if (c < 0x80) {
        o[0] = (char)c;
        n = 1;
    }
    else if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    }
    else if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    }
    else {
        o[0] = (char)(0xf0 | (c >> 18));
        o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    rbuf_put(b, o, n);
}

/*
 * lowercase / uppercase as Go's strings.ToLower / ToUpper: ASCII directly; other code points
 * through the C.UTF-8 locale's simple case mapping (Unicode's, as Go's unicode package); an
 * invalid byte becomes U+FFFD as Go's strings.Map makes it.
 */
static void
change_case(const char *s, bool upper, struct rbuf *out)
{
    static locale_t utf8;
    static bool tried;
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        uint32_t c;
        size_t n = utf8_decode(p, &c);
        if (c < 0x80) {
            char ch = (char)c;
            if (upper && ch >= 'a' && ch <= 'z') {
                ch = (char)(ch - 'a' + 'A');
            }
            else if (!upper && ch >= 'A' && ch <= 'Z') {
                ch = (char)(ch - 'A' + 'a');
            }
            rbuf_put(out, &ch, 1);
            p += n;
            continue;
        }
        if (!tried) {
            tried = true;
            utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        }
        if (utf8 != (locale_t)0) {
            c = (uint32_t)(upper ? towupper_l((wint_t)c, utf8) : towlower_l((wint_t)c, utf8));
        }
        utf8_encode(c, out);
        p += n;
    }
}

/* labeldrop / labelkeep: filters labels (and a sample's __name__) by name. */
static bool
filter_labels(const struct relabel_rule *r, struct relabel_set *ls, struct arena *a)
{
    bool keep_matching = r->action == RELABEL_LABELKEEP;
    uint32_t n = 0;
    struct label *l = NULL;

    if (ls->name != NULL && whole_match(r, "__name__") != keep_matching) {
        ls->name = "";
    }
    for (uint32_t i = 0; i < ls->nlabels; i++) {
        bool keep = whole_match(r, ls->labels[i].name) == keep_matching;
        if (!keep && l == NULL) {
            l = arena_alloc(a, sizeof(*l) * ls->nlabels);
            if (l == NULL) {
                return false;
            }
            memcpy(l, ls->labels, sizeof(*l) * i);
            n = i;
        }
        if (keep && l != NULL) {
            l[n++] = ls->labels[i];
        }
    }
    if (l != NULL) {
        ls->labels = l;
        ls->nlabels = n;
    }
    return true;
}

static int
label_ptr_cmp(const void *a, const void *b)
{
    const struct label *x = *(const struct label *const *)a, *y = *(const struct label *const *)b;
    return strcmp(x->name, y->name);
}

/*
 * labelmap: every label whose name matches is copied to the expanded replacement, taken from the
 * set as it was before the rule, in name order (the last write wins, as in Prometheus).
 */
static bool
map_labels(const struct relabel_rule *r, struct relabel_set *ls, struct arena *a)
{
    struct label name_label = {"__name__", ls->name};
    uint32_t n = ls->nlabels + (ls->name != NULL ? 1 : 0);
    const struct label **order = arena_alloc(a, sizeof(*order) * (n > 0 ? n : 1));
    struct label *todo = arena_alloc(a, sizeof(*todo) * (n > 0 ? n : 1));
    regmatch_t stack[RELABEL_STACK_GROUPS], *m = groups(r, stack, a);
    size_t ntodo = 0;

    if (order == NULL || todo == NULL || m == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < ls->nlabels; i++) {
        order[i] = &ls->labels[i];
    }
    if (ls->name != NULL) {
        order[ls->nlabels] = &name_label;
    }
    qsort(order, n, sizeof(*order), label_ptr_cmp);
    for (uint32_t i = 0; i < n; i++) {
        char sbuf[RELABEL_STACK_BUF];
        struct rbuf out;
        if (order[i]->value[0] == '\0' || regexec(&r->re, order[i]->name, r->ngroups, m, 0) != 0) {
            continue;
        }
        rbuf_init(&out, sbuf, sizeof(sbuf), a);
        expand(r->replacement, order[i]->name, m, r, &out);
        if (out.fail) {
            return false;
        }
        if (!is_label_name(out.p)) {
            continue; /* Prometheus would write a label it cannot store; we skip it */
        }
        todo[ntodo].name = arena_strdup(a, out.p);
        todo[ntodo].value = order[i]->value;
        if (todo[ntodo].name == NULL) {
            return false;
        }
        ntodo++;
    }
    for (size_t i = 0; i < ntodo; i++) {
        if (!set_label(ls, a, todo[i].name, todo[i].value)) {
            return false;
        }
    }
    return true;
}

/* One rule. 1 keep, 0 drop, -1 out of memory. */
static int
apply_rule(const struct relabel_rule *r, struct relabel_set *ls, struct arena *a)
{
    char vbuf[RELABEL_STACK_BUF], tbuf[RELABEL_STACK_BUF], rbufs[RELABEL_STACK_BUF];
    regmatch_t stack[RELABEL_STACK_GROUPS], *m;
    struct rbuf val, tgt, res;
    bool match;

    if (r->action == RELABEL_LABELDROP || r->action == RELABEL_LABELKEEP) {
        return filter_labels(r, ls, a) ? 1 : -1;
    }
    if (r->action == RELABEL_LABELMAP) {
        return map_labels(r, ls, a) ? 1 : -1;
    }
    rbuf_init(&val, vbuf, sizeof(vbuf), a);
    join_sources(r, ls, &val);
    if (val.fail) {
        return -1;
    }
    switch (r->action) {
    case RELABEL_KEEP:
    case RELABEL_DROP:
        match = whole_match(r, val.p);
        return match == (r->action == RELABEL_KEEP) ? 1 : 0;
    case RELABEL_KEEPEQUAL:
    case RELABEL_DROPEQUAL:
        match = strcmp(label_value(ls, r->target_label), val.p) == 0;
        return match == (r->action == RELABEL_KEEPEQUAL) ? 1 : 0;
    case RELABEL_REPLACE:
        m = groups(r, stack, a);
        if (m == NULL) {
            return -1;
        }
        if (regexec(&r->re, val.p, r->ngroups, m, 0) != 0) {
            return 1;
        }
        rbuf_init(&tgt, tbuf, sizeof(tbuf), a);
        rbuf_init(&res, rbufs, sizeof(rbufs), a);
        expand(r->target_label, val.p, m, r, &tgt);
        expand(r->replacement, val.p, m, r, &res);
        if (tgt.fail || res.fail) {
            return -1;
        }
        if (!is_label_name(tgt.p)) {
            return 1;
        }
        return set_label(ls, a, tgt.p, res.p) ? 1 : -1;
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE:
        rbuf_init(&res, rbufs, sizeof(rbufs), a);
        change_case(val.p, r->action == RELABEL_UPPERCASE, &res);
        if (res.fail) {
            return -1;
        }
        if (!is_label_name(r->target_label)) {
            return 1; /* a "$" target (Prometheus 2.42 accepts it) names no label */
        }
        return set_label(ls, a, r->target_label, res.p) ? 1 : -1;
    case RELABEL_HASHMOD: {
        unsigned char h[16];
        uint64_t v = 0;
        char num[24];
        md5_digest(val.p, val.len, h);
        /* The last 8 bytes, big-endian, as Prometheus (model/relabel) reads them. */
        for (int i = 8; i < 16; i++) {
            v = (v << 8) | h[i];
        }
        snprintf(num, sizeof(num), "%llu", (unsigned long long)(v % r->modulus));
        return set_label(ls, a, r->target_label, num) ? 1 : -1;
    }
    default:
        return 1;
    }
}

bool
relabel_process(const struct relabel_rule *rules, size_t n, struct relabel_set *ls, struct arena *a)
{
    for (size_t i = 0; i < n; i++) {
        if (apply_rule(&rules[i], ls, a) != 1) {
            return false;
        }
    }
    return true;
}

bool
relabel_apply(const struct relabel_rule *rules, size_t n, struct sample *s, struct arena *a)
{
    struct relabel_set ls = {.name = s->name, .labels = s->labels, .nlabels = s->nlabels};
    bool keep = relabel_process(rules, n, &ls, a);

    s->name = ls.name;
    s->labels = ls.labels;
    s->nlabels = ls.nlabels;
    return keep;
}
