/*
 * Tests for the engine's reload (engine.c): many targets are matched by identity through its
 * index (kept, added and removed counted exactly, a target listed twice matched once per
 * listing), and the target list grows past its capacity many times without losing any.
 */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "loop.h"
#include "mock_server.h"
#include "testutil.h"

#define NT 1000

static struct loop *lp;
static struct mock_server *mock;
static struct engine *eng;
static int pipefd[2];

static void
setup(void)
{
    testutil_once_setup(&lp, &mock, &eng, pipefd);
}

static void
teardown(void)
{
    testutil_once_teardown(lp, mock, eng, pipefd);
}

/* Adds a probe target whose identity is @identity (its URL made from @n). */
static void
add(const char *identity, int n)
{
    char url[96];

    snprintf(url, sizeof(url), "http://127.0.0.1:1/t%d", n);
    testutil_add_probe(eng, "j", url, NULL, 0, identity);
}

static void
add_n(int from, int to)
{
    char id[32];

    for (int i = from; i < to; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        add(id, i);
    }
}

START_TEST(test_reload_matches_by_identity)
{
    size_t kept, added, removed;

    add_n(0, NT);
    add("dup", -1);
    add("dup", -2);
    add(NULL, -3); /* no identity: never kept */
    ck_assert_uint_eq(engine_target_count(eng), NT + 3);

    /* Half kept, half new; "dup" listed three times: two kept, one added. */
    engine_reload_begin(eng);
    add_n(NT / 2, NT + NT / 2);
    add("dup", -1);
    add("dup", -2);
    add("dup", -4);
    add(NULL, -3);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(kept, NT / 2 + 2);
    ck_assert_uint_eq(added, NT / 2 + 2);
    ck_assert_uint_eq(removed, NT / 2 + 1);
    ck_assert_uint_eq(engine_target_count(eng), NT + 4);

    /* The same set again: everything with an identity is kept. */
    engine_reload_begin(eng);
    add_n(NT / 2, NT + NT / 2);
    add("dup", -1);
    add("dup", -2);
    add("dup", -4);
    ck_assert_int_eq(engine_reload_end(eng, &kept, &added, &removed), 0);
    ck_assert_uint_eq(kept, NT + 3);
    ck_assert_uint_eq(added, 0);
    ck_assert_uint_eq(removed, 1);

    /* An aborted reload restores the set it began with. */
    engine_reload_begin(eng);
    add_n(0, 10);
    engine_reload_abort(eng);
    ck_assert_uint_eq(engine_target_count(eng), NT + 3);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("engine_reload");
    TCase *tc = tcase_create("reload");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reload_matches_by_identity);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
