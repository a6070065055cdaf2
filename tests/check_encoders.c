/* Tests for encoders: placeholder until written. */
#include "config.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_placeholder)
{
    ck_assert(1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("encoders");
    TCase *tc = tcase_create("encoders");
    tcase_add_test(tc, test_placeholder);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
