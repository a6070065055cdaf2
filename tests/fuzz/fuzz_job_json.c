/*
 * libFuzzer harness for the json job kind (job_json.c). The input's first byte picks a chunk
 * size; the rest is a response body, run through the kind as scrape.c drives it (prepare, feed,
 * finish) once in one piece and once in chunks, against a fixed set of paths (plain keys,
 * indexes, wildcards at two levels, a quoted key). Beyond crashes and sanitizer reports it traps
 * when the two runs disagree (ok, reason, error text, samples and their labels and values): the
 * kind promises the same result however the body is cut.
 */
#include "build-config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job_json.h"
#include "log.h"
#include "sample.h"
#include "scrape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void *state;

static void
setup(void)
{
    static const struct job_json_metric_opts m[] = {
        {.name = "a", .path = "a", .type = SAMPLE_GAUGE},
        {.name = "ab", .path = "a.b", .type = SAMPLE_COUNTER},
        {.name = "first", .path = "[0].v", .type = SAMPLE_UNTYPED},
        {.name = "q_depth", .path = "queues.*.depth", .type = SAMPLE_GAUGE, .label = "queue"},
        {.name = "nested", .path = "x[*].*", .type = SAMPLE_GAUGE, .label = "i,k"},
        {.name = "quoted", .path = "[\"a.b\"]", .type = SAMPLE_GAUGE},
    };
    char err[256];

    log_set_level(LOG_LVL_ERR);
    state = job_json_new(m, sizeof(m) / sizeof(m[0]), err, sizeof(err));
    FUZZ_CHECK(state != NULL);
}

/* One run: the body in chunks of @chunk bytes (0: whole). */
static void
run(struct batch *b, const char *body, size_t len, size_t chunk)
{
    struct scrape_result res = {.rc = CURLE_OK, .http_status = 200};
    bool failed = false;
    size_t at = 0;

    batch_clear(b);
    FUZZ_CHECK(job_json.prepare(state, NULL, b) == 0);
    while (at < len && !failed) {
        size_t n = chunk == 0 || len - at < chunk ? len - at : chunk;
        failed = job_json.feed(state, body + at, n, b) != 0;
        at += n;
    }
    if (failed) {
        FUZZ_CHECK(!b->ok);
        res.rc = CURLE_WRITE_ERROR;
    }
    else {
        b->ok = true;
    }
    res.body_bytes = at;
    job_json.finish(state, &res, NULL, b);
}

static bool
same_value(double x, double y)
{
    return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof(x)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct batch whole, cut;

    if (state == NULL) {
        setup();
        batch_init(&whole);
        batch_init(&cut);
    }
    if (size < 1) {
        return 0;
    }
    size_t chunk = 1 + data[0] % 17;
    run(&whole, (const char *)data + 1, size - 1, 0);
    run(&cut, (const char *)data + 1, size - 1, chunk);

    FUZZ_CHECK(whole.ok == cut.ok);
    FUZZ_CHECK(whole.reason == cut.reason);
    FUZZ_CHECK(strcmp(whole.error, cut.error) == 0);
    FUZZ_CHECK(whole.nsamples == cut.nsamples);
    for (size_t i = 0; i < whole.nsamples; i++) {
        const struct sample *x = &whole.samples[i], *y = &cut.samples[i];
        FUZZ_CHECK(strcmp(x->name, y->name) == 0 && x->nlabels == y->nlabels);
        FUZZ_CHECK(same_value(x->value, y->value));
        for (uint32_t k = 0; k < x->nlabels; k++) {
            FUZZ_CHECK(strcmp(x->labels[k].name, y->labels[k].name) == 0);
            FUZZ_CHECK(strcmp(x->labels[k].value, y->labels[k].value) == 0);
        }
    }
    return 0;
}
