/*
 * Micro-benchmark of the native JSON encoder (not a test: it never fails on speed). Builds one
 * batch of 500 node_exporter-like samples (2-3 labels each; integer byte counters, float seconds
 * and gauges, a few NaN/+Inf) and encodes it repeatedly into one reused strbuf, as an output
 * does in steady state, then prints the CPU time per sample. Compare with DESIGN.md,
 * "Performance targets": 500 ns per sample for everything, encoding included.
 *
 * Usage: bench_encode [iterations]   (default 20000)
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enc_json.h"
#include "sample.h"
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

/* Fills @b with BENCH_SAMPLES samples shaped like a node_exporter scrape. */
static int
build_batch(struct batch *b)
{
    static const struct label target_labels[] = {{"env", "prod"}, {"dc", "eu1"}};
    unsigned i = 0;
    int rc = 0;
    const char *const *m;

    b->job = "node";
    b->instance = "127.0.0.1:9100";
    b->url = "http://127.0.0.1:9100/metrics";
    b->target_labels = target_labels;
    b->ntarget_labels = 2;
    b->ts_ms = 1764220800123;
    b->duration_s = 0.0123;
    b->ok = true;
    b->http_status = 200;

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

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    struct batch b;
    struct strbuf sb;
    long iterations = BENCH_ITERATIONS;
    long i;
    double t0, t1;
    size_t line_len;

    if (argc > 1) {
        iterations = strtol(argv[1], NULL, 10);
        if (iterations <= 0) {
            fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
            return 2;
        }
    }

    batch_init(&b);
    strbuf_init(&sb);
    if (build_batch(&b) != 0) {
        fprintf(stderr, "bench_encode: out of memory building the batch\n");
        return 1;
    }

    for (i = 0; i < BENCH_WARMUP; i++) {
        strbuf_reset(&sb);
        enc_json_batch(&sb, &b);
    }
    line_len = sb.len;

    t0 = cpu_seconds();
    for (i = 0; i < iterations; i++) {
        strbuf_reset(&sb);
        if (enc_json_batch(&sb, &b) != 0) {
            fprintf(stderr, "bench_encode: out of memory encoding\n");
            return 1;
        }
    }
    t1 = cpu_seconds();
    if (sb.len != line_len) {
        fprintf(stderr, "bench_encode: output length changed\n");
        return 1;
    }

    printf("enc_json: %zu samples x %ld batches, %zu bytes/batch (%.0f bytes/sample)\n", b.nsamples,
           iterations, line_len, (double)line_len / (double)b.nsamples);
    printf("enc_json: %.1f ns/sample, %.1f us/batch, %.0f MB/s (CPU time)\n",
           (t1 - t0) * 1e9 / ((double)iterations * (double)b.nsamples),
           (t1 - t0) * 1e6 / (double)iterations,
           (double)line_len * (double)iterations / (t1 - t0) / 1e6);

    batch_release(&b);
    strbuf_release(&sb);
    arena_free_cache();
    return 0;
}
