/* Tests for units.c: Prometheus durations and byte sizes, accepted and rejected. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

static const struct {
    const char *in;
    int rc;
    int64_t ms;
} duration_cases[] = {
    {"0", 0, 0},
    {"500ms", 0, 500},
    {"10s", 0, 10000},
    {"1m30s", 0, 90000},
    {"1h", 0, 3600000},
    {"1h30m15s250ms", 0, 5415250},
    {"2d", 0, 172800000},
    {"1w", 0, 604800000},
    {"1y", 0, 31536000000LL},
    {"", -EINVAL, 0},
    {"10", -EINVAL, 0},
    {"s", -EINVAL, 0},
    {"1.5s", -EINVAL, 0},
    {"-1s", -EINVAL, 0},
    {"30s1m", -EINVAL, 0},
    {"1s1s", -EINVAL, 0},
    {"10 s", -EINVAL, 0},
    {"10sec", -EINVAL, 0},
    {"99999999999999999999s", -ERANGE, 0},
    {"9999999999999999y", -ERANGE, 0},
};

START_TEST(test_durations)
{
    for (size_t i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
        int64_t ms = -1;
        int rc = units_parse_duration(duration_cases[i].in, &ms);
        ck_assert_msg(rc == duration_cases[i].rc, "\"%s\": rc %d, want %d", duration_cases[i].in,
                      rc, duration_cases[i].rc);
        if (rc == 0) {
            ck_assert_msg(ms == duration_cases[i].ms, "\"%s\": %lld ms", duration_cases[i].in,
                          (long long)ms);
        }
    }
}
END_TEST

static const struct {
    const char *in;
    int rc;
    uint64_t n;
} size_cases[] = {
    {"0", 0, 0},
    {"512", 0, 512},
    {"10B", 0, 10},
    {"1KB", 0, 1024},
    {"1KiB", 0, 1024},
    {"10MB", 0, 10485760},
    {"10mib", 0, 10485760},
    {"1GiB", 0, 1073741824},
    {"1G", 0, 1073741824},
    {"2TB", 0, 2199023255552ULL},
    {"", -EINVAL, 0},
    {"MB", -EINVAL, 0},
    {"1.5MB", -EINVAL, 0},
    {"10 MB", -EINVAL, 0},
    {"10XB", -EINVAL, 0},
    {"-1", -EINVAL, 0},
    {"99999999999999999999", -ERANGE, 0},
    {"99999999999TB", -ERANGE, 0},
};

START_TEST(test_sizes)
{
    for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        uint64_t n = 7;
        int rc = units_parse_size(size_cases[i].in, &n);
        ck_assert_msg(rc == size_cases[i].rc, "\"%s\": rc %d, want %d", size_cases[i].in, rc,
                      size_cases[i].rc);
        if (rc == 0) {
            ck_assert_msg(n == size_cases[i].n, "\"%s\": %llu", size_cases[i].in,
                          (unsigned long long)n);
        }
    }
}
END_TEST

START_TEST(test_format_roundtrip)
{
    static const int64_t values[] = {1, 500, 1000, 90000, 3600000, 5415250, 172800000};
    char buf[64];

    ck_assert_str_eq(units_format_duration(0, buf, sizeof(buf)), "0s");
    ck_assert_str_eq(units_format_duration(90000, buf, sizeof(buf)), "1m30s");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        int64_t back = -1;
        units_format_duration(values[i], buf, sizeof(buf));
        ck_assert_int_eq(units_parse_duration(buf, &back), 0);
        ck_assert_int_eq(back, values[i]);
    }
}
END_TEST

/* What a refused duration or size suggests: "" means no guess is good enough. */
static const struct {
    const char *in;
    const char *hint;
} duration_hints[] = {
    {"15", " (did you mean \"15s\"?)"},
    {"1.5s", " (Prometheus durations take no fractions: did you mean \"1500ms\"?)"},
    {"1.5m", " (Prometheus durations take no fractions: did you mean \"1m30s\"?)"},
    {"0.5", " (Prometheus durations take no fractions: did you mean \"500ms\"?)"},
    {".25s", " (Prometheus durations take no fractions: did you mean \"250ms\"?)"},
    {"2.5h", " (Prometheus durations take no fractions: did you mean \"2h30m\"?)"},
    {"10S", " (did you mean \"10s\"?)"},
    {"10 s", " (did you mean \"10s\"?)"},
    {"5min", " (did you mean \"5m\"?)"},
    {"30 seconds", " (did you mean \"30s\"?)"},
    {"1 hour", " (did you mean \"1h\"?)"},
    {"30s1m", " (did you mean \"1m30s\"?)"},
    {"1H30M", " (did you mean \"1h30m\"?)"},
    {"10x", ""},
    {"1.0005s", ""}, /* 1000.5 ms: no whole number of milliseconds */
    {"-1s", ""},
    {"1e3s", ""},
    {"", ""},
    {"s", ""},
    {"abc", ""},
};

static const struct {
    const char *in;
    const char *hint;
} size_hints[] = {
    {"1.5GB", " (sizes take no fractions: did you mean \"1536MiB\"?)"},
    {"0.5MiB", " (sizes take no fractions: did you mean \"512KiB\"?)"},
    {"10 MB", " (did you mean \"10MiB\"?)"},
    {"10Mi", " (did you mean \"10MiB\"?)"},
    {"100 bytes", " (did you mean \"100B\"?)"},
    {"1.5", ""}, /* half a byte */
    {"10XB", ""},
    {"-1", ""},
};

START_TEST(test_hints)
{
    char buf[128];

    for (size_t i = 0; i < sizeof(duration_hints) / sizeof(duration_hints[0]); i++) {
        int64_t ms;
        ck_assert_msg(units_parse_duration(duration_hints[i].in, &ms) != 0, "%s parses",
                      duration_hints[i].in);
        ck_assert_str_eq(units_duration_hint(duration_hints[i].in, buf, sizeof(buf)),
                         duration_hints[i].hint);
    }
    for (size_t i = 0; i < sizeof(size_hints) / sizeof(size_hints[0]); i++) {
        uint64_t n;
        ck_assert_msg(units_parse_size(size_hints[i].in, &n) != 0, "%s parses", size_hints[i].in);
        ck_assert_str_eq(units_size_hint(size_hints[i].in, buf, sizeof(buf)), size_hints[i].hint);
    }
    /* a short buffer is cut, never overrun */
    ck_assert_uint_lt(strlen(units_duration_hint("15", buf, 8)), 8);
}
END_TEST

static Suite *
units_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_durations);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_format_roundtrip);
    tcase_add_test(tc, test_hints);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(units_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
