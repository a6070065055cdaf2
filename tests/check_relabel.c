/*
 * Tests for relabel.c: a table of label sets through rules, for every action, the defaults and
 * the edge cases, with the results Prometheus' documented semantics give (model/relabel, Go's
 * regexp template expansion); the hashmod values were checked against Prometheus 2.42 and
 * Python's hashlib. Also MD5's RFC 1321 vectors, the validation messages (worded after
 * promtool 2.42's) and sample relabeling (__name__, shared arrays).
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md5.h"
#include "re2ere.h"
#include "relabel.h"

static struct arena arena;

static void
setup(void)
{
    arena_init(&arena);
}

static void
teardown(void)
{
    arena_release(&arena);
    arena_free_cache();
}

#define MAXL 8
#define MAXR 3

/* A rule as a table row writes it; NULL strings are Prometheus' defaults. */
struct rspec {
    enum relabel_action action;
    const char *src[4];
    const char *sep, *regex, *target, *repl;
    uint64_t modulus;
};

struct rcase {
    const char *name;
    struct rspec rules[MAXR];
    size_t nrules;
    const char *in[2 * MAXL + 1];  /* name, value, ..., NULL */
    const char *out[2 * MAXL + 1]; /* the set after, in name order; {"DROPPED"}: dropped */
};

#define R(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
#define L(...)                                                                                     \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }

static const struct rcase cases[] = {
    /* replace and the defaults: separator ";", regex "(.*)", replacement "$1" */
    {"replace: defaults copy the source",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .target = "b")},
     1,
     L("a", "x"),
     L("a", "x", "b", "x")},
    {"replace: sources joined by ';'",
     {R(.action = RELABEL_REPLACE, .src = {"a", "c"}, .target = "b")},
     1,
     L("a", "x", "c", "y"),
     L("a", "x", "b", "x;y", "c", "y")},
    {"replace: own separator",
     {R(.action = RELABEL_REPLACE, .src = {"a", "c"}, .sep = "", .target = "b")},
     1,
     L("a", "x", "c", "y"),
     L("a", "x", "b", "xy", "c", "y")},
    {"replace: a missing source is empty",
     {R(.action = RELABEL_REPLACE, .src = {"nope", "a"}, .target = "b")},
     1,
     L("a", "x"),
     L("a", "x", "b", ";x")},
    {"replace: regex anchored, no match leaves the set",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "x", .target = "b", .repl = "hit")},
     1,
     L("a", "xx"),
     L("a", "xx")},
    {"replace: groups $1 ${2}",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "([a-z]+):([0-9]+)", .target = "b",
        .repl = "$1-${2}")},
     1,
     L("a", "host:9100"),
     L("a", "host:9100", "b", "host-9100")},
    {"replace: $1x is the group named 1x (empty), as in Go",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "(1)27.*", .target = "x${1}",
        .repl = "${1}v$1x")},
     1,
     L("a", "127.0.0.1"),
     L("a", "127.0.0.1", "x1", "1v")},
    {"replace: $$ is a dollar, $0 the whole match, a bare $ is text",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "a(b)", .target = "t",
        .repl = "$$-$0-$-${}")},
     1,
     L("a", "ab"),
     L("a", "ab", "t", "$-ab-$-${}")},
    {"replace: group past the last is empty; $01 is a name",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "(x)", .target = "t",
        .repl = "[$2][$01][$1]")},
     1,
     L("a", "x"),
     L("a", "x", "t", "[][][x]")},
    {"replace: empty result removes the target",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "x", .target = "b", .repl = "")},
     1,
     L("a", "x", "b", "old"),
     L("a", "x")},
    {"replace: target from a group",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .regex = "(.*)=(.*)", .target = "l_${1}",
        .repl = "$2")},
     1,
     L("a", "zone=eu"),
     L("a", "zone=eu", "l_zone", "eu")},
    {"replace: an invalid expanded target changes nothing",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .target = "${1}", .repl = "v")},
     1,
     L("a", "127.0.0.1:1"),
     L("a", "127.0.0.1:1")},
    {"replace: the regex matches an empty join",
     {R(.action = RELABEL_REPLACE, .src = {"nope"}, .regex = "", .target = "b", .repl = "empty")},
     1,
     L("a", "x"),
     L("a", "x", "b", "empty")},
    {"replace: overwrite, then a later rule sees it",
     {R(.action = RELABEL_REPLACE, .src = {"a"}, .target = "b"),
      R(.action = RELABEL_KEEP, .src = {"b"}, .regex = "new")},
     2,
     L("a", "new", "b", "old"),
     L("a", "new", "b", "new")},
    /* keep / drop */
    {"keep: match keeps",
     {R(.action = RELABEL_KEEP, .src = {"a"}, .regex = "x|y")},
     1,
     L("a", "y"),
     L("a", "y")},
    {"keep: anchored, a substring does not match",
     {R(.action = RELABEL_KEEP, .src = {"a"}, .regex = "b")},
     1,
     L("a", "abc"),
     {"DROPPED"}},
    {"keep: default regex keeps everything",
     {R(.action = RELABEL_KEEP, .src = {"a"})},
     1,
     L("b", "1"),
     L("b", "1")},
    {"drop: match drops",
     {R(.action = RELABEL_DROP, .src = {"a", "b"}, .regex = "1;2")},
     1,
     L("a", "1", "b", "2"),
     {"DROPPED"}},
    {"drop: missing label is empty",
     {R(.action = RELABEL_DROP, .src = {"nope"}, .regex = "")},
     1,
     L("a", "1"),
     {"DROPPED"}},
    {"drop: no match keeps",
     {R(.action = RELABEL_DROP, .src = {"a"}, .regex = "2")},
     1,
     L("a", "1"),
     L("a", "1")},
    /* keepequal / dropequal: source join compared with target_label's value */
    {"keepequal: equal keeps",
     {R(.action = RELABEL_KEEPEQUAL, .src = {"a"}, .target = "b")},
     1,
     L("a", "1", "b", "1"),
     L("a", "1", "b", "1")},
    {"keepequal: different drops",
     {R(.action = RELABEL_KEEPEQUAL, .src = {"a"}, .target = "b")},
     1,
     L("a", "1", "b", "2"),
     {"DROPPED"}},
    {"keepequal: both missing are equal",
     {R(.action = RELABEL_KEEPEQUAL, .src = {"x"}, .target = "y")},
     1,
     L("a", "1"),
     L("a", "1")},
    {"dropequal: equal drops",
     {R(.action = RELABEL_DROPEQUAL, .src = {"a", "b"}, .target = "c")},
     1,
     L("a", "1", "b", "2", "c", "1;2"),
     {"DROPPED"}},
    {"dropequal: different keeps",
     {R(.action = RELABEL_DROPEQUAL, .src = {"a"}, .target = "b")},
     1,
     L("a", "1", "b", "2"),
     L("a", "1", "b", "2")},
    /* hashmod: md5, last 8 bytes big-endian, modulo */
    {"hashmod: localhost % 8 (Prometheus 2.42 says 1)",
     {R(.action = RELABEL_HASHMOD, .src = {"__address__"}, .target = "shard", .modulus = 8)},
     1,
     L("__address__", "localhost"),
     L("__address__", "localhost", "shard", "1")},
    {"hashmod: 127.0.0.1:9100 % 4",
     {R(.action = RELABEL_HASHMOD, .src = {"a"}, .target = "s", .modulus = 4)},
     1,
     L("a", "127.0.0.1:9100"),
     L("a", "127.0.0.1:9100", "s", "2")},
    {"hashmod: the joined values",
     {R(.action = RELABEL_HASHMOD, .src = {"a", "b"}, .target = "s", .modulus = 1000)},
     1,
     L("a", "a", "b", "b"),
     L("a", "a", "b", "b", "s", "74")},
    {"hashmod: an empty join",
     {R(.action = RELABEL_HASHMOD, .src = {"x"}, .target = "s", .modulus = 3)},
     1,
     L("a", "1"),
     L("a", "1", "s", "1")},
    {"hashmod then keep: sharding",
     {R(.action = RELABEL_HASHMOD, .src = {"a"}, .target = "__tmp_hash", .modulus = 16),
      R(.action = RELABEL_KEEP, .src = {"__tmp_hash"}, .regex = "6")},
     2,
     L("a", "node-exporter-7"),
     L("__tmp_hash", "6", "a", "node-exporter-7")},
    /* labelmap: names matching regex copied to the expanded replacement */
    {"labelmap: a prefix taken off",
     {R(.action = RELABEL_LABELMAP, .regex = "__meta_pod_label_(.+)")},
     1,
     L("__meta_pod_label_app", "web", "__meta_pod_label_tier", "db", "a", "1"),
     L("__meta_pod_label_app", "web", "__meta_pod_label_tier", "db", "a", "1", "app", "web", "tier",
       "db")},
    {"labelmap: replacement template, overwrites an existing label",
     {R(.action = RELABEL_LABELMAP, .regex = "__meta_(.+)", .repl = "m_${1}")},
     1,
     L("__meta_x", "new", "m_x", "old"),
     L("__meta_x", "new", "m_x", "new")},
    {"labelmap: two sources to one name, the later in name order wins",
     {R(.action = RELABEL_LABELMAP, .regex = "(a|b)_(.*)", .repl = "$2")},
     1,
     L("b_k", "from_b", "a_k", "from_a"),
     L("a_k", "from_a", "b_k", "from_b", "k", "from_b")},
    {"labelmap: anchored, no partial matches",
     {R(.action = RELABEL_LABELMAP, .regex = "x", .repl = "y")},
     1,
     L("ax", "1"),
     L("ax", "1")},
    /* labeldrop / labelkeep: names */
    {"labeldrop",
     {R(.action = RELABEL_LABELDROP, .regex = "__meta_.*|tmp")},
     1,
     L("__meta_a", "1", "tmp", "2", "keep", "3"),
     L("keep", "3")},
    {"labelkeep",
     {R(.action = RELABEL_LABELKEEP, .regex = "__address__|job")},
     1,
     L("__address__", "h:1", "job", "j", "env", "p"),
     L("__address__", "h:1", "job", "j")},
    {"labeldrop: anchored",
     {R(.action = RELABEL_LABELDROP, .regex = "a")},
     1,
     L("ab", "1", "a", "2"),
     L("ab", "1")},
    /* lowercase / uppercase: Go's strings.ToLower / ToUpper */
    {"lowercase",
     {R(.action = RELABEL_LOWERCASE, .src = {"a", "b"}, .target = "l")},
     1,
     L("a", "AbC", "b", "DEF"),
     L("a", "AbC", "b", "DEF", "l", "abc;def")},
    {"uppercase",
     {R(.action = RELABEL_UPPERCASE, .src = {"a"}, .target = "a")},
     1,
     L("a", "web-01"),
     L("a", "WEB-01")},
    {"lowercase: Unicode",
     {R(.action = RELABEL_LOWERCASE, .src = {"a"}, .target = "l")},
     1,
     L("a", "\xc3\x84RGER \xce\xa3"),
     L("a", "\xc3\x84RGER \xce\xa3", "l", "\xc3\xa4rger \xcf\x83")},
    {"uppercase: an invalid byte becomes U+FFFD",
     {R(.action = RELABEL_UPPERCASE, .src = {"a"}, .target = "u")},
     1,
     L("a", "a\xff"),
     L("a", "a\xff", "u", "A\xef\xbf\xbd")},
    {"lowercase: empty result removes the target",
     {R(.action = RELABEL_LOWERCASE, .src = {"x"}, .target = "a")},
     1,
     L("a", "1"),
     {NULL}},
    /* RE2 escapes, as pasted from prometheus.yml (re2ere.c spells them in ERE) */
    {"replace: \\d and \\w as RE2 means them",
     {R(.action = RELABEL_REPLACE, .src = {"__address__"}, .regex = "(\\w+):\\d+",
        .target = "host")},
     1,
     L("__address__", "node1:9100"),
     L("__address__", "node1:9100", "host", "node1")},
    {"keep: [\\w.\\-]+ inside brackets matches no backslash",
     {R(.action = RELABEL_KEEP, .src = {"a"}, .regex = "[\\w.\\-]+")},
     1,
     L("a", "x\\y"),
     {"DROPPED"}},
    {"replace: (?:...) groups do not count, as in RE2 (Prometheus' port rewrite)",
     {R(.action = RELABEL_REPLACE, .src = {"__address__", "port"},
        .regex = "([^:]+)(?::\\d+)?;(\\d+)", .repl = "$1:$2", .target = "__address__")},
     1,
     L("__address__", "10.0.0.1:8080", "port", "9102"),
     L("__address__", "10.0.0.1:9102", "port", "9102")},
    {"replace: (?:...) without the optional part; ${2} braces",
     {R(.action = RELABEL_REPLACE, .src = {"__address__", "port"},
        .regex = "([^:]+)(?::\\d+)?;(\\d+)", .repl = "${1}:${2}", .target = "__address__")},
     1,
     L("__address__", "host", "port", "9102"),
     L("__address__", "host:9102", "port", "9102")},
    {"keep: \\s and \\S",
     {R(.action = RELABEL_KEEP, .src = {"a"}, .regex = "\\S+\\s\\S+")},
     1,
     L("a", "b c"),
     L("a", "b c")},
};

static int
cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

static void
build(struct relabel_rule *r, const struct rspec *rs)
{
    struct relabel_spec s = {
        .action = rs->action,
        .source_labels = rs->src,
        .separator = rs->sep,
        .regex = rs->regex,
        .target_label = rs->target,
        .replacement = rs->repl,
        .modulus = rs->modulus,
    };
    char err[256];

    while (s.nsource < 4 && rs->src[s.nsource] != NULL) {
        s.nsource++;
    }
    ck_assert_msg(relabel_rule_make(r, &s, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_table)
{
    const struct rcase *c = &cases[_i];
    struct label in[MAXL], out[MAXL + 4];
    struct relabel_rule rules[MAXR];
    struct relabel_set ls = {.labels = in};
    char got[1024] = "", want[1024] = "";
    bool keep;

    for (size_t i = 0; c->in[2 * i] != NULL; i++) {
        in[i] = (struct label){c->in[2 * i], c->in[2 * i + 1]};
        ls.nlabels++;
    }
    for (size_t i = 0; i < c->nrules; i++) {
        build(&rules[i], &c->rules[i]);
    }
    keep = relabel_process(rules, c->nrules, &ls, &arena);
    if (!keep) {
        snprintf(got, sizeof(got), "DROPPED");
    }
    else {
        ck_assert_uint_le(ls.nlabels, MAXL + 4);
        memcpy(out, ls.labels, sizeof(*out) * ls.nlabels);
        qsort(out, ls.nlabels, sizeof(*out), cmp_label);
        for (size_t i = 0; i < ls.nlabels; i++) {
            size_t o = strlen(got);
            snprintf(got + o, sizeof(got) - o, "%s=%s,", out[i].name, out[i].value);
        }
    }
    if (c->out[0] != NULL && strcmp(c->out[0], "DROPPED") == 0) {
        snprintf(want, sizeof(want), "DROPPED");
    }
    else {
        for (size_t i = 0; c->out[2 * i] != NULL; i++) {
            size_t o = strlen(want);
            snprintf(want + o, sizeof(want) - o, "%s=%s,", c->out[2 * i], c->out[2 * i + 1]);
        }
    }
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n got  %s\n want %s", c->name, got, want);
    /* The input array is never written (parsers and targets share it). */
    for (size_t i = 0; c->in[2 * i] != NULL; i++) {
        ck_assert_str_eq(in[i].name, c->in[2 * i]);
        ck_assert_str_eq(in[i].value, c->in[2 * i + 1]);
    }
    for (size_t i = 0; i < c->nrules; i++) {
        relabel_rule_release(&rules[i]);
    }
}
END_TEST

/* Prometheus' validation (2.42, as promtool words it), each with the key it is about. */
static const struct {
    struct relabel_spec spec;
    const char *key, *msg; /* NULL msg: valid */
} validations[] = {
    {{.action = RELABEL_REPLACE}, "action", "relabel action replace requires target_label"},
    {{.action = RELABEL_HASHMOD, .target_label = "x"},
     "modulus",
     "relabel action hashmod requires a non-zero modulus"},
    {{.action = RELABEL_LOWERCASE}, "action", "relabel action lowercase requires target_label"},
    {{.action = RELABEL_UPPERCASE}, "action", "relabel action uppercase requires target_label"},
    {{.action = RELABEL_KEEPEQUAL}, "action", "relabel action keepequal requires target_label"},
    {{.action = RELABEL_DROPEQUAL}, "action", "relabel action dropequal requires target_label"},
    {{.action = RELABEL_REPLACE, .target_label = "1x"},
     "target_label",
     "\"1x\" is an invalid target_label for the replace action"},
    {{.action = RELABEL_REPLACE, .target_label = "${1}-x"},
     "target_label",
     "\"${1}-x\" is an invalid target_label for the replace action"},
    {{.action = RELABEL_REPLACE, .target_label = "a$$"},
     "target_label",
     "\"a$$\" is an invalid target_label for the replace action"},
    {{.action = RELABEL_REPLACE, .target_label = "${1}"}, NULL, NULL},
    {{.action = RELABEL_REPLACE, .target_label = "x", .modulus = 2}, NULL, NULL},
    {{.action = RELABEL_LOWERCASE, .target_label = "x-y"},
     "target_label",
     "\"x-y\" is an invalid target_label for the lowercase action"},
    {{.action = RELABEL_UPPERCASE, .target_label = "$1"}, NULL, NULL},
    {{.action = RELABEL_LOWERCASE, .target_label = "x", .replacement = "y"},
     "replacement",
     "replacement cannot be set for the lowercase action"},
    {{.action = RELABEL_DROPEQUAL, .target_label = "b", .replacement = "zz"},
     "replacement",
     "replacement cannot be set for the dropequal action"},
    {{.action = RELABEL_KEEPEQUAL, .target_label = "b", .regex = "(.*)"},
     "regex",
     "relabel action keepequal takes only source_labels and target_label, not regex"},
    {{.action = RELABEL_KEEPEQUAL, .target_label = "b", .modulus = 3},
     "modulus",
     "relabel action keepequal takes only source_labels and target_label, not modulus"},
    {{.action = RELABEL_KEEPEQUAL, .target_label = "b", .separator = ";", .replacement = "$1"},
     NULL,
     NULL},
    {{.action = RELABEL_LABELMAP, .replacement = "a-b"},
     "replacement",
     "\"a-b\" is an invalid replacement for the labelmap action"},
    {{.action = RELABEL_LABELMAP, .replacement = ""},
     "replacement",
     "\"\" is an invalid replacement for the labelmap action"},
    {{.action = RELABEL_LABELMAP, .replacement = "${1}_x$2"}, NULL, NULL},
    {{.action = RELABEL_HASHMOD, .target_label = "$1", .modulus = 2},
     "target_label",
     "\"$1\" is an invalid target_label for the hashmod action"},
    {{.action = RELABEL_LABELDROP, .sources_set = true},
     "source_labels",
     "relabel action labeldrop takes only regex, not source_labels"},
    {{.action = RELABEL_LABELKEEP, .modulus = 2},
     "modulus",
     "relabel action labelkeep takes only regex, not modulus"},
    {{.action = RELABEL_LABELDROP, .separator = ";", .replacement = "$1"}, NULL, NULL},
    {{.action = RELABEL_KEEP}, NULL, NULL},
    {{.action = RELABEL_DROP, .target_label = "x"}, NULL, NULL},
};

/* RE2 to ERE: what is spelt, and what is refused with its reason. */
START_TEST(test_re2ere)
{
    static const struct {
        const char *re2, *ere, *err;
    } t[] = {
        {"go_.*", "go_.*", NULL},
        {"(\\w+):\\d+", "([0-9A-Za-z_]+):[0-9]+", NULL},
        {"\\D\\W\\S", "[^0-9][^0-9A-Za-z_][^\t\n\f\r ]", NULL},
        {"a\\sb", "a[\t\n\f\r ]b", NULL},
        {"[\\w.\\-]+", "[0-9A-Za-z_.-]+", NULL},
        {"[\\]a]", "[]a]", NULL},
        {"[^\\^x]", "[^x^]", NULL},
        {"[\\^]", "\\^", NULL},
        {"[[:alpha:]\\d]", "[[:alpha:]0-9]", NULL},
        {"a\\.b\\/c\\-d", "a\\.b/c-d", NULL},
        {"\\t\\n", "\t\n", NULL},
        {"\\bword\\B", "\\bword\\B", NULL},
        {"[a", "[a", NULL},
        {"(?:a|b)(c)", "(a|b)(c)", NULL},
        {"\\(?:x", "\\(?:x", NULL},
        {"[\\D]", NULL, "\\D inside brackets has no POSIX spelling"},
        {"\\pL", NULL, "\\p is not supported in POSIX extended regular expressions (no Unicode"},
        {"\\x41", NULL, "\\x is not supported"},
        {"a\\", NULL, "trailing backslash"},
        /* repetitions, as RE2 (Go's regexp/syntax) judges them */
        {"a*?b+?c??d{2,3}?", "a*?b+?c??d{2,3}?", NULL},
        {"(a{10}){100}", "(a{10}){100}", NULL},
        {"(?:x{500}y){2}", "(x{500}y){2}", NULL},
        {"a{,5}b{x}c{", "a\\{,5}b\\{x}c\\{", NULL},
        {"__meta_++", NULL, "invalid nested repetition operator at \"++\""},
        {"a**", NULL, "invalid nested repetition operator"},
        {"a{2}{3}", NULL, "invalid nested repetition operator"},
        {"a*??", NULL, "invalid nested repetition operator"},
        {"*a", NULL, "missing argument to repetition operator \"*\""},
        {"a|+b", NULL, "missing argument to repetition operator"},
        {"(+)", NULL, "missing argument to repetition operator"},
        {"a{1001}", NULL, "invalid repeat count \"{1001}\""},
        {"a{3,2}", NULL, "invalid repeat count"},
        {"(a{100}){100}", NULL, "nested repetitions count more than 1000"},
        {"((a{10}b){10}){11}", NULL, "nested repetitions count more than 1000"},
        {"[{]{2}[(]*", "[{]{2}[(]*", NULL},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char err[256] = "";
        char *got = re2ere_dup(t[i].re2, err, sizeof(err));
        if (t[i].ere != NULL) {
            ck_assert_msg(got != NULL && strcmp(got, t[i].ere) == 0, "%s: got %s (%s), want %s",
                          t[i].re2, got != NULL ? got : "NULL", err, t[i].ere);
        }
        else {
            ck_assert_msg(got == NULL && strstr(err, t[i].err) != NULL, "%s: got %s, error %s",
                          t[i].re2, got != NULL ? got : "NULL", err);
        }
        free(got);
    }
}
END_TEST

/* The group map: RE2 group k is ERE group map[k - 1] once "(?:" groups moved it. */
START_TEST(test_re2ere_groups)
{
    unsigned *map = NULL;
    size_t n = 0;
    char err[128];
    char *ere = re2ere_dup_groups("(a)(?:b(c))(?:d)(e)[(]", &map, &n, err, sizeof(err));

    ck_assert_ptr_nonnull(ere);
    ck_assert_str_eq(ere, "(a)(b(c))(d)(e)[(]");
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_nonnull(map);
    ck_assert_uint_eq(map[0], 1);
    ck_assert_uint_eq(map[1], 3);
    ck_assert_uint_eq(map[2], 5);
    free(ere);
    free(map);
    ere = re2ere_dup_groups("(a)(b)", &map, &n, err, sizeof(err));
    ck_assert_ptr_null(map); /* no "(?:": RE2 group k is ERE group k */
    ck_assert_uint_eq(n, 2);
    free(ere);
}
END_TEST

START_TEST(test_validate)
{
    const char *key = NULL, *msg;
    char buf[256];

    msg = relabel_validate(&validations[_i].spec, &key, buf, sizeof(buf));
    if (validations[_i].msg == NULL) {
        ck_assert_msg(msg == NULL, "case %d: %s", _i, msg);
        return;
    }
    ck_assert_msg(msg != NULL, "case %d: valid, want %s", _i, validations[_i].msg);
    ck_assert_str_eq(msg, validations[_i].msg);
    ck_assert_str_eq(key, validations[_i].key);
}
END_TEST

START_TEST(test_md5_rfc1321)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char h[16];
        char hex[33];
        md5_digest(v[i].in, strlen(v[i].in), h);
        for (int k = 0; k < 16; k++) {
            snprintf(hex + 2 * k, 3, "%02x", h[k]);
        }
        ck_assert_str_eq(hex, v[i].hex);
    }
    /* 55, 56 and 64 bytes: the padding's boundaries */
    char buf[65];
    unsigned char h[16];
    memset(buf, 'x', sizeof(buf));
    md5_digest(buf, 56, h);
    ck_assert_uint_eq(h[0], 0x66); /* md5("x" * 56) = 668a...; hashlib */
    md5_digest(buf, 64, h);
    ck_assert_uint_eq(h[0], 0xc1); /* md5("x" * 64) = c1bb...; hashlib */
}
END_TEST

/* The literal fast path says what regexec says, and is taken where it should be. */
START_TEST(test_literal_fast_path)
{
    static const struct {
        const char *re;
        bool fast;
    } res[] = {
        {"go_.*", true},      {"go_.*|process_.*|up", true},
        {"tmp", true},        {"", true},
        {".*", true},         {"a\\.b|c\\|d", true},
        {"|x", true},         {"go_.*x", false},
        {"a.b", false},       {"(.*)", false},
        {"a+", false},        {"[ab]c", false},
        {"^a", false},        {"a{2}", false},
        {"go_.*|x.y", false},
    };
    static const char *const inputs[] = {"",         "go_",      "go_gc",  "go",  "up",   "upx",
                                         "process_", "xprocess", "tmp",    "tm",  "tmpx", "a.b",
                                         "aXb",      "c|d",      "c",      "x",   "go_x", "a",
                                         "aa",       "ac",       "go_\nx", "x.y", "xzy"};
    for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
        struct relabel_rule r;
        build(&r, &(struct rspec){.action = RELABEL_KEEP, .src = {"a"}, .regex = res[i].re});
        ck_assert_msg((r.lits != NULL) == res[i].fast, "%s: fast path %d", res[i].re,
                      r.lits != NULL);
        for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
            bool want = regexec(&r.re, inputs[k], 0, NULL, 0) == 0;
            ck_assert_msg(relabel_rule_matches(&r, inputs[k]) == want, "%s on \"%s\": want %d",
                          res[i].re, inputs[k], want);
        }
        relabel_rule_release(&r);
    }
}
END_TEST

START_TEST(test_long_values_and_many_groups)
{
    /* No length limit: a 10000-byte value is matched and copied whole. */
    static char big[10001];
    char re[400] = "";
    struct relabel_rule r;
    struct label in[1] = {{"a", big}};
    struct relabel_set ls = {.labels = in, .nlabels = 1};

    memset(big, 'v', sizeof(big) - 1);
    build(&r, &(struct rspec){.action = RELABEL_REPLACE, .src = {"a", "a"}, .target = "b"});
    ck_assert(relabel_process(&r, 1, &ls, &arena));
    ck_assert_uint_eq(ls.nlabels, 2);
    ck_assert_uint_eq(strlen(ls.labels[1].value), 20001);
    relabel_rule_release(&r);

    /* More groups than the stack array holds: group 40 still expands. */
    for (int i = 1; i <= 40; i++) {
        strcat(re, i < 40 ? "(.)" : "(.*)");
    }
    char val[64];
    memset(val, 'a', 39);
    strcpy(val + 39, "TAIL");
    in[0].value = val;
    ls = (struct relabel_set){.labels = in, .nlabels = 1};
    build(&r,
          &(struct rspec){
              .action = RELABEL_REPLACE, .src = {"a"}, .regex = re, .target = "t", .repl = "$40"});
    ck_assert(relabel_process(&r, 1, &ls, &arena));
    ck_assert_str_eq(ls.labels[1].value, "TAIL");
    relabel_rule_release(&r);
}
END_TEST

static const struct label base_labels[] = {{"mode", "idle"}, {"cpu", "0"}, {"device", "sda1"}};

START_TEST(test_sample_name)
{
    struct sample s = {.name = "node_cpu_seconds_total", .labels = base_labels, .nlabels = 3};
    struct relabel_rule r;

    /* __name__ is the metric name: renamed through replace */
    build(&r, &(struct rspec){.action = RELABEL_REPLACE,
                              {"__name__"},
                              .regex = "node_(.*)",
                              .target = "__name__",
                              .repl = "host_$1"});
    ck_assert(relabel_apply(&r, 1, &s, &arena));
    ck_assert_str_eq(s.name, "host_cpu_seconds_total");
    ck_assert_ptr_eq(s.labels, base_labels);
    relabel_rule_release(&r);

    /* keep on __name__ */
    build(&r, &(struct rspec){.action = RELABEL_KEEP, .src = {"__name__"}, .regex = "host_.*"});
    ck_assert(relabel_apply(&r, 1, &s, &arena));
    relabel_rule_release(&r);

    /* labelkeep without __name__ removes the name, as in Prometheus (the caller fails it) */
    build(&r, &(struct rspec){.action = RELABEL_LABELKEEP, .regex = "cpu"});
    ck_assert(relabel_apply(&r, 1, &s, &arena));
    ck_assert_str_eq(s.name, "");
    ck_assert_uint_eq(s.nlabels, 1);
    ck_assert_str_eq(s.labels[0].name, "cpu");
    relabel_rule_release(&r);
    /* the parser's array is untouched */
    ck_assert_str_eq(base_labels[0].name, "mode");
    ck_assert_uint_eq(sizeof(base_labels) / sizeof(base_labels[0]), 3);
}
END_TEST

START_TEST(test_errors)
{
    struct relabel_rule r;
    char err[256];
    enum relabel_action a;

    ck_assert_int_eq(
        relabel_rule_init(&r, RELABEL_KEEP, NULL, 0, NULL, "(", NULL, NULL, err, sizeof(err)),
        -EINVAL);
    ck_assert_msg(strncmp(err, "invalid regex \"(\": ", 19) == 0, "%s", err);
    ck_assert_int_eq(
        relabel_rule_init(&r, RELABEL_REPLACE, NULL, 0, NULL, NULL, NULL, NULL, err, sizeof(err)),
        -EINVAL);
    ck_assert_str_eq(err, "relabel action replace requires target_label");
    ck_assert_int_eq(relabel_action_parse("labelkeep", &a), 0);
    ck_assert_int_eq(a, RELABEL_LABELKEEP);
    /* any case, as Prometheus lowercases the action */
    ck_assert_int_eq(relabel_action_parse("HashMod", &a), 0);
    ck_assert_int_eq(a, RELABEL_HASHMOD);
    ck_assert_int_eq(relabel_action_parse("explode", &a), -EINVAL);
    ck_assert_str_eq(relabel_action_name(RELABEL_UPPERCASE), "uppercase");
}
END_TEST

static Suite *
relabel_suite(void)
{
    Suite *s = suite_create("relabel");
    TCase *tc = tcase_create("actions");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_loop_test(tc, test_validate, 0, (int)(sizeof(validations) / sizeof(validations[0])));
    tcase_add_test(tc, test_md5_rfc1321);
    tcase_add_test(tc, test_re2ere);
    tcase_add_test(tc, test_re2ere_groups);
    tcase_add_test(tc, test_long_values_and_many_groups);
    tcase_add_test(tc, test_literal_fast_path);
    tcase_add_test(tc, test_sample_name);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(relabel_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
