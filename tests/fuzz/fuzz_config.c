/*
 * libFuzzer harness for config.c: the input is a config file (YAML, or JSON), loaded with
 * config_load_string(). Every input must end in either a config or at least one error, never in
 * a crash, a sanitizer report or a leak (LeakSanitizer checks after every input). A loaded config
 * must keep the promises config.h makes (checked below, a failed check traps) and print its
 * --check-config summary; errors must print too.
 *
 * The loader reads the files a config names (password_file, credentials_file, bearer_token_file,
 * file_sd globs; TLS files only go through access()) and never writes anything. Each input is
 * loaded as "DIR/fuzz.yaml", where DIR is an empty directory made by LLVMFuzzerInitialize, so
 * every relative path is resolved inside DIR and finds nothing. An input naming an absolute path
 * (or "../...") may read a real file: harmless. DIR is removed at exit. There is no chdir():
 * libFuzzer's corpus and artifact paths may be relative to the current directory.
 *
 * Built by ./configure --enable-fuzzing CC=clang (rules in tests/fuzz/fuzz.am), run by
 * make fuzz-run (tests/fuzz/run.sh); by hand:
 *     ./tests/fuzz/fuzz_config -max_total_time=180 corpus/ tests/fixtures/config/ conf/
 */
#include "build-config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "job_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static char fuzz_dir[4096];  /* the empty directory relative paths resolve into */
static char fuzz_name[4200]; /* fuzz_dir "/fuzz.yaml": the name every input is loaded as */

static void
remove_dir(void)
{
    rmdir(fuzz_dir);
}

/* Target labels: sorted by name, no "__" label, no "instance" label, no empty value. */
static void
check_target_labels(const struct label *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(l[i].name != NULL && l[i].value != NULL);
        FUZZ_CHECK(strncmp(l[i].name, "__", 2) != 0);
        FUZZ_CHECK(strcmp(l[i].name, "instance") != 0);
        FUZZ_CHECK(l[i].value[0] != '\0');
        FUZZ_CHECK(i == 0 || strcmp(l[i - 1].name, l[i].name) < 0);
    }
}

/* What config.h promises about a loaded config. */
static void
check_config(const struct config *c)
{
    FUZZ_CHECK(c->path != NULL && strcmp(c->path, fuzz_name) == 0);
    FUZZ_CHECK(c->global.scrape_interval_ms > 0);
    FUZZ_CHECK(c->global.scrape_timeout_ms > 0);
    FUZZ_CHECK(c->global.scrape_timeout_ms <= c->global.scrape_interval_ms);
    FUZZ_CHECK(c->noutputs >= 1 && c->outputs != NULL);
    for (size_t i = 0; i < c->noutputs; i++) {
        FUZZ_CHECK(c->outputs[i].type != NULL && c->outputs[i].format != NULL);
    }
    FUZZ_CHECK(c->status.listen != NULL);
    for (size_t i = 0; i < c->njobs; i++) {
        const struct config_job *j = &c->jobs[i];

        FUZZ_CHECK(j->name != NULL);
        FUZZ_CHECK(j->interval_ms > 0);
        FUZZ_CHECK(j->timeout_ms > 0 && j->timeout_ms <= j->interval_ms);
        FUZZ_CHECK(j->body_size_limit > 0);
        FUZZ_CHECK(j->kind != NULL && j->opts != NULL);
        FUZZ_CHECK(j->kind != &job_json_kind ||
                   ((const struct job_json_conf *)j->opts)->nmetrics >= 1);
        for (size_t k = 0; k < i; k++) {
            FUZZ_CHECK(strcmp(c->jobs[k].name, j->name) != 0);
        }
        for (size_t t = 0; t < j->ntargets; t++) {
            FUZZ_CHECK(j->targets[t].url != NULL && j->targets[t].instance != NULL);
            check_target_labels(j->targets[t].labels, j->targets[t].nlabels);
        }
    }
}

/* Called once by libFuzzer before the first input: makes the empty directory. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    if (tmp == NULL || *tmp == '\0') {
        tmp = "/tmp";
    }
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_config.XXXXXX", tmp);
    if (mkdtemp(fuzz_dir) == NULL) {
        perror("fuzz_config: mkdtemp() failed");
        abort();
    }
    snprintf(fuzz_name, sizeof(fuzz_name), "%s/fuzz.yaml", fuzz_dir);
    atexit(remove_dir);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_errors errs;
    struct config *c;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    config_errors_init(&errs);
    /* data is not NUL-terminated: AddressSanitizer catches a read past size */
    c = config_load_string(fuzz_name, (const char *)data, size, &errs);

    f = open_memstream(&text, &len);
    FUZZ_CHECK(f != NULL);
    if (c != NULL) {
        FUZZ_CHECK(errs.n == 0 && errs.dropped == 0);
        check_config(c);
        config_target_count(c);
        config_summary(f, c);
    }
    else {
        FUZZ_CHECK(errs.n > 0 || errs.dropped > 0);
        FUZZ_CHECK(errs.n <= CONFIG_ERRORS_MAX);
        for (size_t i = 0; i < errs.n; i++) {
            FUZZ_CHECK(errs.v[i].text != NULL && errs.v[i].file != NULL);
            FUZZ_CHECK(strncmp(errs.v[i].text, errs.v[i].file, strlen(errs.v[i].file)) == 0);
        }
        config_errors_print(f, &errs);
    }
    FUZZ_CHECK(fclose(f) == 0);
    FUZZ_CHECK(c == NULL || len > 0);
    free(text);
    config_free(c);
    config_errors_release(&errs);
    return 0;
}
