/*
 * Tests for the nats output's configuration (out_nats.c) that need no server: url as one server
 * or a list, the subject template and the subjects it gives each job, the errors at their place,
 * and the --check-config summary, which never shows a secret.
 */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "nats_conn.h"
#include "out_nats.h"
#include "testutil.h"

START_TEST(test_subject_template)
{
    static const struct {
        const char *tpl, *job, *want;
    } cases[] = {
        {"pollster.{job}", "node", "pollster.node"},
        {"pollster.{job}", "a.b c*d>e\tf", "pollster.a_b_c_d_e_f"},
        {"m.{job}.raw", "x", "m.x.raw"},
        {"{job}", "x", "x"},
        {"fixed.subject", "x", "fixed.subject"},
        {"a.{job}.{job}", "x", "a.x.x"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = out_nats_subject_dup(cases[i].tpl, cases[i].job);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, cases[i].want);
        free(s);
    }
}
END_TEST

/* The summary line of @yaml's only output. */
static char *
summary(const char *yaml)
{
    struct config *c = testutil_load_ok(yaml);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    config_summary(f, c);
    fclose(f);
    config_free(c);
    return text;
}

START_TEST(test_url_one_or_a_list)
{
    char *s = summary("outputs:\n"
                      "  - type: nats\n"
                      "    url: nats://127.0.0.1:4222\n");
    ck_assert_msg(strstr(s, "output nats (json): nats://127.0.0.1:4222, stream pollster, "
                            "subject pollster.{job}\n") != NULL,
                  "%s", s);
    free(s);
    s = summary("outputs:\n"
                "  - type: nats\n"
                "    url: [nats://a:4222, 'tls://b:4222']\n"
                "    stream: m\n"
                "    subject: m.{job}.x\n"
                "    format: vm\n"
                "    user: u\n"
                "    password: hunter2\n"
                "    spool_dir: /tmp/spool-nats-conf\n");
    ck_assert_msg(strstr(s, "output nats (vm): nats://a:4222, tls://b:4222, stream m, subject "
                            "m.{job}.x\n  spool /tmp/spool-nats-conf\n") != NULL,
                  "%s", s);
    ck_assert_ptr_null(strstr(s, "hunter2"));
    free(s);
}
END_TEST

START_TEST(test_errors)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"outputs:\n  - type: nats\n", "pollster.yaml:2:5: missing required key \"url\" for "
                                       "output type nats in outputs[0]"},
        {"outputs:\n  - type: nats\n    url: http://x:4222\n",
         "pollster.yaml:3:10: invalid NATS URL \"http://x:4222\" in outputs[0] (expected "
         "nats://HOST:PORT or tls://...)"},
        {"outputs:\n  - type: nats\n    url: []\n",
         "pollster.yaml:3:10: url must name at least one server in outputs[0]"},
        {"outputs:\n  - type: nats\n    url: [nats://a:1, {x: 1}]\n",
         "pollster.yaml:3:23: expected a URL for url, got a mapping"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    subject: a{job}\n",
         "pollster.yaml:4:14: subject \"a{job}\" in outputs[0]: {job} must be a whole token "
         "(a.{job}.b)"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    subject: a.*\n",
         "pollster.yaml:4:14: subject \"a.*\" in outputs[0]: not a valid NATS subject to "
         "publish to"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    subject: a..b\n",
         "pollster.yaml:4:14: subject \"a..b\" in outputs[0]: not a valid NATS subject to "
         "publish to"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    password: p\n",
         "pollster.yaml:4:15: password needs user in outputs[0]"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    nkey: UABC\n",
         "pollster.yaml:4:11: nkey and nkey_seed_file go together in outputs[0]"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    replicas: 6\n",
         "pollster.yaml:4:15: replicas must be between 1 and 5, got 6"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    timeout: 0s\n",
         "pollster.yaml:4:14: timeout must be greater than 0"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    retry_initial: 2s\n    retry_max: "
         "1s\n",
         "pollster.yaml:5:16: retry_max must not be less than retry_initial"},
        {"outputs:\n  - type: nats\n    url: nats://a:1\n    format: xml\n",
         "pollster.yaml:4:13: invalid format \"xml\" (expected one of: json, vm, otlp, telegraf, "
         "remote_write)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        testutil_load_fails(cases[i].yaml, cases[i].want);
    }
}
END_TEST

/* The "not connected" text: the last error when there is one, nothing run together without. */
START_TEST(test_not_connected_text)
{
    char why[256];

    nats_conn_format_error(why, sizeof(why), NATS_OK, NULL);
    ck_assert_str_eq(why, "not connected to NATS yet");
    nats_conn_format_error(why, sizeof(why), NATS_NOT_PERMITTED, "Authorization Violation");
    ck_assert_str_eq(why, "not connected to NATS yet (Authorization Violation)");
    nats_conn_format_error(why, sizeof(why), NATS_NO_SERVER, "");
    ck_assert_str_eq(why, "not connected to NATS yet (No server available for connection)");
}
END_TEST

START_TEST(test_inputs)
{
    char *s = summary("inputs:\n"
                      "  - type: nats\n"
                      "    url: nats://127.0.0.1:4222\n"
                      "    format: vm\n"
                      "    consumer: r\n"
                      "outputs:\n"
                      "  - type: stdout\n"
                      "    format: vm\n");
    ck_assert_msg(strstr(s, "input nats (vm): nats://127.0.0.1:4222, stream pollster, subject "
                            "pollster.*, consumer r\n") != NULL,
                  "%s", s);
    free(s);
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"inputs:\n  - type: kafka\n",
         "pollster.yaml:2:11: invalid type \"kafka\" (expected one of: nats)"},
        {"inputs:\n  - type: nats\n    url: nats://a:1\n    format: otlp\n",
         "pollster.yaml:4:13: format \"otlp\" in inputs[0]: a relay takes json or vm records"},
        {"inputs:\n  - type: nats\n", "pollster.yaml:2:5: missing required key \"url\" for "
                                      "input type nats in inputs[0]"},
        {"inputs:\n  - type: nats\n    url: nats://a:1\n    ack_wait: 0s\n",
         "pollster.yaml:4:15: ack_wait must be greater than 0"},
        {"inputs:\n  - type: nats\n    url: nats://a:1\n    max_pending: 0\n",
         "pollster.yaml:4:18: max_pending must be between 1 and 1000000, got 0"},
        {"inputs:\n  - url: nats://a:1\n", "pollster.yaml:2:5: missing required key \"type\" "
                                           "in inputs[0]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        testutil_load_fails(cases[i].yaml, cases[i].want);
    }
}
END_TEST

/* A relay's outputs must take its records as they are. */
START_TEST(test_relay_outputs)
{
    struct loop *lp;
    struct mock_server *mock;
    struct engine *eng;
    int pipefd[2];
    char buf[400];

    testutil_once_setup(&lp, &mock, &eng, pipefd); /* one output: json lines */
    ck_assert_ptr_null(engine_relay_check(eng, "json", buf, sizeof(buf)));
    const char *why = engine_relay_check(eng, "vm", buf, sizeof(buf));
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "outputs[0] (type stdout, format json) cannot take the relayed vm "
                              "records as they are") != NULL,
                  "%s", why);
    uint64_t marks[ENGINE_MAX_OUTPUTS] = {0};
    engine_relay_write(eng, "{\"x\":1}\n", 8, 1, marks);
    ck_assert(engine_relay_safe(eng, marks)); /* written when write() returned */
    char got[64] = "";
    ssize_t n = read(pipefd[0], got, sizeof(got) - 1);
    ck_assert_int_eq(n, 8);
    ck_assert_str_eq(got, "{\"x\":1}\n");
    testutil_once_teardown(lp, mock, eng, pipefd);
}
END_TEST

static Suite *
nats_conf_suite(void)
{
    Suite *s = suite_create("nats_conf");
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, test_subject_template);
    tcase_add_test(tc, test_url_one_or_a_list);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_not_connected_text);
    tcase_add_test(tc, test_inputs);
    tcase_add_test(tc, test_relay_outputs);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(nats_conf_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
