/*
 * Tests for sharding (shard.c): 3 agents over 300 targets own each exactly once (replication 1)
 * or exactly twice (replication 2); going from 3 to 4 agents moves only targets to the new one,
 * about a quarter; static_configs, file_sd and http_sd targets shard alike; other agents' targets
 * are dropped with the reason "shard" (/api/v1/targets) and counted (/metrics); --shard K/N
 * overrides global.shard, also in once mode; bad settings are errors at their place.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_targets.h"
#include "config.h"
#include "engine.h"
#include "mock_server.h"
#include "sdcache.h"
#include "setup.h"
#include "shard.h"
#include "stats.h"
#include "strbuf.h"
#include "testutil.h"

#define NTARGETS 300

/* "host<i>:9100" for i in [0, NTARGETS), comma-separated and quoted, into @sb. */
static void
put_addresses(struct strbuf *sb)
{
    for (int i = 0; i < NTARGETS; i++) {
        strbuf_printf(sb, "%s'host%d:9100'", i > 0 ? "," : "", i);
    }
}

/* A config with one job "n" of @targets_yaml and global.shard {@index, @count, @repl}. */
static struct config *
load_sharded(const char *targets_yaml, int index, int count, int repl)
{
    struct strbuf sb;
    struct config *c;

    strbuf_init(&sb);
    strbuf_printf(&sb,
                  "global: {shard: {index: %d, count: %d, replication: %d}}\n"
                  "scrape_configs:\n"
                  "  - job_name: n\n"
                  "%s",
                  index, count, repl, targets_yaml);
    c = testutil_load_ok(sb.data);
    strbuf_release(&sb);
    return c;
}

/* static_configs with the NTARGETS addresses (caller frees). */
static char *
static_yaml(void)
{
    struct strbuf sb;

    strbuf_init(&sb);
    strbuf_puts(&sb, "    static_configs: [{targets: [");
    put_addresses(&sb);
    strbuf_puts(&sb, "]}]\n");
    return sb.data;
}

/* Marks in @owned[i] how many agents own "host<i>:9100" (the instance). */
static void
count_owned(const struct config *c, int *owned)
{
    ck_assert_uint_eq(c->njobs, 1);
    for (size_t t = 0; t < c->jobs[0].ntargets; t++) {
        int i = -1;
        ck_assert_int_eq(sscanf(c->jobs[0].targets[t].instance, "host%d:9100", &i), 1);
        ck_assert(i >= 0 && i < NTARGETS);
        owned[i]++;
    }
}

/* The agents of a fleet of @count with replication @repl: who owns each target. */
static void
fleet(const char *yaml, int count, int repl, unsigned char owner[][NTARGETS])
{
    for (int k = 0; k < count; k++) {
        int owned[NTARGETS] = {0};
        struct config *c = load_sharded(yaml, k, count, repl);
        count_owned(c, owned);
        ck_assert_uint_eq(c->jobs[0].nseen, NTARGETS);
        ck_assert_uint_eq(c->jobs[0].ntargets + c->jobs[0].ndropped, NTARGETS);
        for (int i = 0; i < NTARGETS; i++) {
            ck_assert_int_le(owned[i], 1);
            owner[k][i] = (unsigned char)owned[i];
        }
        config_free(c);
    }
}

START_TEST(test_each_target_owned_replication_times)
{
    char *yaml = static_yaml();
    unsigned char owner[4][NTARGETS];

    for (int repl = 1; repl <= 3; repl++) {
        fleet(yaml, 3, repl, owner);
        for (int i = 0; i < NTARGETS; i++) {
            ck_assert_int_eq(owner[0][i] + owner[1][i] + owner[2][i], repl);
        }
        for (int k = 0; k < 3; k++) {
            int n = 0;
            for (int i = 0; i < NTARGETS; i++) {
                n += owner[k][i];
            }
            /* a fair share: NTARGETS * repl / 3, give or take a third */
            ck_assert_int_ge(n, NTARGETS * repl / 3 * 2 / 3);
            ck_assert_int_le(n, NTARGETS * repl / 3 * 4 / 3);
        }
    }
    free(yaml);
}
END_TEST

START_TEST(test_growing_the_fleet_moves_only_to_the_new_agent)
{
    char *yaml = static_yaml();
    unsigned char three[3][NTARGETS], four[4][NTARGETS];

    for (int repl = 1; repl <= 2; repl++) {
        int moved = 0;
        fleet(yaml, 3, repl, three);
        fleet(yaml, 4, repl, four);
        for (int i = 0; i < NTARGETS; i++) {
            for (int k = 0; k < 3; k++) {
                /* an old agent never gains a target: only the new one does */
                ck_assert_int_le(four[k][i], three[k][i]);
            }
            moved += four[3][i];
        }
        /* the new agent's share: NTARGETS * repl / 4, give or take a third */
        ck_assert_int_ge(moved, NTARGETS * repl / 4 * 2 / 3);
        ck_assert_int_le(moved, NTARGETS * repl / 4 * 4 / 3);
        if (repl == 1) {
            printf("3 -> 4 agents: %d of %d targets moved, all to the new agent\n", moved,
                   NTARGETS);
        }
    }
    free(yaml);
}
END_TEST

/* The same addresses through static_configs, file_sd and http_sd: each agent owns the same. */
START_TEST(test_static_file_sd_and_http_sd_shard_alike)
{
    char dir[] = "/tmp/check_shard.XXXXXX", path[64], *stat_yaml = static_yaml();
    struct strbuf sb, list;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    strbuf_init(&list);
    strbuf_puts(&list, "[{\"targets\":[");
    for (int i = 0; i < NTARGETS; i++) {
        strbuf_printf(&list, "%s\"host%d:9100\"", i > 0 ? "," : "", i);
    }
    strbuf_puts(&list, "]}]");
    snprintf(path, sizeof(path), "%s/t.json", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(list.data, f);
    fclose(f);

    strbuf_init(&sb);
    strbuf_printf(&sb, "    file_sd_configs: [{files: ['%s']}]\n", path);
    char *file_yaml = strdup(sb.data);
    strbuf_release(&sb);
    const char *http_yaml = "    http_sd_configs: [{url: 'http://127.0.0.1:1/sd'}]\n";
    /* http_sd: the config holds what the cache holds (as after a refresh) */
    struct config *c = load_sharded(http_yaml, 0, 3, 1);
    ck_assert_uint_eq(c->jobs[0].nsds, 1);
    ck_assert_int_ge(sdcache_put(NULL, c->jobs[0].sds[0].key, list.data, list.len), 0);
    config_free(c);

    for (int k = 0; k < 3; k++) {
        int by_static[NTARGETS] = {0}, by_file[NTARGETS] = {0}, by_http[NTARGETS] = {0};
        c = load_sharded(stat_yaml, k, 3, 1);
        count_owned(c, by_static);
        config_free(c);
        c = load_sharded(file_yaml, k, 3, 1);
        count_owned(c, by_file);
        config_free(c);
        c = load_sharded(http_yaml, k, 3, 1);
        ck_assert_uint_eq(c->jobs[0].nseen, NTARGETS);
        count_owned(c, by_http);
        config_free(c);
        ck_assert_int_eq(memcmp(by_static, by_file, sizeof(by_static)), 0);
        ck_assert_int_eq(memcmp(by_static, by_http, sizeof(by_static)), 0);
    }
    sdcache_free_all();
    unlink(path);
    rmdir(dir);
    free(file_yaml);
    free(stat_yaml);
    strbuf_release(&list);
}
END_TEST

/* The hash is over the final labels: a relabeled label moves a target, a dropped one does not. */
START_TEST(test_key_is_the_final_labels)
{
    struct label a[] = {{"env", "prod"}, {"zone", "a"}}, b[] = {{"env", "prod"}, {"zone", "b"}};

    ck_assert(shard_key("n", "h:1", a, 2) == shard_key("n", "h:1", a, 2));
    ck_assert(shard_key("n", "h:1", a, 2) != shard_key("n", "h:1", b, 2));
    ck_assert(shard_key("n", "h:1", a, 2) != shard_key("m", "h:1", a, 2));
    ck_assert(shard_key("n", "h:1", a, 2) != shard_key("n", "h:2", a, 2));
    ck_assert(shard_key("n", "h:1", a, 1) != shard_key("n", "h:1", a, 2));
    /* name/value boundaries count: "ab"+"c" is not "a"+"bc" */
    ck_assert(shard_key("ab", "c", NULL, 0) != shard_key("a", "bc", NULL, 0));

    /* two configs whose relabel_configs give the same final labels shard the same */
    struct config *c1 = testutil_load_ok(
                      "global: {shard: {index: 1, count: 3}}\n"
                      "scrape_configs:\n"
                      "  - job_name: n\n"
                      "    static_configs: [{targets: ['a:1','b:1','c:1','d:1','e:1',"
                      "'f:1','g:1','h:1','i:1']}]\n"),
                  *c2 = testutil_load_ok(
                      "global: {shard: {index: 1, count: 3}}\n"
                      "scrape_configs:\n"
                      "  - job_name: n\n"
                      "    static_configs: [{targets: ['a:1','b:1','c:1','d:1','e:1',"
                      "'f:1','g:1','h:1','i:1'], labels: {tmp: x}}]\n"
                      "    relabel_configs: [{action: labeldrop, regex: tmp}]\n");
    ck_assert_uint_eq(c1->jobs[0].ntargets, c2->jobs[0].ntargets);
    for (size_t i = 0; i < c1->jobs[0].ntargets; i++) {
        ck_assert_str_eq(c1->jobs[0].targets[i].instance, c2->jobs[0].targets[i].instance);
    }
    config_free(c1);
    config_free(c2);
}
END_TEST

START_TEST(test_count_one_keeps_everything)
{
    struct shard one = {.index = 0, .count = 1, .replication = 1};

    for (uint64_t k = 0; k < 1000; k++) {
        ck_assert(shard_owns(&one, k * 0x9e3779b97f4a7c15ULL));
    }
    struct config *c = testutil_load_ok("scrape_configs:\n"
                                        "  - job_name: n\n"
                                        "    static_configs: [{targets: ['a:1','b:1','c:1']}]\n");
    ck_assert_uint_eq(c->jobs[0].ntargets, 3);
    ck_assert_uint_eq(c->jobs[0].nseen, 3);
    ck_assert_uint_eq(c->jobs[0].ndropped, 0);
    ck_assert_int_eq(c->global.shard.count, 1);
    ck_assert_int_eq(c->global.shard.replication, 1);
    config_free(c);
}
END_TEST

START_TEST(test_bad_settings)
{
    testutil_load_fails("global: {shard: {index: 3, count: 3}}\n",
                        "pollster.yaml:1:25: shard index 3 must be less than count 3");
    testutil_load_fails("global: {shard: {count: 2, replication: 3}}\n",
                        "pollster.yaml:1:41: shard replication 3 must not exceed count 2");
    testutil_load_fails("global: {shard: {count: 0}}\n",
                        "pollster.yaml:1:25: count must be between 1 and 65536, got 0");
    testutil_load_fails("global: {shard: {index: -1, count: 2}}\n",
                        "pollster.yaml:1:25: index must be between 0 and 65535, got -1");
    testutil_load_fails("global: {shard: {count: 2, replicas: 2}}\n",
                        "pollster.yaml:1:28: unknown key \"replicas\" in global.shard");
    /* a job without its name is reported, and the filter still hashes it (found by fuzz_config:
       a NULL name was read) */
    testutil_load_fails("global: {shard: {count: 2}}\n"
                        "probes: [{urls: ['http://127.0.0.1:1/']}]\n",
                        "pollster.yaml:2:10: missing required key \"name\" in probes[0]");

    static const struct {
        const char *arg;
        int64_t k, n;
        const char *err; /* NULL: accepted */
    } cases[] = {
        {"0/3", 0, 3, NULL},
        {"2/3", 2, 3, NULL},
        {"0/1", 0, 1, NULL},
        {"3/3", 0, 0, "--shard \"3/3\": K must be less than N (0 to 2)"},
        {"0/0", 0, 0, "--shard \"0/0\": N must be 1 to 65536"},
        {"1", 0, 0, "--shard \"1\": expected K/N (for example 0/3)"},
        {"/3", 0, 0, "--shard \"/3\": expected K/N (for example 0/3)"},
        {"1/", 0, 0, "--shard \"1/\": expected K/N (for example 0/3)"},
        {"-1/3", 0, 0, "--shard \"-1/3\": expected K/N (for example 0/3)"},
        {"1x/3", 0, 0, "--shard \"1x/3\": K is not a number"},
        {"1/3x", 0, 0, "--shard \"1/3x\": N is not a number"},
        {"1/99999999999999999999", 0, 0, "--shard \"1/99999999999999999999\": N is not a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        int64_t k = -1, n = -1;
        int rc = shard_parse_arg(cases[i].arg, &k, &n, err, sizeof(err));
        if (cases[i].err == NULL) {
            ck_assert_msg(rc == 0, "%s: %s", cases[i].arg, err);
            ck_assert_int_eq(k, cases[i].k);
            ck_assert_int_eq(n, cases[i].n);
        }
        else {
            ck_assert_int_eq(rc, -EINVAL);
            ck_assert_str_eq(err, cases[i].err);
        }
    }
}
END_TEST

/* --shard overrides index and count; replication stays, and must still fit. */
START_TEST(test_override)
{
    char *yaml = static_yaml();
    struct strbuf sb;
    int total[NTARGETS] = {0};

    strbuf_init(&sb);
    strbuf_printf(&sb,
                  "global: {shard: {index: 0, count: 1}}\n"
                  "scrape_configs:\n"
                  "  - job_name: n\n%s",
                  yaml);
    for (int k = 0; k < 3; k++) {
        shard_override_set(k, 3);
        struct config *c = testutil_load_ok(sb.data);
        ck_assert_int_eq(c->global.shard.index, k);
        ck_assert_int_eq(c->global.shard.count, 3);
        count_owned(c, total);
        config_free(c);
    }
    for (int i = 0; i < NTARGETS; i++) {
        ck_assert_int_eq(total[i], 1);
    }
    /* without a global section at all */
    shard_override_set(1, 2);
    struct config *c =
        testutil_load_ok("scrape_configs:\n"
                         "  - job_name: n\n"
                         "    static_configs: [{targets: ['a:1','b:1','c:1','d:1']}]\n");
    ck_assert_int_eq(c->global.shard.index, 1);
    ck_assert_int_eq(c->global.shard.count, 2);
    ck_assert_uint_eq(c->jobs[0].nseen, 4);
    ck_assert_uint_lt(c->jobs[0].ntargets, 4);
    /* --check-config says which shard, and how many targets other shards own */
    char *text = NULL, want[128];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    config_summary(f, c);
    fclose(f);
    ck_assert_msg(strstr(text, "\nshard 1 of 2 (replication 1): this agent's targets only\n") !=
                      NULL,
                  "%s", text);
    snprintf(want, sizeof(want), "%zu target%s (%zu of other shards: this is 1/2)\n",
             c->jobs[0].ntargets, c->jobs[0].ntargets == 1 ? "" : "s", 4 - c->jobs[0].ntargets);
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    free(text);
    config_free(c);
    shard_override_set(0, 1);
    testutil_load_fails(
        "global: {shard: {replication: 2, count: 2}}\n",
        "pollster.yaml:1:31: shard replication 2 must not exceed count 1 (--shard 0/1)");
    shard_override_set(0, 0);
    strbuf_release(&sb);
    free(yaml);
}
END_TEST

/*
 * Once mode with --shard: three agents over 30 targets of a mock server each run their own, and
 * together every target exactly once; /api/v1/targets lists the others as dropped with the
 * reason "shard", /metrics counts seen and owned.
 */
START_TEST(test_once_runs_only_owned_targets)
{
    struct strbuf yaml;
    unsigned runs[30] = {0};

    for (int k = 0; k < 3; k++) {
        struct loop *lp;
        struct mock_server *mock;
        struct engine *eng;
        int pipefd[2];
        char err[256];

        testutil_once_setup(&lp, &mock, &eng, pipefd);
        strbuf_init(&yaml);
        strbuf_printf(&yaml, "scrape_configs:\n"
                             "  - job_name: n\n"
                             "    metrics_path: /simple\n"
                             "    static_configs:\n");
        for (int i = 0; i < 30; i++) {
            /* each agent's mock has its own port: "instance" keeps the final labels the same */
            strbuf_printf(&yaml,
                          "      - {targets: ['127.0.0.1:%u'], labels: {i: 't%d', instance: "
                          "'node%d'}}\n",
                          mock_server_port(mock), i, i);
        }
        shard_override_set(k, 3);
        struct config *c = testutil_load_ok(yaml.data);
        shard_override_set(0, 0);
        size_t owned = c->jobs[0].ntargets;
        ck_assert_int_eq(setup_targets(eng, c, NULL, err, sizeof(err)), 0);
        ck_assert_int_eq(engine_run_once(eng), 0);
        json_object *lines = testutil_read_lines(pipefd[0]);
        ck_assert_uint_eq(json_object_array_length(lines), owned);
        for (size_t l = 0; l < json_object_array_length(lines); l++) {
            json_object *labels = testutil_field(json_object_array_get_idx(lines, l), "labels");
            int i = -1;
            ck_assert_int_eq(sscanf(testutil_str(labels, "i"), "t%d", &i), 1);
            ck_assert(i >= 0 && i < 30);
            runs[i]++;
        }
        json_object_put(lines);

        struct strbuf sb;
        char want[128];
        strbuf_init(&sb);
        api_targets_render(&sb, eng);
        size_t dropped = 0;
        for (const char *p = sb.data; (p = strstr(p, "\"reason\":\"shard\"")) != NULL; p++) {
            dropped++;
        }
        ck_assert_uint_eq(dropped, 30 - owned);
        ck_assert_msg(strstr(sb.data, "\"droppedTargets\":[{\"job\":\"n\",\"scrapePool\":\"n\","
                                      "\"discoveredLabels\":{"
                                      "\"__address__\":\"127.0.0.1:") != NULL,
                      "%s", sb.data);
        ck_assert_msg(strstr(sb.data, "\"job\":\"n\"},\"reason\":\"shard\"}") != NULL, "%s",
                      sb.data);
        strbuf_release(&sb);
        strbuf_init(&sb);
        stats_render(&sb, 0);
        ck_assert_msg(strstr(sb.data, "pollster_targets_seen{job=\"n\"} 30\n") != NULL, "%s",
                      sb.data);
        snprintf(want, sizeof(want), "pollster_targets_owned{job=\"n\"} %zu\n", owned);
        ck_assert_msg(strstr(sb.data, want) != NULL, "%s", sb.data);
        strbuf_release(&sb);
        config_free(c);
        strbuf_release(&yaml);
        testutil_once_teardown(lp, mock, eng, pipefd);
    }
    for (int i = 0; i < 30; i++) {
        ck_assert_msg(runs[i] == 1, "t%d ran %u times", i, runs[i]);
    }
}
END_TEST

static Suite *
shard_suite(void)
{
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("ownership");

    tcase_add_test(tc, test_each_target_owned_replication_times);
    tcase_add_test(tc, test_growing_the_fleet_moves_only_to_the_new_agent);
    tcase_add_test(tc, test_static_file_sd_and_http_sd_shard_alike);
    tcase_add_test(tc, test_key_is_the_final_labels);
    tcase_add_test(tc, test_count_one_keeps_everything);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("settings");
    tcase_add_test(tc, test_bad_settings);
    tcase_add_test(tc, test_override);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("once");
    tcase_add_test(tc, test_once_runs_only_owned_targets);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(shard_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
