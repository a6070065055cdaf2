/*
 * The floor for tests/bench/scrape.sh: what scraping costs in libcurl alone. One easy handle
 * per URL, built once and reused; each is added to one multi handle when its tick comes (ticks
 * spread evenly over the interval, as pollster spreads targets) and removed when done; the
 * connection cache keeps one idle connection per URL (as pollster's does); bodies are only
 * scanned for line starts to count samples (lines that are neither empty nor comments). No
 * parsing, no labels, no output: anything pollster spends above this is its own.
 *
 * usage: bench_floor INTERVAL_MS DURATION_S URL...    (or URLs one per line on stdin with "-")
 * Prints scrapes done/failed/skipped, samples, CPU seconds (user+sys), CPU per million samples
 * and peak RSS, as key value lines.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct target {
    CURL *easy;
    char *url;
    bool busy;
    bool first_char; /* next byte is a line's first */
};

static unsigned long long total_samples;

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Counts lines whose first byte is neither '#' nor '\n'. */
static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct target *t = userp;
    size_t len = size * nmemb;
    const char *p = data, *end = data + len;

    while (p < end) {
        if (t->first_char) {
            t->first_char = false;
            if (*p != '#' && *p != '\n') {
                total_samples++;
            }
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            break;
        }
        t->first_char = true;
        p = nl + 1;
    }
    return len;
}

static char **
read_urls(size_t *n)
{
    char **v = NULL, line[4096];
    size_t cap = 0;

    *n = 0;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof(*v));
            if (v == NULL) {
                return NULL;
            }
        }
        v[(*n)++] = strdup(line);
    }
    return v;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_floor INTERVAL_MS DURATION_S URL... | -\n");
        return 2;
    }
    double interval = atof(argv[1]);
    double duration = atof(argv[2]) * 1e3;
    char **urls = argv + 3;
    size_t n = (size_t)argc - 3;
    if (n == 1 && strcmp(urls[0], "-") == 0) {
        urls = read_urls(&n);
    }
    if (interval <= 0 || duration <= 0 || urls == NULL || n == 0) {
        fprintf(stderr, "bench_floor: bad arguments\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)n + 8);
    struct target *t = calloc(n, sizeof(*t));
    long timeout = interval < 10000 ? (long)interval : 10000;
    for (size_t i = 0; i < n; i++) {
        t[i].url = urls[i];
        t[i].easy = curl_easy_init();
        curl_easy_setopt(t[i].easy, CURLOPT_URL, urls[i]);
        curl_easy_setopt(t[i].easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t[i].easy, CURLOPT_TIMEOUT_MS, timeout);
        curl_easy_setopt(t[i].easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
        curl_easy_setopt(t[i].easy, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(t[i].easy, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(t[i].easy, CURLOPT_WRITEDATA, &t[i]);
        curl_easy_setopt(t[i].easy, CURLOPT_PRIVATE, (char *)&t[i]);
    }

    unsigned long long done = 0, failed = 0, skipped = 0;
    double start = now_ms(), end = start + duration;
    unsigned long long tick = 0; /* the next tick overall: target tick % n, round tick / n */
    for (;;) {
        double now = now_ms();
        double due = start + (double)(tick / n) * interval + (double)(tick % n) * interval / n;
        while (due <= now && due < end) {
            struct target *x = &t[tick % n];
            if (x->busy) {
                skipped++;
            }
            else {
                x->busy = true;
                x->first_char = true;
                curl_multi_add_handle(multi, x->easy);
            }
            tick++;
            due = start + (double)(tick / n) * interval + (double)(tick % n) * interval / n;
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            struct target *x = NULL;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK || status != 200) {
                failed++;
            }
            done++;
            curl_multi_remove_handle(multi, msg->easy_handle);
            x->busy = false;
        }
        now = now_ms();
        if (now >= end && running == 0) {
            break;
        }
        double wait = due - now;
        if (now >= end) {
            wait = 100;
        }
        curl_multi_poll(multi, NULL, 0, wait < 0 ? 0 : wait > 1000 ? 1000 : (int)wait + 1, NULL);
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("scrapes %llu\nfailed %llu\nskipped %llu\nsamples %llu\ncpu_s %.3f\n", done, failed,
           skipped, total_samples, cpu);
    printf("cpu_per_1m_samples %.3f\npeak_rss_kib %ld\n",
           total_samples ? cpu / (double)total_samples * 1e6 : 0.0, ru.ru_maxrss);
    for (size_t i = 0; i < n; i++) {
        curl_easy_cleanup(t[i].easy);
    }
    free(t);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return 0;
}
