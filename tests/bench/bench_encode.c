/*
 * Micro-benchmark of the native JSON encoder (not a test: it never fails on speed). Builds one
 * batch of 500 node_exporter-like samples (0-3 labels each; integer byte counters, float seconds
 * and gauges, a few NaN/+Inf) and encodes it repeatedly into one reused strbuf, as an output
 * does in steady state, then prints the CPU time per sample. Compare with DESIGN.md,
 * "Performance targets": 500 ns per sample for everything, encoding included.
 *
 * Usage: bench_encode [-m shared|interleaved] [-f FILE] [-e FORMAT [-z]] [-s] [iterations]
 *        (default 20000 iterations)
 *
 *   -m shared       (default) families of consecutive samples whose name, label names and equal
 *                   label values are shared strings, as the Prometheus parser makes them: one
 *                   arena copy of the name per family, the previous sample's label strings
 *                   reused position by position, the whole label array when all are equal.
 *   -m interleaved  the original batch: ten sample kinds in turn, so consecutive samples never
 *                   share a name (names and label names are static strings).
 *   -f FILE         parse FILE (Prometheus text format, e.g. tests/fixtures/node_exporter.prom)
 *                   with prom_parse.c and encode that batch.
 *   -e FORMAT       another registered encoder (vm, otlp, telegraf, remote_write) instead of the
 *                   native json one.
 *   -z              also snappy-compress every record as the remote_write output queues it
 *                   (out_remote_write_pack) and join it into a request body of its own
 *                   (out_remote_write_snappy), as a request of one batch would be.
 *   -s              also track the batch's series for staleness markers (stale_series_track,
 *                   what the engine does for a remote_write output), timed on its own.
 */
#include "build-config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enc_json.h"
#include "encoder.h"
#include "out_remote_write.h"
#include "prom_parse.h"
#include "sample.h"
#include "stale.h"
#include "strbuf.h"

#define BENCH_SAMPLES 500
#define BENCH_ITERATIONS 20000
#define BENCH_WARMUP 200

static const char *const cpu_modes[] = {"idle",    "iowait", "irq",    "nice",
                                        "softirq", "steal",  "system", "user"};
static const char *const devices[] = {"sda", "sdb", "nvme0n1", "dm-0"};
static const char *const netdevs[] = {"eth0", "lo", "docker0"};
static const char *const mounts[][3] = {
    {"/dev/sda1", "ext4", "/"},
    {"/dev/sda2", "ext4", "/home"},
    {"tmpfs", "tmpfs", "/run"},
    {"/dev/nvme0n1p1", "xfs", "/var/lib/data"},
};
static const char *const cpus[] = {"0", "1", "2", "3", "4", "5", "6", "7"};

/* A small deterministic PRNG (xorshift64*) so every run encodes the same values. */
static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* A value with two decimals, as node_exporter prints CPU seconds (e.g. 123456.78). */
static double
seconds_value(void)
{
    return (double)(rng() % 100000000) / 100.0;
}

/* The target fields every mode sets the same way. */
static void
set_target(struct batch *b)
{
    static const struct label target_labels[] = {{"env", "prod"}, {"dc", "eu1"}};

    b->job = "node";
    b->instance = "127.0.0.1:9100";
    b->url = "http://127.0.0.1:9100/metrics";
    b->target_labels = target_labels;
    b->ntarget_labels = 2;
    b->ts_ms = 1764220800123;
    b->duration_s = 0.0123;
    b->ok = true;
    b->http_status = 200;
}

/*
 * -m interleaved: fills @b with BENCH_SAMPLES samples shaped like a node_exporter scrape, the
 * ten kinds in turn (the benchmark's original batch).
 */
static int
build_interleaved(struct batch *b)
{
    unsigned i = 0;
    int rc = 0;
    const char *const *m;

    while (b->nsamples < BENCH_SAMPLES && rc == 0) {
        switch (i++ % 10) {
        case 0: /* float counter, 2 labels */
        case 1:
            rc = batch_add(b, "node_cpu_seconds_total", SAMPLE_COUNTER, seconds_value(), 2, "cpu",
                           cpus[rng() % 8], "mode", cpu_modes[rng() % 8]);
            break;
        case 2: /* integer gauge, 3 labels */
            m = mounts[rng() % 4];
            rc = batch_add(b, "node_filesystem_avail_bytes", SAMPLE_GAUGE,
                           (double)(rng() % 500000000000ULL), 3, "device", m[0], "fstype", m[1],
                           "mountpoint", m[2]);
            break;
        case 3: /* integer gauge, 3 labels */
            m = mounts[rng() % 4];
            rc =
                batch_add(b, "node_filesystem_files_free", SAMPLE_GAUGE, (double)(rng() % 30000000),
                          3, "device", m[0], "fstype", m[1], "mountpoint", m[2]);
            break;
        case 4: /* integer counter, 2 labels */
            rc = batch_add(b, "node_network_receive_bytes_total", SAMPLE_COUNTER,
                           (double)(rng() % 10000000000000ULL), 2, "device", netdevs[rng() % 3],
                           "instance_role", "edge");
            break;
        case 5:
            rc = batch_add(b, "node_network_transmit_packets_total", SAMPLE_COUNTER,
                           (double)(rng() % 100000000000ULL), 2, "device", netdevs[rng() % 3],
                           "instance_role", "edge");
            break;
        case 6: /* float counter with three decimals, 2 labels */
            rc = batch_add(b, "node_disk_io_time_seconds_total", SAMPLE_COUNTER,
                           (double)(rng() % 100000000) / 1000.0, 2, "device", devices[rng() % 4],
                           "controller", "ahci");
            break;
        case 7: /* histogram bucket: le label, small integer count, sometimes +Inf bound */
            rc = batch_add(b, "node_scrape_duration_seconds_bucket", SAMPLE_HISTOGRAM,
                           (double)(rng() % 100000), 2, "collector", "cpu", "le",
                           rng() % 8 == 0 ? "+Inf" : "0.005");
            break;
        case 8: /* full-precision float gauge (a computed ratio): the slow printf path */
            rc = batch_add(b, "node_pressure_cpu_waiting_ratio", SAMPLE_GAUGE,
                           (double)(rng() % 1000000007) / 1000000007.0, 2, "cpu", cpus[rng() % 8],
                           "window", "10s");
            break;
        default: /* load-style gauge, 2 labels; an occasional NaN */
            rc = batch_add(b, "node_hwmon_temp_celsius", SAMPLE_GAUGE,
                           rng() % 50 == 0 ? NAN : (double)(rng() % 10000) / 100.0, 2, "chip",
                           "platform_coretemp_0", "sensor", "temp1");
            break;
        }
    }
    return rc;
}

/* How a family's values look. */
enum bench_value {
    BENCH_SECONDS, /* two decimals, like CPU seconds */
    BENCH_MILLIS,  /* three decimals */
    BENCH_BYTES,   /* large integers */
    BENCH_COUNT,   /* small integers */
    BENCH_RATIO,   /* a computed ratio: full precision */
    BENCH_TEMP,    /* two decimals, an occasional NaN */
};

/*
 * A metric family: its samples are the cartesian product of the label value lists (the last
 * label varying fastest), or, when @zip, row r takes the r-th value of every list.
 */
struct bench_family {
    const char *name;
    enum sample_type type;
    enum bench_value value;
    bool zip;
    unsigned nlabels;
    const char *lname[3];
    const char *const *lvals[3];
    unsigned nvals[3];
};

static const char *const mount_devices[] = {"/dev/sda1", "/dev/sda2", "tmpfs", "/dev/nvme0n1p1"};
static const char *const mount_fstypes[] = {"ext4", "ext4", "tmpfs", "xfs"};
static const char *const mount_points[] = {"/", "/home", "/run", "/var/lib/data"};
static const char *const edge[] = {"edge"};
static const char *const ahci[] = {"ahci"};
static const char *const collector_cpu[] = {"cpu"};
static const char *const buckets[] = {"0.005", "0.01", "0.025", "0.05",
                                      "0.1",   "0.25", "0.5",   "+Inf"};
static const char *const window_10s[] = {"10s"};
static const char *const coretemp[] = {"platform_coretemp_0"};
static const char *const sensors[] = {"temp1", "temp2", "temp3", "temp4"};

#define FS_FAMILY(n, v)                                                                            \
    {                                                                                              \
        .name = (n), .type = SAMPLE_GAUGE, .value = (v), .zip = true, .nlabels = 3,                \
        .lname = {"device", "fstype", "mountpoint"},                                               \
        .lvals = {mount_devices, mount_fstypes, mount_points}, .nvals = {4, 4, 4},                 \
    }
#define NET_FAMILY(n, v)                                                                           \
    {                                                                                              \
        .name = (n), .type = SAMPLE_COUNTER, .value = (v), .nlabels = 2,                           \
        .lname = {"device", "instance_role"}, .lvals = {netdevs, edge}, .nvals = {3, 1},           \
    }
#define DISK_FAMILY(n, v)                                                                          \
    {                                                                                              \
        .name = (n), .type = SAMPLE_COUNTER, .value = (v), .nlabels = 2,                           \
        .lname = {"device", "controller"}, .lvals = {devices, ahci}, .nvals = {4, 1},              \
    }
#define SINGLE_FAMILY(n, v)                                                                        \
    {                                                                                              \
        .name = (n), .type = SAMPLE_GAUGE, .value = (v),                                           \
    }

/* One round of -m shared: 97 samples in 20 families (cpu seconds for 4 CPUs). */
static const struct bench_family families[] = {
    {
        .name = "node_cpu_seconds_total",
        .type = SAMPLE_COUNTER,
        .value = BENCH_SECONDS,
        .nlabels = 2,
        .lname = {"cpu", "mode"},
        .lvals = {cpus, cpu_modes},
        .nvals = {4, 8},
    },
    FS_FAMILY("node_filesystem_avail_bytes", BENCH_BYTES),
    FS_FAMILY("node_filesystem_free_bytes", BENCH_BYTES),
    FS_FAMILY("node_filesystem_size_bytes", BENCH_BYTES),
    FS_FAMILY("node_filesystem_files", BENCH_COUNT),
    FS_FAMILY("node_filesystem_files_free", BENCH_COUNT),
    NET_FAMILY("node_network_receive_bytes_total", BENCH_BYTES),
    NET_FAMILY("node_network_receive_packets_total", BENCH_COUNT),
    NET_FAMILY("node_network_transmit_bytes_total", BENCH_BYTES),
    NET_FAMILY("node_network_transmit_packets_total", BENCH_COUNT),
    DISK_FAMILY("node_disk_io_time_seconds_total", BENCH_MILLIS),
    DISK_FAMILY("node_disk_read_time_seconds_total", BENCH_MILLIS),
    {
        .name = "node_scrape_duration_seconds_bucket",
        .type = SAMPLE_HISTOGRAM,
        .value = BENCH_COUNT,
        .nlabels = 2,
        .lname = {"collector", "le"},
        .lvals = {collector_cpu, buckets},
        .nvals = {1, 8},
    },
    {
        .name = "node_pressure_cpu_waiting_ratio",
        .type = SAMPLE_GAUGE,
        .value = BENCH_RATIO,
        .nlabels = 2,
        .lname = {"cpu", "window"},
        .lvals = {cpus, window_10s},
        .nvals = {8, 1},
    },
    {
        .name = "node_hwmon_temp_celsius",
        .type = SAMPLE_GAUGE,
        .value = BENCH_TEMP,
        .nlabels = 2,
        .lname = {"chip", "sensor"},
        .lvals = {coretemp, sensors},
        .nvals = {1, 4},
    },
    SINGLE_FAMILY("node_load1", BENCH_TEMP),
    SINGLE_FAMILY("node_load5", BENCH_TEMP),
    SINGLE_FAMILY("node_load15", BENCH_TEMP),
    SINGLE_FAMILY("node_procs_running", BENCH_COUNT),
    SINGLE_FAMILY("node_boot_time_seconds", BENCH_SECONDS),
};

static double
bench_value(enum bench_value v)
{
    switch (v) {
    case BENCH_SECONDS:
        return seconds_value();
    case BENCH_MILLIS:
        return (double)(rng() % 100000000) / 1000.0;
    case BENCH_BYTES:
        return (double)(rng() % 500000000000ULL);
    case BENCH_COUNT:
        return (double)(rng() % 100000);
    case BENCH_RATIO:
        return (double)(rng() % 1000000007) / 1000000007.0;
    default:
        return rng() % 50 == 0 ? NAN : (double)(rng() % 10000) / 100.0;
    }
}

/* The parser's rule for a string: the previous sample's when equal, else a new arena copy. */
static const char *
share(struct batch *b, const char *prev, const char *s)
{
    if (prev != NULL && strcmp(prev, s) == 0) {
        return prev;
    }
    return arena_strdup(&b->arena, s);
}

/*
 * -m shared: fills @b with BENCH_SAMPLES samples, rounds of families[], sharing strings the way
 * prom_parse.c's emit() and build_labels() do.
 */
static int
build_shared(struct batch *b)
{
    const struct bench_family *f;
    const struct label *last = NULL; /* the parser's last_labels: the last array it built */
    unsigned nlast = 0;
    const char *last_name = NULL;
    const char *vals[3];
    const struct label *labels;
    struct label *arr;
    struct sample *s;
    unsigned fi, row, nrows, j, rest;
    bool same;

    for (fi = 0; b->nsamples < BENCH_SAMPLES;
         fi = (fi + 1) % (sizeof(families) / sizeof(families[0]))) {
        f = &families[fi];
        nrows = 1;
        if (f->zip) {
            nrows = f->nvals[0];
        }
        else {
            for (j = 0; j < f->nlabels; j++) {
                nrows *= f->nvals[j];
            }
        }
        for (row = 0; row < nrows && b->nsamples < BENCH_SAMPLES; row++) {
            rest = row;
            for (j = f->nlabels; j-- > 0;) {
                vals[j] = f->lvals[j][f->zip ? row : rest % f->nvals[j]];
                rest /= f->nvals[j];
            }
            labels = NULL;
            if (f->nlabels > 0) {
                same = last != NULL && nlast == f->nlabels;
                for (j = 0; same && j < f->nlabels; j++) {
                    same = strcmp(last[j].name, f->lname[j]) == 0 &&
                           strcmp(last[j].value, vals[j]) == 0;
                }
                if (same) {
                    labels = last;
                }
                else {
                    arr = arena_alloc(&b->arena, f->nlabels * sizeof(*arr));
                    if (arr == NULL) {
                        return -ENOMEM;
                    }
                    for (j = 0; j < f->nlabels; j++) {
                        arr[j].name = share(b, j < nlast ? last[j].name : NULL, f->lname[j]);
                        arr[j].value = share(b, j < nlast ? last[j].value : NULL, vals[j]);
                        if (arr[j].name == NULL || arr[j].value == NULL) {
                            return -ENOMEM;
                        }
                    }
                    labels = last = arr;
                    nlast = f->nlabels;
                }
            }
            last_name = share(b, last_name, f->name);
            s = batch_push(b);
            if (s == NULL || last_name == NULL) {
                return -ENOMEM;
            }
            s->name = last_name;
            s->labels = labels;
            s->nlabels = f->nlabels;
            s->type = (uint8_t)f->type;
            s->value = bench_value(f->value);
        }
    }
    return 0;
}

/* -f FILE: the batch prom_parse.c makes of FILE (text format). Returns 0 or -errno. */
static int
build_from_file(struct batch *b, const char *path)
{
    struct prom_parser *p;
    char buf[65536];
    size_t n;
    FILE *f;
    int rc = 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        return -errno;
    }
    p = prom_parser_new();
    if (p == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    prom_parser_reset(p, PROM_FORMAT_TEXT, b);
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        rc = prom_parser_feed(p, buf, n);
    }
    if (rc == 0) {
        rc = prom_parser_finish(p);
    }
    if (rc != 0) {
        fprintf(stderr, "bench_encode: %s: %s\n", path, prom_parser_error(p));
    }
    prom_parser_free(p);
    fclose(f);
    return rc;
}

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-m shared|interleaved] [-f FILE] [-e FORMAT [-z]] [-s] [iterations]\n",
            argv0);
}

int
main(int argc, char **argv)
{
    struct batch b;
    struct strbuf sb;
    const char *mode = "shared";
    const char *file = NULL;
    long iterations = BENCH_ITERATIONS;
    long i;
    double t0, t1;
    size_t line_len;
    int opt, rc;
    const struct encoder *enc = NULL;
    bool snappy = false, stale = false;
    struct strbuf z, pk;

    while ((opt = getopt(argc, argv, "m:f:e:zs")) != -1) {
        switch (opt) {
        case 'e':
            enc = encoder_find(optarg);
            if (enc == NULL) {
                usage(argv[0]);
                return 2;
            }
            break;
        case 's':
            stale = true;
            break;
        case 'z':
            snappy = true;
            break;
        case 'm':
            mode = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (strcmp(mode, "shared") != 0 && strcmp(mode, "interleaved") != 0) {
        usage(argv[0]);
        return 2;
    }
    if (optind < argc) {
        iterations = strtol(argv[optind], NULL, 10);
        if (iterations <= 0 || optind + 1 < argc) {
            usage(argv[0]);
            return 2;
        }
    }

    batch_init(&b);
    strbuf_init(&sb);
    strbuf_init(&z);
    strbuf_init(&pk);
    set_target(&b);
    if (file != NULL) {
        rc = build_from_file(&b, file);
        mode = file;
    }
    else if (strcmp(mode, "shared") == 0) {
        rc = build_shared(&b);
    }
    else {
        rc = build_interleaved(&b);
    }
    if (rc != 0 || b.nsamples == 0) {
        fprintf(stderr, "bench_encode: cannot build the batch: %s\n",
                rc != 0 ? strerror(-rc) : "no samples");
        return 1;
    }
    int (*encode)(struct strbuf *, const struct batch *) =
        enc != NULL ? enc->encode : enc_json_batch;
    const char *name = enc != NULL ? enc->name : "enc_json";
    for (i = 0; i < BENCH_WARMUP; i++) {
        strbuf_reset(&sb);
        encode(&sb, &b);
    }
    line_len = sb.len;

    t0 = cpu_seconds();
    for (i = 0; i < iterations; i++) {
        strbuf_reset(&sb);
        if (snappy) {
            strbuf_reset(&pk);
        }
        if (encode(&sb, &b) != 0 ||
            (snappy && (out_remote_write_pack(&pk, sb.data, sb.len) != 0 ||
                        out_remote_write_snappy(&z, pk.data, pk.len) != 0))) {
            fprintf(stderr, "bench_encode: out of memory encoding\n");
            return 1;
        }
    }
    t1 = cpu_seconds();
    if (sb.len != line_len) {
        fprintf(stderr, "bench_encode: output length changed\n");
        return 1;
    }

    printf("%s%s (%s): %zu samples x %ld batches, %zu bytes/batch (%.0f bytes/sample%s)\n", name,
           snappy ? " + snappy" : "", mode, b.nsamples, iterations, line_len,
           (double)line_len / (double)b.nsamples, snappy ? ", before snappy" : "");
    if (snappy) {
        printf("snappy: %zu bytes/batch (%.1f%%)\n", z.len,
               100.0 * (double)z.len / (double)line_len);
    }
    printf("%s: %.1f ns/sample, %.1f us/batch, %.0f MB/s (CPU time)\n", name,
           (t1 - t0) * 1e9 / ((double)iterations * (double)b.nsamples),
           (t1 - t0) * 1e6 / (double)iterations,
           (double)line_len * (double)iterations / (t1 - t0) / 1e6);

    if (stale) {
        struct stale_series *ss = stale_series_new();
        if (ss == NULL || stale_series_track(ss, &b) != 0) {
            fprintf(stderr, "bench_encode: out of memory tracking\n");
            return 1;
        }
        t0 = cpu_seconds();
        for (i = 0; i < iterations; i++) {
            if (stale_series_track(ss, &b) != 0 || b.nstale != 0) {
                fprintf(stderr, "bench_encode: series vanished\n");
                return 1;
            }
        }
        t1 = cpu_seconds();
        printf("staleness tracking: %.1f ns/sample (CPU time)\n",
               (t1 - t0) * 1e9 / ((double)iterations * (double)b.nsamples));
        stale_series_free(ss);
    }
    batch_release(&b);
    strbuf_release(&sb);
    strbuf_release(&z);
    strbuf_release(&pk);
    arena_free_cache();
    return 0;
}
