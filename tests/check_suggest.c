/* Tests for suggest.c: the edit distance, its thresholds, and candidates given as lists. */
#include "build-config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

static const struct {
    const char *a, *b;
    size_t d;
} distances[] = {
    {"", "", 0},
    {"abc", "", 3},
    {"", "abc", 3},
    {"scrape_interval", "scrape_interval", 0},
    {"scrape_intreval", "scrape_interval", 1}, /* a transposition counts once */
    {"static_config", "static_configs", 1},
    {"metrics_pth", "metrics_path", 1},
    {"Scrape_Interval", "scrape_interval", 0}, /* case is ignored */
    {"scrape-interval", "scrape_interval", 0}, /* so is - against _ */
    {"kitten", "sitting", 3},
    {"ca", "abc", 3}, /* optimal string alignment, not full Damerau-Levenshtein (2) */
    {"abcdef", "badcfe", 3},
};

START_TEST(test_distance)
{
    for (size_t i = 0; i < sizeof(distances) / sizeof(distances[0]); i++) {
        size_t d = suggest_distance(distances[i].a, distances[i].b, strlen(distances[i].b));
        ck_assert_msg(d == distances[i].d, "%s/%s: %zu, want %zu", distances[i].a, distances[i].b,
                      d, distances[i].d);
    }
    char longer[SUGGEST_WORD_MAX + 2];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    ck_assert_uint_eq(suggest_distance(longer, "a", 1), SIZE_MAX);
    ck_assert_uint_eq(suggest_distance("a", longer, strlen(longer)), SIZE_MAX);
}
END_TEST

static const char *const keys[] = {"scrape_interval", "scrape_timeout",  "metrics_path",
                                   "static_configs",  "file_sd_configs", "job_name",
                                   "honor_labels",    "scheme",          NULL};

static const char *
best_of(const char *word)
{
    static struct suggest sg;

    suggest_init(&sg, word);
    for (const char *const *k = keys; *k != NULL; k++) {
        suggest_add(&sg, *k);
    }
    return suggest_best(&sg);
}

START_TEST(test_best)
{
    ck_assert_str_eq(best_of("scrape_intreval"), "scrape_interval");
    ck_assert_str_eq(best_of("scrape_timout"), "scrape_timeout");
    ck_assert_str_eq(best_of("static_config"), "static_configs");
    ck_assert_str_eq(best_of("metrics_pth"), "metrics_path");
    ck_assert_str_eq(best_of("JOB_NAME"), "job_name"); /* another case is still a typo */
    ck_assert_str_eq(best_of("shceme"), "scheme");
    ck_assert_str_eq(best_of("honor_lables"), "honor_labels");
    /* too far from everything: no suggestion rather than a wrong one */
    ck_assert_ptr_null(best_of("evaluation_interval"));
    ck_assert_ptr_null(best_of("zzz"));
    ck_assert_ptr_null(best_of("x"));
    ck_assert_ptr_null(best_of(""));
    /* the word itself is no suggestion */
    ck_assert_ptr_null(best_of("scheme"));
    /* thresholds: 1 edit for short words, 2 up to 8 characters, 3 beyond */
    ck_assert_ptr_null(best_of("schxxx"));
    ck_assert_str_eq(best_of("schxme"), "scheme");
    ck_assert_str_eq(best_of("sxrape_txmeoxt"), "scrape_timeout");
}
END_TEST

START_TEST(test_csv_and_ties)
{
    struct suggest sg;

    suggest_init(&sg, "htp");
    suggest_add_csv(&sg, "stdout, file, http");
    ck_assert_str_eq(suggest_best(&sg), "http");
    suggest_init(&sg, "vn");
    suggest_add_csv(&sg, "json, vm, otlp, telegraf");
    ck_assert_str_eq(suggest_best(&sg), "vm");
    suggest_init(&sg, "telegraff");
    suggest_add_csv(&sg, "json,vm,otlp,telegraf");
    ck_assert_str_eq(suggest_best(&sg), "telegraf");
    suggest_init(&sg, "x");
    suggest_add_csv(&sg, "");
    suggest_add_csv(&sg, NULL);
    suggest_add(&sg, NULL);
    ck_assert_ptr_null(suggest_best(&sg));
    /* equally close: the first offered wins, so messages do not change between runs */
    suggest_init(&sg, "ab");
    suggest_add(&sg, "abc");
    suggest_add(&sg, "abd");
    ck_assert_str_eq(suggest_best(&sg), "abc");
}
END_TEST

START_TEST(test_phrases)
{
    struct suggest sg;
    char buf[64];

    suggest_init(&sg, "chek-config");
    suggest_add(&sg, "check-config");
    ck_assert_str_eq(suggest_paren(&sg, "--", buf, sizeof(buf)),
                     " (did you mean \"--check-config\"?)");
    ck_assert_str_eq(suggest_phrase(&sg, "", buf, sizeof(buf)), "did you mean \"check-config\"? ");
    suggest_init(&sg, "zzzz");
    suggest_add(&sg, "check-config");
    ck_assert_str_eq(suggest_paren(&sg, "--", buf, sizeof(buf)), "");
    ck_assert_str_eq(suggest_phrase(&sg, "", buf, sizeof(buf)), "");
}
END_TEST

static Suite *
suggest_suite(void)
{
    Suite *s = suite_create("suggest");
    TCase *tc = tcase_create("suggest");

    tcase_add_test(tc, test_distance);
    tcase_add_test(tc, test_best);
    tcase_add_test(tc, test_csv_and_ties);
    tcase_add_test(tc, test_phrases);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suggest_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
