/*
 * The floor for tests/bench/scrape.sh: what scraping costs in libcurl alone. One easy handle
 * per URL, built once and reused; each is added to one multi handle when its tick comes (ticks
 * spread evenly over the interval, as pollster spreads targets) and removed when done; the
 * multi handle is driven by curl_multi_socket_action() over epoll, as cheap as libcurl can be
 * driven (pollster drives it the same way through libevent); the
 * connection cache keeps one idle connection per URL and the URLs (address literals) skip DNS
 * cache pruning, as in pollster; bodies are only
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

struct target {
    CURL *easy;
    char *url;
    bool busy;
    bool first_char; /* next byte is a line's first */
};

static unsigned long long total_samples;
static int epfd;
static double curl_deadline = -1; /* ms, CURLMOPT_TIMERFUNCTION's; -1 none */

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

static double now_ms(void);

/* CURLMOPT_SOCKETFUNCTION: mirror curl's wishes into epoll. socketp marks a registered fd. */
static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct epoll_event ev = {.data.fd = fd};

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(userp, fd, NULL);
        return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    if (socketp == NULL) {
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        curl_multi_assign(userp, fd, &epfd);
    }
    else {
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    (void)userp;
    curl_deadline = timeout_ms < 0 ? -1 : now_ms() + (double)timeout_ms;
    return 0;
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
    epfd = epoll_create1(EPOLL_CLOEXEC);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)n + 8);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, multi);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    struct target *t = calloc(n, sizeof(*t));
    long timeout = interval < 10000 ? (long)interval : 10000;
    for (size_t i = 0; i < n; i++) {
        t[i].url = urls[i];
        t[i].easy = curl_easy_init();
        curl_easy_setopt(t[i].easy, CURLOPT_URL, urls[i]);
        curl_easy_setopt(t[i].easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t[i].easy, CURLOPT_PROXY, ""); /* as pollster: no proxy lookups */
        /* As pollster for address literals: no walk over the DNS cache after each transfer. */
        curl_easy_setopt(t[i].easy, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
        curl_easy_setopt(t[i].easy, CURLOPT_TIMEOUT_MS, timeout);
        curl_easy_setopt(t[i].easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
        curl_easy_setopt(t[i].easy, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(t[i].easy, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(t[i].easy, CURLOPT_WRITEDATA, &t[i]);
        curl_easy_setopt(t[i].easy, CURLOPT_PRIVATE, (char *)&t[i]);
    }

    unsigned long long done = 0, failed = 0, skipped = 0, in_flight = 0;
    double start = now_ms(), end = start + duration;
    unsigned long long tick = 0; /* the next tick overall: target tick % n, round tick / n */
    int running = 0;
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
                in_flight++;
                curl_multi_add_handle(multi, x->easy);
            }
            tick++;
            due = start + (double)(tick / n) * interval + (double)(tick % n) * interval / n;
        }
        if (curl_deadline >= 0 && curl_deadline <= now) {
            curl_deadline = -1;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
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
            in_flight--;
            curl_multi_remove_handle(multi, msg->easy_handle);
            x->busy = false;
        }
        now = now_ms();
        if (now >= end && in_flight == 0) {
            break;
        }
        double wake = due < end ? due : end + 60000;
        if (curl_deadline >= 0 && curl_deadline < wake) {
            wake = curl_deadline;
        }
        double wait = wake - now;
        struct epoll_event evs[64];
        int nev = epoll_wait(epfd, evs, 64, wait <= 0 ? 0 : wait > 1000 ? 1000 : (int)wait + 1);
        for (int i = 0; i < nev; i++) {
            int flags = ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? CURL_CSELECT_IN : 0) |
                        ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0);
            curl_multi_socket_action(multi, evs[i].data.fd, flags, &running);
        }
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
