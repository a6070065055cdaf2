/*
 * Config regexes (see conf_regex.h): RE2-only syntax is rejected, and the size regcomp would
 * build is estimated before compiling so that a hostile config cannot take gigabytes.
 */
#include "build-config.h"

#include "conf_regex.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "re2ere.h"

/*
 * RE2 (Prometheus, blackbox_exporter) and POSIX ERE (regcomp) agree on the common syntax; the
 * constructs that differ are rejected here rather than silently meaning something else (glibc
 * reads "\d" as "d"). Returns NULL, or what is wrong.
 */
static const char *
regex_not_posix(const char *re, char *buf, size_t len)
{
    int depth = 0;

    for (const char *p = re; *p != '\0'; p++) {
        switch (*p) {
        case '\\':
            if (p[1] == '\0') {
                return "trailing backslash";
            }
            if (isalnum((unsigned char)p[1]) && strchr("wWsSbB", p[1]) == NULL) {
                snprintf(buf, len, "\\%c is not supported in POSIX extended regular expressions%s",
                         p[1], p[1] == 'd' ? " (use [0-9])" : "");
                return buf;
            }
            p++;
            break;
        case '[': {
            /* a bracket expression: "]" first is literal; skip [:class:] and friends */
            const char *q = p + 1;
            if (*q == '^') {
                q++;
            }
            if (*q == ']') {
                q++;
            }
            while (*q != '\0' && *q != ']') {
                if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
                    const char *end = strchr(q + 2, q[1]);
                    if (end == NULL || end[1] != ']') {
                        break;
                    }
                    q = end + 2;
                    continue;
                }
                if (*q == '\\' && isalpha((unsigned char)q[1])) {
                    snprintf(buf, len,
                             "\\%c inside brackets is not supported in POSIX extended regular "
                             "expressions",
                             q[1]);
                    return buf;
                }
                q++;
            }
            if (*q == '\0') {
                return NULL; /* regcomp reports the unmatched [ */
            }
            p = q;
            break;
        }
        case '(':
            if (p[1] == '?') {
                return "(?...) groups and flags are not supported in POSIX extended regular "
                       "expressions";
            }
            depth++;
            break;
        case ')':
            if (depth == 0) {
                return "unmatched )";
            }
            depth--;
            break;
        case '*':
        case '+':
        case '?':
        case '}':
            if (p[1] == '?') {
                snprintf(buf, len,
                         "lazy quantifier %c? is not supported in POSIX extended regular "
                         "expressions",
                         *p);
                return buf;
            }
            break;
        default:
            break;
        }
    }
    return NULL;
}

/*
 * What glibc's regcomp() builds from a regex can be far larger than its text. It copies every
 * repeated item (x{2,5} is five copies of x, x+ is "x x*"), so nested repetitions multiply: "a"
 * followed by 24 "+" asks for 16 million copies, gigabytes. Its memory also grows with the square
 * of the number of groups, alternatives and optional items (?, *, {0,n}): 5000 "a?" take 200 MB,
 * 50000 take 19 GB; 50000 "()" overflow its stack, and so do 100000 nested groups. With
 * submatches (the relabel regexes), 1000 "a?" take 26 MB, and the compiled regex keeps most of
 * it. Prometheus' RE2 refuses such regexes too. Its time doubles with each loop ("*", "+", "{n,}")
 * around a group that can match nothing: 20 "(x*)*" or "(x|)*" in a row, or "((x*)*){20}", take
 * 3 to 30 seconds with submatches, 30 take hours. These limits keep one regcomp() under about
 * 50 MB and 10 ms, and all the regexes of a config under about 500 MB.
 */
#define REGEX_DEPTH_MAX 100            /* nested groups */
#define REGEX_EXPANDED_MAX 100000u     /* elements, once repetitions are expanded */
#define REGEX_BRANCHES_MAX 1000u       /* groups, alternatives and optional items, expanded */
#define REGEX_LOOPS_MAX 10u            /* loops around what can match nothing, expanded */
#define REGEX_CONFIG_COST_MAX 10000000 /* all the regexes of a config (see regex_too_large) */

/* The size of a part of a regex once its repetitions are expanded. */
struct regex_cost {
    uint64_t elems;
    uint64_t branches; /* groups, alternatives and optional items */
    uint64_t loops;    /* loops around an item that can match nothing */
    bool empty;        /* the part can match nothing (an anchor, "x*", "(a|)") */
};

/* A group being measured (the whole regex is level 0). */
struct regex_level {
    struct regex_cost sum;  /* the group so far */
    struct regex_cost last; /* its last item: what a repetition repeats */
    bool seq_empty;         /* the current alternative can match nothing, without its last item */
    bool alt_empty;         /* an earlier alternative can */
};

/*
 * Parses the interval at @p ("{n}", "{n,}", "{n,m}" or "{,m}") into the number of copies regcomp
 * makes of the repeated item, @optional of them optional. Returns the closing "}", or NULL when
 * @p does not start an interval (regcomp then reads "{" literally or rejects it).
 */
static const char *
regex_interval(const char *p, uint64_t *copies, uint64_t *optional)
{
    uint64_t n[2] = {0, 0};
    bool digits[2] = {false, false};
    int i = 0;

    for (p++; *p != '}'; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n[i] <= REGEX_EXPANDED_MAX) { /* saturated: regcomp stops at 32767 anyway */
                n[i] = n[i] * 10 + (uint64_t)(*p - '0');
            }
            digits[i] = true;
        }
        else if (*p == ',' && i == 0) {
            i = 1;
        }
        else {
            return NULL;
        }
    }
    if (i == 0 && !digits[0]) {
        return NULL; /* "{}" */
    }
    if (i == 0) {
        *copies = n[0]; /* {n} */
        *optional = 0;
    }
    else if (!digits[1]) {
        *copies = n[0] + 1; /* {n,}: n copies and a starred one */
        *optional = 1;
    }
    else {
        *copies = n[1] > n[0] ? n[1] : n[0]; /* {n,m}: m copies, m - n of them optional */
        *optional = *copies - n[0];
    }
    if (*copies == 0) {
        *copies = 1; /* {0}: the item is still parsed once */
    }
    return p;
}

/* A group's level before its first item. */
static const struct regex_level regex_level_new = {.last.empty = true, .seq_empty = true};

/*
 * Appends @item to @l or, when @copies > 0, replaces the last item of @l with @copies copies of
 * it, @optional of them optional, in a loop when @loop. Returns NULL, or (in @buf) why the regex
 * is too large.
 */
static const char *
regex_level_add(struct regex_level *l, struct regex_cost item, uint64_t copies, uint64_t optional,
                bool loop, char *buf, size_t len)
{
    if (copies > 0) {
        item.elems = l->last.elems * copies;
        item.branches = l->last.branches * copies + optional;
        item.loops = l->last.loops * copies + (loop && l->last.empty ? 1 : 0);
        item.empty = l->last.empty || optional == copies;
        l->sum.elems -= l->last.elems;
        l->sum.branches -= l->last.branches;
        l->sum.loops -= l->last.loops;
    }
    else {
        l->seq_empty = l->seq_empty && l->last.empty;
    }
    l->sum.elems += item.elems;
    l->sum.branches += item.branches;
    l->sum.loops += item.loops;
    l->last = item;
    /* checked at every step, which keeps the products above far from overflowing */
    if (l->sum.elems > REGEX_EXPANDED_MAX) {
        snprintf(buf, len, "too large once its repetitions are expanded (more than %u elements)",
                 REGEX_EXPANDED_MAX);
        return buf;
    }
    if (l->sum.branches > REGEX_BRANCHES_MAX) {
        snprintf(buf, len,
                 "too complex once its repetitions are expanded (more than %u groups, "
                 "alternatives and optional items)",
                 REGEX_BRANCHES_MAX);
        return buf;
    }
    if (l->sum.loops > REGEX_LOOPS_MAX) {
        snprintf(buf, len,
                 "too slow to compile: more than %u loops (*, +, {n,}) around groups that can "
                 "match nothing, as in (x*)*, once its repetitions are expanded",
                 REGEX_LOOPS_MAX);
        return buf;
    }
    return NULL;
}

/* The group @l closes as one item of the level around it. */
static struct regex_cost
regex_group(const struct regex_level *l)
{
    return (struct regex_cost){l->sum.elems + 1, l->sum.branches + 1, l->sum.loops,
                               l->alt_empty || (l->seq_empty && l->last.empty)};
}

/*
 * Checks @re, which regex_not_posix() accepted, against REGEX_DEPTH_MAX, REGEX_EXPANDED_MAX,
 * REGEX_BRANCHES_MAX and REGEX_LOOPS_MAX. Returns NULL, or (in @buf) what is wrong. Sets *@cost to
 * an estimate of the memory it takes, at most 2000000: branches squared plus ten per element.
 */
static const char *
regex_too_large(const char *re, uint64_t *cost, char *buf, size_t len)
{
    struct regex_level lv[REGEX_DEPTH_MAX + 1];
    const char *why = NULL;
    size_t d = 0;

    lv[0] = regex_level_new;
    for (const char *p = re; *p != '\0' && why == NULL; p++) {
        struct regex_cost item = {1, 0, 0, false}; /* an atom, unless the switch says otherwise */
        uint64_t copies = 0, optional = 0;
        bool loop = false;
        const char *end;

        switch (*p) {
        case '\\':
            if (p[1] != '\0') {
                p++;
                item.empty = strchr("bB<>`'", *p) != NULL; /* glibc's word and buffer anchors */
            }
            break;
        case '^':
        case '$':
            item.empty = true;
            break;
        case '[':
            /* one atom: "]" first is literal; skip [:class:] and friends */
            end = p + 1;
            if (*end == '^') {
                end++;
            }
            if (*end == ']') {
                end++;
            }
            while (*end != '\0' && *end != ']') {
                const char *close = NULL;
                if (*end == '[' && (end[1] == ':' || end[1] == '.' || end[1] == '=')) {
                    close = strchr(end + 2, end[1]);
                }
                end = close != NULL && close[1] == ']' ? close + 2 : end + 1;
            }
            if (*end == '\0') {
                return NULL; /* regcomp reports the unmatched [ */
            }
            p = end;
            break;
        case '(':
            if (d == REGEX_DEPTH_MAX) {
                snprintf(buf, len, "groups nested more than %d deep", REGEX_DEPTH_MAX);
                return buf;
            }
            d++;
            lv[d] = regex_level_new;
            continue;
        case ')':
            if (d > 0) { /* else regex_not_posix() rejected it: an atom is a safe guess */
                item = regex_group(&lv[d]);
                d--;
            }
            break;
        case '|':
            why =
                regex_level_add(&lv[d], (struct regex_cost){0, 1, 0, true}, 0, 0, false, buf, len);
            lv[d].alt_empty = lv[d].alt_empty || lv[d].seq_empty;
            lv[d].seq_empty = true;
            continue;
        case '*':
        case '?':
            copies = 1;
            optional = 1;
            loop = *p == '*';
            break;
        case '+':
            copies = 2; /* x+ is "x x*" */
            optional = 1;
            loop = true;
            break;
        case '{':
            end = regex_interval(p, &copies, &optional);
            if (end != NULL) {
                loop = end[-1] == ',';
                p = end;
            }
            break;
        default:
            break;
        }
        why = regex_level_add(&lv[d], item, copies, optional, loop, buf, len);
    }
    /* groups left open: regcomp builds them before it reports the missing ")" */
    while (why == NULL && d > 0) {
        struct regex_cost group = regex_group(&lv[d]);
        d--;
        why = regex_level_add(&lv[d], group, 0, 0, false, buf, len);
    }
    *cost = lv[0].sum.branches * lv[0].sum.branches + 10 * lv[0].sum.elems;
    return why;
}

/*
 * Checks @re (REG_EXTENDED). With @out, also compiles it anchored as Prometheus anchors it,
 * "^(" re ")$", into a new regex_t. Returns NULL, or the reason it is invalid (in @buf or
 * static). The user's regex is compiled on its own first so that errors are about the text the
 * user wrote, and the parenthesis balance is checked so the anchoring cannot change its meaning.
 * The regexes of one load (@x) together stay within REGEX_CONFIG_COST_MAX.
 */
/* conf_regex_compile for @re already in ERE. */
static const char *
conf_regex_compile_ere(struct conf_ctx *x, const char *re, regex_t **out, char *buf, size_t len)
{
    regex_t plain;
    const char *why = regex_not_posix(re, buf, len);
    uint64_t cost = 0;
    regex_t *r;
    char *a;
    int rc;

    if (why == NULL) {
        why = regex_too_large(re, &cost, buf, len);
    }
    if (why == NULL && cost > REGEX_CONFIG_COST_MAX - x->regex_cost) {
        why = "too complex together with the regexes before it: compiling them all would take "
              "over about 500 MB";
    }
    if (why != NULL) {
        return why;
    }
    x->regex_cost += cost;
    rc = regcomp(&plain, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &plain, buf, len);
        regfree(&plain);
        return buf;
    }
    regfree(&plain);
    if (out == NULL) {
        return NULL;
    }
    a = conf_printf("^(%s)$", re);
    r = malloc(sizeof(*r));
    if (a == NULL || r == NULL) {
        free(a);
        free(r);
        return "out of memory";
    }
    rc = regcomp(r, a, REG_EXTENDED);
    free(a);
    if (rc != 0) {
        regerror(rc, r, buf, len);
        regfree(r);
        free(r);
        return buf;
    }
    *out = r;
    return NULL;
}

const char *
conf_regex_compile(struct conf_ctx *x, const char *re2, regex_t **out, char *buf, size_t len)
{
    char *re = re2ere_dup(re2, buf, len);
    const char *why = re != NULL ? conf_regex_compile_ere(x, re, out, buf, len) : buf;

    free(re);
    return why;
}
