/*
 * Micro-benchmark of metric relabeling (relabel.c): the samples of an exposition file, parsed
 * once, go through a typical metric_relabel_configs N times, and the cost per sample is printed
 * for each rule set: rules whose regex is literals (the fast path: "go_.*", "tmp") and rules that
 * need regexec (groups). Not part of `make check`'s pass/fail.
 *
 * usage: bench_relabel FILE [N]     (N defaults to 200)
 */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prom_parse.h"
#include "relabel.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One rule set: its name and its rules as specs. */
struct set {
    const char *name;
    struct relabel_spec specs[3];
    size_t n;
};

static const char *const name_src[] = {"__name__"};
static const char *const cpu_mode[] = {"cpu", "mode"};

static const struct set sets[] = {
    {"drop go_.*|process_.* (literal fast path)",
     {{.action = RELABEL_DROP,
       .source_labels = name_src,
       .nsource = 1,
       .regex = "go_.*|process_.*"}},
     1},
    {"labeldrop id|name (literal fast path)",
     {{.action = RELABEL_LABELDROP, .regex = "id|name"}},
     1},
    {"keep node_(cpu|memory)_.* (regexec)",
     {{.action = RELABEL_KEEP,
       .source_labels = name_src,
       .nsource = 1,
       .regex = "node_(cpu|memory)_.*"}},
     1},
    {"replace ([0-9]+);(.*) -> core (regexec, groups)",
     {{.action = RELABEL_REPLACE,
       .source_labels = cpu_mode,
       .nsource = 2,
       .regex = "([0-9]+);(.*)",
       .target_label = "core",
       .replacement = "c$1"}},
     1},
};

int
main(int argc, char **argv)
{
    struct batch b;
    struct prom_parser *p;
    FILE *f;
    char *buf;
    long len;
    int n = argc > 2 ? atoi(argv[2]) : 200;

    if (argc < 2 || n <= 0) {
        fprintf(stderr, "usage: bench_relabel FILE [N]\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
        perror(argv[1]);
        return 1;
    }
    rewind(f);
    buf = malloc((size_t)len + 1);
    if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        perror(argv[1]);
        return 1;
    }
    fclose(f);
    batch_init(&b);
    p = prom_parser_new();
    if (p == NULL) {
        return 1;
    }
    prom_parser_reset(p, PROM_FORMAT_TEXT, &b);
    if (prom_parser_feed(p, buf, (size_t)len) != 0 || prom_parser_finish(p) != 0) {
        fprintf(stderr, "%s: cannot parse\n", argv[1]);
        return 1;
    }
    for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]); k++) {
        struct relabel_rule rules[3];
        char err[256];
        struct arena a;
        size_t kept = 0;

        for (size_t i = 0; i < sets[k].n; i++) {
            if (relabel_rule_make(&rules[i], &sets[k].specs[i], err, sizeof(err)) != 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
        }
        arena_init(&a);
        double t0 = now_s();
        for (int r = 0; r < n; r++) {
            for (size_t i = 0; i < b.nsamples; i++) {
                struct sample s = b.samples[i];
                kept += relabel_apply(rules, sets[k].n, &s, &a);
            }
            arena_release(&a);
        }
        double ns = (now_s() - t0) * 1e9 / ((double)n * (double)b.nsamples);
        printf("%-50s %7.0f ns/sample  (%zu samples x %d, %zu kept)\n", sets[k].name, ns,
               b.nsamples, n, kept);
        for (size_t i = 0; i < sets[k].n; i++) {
            relabel_rule_release(&rules[i]);
        }
    }
    prom_parser_free(p);
    batch_release(&b);
    free(buf);
    arena_free_cache();
    return 0;
}
