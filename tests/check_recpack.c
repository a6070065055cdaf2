/* Tests for record packing (recpack.h): round trips, reuse of the streams, damaged input. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recpack.h"
#include "strbuf.h"

START_TEST(test_round_trip_shrinks_and_restores)
{
    struct recpack p;
    struct strbuf text, z, out;

    recpack_init(&p);
    strbuf_init(&text);
    strbuf_init(&z);
    strbuf_init(&out);
    for (int i = 0; i < 2000; i++) {
        strbuf_printf(&text, "node_cpu_seconds_total{cpu=\"%d\",mode=\"idle\"} %d\n", i % 8, i);
    }
    /* Twice: the streams are reset between records. */
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(recpack_pack(&p, &z, text.data, text.len), 0);
        ck_assert_uint_lt(z.len, text.len / 4);
        strbuf_reset(&out);
        strbuf_puts(&out, "prefix:");
        ck_assert_int_eq(recpack_unpack(&p, &out, z.data, z.len, text.len), 0);
        ck_assert_uint_eq(out.len, 7 + text.len);
        ck_assert(memcmp(out.data, "prefix:", 7) == 0);
        ck_assert(memcmp(out.data + 7, text.data, text.len) == 0);
    }
    recpack_release(&p);
    strbuf_release(&text);
    strbuf_release(&z);
    strbuf_release(&out);
}
END_TEST

START_TEST(test_damaged_or_wrong_length_is_an_error)
{
    struct recpack p;
    struct strbuf z, out;
    const char *text = "up{job=\"node\"} 1\nup{job=\"node\"} 1\nup{job=\"node\"} 1\n";

    recpack_init(&p);
    strbuf_init(&z);
    strbuf_init(&out);
    ck_assert_int_eq(recpack_pack(&p, &z, text, strlen(text)), 0);
    /* a length other than the packed text's */
    ck_assert_int_eq(recpack_unpack(&p, &out, z.data, z.len, strlen(text) - 1), -EIO);
    strbuf_reset(&out);
    ck_assert_int_eq(recpack_unpack(&p, &out, z.data, z.len, strlen(text) + 1), -EIO);
    /* cut short */
    strbuf_reset(&out);
    ck_assert_int_eq(recpack_unpack(&p, &out, z.data, z.len / 2, strlen(text)), -EIO);
    /* garbage */
    strbuf_reset(&out);
    ck_assert_int_eq(recpack_unpack(&p, &out, "\xff\xff\xff\xff", 4, 10), -EIO);
    ck_assert_uint_eq(out.len, 0);
    /* and the stream still works */
    strbuf_reset(&out);
    ck_assert_int_eq(recpack_unpack(&p, &out, z.data, z.len, strlen(text)), 0);
    ck_assert_str_eq(out.data, text);
    recpack_release(&p);
    recpack_release(&p); /* released twice: harmless */
    strbuf_release(&z);
    strbuf_release(&out);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("recpack");
    TCase *tc = tcase_create("pack");

    tcase_add_test(tc, test_round_trip_shrinks_and_restores);
    tcase_add_test(tc, test_damaged_or_wrong_length_is_an_error);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
