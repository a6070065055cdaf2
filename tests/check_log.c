/*
 * Unit tests for agent/log.c: level parsing and filtering, the line format on fd 2 (plain and
 * journald), truncation and newline replacement, and the per-key rate limiter driven with
 * explicit monotonic times. Most tests capture lines through log_set_sink(); the format tests
 * fork a child whose fd 2 is a pipe, so the real write(2) path and the lazy JOURNAL_STREAM check
 * run in a fresh process whatever the Check fork mode.
 */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_BYTES 4096 /* the documented cap, '\n' included */
#define CAP_LINES 16

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Lines received by the sink. */
struct capture {
    int n; /* lines received, also beyond CAP_LINES */
    enum log_level lvl[CAP_LINES];
    char line[CAP_LINES][LINE_MAX_BYTES + 1]; /* the first CAP_LINES lines */
    char last[LINE_MAX_BYTES + 1];
};

static struct capture cap;

static void
capture_cb(enum log_level lvl, const char *line, void *arg)
{
    struct capture *c = arg;

    if (c->n < CAP_LINES) {
        c->lvl[c->n] = lvl;
        snprintf(c->line[c->n], sizeof(c->line[c->n]), "%s", line);
    }
    snprintf(c->last, sizeof(c->last), "%s", line);
    c->n++;
}

static void
sink_setup(void)
{
    memset(&cap, 0, sizeof(cap));
    log_set_sink(capture_cb, &cap);
    log_set_level(LOG_LVL_INFO);
    log_set_target(LOG_TARGET_STDERR);
}

static void
sink_teardown(void)
{
    log_set_sink(NULL, NULL);
    log_set_level(LOG_LVL_INFO);
}

/* ---- level parsing ---- */

static const struct {
    const char *in;
    int rc;
    enum log_level lvl;
} parse_cases[] = {
    {"error", 0, LOG_LVL_ERR}, {"err", 0, LOG_LVL_ERR},
    {"warn", 0, LOG_LVL_WARN}, {"warning", 0, LOG_LVL_WARN},
    {"info", 0, LOG_LVL_INFO}, {"debug", 0, LOG_LVL_DEBUG},
    {"", -EINVAL, 0},          {"INFO", -EINVAL, 0},
    {"Debug", -EINVAL, 0},     {"inf", -EINVAL, 0},
    {"info ", -EINVAL, 0},     {" warn", -EINVAL, 0},
    {"trace", -EINVAL, 0},     {"3", -EINVAL, 0},
    {"errors", -EINVAL, 0},    {NULL, -EINVAL, 0},
};

START_TEST(test_level_parse)
{
    enum log_level out = (enum log_level)99;
    int rc = log_level_parse(parse_cases[_i].in, &out);

    ck_assert_msg(rc == parse_cases[_i].rc, "\"%s\": rc %d, want %d",
                  parse_cases[_i].in ? parse_cases[_i].in : "(null)", rc, parse_cases[_i].rc);
    if (parse_cases[_i].rc == 0) {
        ck_assert_int_eq(out, parse_cases[_i].lvl);
    }
    else {
        ck_assert_int_eq(out, 99); /* untouched on error */
    }
}
END_TEST

START_TEST(test_level_parse_null_out)
{
    ck_assert_int_eq(log_level_parse("debug", NULL), 0);
    ck_assert_int_eq(log_level_parse("nope", NULL), -EINVAL);
}
END_TEST

/* Runs first, also without fork, so it sees the initial level. */
START_TEST(test_level_default)
{
    ck_assert_int_eq(log_current_level, LOG_LVL_INFO);
}
END_TEST

START_TEST(test_level_clamp)
{
    log_set_level((enum log_level)42);
    ck_assert_int_eq(log_current_level, LOG_LVL_DEBUG);
}
END_TEST

/* ---- level filtering ---- */

static int
bump(int *calls)
{
    return ++*calls;
}

/* _i runs over (current level, macro level) pairs. */
START_TEST(test_level_filter)
{
    enum log_level cur = (enum log_level)(_i / 4);
    enum log_level mac = (enum log_level)(_i % 4);
    int calls = 0;
    int want = mac <= cur;

    log_set_level(cur);
    switch (mac) {
    case LOG_LVL_ERR:
        log_err("e %d", bump(&calls));
        break;
    case LOG_LVL_WARN:
        log_warn("w %d", bump(&calls));
        break;
    case LOG_LVL_INFO:
        log_info("i %d", bump(&calls));
        break;
    case LOG_LVL_DEBUG:
        log_debug("d %d", bump(&calls));
        break;
    }
    ck_assert_msg(calls == want, "level %d, macro %d: argument evaluated %d times", cur, mac,
                  calls);
    ck_assert_int_eq(cap.n, want);
    if (want) {
        ck_assert_int_eq(cap.lvl[0], mac);
        ck_assert_str_eq(cap.line[0] + 2, "1");
    }
}
END_TEST

START_TEST(test_log_write_filters_too)
{
    log_set_level(LOG_LVL_WARN);
    log_write(LOG_LVL_INFO, "dropped");
    log_write(LOG_LVL_DEBUG, "dropped");
    ck_assert_int_eq(cap.n, 0);
    log_write(LOG_LVL_WARN, "kept");
    ck_assert_int_eq(cap.n, 1);
    ck_assert_str_eq(cap.line[0], "kept");
}
END_TEST

START_TEST(test_errno_preserved)
{
    errno = ENOENT;
    log_info("open(/x) failed: %m");
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(cap.n, 1);
    ck_assert_str_eq(cap.line[0] + strlen("open(/x) failed: "), strerror(ENOENT));
}
END_TEST

/* ---- fd 2: format, journald, atomic lines ---- */

enum journal_mode {
    JOURNAL_UNSET,     /* no JOURNAL_STREAM */
    JOURNAL_MATCH,     /* JOURNAL_STREAM names the pipe on fd 2 */
    JOURNAL_OTHER_DEV, /* inherited, fd 2 elsewhere: right inode, wrong device */
    JOURNAL_OTHER_INO, /* right device, wrong inode */
    JOURNAL_GARBAGE,   /* not "<dev>:<ino>" */
};

typedef void child_fn(void *arg);

/* In the child: makes fd 2 the pipe and sets up the environment. Returns 0 or -1. */
static int
child_prepare(int wfd, enum journal_mode jm)
{
    struct stat st;
    char val[64];

    if (dup2(wfd, STDERR_FILENO) < 0) {
        return -1;
    }
    close(wfd);
    log_set_sink(NULL, NULL);
    log_set_target(LOG_TARGET_STDERR);
    /* A far-off zone: the timestamp must still be UTC. */
    setenv("TZ", "XXX-11", 1);
    tzset();
    switch (jm) {
    case JOURNAL_UNSET:
        unsetenv("JOURNAL_STREAM");
        break;
    case JOURNAL_MATCH:
        if (fstat(STDERR_FILENO, &st) < 0) {
            return -1;
        }
        snprintf(val, sizeof(val), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
        setenv("JOURNAL_STREAM", val, 1);
        break;
    case JOURNAL_OTHER_DEV:
    case JOURNAL_OTHER_INO:
        if (fstat(STDERR_FILENO, &st) < 0) {
            return -1;
        }
        snprintf(val, sizeof(val), "%ju:%ju", (uintmax_t)st.st_dev + (jm == JOURNAL_OTHER_DEV),
                 (uintmax_t)st.st_ino + (jm == JOURNAL_OTHER_INO));
        setenv("JOURNAL_STREAM", val, 1);
        break;
    case JOURNAL_GARBAGE:
        setenv("JOURNAL_STREAM", "journal", 1);
        break;
    }
    return 0;
}

/*
 * Runs @fn(@arg) in @nchild children that share one pipe as fd 2, and returns everything they
 * wrote (malloc'd, NUL-terminated, length in @len).
 */
static char *
run_children(int nchild, child_fn *fn, void *arg, enum journal_mode jm, size_t *len)
{
    int fds[2];
    size_t size = 1 << 16, used = 0;
    char *buf = malloc(size);
    ssize_t n;
    int status;

    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pipe(fds), 0);
    for (int i = 0; i < nchild; i++) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            free(buf); /* the parent's: a child that leaked it would fail under valgrind */
            close(fds[0]);
            if (child_prepare(fds[1], jm) < 0) {
                _exit(3);
            }
            fn(arg);
            _exit(0);
        }
    }
    close(fds[1]);
    for (;;) {
        if (size - used < 8192) {
            size *= 2;
            buf = realloc(buf, size);
            ck_assert_ptr_nonnull(buf);
        }
        n = read(fds[0], buf + used, size - used - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ck_assert_int_ge(n, 0);
        if (n == 0) {
            break;
        }
        used += (size_t)n;
    }
    close(fds[0]);
    buf[used] = '\0';
    for (int i = 0; i < nchild; i++) {
        ck_assert_int_gt(wait(&status), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %d", status);
    }
    *len = used;
    return buf;
}

static void
assert_matches(const char *s, const char *re)
{
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);

    ck_assert_int_eq(rc, 0);
    rc = regexec(&rx, s, 0, NULL, 0);
    regfree(&rx);
    ck_assert_msg(rc == 0, "\"%s\" does not match /%s/", s, re);
}

static const char *const level_words[] = {"error", "warn", "info", "debug"};
static const char *const journal_prefixes[] = {"<3>", "<4>", "<6>", "<7>"};

static void
write_hello_cb(void *arg)
{
    enum log_level lvl = *(enum log_level *)arg;

    log_set_level(LOG_LVL_DEBUG);
    log_write(lvl, "hello %d\nsecond\r\nthird", 42);
}

/* Parses the ISO-8601 UTC timestamp at the start of @line into seconds since the epoch. */
static time_t
parse_utc(const char *line)
{
    struct tm tm;
    int ms;

    memset(&tm, 0, sizeof(tm));
    ck_assert_int_eq(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
                     7);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

START_TEST(test_format_plain)
{
    enum log_level lvl = (enum log_level)_i;
    char re[256];
    time_t before = time(NULL), after, ts;
    size_t len;
    char *out = run_children(1, write_hello_cb, &lvl, JOURNAL_UNSET, &len);

    after = time(NULL);
    snprintf(re, sizeof(re),
             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z %s "
             "hello 42 second  third\n$",
             level_words[lvl]);
    assert_matches(out, re);
    ts = parse_utc(out);
    ck_assert_msg(ts >= before - 1 && ts <= after + 1, "timestamp %s is not now (UTC)", out);
    free(out);
}
END_TEST

START_TEST(test_format_journal)
{
    enum log_level lvl = (enum log_level)_i;
    char want[64];
    size_t len;
    char *out = run_children(1, write_hello_cb, &lvl, JOURNAL_MATCH, &len);

    snprintf(want, sizeof(want), "%shello 42 second  third\n", journal_prefixes[lvl]);
    ck_assert_str_eq(out, want);
    free(out);
}
END_TEST

/* JOURNAL_STREAM that does not describe fd 2 (inherited by a redirected child) is ignored. */
START_TEST(test_format_journal_inherited)
{
    static const enum journal_mode modes[] = {JOURNAL_OTHER_DEV, JOURNAL_OTHER_INO,
                                              JOURNAL_GARBAGE};
    enum log_level lvl = LOG_LVL_WARN;
    size_t len;
    char *out = run_children(1, write_hello_cb, &lvl, modes[_i], &len);

    assert_matches(out, "^[0-9]{4}-[0-9-]{5}T[0-9:]{8}\\.[0-9]{3}Z warn hello 42 second  third\n$");
    free(out);
}
END_TEST

static void
write_syslog_cb(void *arg)
{
    log_set_target(LOG_TARGET_SYSLOG);
    log_err("to syslog, not to stderr");
}

START_TEST(test_syslog_not_stderr)
{
    size_t len;
    char *out = run_children(1, write_syslog_cb, NULL, JOURNAL_UNSET, &len);

    ck_assert_uint_eq(len, 0);
    free(out);
}
END_TEST

#define ATOMIC_WRITERS 4
#define ATOMIC_LINES 100
#define ATOMIC_MSG 5000 /* longer than a line: every line is exactly LINE_MAX_BYTES */

static void
write_many_cb(void *arg)
{
    static char msg[ATOMIC_MSG + 1];
    char letter = (char)('A' + getpid() % 26);

    memset(msg, letter, ATOMIC_MSG);
    for (int i = 0; i < ATOMIC_LINES; i++) {
        log_info("%s", msg);
    }
}

/* Lines written concurrently by several processes to one pipe arrive whole. */
START_TEST(test_lines_atomic)
{
    size_t len, lines = 0, mixed;
    char *out = run_children(ATOMIC_WRITERS, write_many_cb, NULL, JOURNAL_MATCH, &len);
    char *p = out;

    ck_assert_uint_eq(len, (size_t)ATOMIC_WRITERS * ATOMIC_LINES * LINE_MAX_BYTES);
    while (p < out + len) {
        char *nl = memchr(p, '\n', (size_t)(out + len - p));
        size_t body;

        ck_assert_ptr_nonnull(nl);
        ck_assert_uint_eq((size_t)(nl - p) + 1, LINE_MAX_BYTES);
        ck_assert(strncmp(p, "<6>", 3) == 0);
        body = (size_t)(nl - p) - 3 - 3;
        mixed = 0;
        for (size_t i = 1; i < body; i++) {
            mixed += p[3 + i] != p[3];
        }
        ck_assert_msg(mixed == 0, "line %zu mixes writers (%zu foreign bytes)", lines, mixed);
        ck_assert(strncmp(nl - 3, "...", 3) == 0);
        p = nl + 1;
        lines++;
    }
    ck_assert_uint_eq(lines, ATOMIC_WRITERS * ATOMIC_LINES);
    free(out);
}
END_TEST

/* ---- truncation ---- */

static void
write_10k_cb(void *arg)
{
    static char msg[10 * 1024 + 1];

    memset(msg, 'x', sizeof(msg) - 1);
    log_warn("%s\n%s", msg, "tail");
}

START_TEST(test_truncate_fd2)
{
    static const enum journal_mode modes[] = {JOURNAL_UNSET, JOURNAL_MATCH};
    size_t len;
    char *out = run_children(1, write_10k_cb, NULL, modes[_i], &len);

    ck_assert_uint_eq(len, LINE_MAX_BYTES);
    ck_assert_uint_eq(strlen(out), LINE_MAX_BYTES);
    ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
    ck_assert_str_eq(out + len - 5, "x...\n");
    free(out);
}
END_TEST

/* Through the sink a line has no prefix and no '\n': up to LINE_MAX_BYTES - 1 bytes. */
static const struct {
    size_t len;
    int truncated;
} trunc_cases[] = {
    {0, 0}, {1, 0}, {4092, 0}, {4094, 0}, {4095, 0}, {4096, 1}, {4097, 1}, {10 * 1024, 1},
};

START_TEST(test_truncate_sink)
{
    static char msg[10 * 1024 + 1];
    size_t n = trunc_cases[_i].len;
    size_t got;

    memset(msg, 'x', n);
    msg[n] = '\0';
    log_info("%s", msg);
    ck_assert_int_eq(cap.n, 1);
    got = strlen(cap.line[0]);
    if (trunc_cases[_i].truncated) {
        ck_assert_uint_eq(got, LINE_MAX_BYTES - 1);
        ck_assert_str_eq(cap.line[0] + got - 4, "x...");
    }
    else {
        ck_assert_uint_eq(got, n);
        ck_assert_str_eq(cap.line[0], msg);
    }
}
END_TEST

/* "a" then 3000 two-byte characters: the plain cut would fall inside one. */
START_TEST(test_truncate_utf8)
{
    static char msg[1 + 2 * 3000 + 1];
    size_t got;

    msg[0] = 'a';
    for (size_t i = 0; i < 3000; i++) {
        memcpy(msg + 1 + 2 * i, "\xc3\xa9", 2); /* é */
    }
    log_info("%s", msg);
    got = strlen(cap.line[0]);
    ck_assert_uint_le(got, LINE_MAX_BYTES - 1);
    ck_assert_uint_ge(got, LINE_MAX_BYTES - 2);
    ck_assert_str_eq(cap.line[0] + got - 3, "...");
    ck_assert_uint_eq((got - 3 - 1) % 2, 0);
    ck_assert_int_eq(memcmp(cap.line[0], msg, got - 3), 0);
}
END_TEST

START_TEST(test_newlines_replaced)
{
    log_info("a\nb\r\nc\n");
    ck_assert_str_eq(cap.line[0], "a b  c ");
}
END_TEST

/* ---- rate limiting ---- */

#define PFX "node/10.0.0.1:9100"
#define MSG "scrape: connect() failed: %s"
#define REFUSED "Connection refused"
#define LINE PFX ": scrape: connect() failed: " REFUSED

static int
limit_is_zero(const struct log_limit *l)
{
    static const struct log_limit zero;

    return memcmp(l, &zero, sizeof(zero)) == 0;
}

START_TEST(test_limit_first_logged)
{
    struct log_limit l = {0};
    uint64_t before = log_suppressed_total();

    log_complain(&l, 1000, 7, PFX, MSG, REFUSED);
    ck_assert_int_eq(cap.n, 1);
    ck_assert_int_eq(cap.lvl[0], LOG_LVL_WARN);
    ck_assert_str_eq(cap.line[0], LINE);
    ck_assert_int_eq(l.cause, 7);
    ck_assert_uint_eq(l.failures, 1);
    ck_assert_uint_eq(log_suppressed_total(), before);
}
END_TEST

START_TEST(test_limit_repeats_and_summaries)
{
    struct log_limit l = {0};
    const mono_ms t0 = 5000;
    uint64_t before;

    log_complain(&l, t0, 7, PFX, MSG, REFUSED);
    before = log_suppressed_total();
    for (int i = 1; i <= 100; i++) {
        log_complain(&l, t0 + i * 599, 7, PFX, MSG, REFUSED); /* last at t0 + 59.9 s */
    }
    ck_assert_int_eq(cap.n, 1);
    ck_assert_uint_eq(log_suppressed_total() - before, 100);

    log_complain(&l, t0 + 60000, 7, PFX, MSG, REFUSED);
    ck_assert_int_eq(cap.n, 2);
    ck_assert_int_eq(cap.lvl[1], LOG_LVL_WARN);
    ck_assert_str_eq(cap.line[1], LINE " (failing for 1m, 100 more failures suppressed)");
    ck_assert_uint_eq(log_suppressed_total() - before, 100);

    /* The interval doubled: nothing more until 120 s after the summary. */
    for (int i = 1; i <= 20; i++) {
        log_complain(&l, t0 + 60000 + i * 5999, 7, PFX, MSG, REFUSED); /* up to +119.98 s */
    }
    log_complain(&l, t0 + 180000 - 1, 7, PFX, MSG, REFUSED);
    ck_assert_int_eq(cap.n, 2);
    ck_assert_uint_eq(log_suppressed_total() - before, 121);
    log_complain(&l, t0 + 180000, 7, PFX, MSG, REFUSED);
    ck_assert_int_eq(cap.n, 3);
    ck_assert_str_eq(cap.line[2], LINE " (failing for 3m, 21 more failures suppressed)");
    ck_assert_uint_eq(l.failures, 124);
}
END_TEST

/* Failing every second for over 4 h: summaries at 60, 180, 420, ... s, then every hour. */
START_TEST(test_limit_backoff_capped)
{
    static const mono_ms want[] = {0, 60, 180, 420, 900, 1860, 3780, 7380, 10980, 14580};
    mono_ms got[N_ELEMS(want) + 1];
    size_t ngot = 0;
    struct log_limit l = {0};
    uint64_t before = log_suppressed_total();
    mono_ms max_interval = 0;
    int prev = 0;

    /* Plain checks in the loop: a ck_assert per step is slow under valgrind with CK_FORK=no. */
    for (mono_ms s = 0; s <= 15000; s++) {
        log_complain(&l, s * 1000, 3, "p", "down");
        if (l.interval > max_interval) {
            max_interval = l.interval;
        }
        if (cap.n != prev && ngot < N_ELEMS(got)) {
            got[ngot++] = s;
        }
        prev = cap.n;
    }
    ck_assert_int_eq(max_interval, 3600 * 1000);
    ck_assert_int_eq(cap.n, (int)N_ELEMS(want));
    ck_assert_uint_eq(ngot, N_ELEMS(want));
    for (size_t i = 0; i < ngot; i++) {
        ck_assert_msg(got[i] == want[i], "summary %zu at %" PRId64 " s, want %" PRId64, i, got[i],
                      want[i]);
    }
    ck_assert_uint_eq(log_suppressed_total() - before, 15001 - N_ELEMS(want));
    ck_assert_str_eq(cap.last, "p: down (failing for 4h3m, 3599 more failures suppressed)");
}
END_TEST

START_TEST(test_limit_summary_without_suppressed)
{
    struct log_limit l = {0};

    log_complain(&l, 0, 1, "p", "down");
    log_complain(&l, 70000, 1, "p", "down");
    ck_assert_int_eq(cap.n, 2);
    ck_assert_str_eq(cap.line[1], "p: down (failing for 1m10s)");
    log_complain(&l, 71000, 1, "p", "down");
    log_complain(&l, 70000 + 120000, 1, "p", "down");
    ck_assert_int_eq(cap.n, 3);
    ck_assert_str_eq(cap.line[2], "p: down (failing for 3m10s, 1 more failure suppressed)");
}
END_TEST

/* A scripted streak: each step is a failure (cause != 0) or a success (cause == 0). */
struct limit_step {
    mono_ms now;
    int cause;
    const char *want; /* the line logged by this step, or NULL for none */
};

static void
run_script(const struct limit_step *steps, size_t n)
{
    struct log_limit l = {0};

    for (size_t i = 0; i < n; i++) {
        int before = cap.n;

        if (steps[i].cause != 0) {
            log_complain(&l, steps[i].now, steps[i].cause, "job/inst", "fail cause=%d",
                         steps[i].cause);
        }
        else {
            log_release(&l, steps[i].now, "job/inst");
        }
        if (steps[i].want == NULL) {
            ck_assert_msg(cap.n == before, "step %zu: unexpected line \"%s\"", i, cap.last);
        }
        else {
            ck_assert_msg(cap.n == before + 1, "step %zu: no line, want \"%s\"", i, steps[i].want);
            ck_assert_str_eq(cap.last, steps[i].want);
        }
    }
}

START_TEST(test_limit_cause_change)
{
    static const struct limit_step steps[] = {
        {0, 1, "job/inst: fail cause=1"},
        {1000, 1, NULL},
        {2000, 1, NULL},
        {3000, 1, NULL},
        /* news: logged at once, with what the old cause left unsaid */
        {10000, 2,
         "job/inst: fail cause=2 (cause changed; 3 more failures of the previous "
         "cause suppressed)"},
        {20000, 2, NULL},
        /* the interval restarted at the change: 10 s + 60 s */
        {69999, 2, NULL},
        {70000, 2, "job/inst: fail cause=2 (failing for 1m10s, 2 more failures suppressed)"},
        /* a change with nothing suppressed, and straight back */
        {71000, 1, "job/inst: fail cause=1"},
        {71001, 2, "job/inst: fail cause=2"},
        {72000, 2, NULL},
        {300000, 0, "job/inst: recovered after 5m (11 failures)"},
    };

    run_script(steps, N_ELEMS(steps));
}
END_TEST

START_TEST(test_limit_recovery)
{
    static const struct limit_step steps[] = {
        {100000, 4, "job/inst: fail cause=4"},
        {110000, 4, NULL},
        {120000, 4, NULL},
        {400000, 0, "job/inst: recovered after 5m (3 failures)"},
        {410000, 0, NULL}, /* once */
        {420000, 0, NULL},
        {430000, 4, "job/inst: fail cause=4"}, /* a new streak starts fresh */
        {431000, 0, "job/inst: recovered after 1s (1 failure)"},
    };

    run_script(steps, N_ELEMS(steps));
}
END_TEST

START_TEST(test_limit_recovery_resets)
{
    struct log_limit l = {0};

    log_complain(&l, 0, 9, "p", "down");
    log_complain(&l, 1, 9, "p", "down");
    ck_assert(!limit_is_zero(&l));
    log_release(&l, 300000, "p");
    ck_assert_int_eq(cap.n, 2);
    ck_assert_int_eq(cap.lvl[1], LOG_LVL_INFO);
    ck_assert_str_eq(cap.line[1], "p: recovered after 5m (2 failures)");
    ck_assert(limit_is_zero(&l));
}
END_TEST

START_TEST(test_limit_release_healthy)
{
    struct log_limit l = {0};
    uint64_t before = log_suppressed_total();

    log_release(&l, 0, "p");
    log_release(&l, 123456789, "p");
    ck_assert_int_eq(cap.n, 0);
    ck_assert(limit_is_zero(&l));
    ck_assert_uint_eq(log_suppressed_total(), before);
}
END_TEST

/* Below warn nothing is written, but the limiter keeps its state and its count. */
START_TEST(test_limit_below_level)
{
    struct log_limit l = {0};
    uint64_t before = log_suppressed_total();

    log_set_level(LOG_LVL_ERR);
    log_complain(&l, 0, 5, "p", "down");
    log_complain(&l, 1000, 5, "p", "down");
    ck_assert_int_eq(cap.n, 0);
    ck_assert_int_eq(l.cause, 5);
    ck_assert_uint_eq(log_suppressed_total() - before, 1);
    log_release(&l, 2000, "p");
    ck_assert_int_eq(cap.n, 0);
    ck_assert(limit_is_zero(&l));
}
END_TEST

START_TEST(test_limit_cause_zero)
{
    struct log_limit l = {0};

    log_complain(&l, 0, 0, "p", "cause %d", 0);
    ck_assert_int_eq(cap.n, 1);
    ck_assert_str_eq(cap.line[0], "p: cause 0");
    ck_assert_int_ne(l.cause, 0);
    log_release(&l, 1000, "p");
    ck_assert_str_eq(cap.last, "p: recovered after 1s (1 failure)");
}
END_TEST

START_TEST(test_limit_errno_preserved)
{
    struct log_limit l = {0};

    errno = ECONNREFUSED;
    log_complain(&l, 0, 1, "p", "connect: %m");
    ck_assert_int_eq(errno, ECONNREFUSED);
    ck_assert_str_eq(cap.line[0] + strlen("p: connect: "), strerror(ECONNREFUSED));
    log_release(&l, 1, "p");
    ck_assert_int_eq(errno, ECONNREFUSED);
}
END_TEST

/* A long message is cut before the summary, which survives. */
START_TEST(test_limit_long_message_keeps_suffix)
{
    static char msg[10 * 1024 + 1];
    static const char sfx[] = "... (failing for 1m, 1 more failure suppressed)";
    struct log_limit l = {0};
    size_t got;

    memset(msg, 'y', sizeof(msg) - 1);
    log_complain(&l, 0, 1, "p", "%s", msg);
    log_complain(&l, 1, 1, "p", "%s", msg);
    log_complain(&l, 60000, 1, "p", "%s", msg);
    ck_assert_int_eq(cap.n, 2);
    got = strlen(cap.line[1]);
    ck_assert_uint_le(got, LINE_MAX_BYTES - 1);
    ck_assert_str_eq(cap.line[1] + got - strlen(sfx), sfx);
    ck_assert(strncmp(cap.line[1], "p: yyy", 6) == 0);
}
END_TEST

/* Even an oversized key name leaves room for the summary. */
START_TEST(test_limit_long_prefix_keeps_suffix)
{
    static char prefix[6000];
    static const char sfx[] = "... (failing for 1m)";
    struct log_limit l = {0};
    size_t got;

    memset(prefix, 'k', sizeof(prefix) - 1);
    log_complain(&l, 0, 1, prefix, "down");
    ck_assert_uint_eq(strlen(cap.line[0]), LINE_MAX_BYTES - 1);
    ck_assert_str_eq(cap.line[0] + LINE_MAX_BYTES - 1 - 4, "k...");
    log_complain(&l, 60000, 1, prefix, "down");
    got = strlen(cap.line[1]);
    ck_assert_uint_eq(got, LINE_MAX_BYTES - 1);
    ck_assert_str_eq(cap.line[1] + got - strlen(sfx), sfx);
}
END_TEST

/* Durations as the recovery line renders them. */
static const struct {
    mono_ms ms;
    const char *want;
} dur_cases[] = {
    {0, "0ms"},         {450, "450ms"},   {999, "999ms"},      {1000, "1s"},       {45000, "45s"},
    {59999, "59s"},     {300000, "5m"},   {330000, "5m30s"},   {3600000, "1h"},    {3605000, "1h"},
    {5400000, "1h30m"}, {86400000, "1d"}, {183600000, "2d3h"}, {90061000, "1d1h"},
};

START_TEST(test_limit_durations)
{
    struct log_limit l = {0};
    char want[64];
    const mono_ms t0 = 777;

    log_complain(&l, t0, 1, "p", "down");
    log_release(&l, t0 + dur_cases[_i].ms, "p");
    snprintf(want, sizeof(want), "p: recovered after %s (1 failure)", dur_cases[_i].want);
    ck_assert_str_eq(cap.last, want);
}
END_TEST

static Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc;

    tc = tcase_create("level_parse");
    tcase_add_test(tc, test_level_default);
    tcase_add_loop_test(tc, test_level_parse, 0, (int)N_ELEMS(parse_cases));
    tcase_add_test(tc, test_level_parse_null_out);
    suite_add_tcase(s, tc);

    tc = tcase_create("level_filter");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_test(tc, test_level_clamp);
    tcase_add_loop_test(tc, test_level_filter, 0, 16);
    tcase_add_test(tc, test_log_write_filters_too);
    tcase_add_test(tc, test_errno_preserved);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_format_plain, 0, 4);
    tcase_add_loop_test(tc, test_format_journal, 0, 4);
    tcase_add_loop_test(tc, test_format_journal_inherited, 0, 3);
    tcase_add_test(tc, test_syslog_not_stderr);
    tcase_add_test(tc, test_lines_atomic);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncation");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_add_loop_test(tc, test_truncate_fd2, 0, 2);
    tcase_add_loop_test(tc, test_truncate_sink, 0, (int)N_ELEMS(trunc_cases));
    tcase_add_test(tc, test_truncate_utf8);
    tcase_add_test(tc, test_newlines_replaced);
    suite_add_tcase(s, tc);

    tc = tcase_create("rate_limit");
    tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_limit_first_logged);
    tcase_add_test(tc, test_limit_repeats_and_summaries);
    tcase_add_test(tc, test_limit_backoff_capped);
    tcase_add_test(tc, test_limit_summary_without_suppressed);
    tcase_add_test(tc, test_limit_cause_change);
    tcase_add_test(tc, test_limit_recovery);
    tcase_add_test(tc, test_limit_recovery_resets);
    tcase_add_test(tc, test_limit_release_healthy);
    tcase_add_test(tc, test_limit_below_level);
    tcase_add_test(tc, test_limit_cause_zero);
    tcase_add_test(tc, test_limit_errno_preserved);
    tcase_add_test(tc, test_limit_long_message_keeps_suffix);
    tcase_add_test(tc, test_limit_long_prefix_keeps_suffix);
    tcase_add_loop_test(tc, test_limit_durations, 0, (int)N_ELEMS(dur_cases));
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int number_failed;

    srunner_run_all(sr, CK_ENV);
    number_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return number_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
