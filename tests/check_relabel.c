/* Tests for relabel.c: each action on hand-built samples, anchoring, $N expansion, errors. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static const char *
get(const struct sample *s, const char *name)
{
    for (uint32_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].name, name) == 0) {
            return s->labels[i].value;
        }
    }
    return NULL;
}

static const struct label base_labels[] = {{"mode", "idle"}, {"cpu", "0"}, {"device", "sda1"}};

static struct sample
make(void)
{
    struct sample s = {.name = "node_cpu_seconds_total", .labels = base_labels, .nlabels = 3};
    return s;
}

static struct relabel_rule
rule(enum relabel_action a, const char *src, const char *sep, const char *re, const char *target,
     const char *repl)
{
    struct relabel_rule r;
    char err[256];
    const char *sources[2] = {src, "mode"};
    size_t n = src == NULL ? 0 : (sep != NULL ? 2 : 1);

    ck_assert_msg(relabel_rule_init(&r, a, sources, n, sep, re, target, repl, err, sizeof(err)) ==
                      0,
                  "%s", err);
    return r;
}

START_TEST(test_keep_drop_anchored)
{
    struct sample s = make();
    /* "cpu" must match the whole name, not a substring. */
    struct relabel_rule r1 = rule(RELABEL_KEEP, "__name__", NULL, "cpu", NULL, NULL);
    ck_assert(!relabel_apply(&r1, 1, &s, &arena));
    struct relabel_rule r2 = rule(RELABEL_KEEP, "__name__", NULL, "node_cpu.*", NULL, NULL);
    ck_assert(relabel_apply(&r2, 1, &s, &arena));
    struct relabel_rule r3 = rule(RELABEL_DROP, "device", NULL, "sd[a-z]1", NULL, NULL);
    ck_assert(!relabel_apply(&r3, 1, &s, &arena));
    /* A missing label is the empty string. */
    struct relabel_rule r4 = rule(RELABEL_DROP, "nosuch", NULL, "", NULL, NULL);
    ck_assert(!relabel_apply(&r4, 1, &s, &arena));
    relabel_rule_release(&r1);
    relabel_rule_release(&r2);
    relabel_rule_release(&r3);
    relabel_rule_release(&r4);
}
END_TEST

START_TEST(test_replace)
{
    struct sample s = make();
    const struct label *before = s.labels;
    struct relabel_rule r =
        rule(RELABEL_REPLACE, "device", ";", "(sd[a-z])([0-9]);(.*)", "disk", "${1}-$2-$3");

    ck_assert(relabel_apply(&r, 1, &s, &arena));
    ck_assert_str_eq(get(&s, "disk"), "sda-1-idle");
    ck_assert_uint_eq(s.nlabels, 4);
    /* The original array is untouched (parsers share it between samples). */
    ck_assert_ptr_eq(before, base_labels);
    ck_assert_uint_eq(sizeof(base_labels) / sizeof(base_labels[0]), 3);
    relabel_rule_release(&r);

    /* An empty result deletes the target label. */
    struct relabel_rule del = rule(RELABEL_REPLACE, "cpu", NULL, ".*", "mode", "");
    ck_assert(relabel_apply(&del, 1, &s, &arena));
    ck_assert_ptr_null(get(&s, "mode"));
    relabel_rule_release(&del);

    /* Renaming the metric through __name__. */
    struct relabel_rule ren =
        rule(RELABEL_REPLACE, "__name__", NULL, "node_(.*)", "__name__", "host_$1");
    ck_assert(relabel_apply(&ren, 1, &s, &arena));
    ck_assert_str_eq(s.name, "host_cpu_seconds_total");
    relabel_rule_release(&ren);

    /* No match: unchanged. */
    struct sample s2 = make();
    struct relabel_rule nm = rule(RELABEL_REPLACE, "cpu", NULL, "x", "y", "z");
    ck_assert(relabel_apply(&nm, 1, &s2, &arena));
    ck_assert_ptr_eq(s2.labels, base_labels);
    relabel_rule_release(&nm);
}
END_TEST

START_TEST(test_labeldrop_labelkeep)
{
    struct sample s = make();
    struct relabel_rule d = rule(RELABEL_LABELDROP, NULL, NULL, "cpu|device", NULL, NULL);

    ck_assert(relabel_apply(&d, 1, &s, &arena));
    ck_assert_uint_eq(s.nlabels, 1);
    ck_assert_str_eq(get(&s, "mode"), "idle");
    relabel_rule_release(&d);

    s = make();
    struct relabel_rule k = rule(RELABEL_LABELKEEP, NULL, NULL, "dev.*", NULL, NULL);
    ck_assert(relabel_apply(&k, 1, &s, &arena));
    ck_assert_uint_eq(s.nlabels, 1);
    ck_assert_str_eq(get(&s, "device"), "sda1");
    relabel_rule_release(&k);
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
    ck_assert_int_eq(relabel_action_parse("explode", &a), -EINVAL);
}
END_TEST

static Suite *
relabel_suite(void)
{
    Suite *s = suite_create("relabel");
    TCase *tc = tcase_create("actions");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_keep_drop_anchored);
    tcase_add_test(tc, test_replace);
    tcase_add_test(tc, test_labeldrop_labelkeep);
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
