/*
 * Micro-benchmark of the exposition-format parser (prom_parse.c): reads one file, parses it N
 * times the way a scrape does (chunks into one reused parser and batch) and prints the throughput
 * in MB/s and the cost per sample. Not part of `make check`'s pass/fail.
 *
 * usage: bench_parse FILE [prom|openmetrics] [N] [CHUNK]
 * N defaults to 100; CHUNK, the bytes per prom_parser_feed() call, to 65536. libcurl's write
 * callback delivers at most 16384 bytes (CURL_MAX_WRITE_SIZE), so 16384 is what the agent sees.
 */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prom_parse.h"

#define BENCH_DEFAULT_CHUNK 65536
#define BENCH_DEFAULT_N 100

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *nb;
    size_t cap = 0, n = 0, r;

    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            cap = cap != 0 ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        if (r == 0) {
            break;
        }
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* One body, fed in @chunk-byte pieces. Returns 0 or the parser's error. */
static int
parse_once(struct prom_parser *p, struct batch *b, enum prom_format fmt, const char *buf,
           size_t len, size_t chunk)
{
    size_t off, n;
    int rc = 0;

    batch_clear(b);
    prom_parser_reset(p, fmt, b);
    for (off = 0; off < len && rc == 0; off += n) {
        n = len - off < chunk ? len - off : chunk;
        rc = prom_parser_feed(p, buf + off, n);
    }
    return rc != 0 ? rc : prom_parser_finish(p);
}

int
main(int argc, char **argv)
{
    enum prom_format fmt = PROM_FORMAT_TEXT;
    struct prom_parser *p = NULL;
    struct batch b;
    long iters = BENCH_DEFAULT_N, i, chunk = BENCH_DEFAULT_CHUNK;
    size_t len = 0, nsamples;
    double t0, dt;
    char *buf;
    int rc, ret = 1;

    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: %s FILE [prom|openmetrics] [N] [CHUNK]\n", argv[0]);
        return 2;
    }
    if (argc > 2 && prom_parse_format_from_name(argv[2], &fmt) != 0) {
        fprintf(stderr, "%s: unknown format \"%s\" (prom or openmetrics)\n", argv[0], argv[2]);
        return 2;
    }
    if (argc > 3) {
        iters = strtol(argv[3], NULL, 10);
        if (iters <= 0) {
            fprintf(stderr, "%s: N must be a positive number\n", argv[0]);
            return 2;
        }
    }
    if (argc > 4) {
        chunk = strtol(argv[4], NULL, 10);
        if (chunk <= 0) {
            fprintf(stderr, "%s: CHUNK must be a positive number of bytes\n", argv[0]);
            return 2;
        }
    }
    buf = read_file(argv[1], &len);
    if (buf == NULL) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
        return 1;
    }
    batch_init(&b);
    p = prom_parser_new();
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        goto out;
    }

    /* Warm-up: grows the arena, the sample array and the parser's buffers once. */
    rc = parse_once(p, &b, fmt, buf, len, (size_t)chunk);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], prom_parser_error(p));
        goto out;
    }
    nsamples = b.nsamples;

    t0 = now_s();
    for (i = 0; i < iters; i++) {
        rc = parse_once(p, &b, fmt, buf, len, (size_t)chunk);
        if (rc != 0 || b.nsamples != nsamples) {
            fprintf(stderr, "%s: iteration %ld: %s\n", argv[0], i, prom_parser_error(p));
            goto out;
        }
    }
    dt = now_s() - t0;

    printf("%s: %zu bytes, %zu samples, %s, %ld-byte chunks, %ld iterations in %.3f s\n", argv[1],
           len, nsamples, prom_parse_format_name(fmt), chunk, iters, dt);
    printf("%.1f MB/s, %.1f ns/sample\n", (double)len * (double)iters / dt / 1e6,
           dt * 1e9 / ((double)nsamples * (double)iters));
    ret = 0;
out:
    prom_parser_free(p);
    batch_release(&b);
    arena_free_cache();
    free(buf);
    return ret;
}
