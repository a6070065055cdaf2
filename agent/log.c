/*
 * Logging. This module owns the current level, the output target (stderr or syslog), the format
 * of a log line and the per-key rate limiter for repeated failures.
 *
 * Every call builds one complete line in a stack buffer and hands it to the kernel with one
 * write(2) on fd 2. A line is at most LOG_LINE_MAX bytes including its '\n'. That equals
 * PIPE_BUF, so when stderr is a pipe (journald, a supervisor, `2>&1 | ...`) the kernel writes each
 * line atomically and lines from one process or several never interleave. On stderr a line is
 * "<N>msg" when stderr is the journal stream (journald adds the timestamp), and otherwise
 * "2026-11-27T07:30:01.123Z level msg" in UTC.
 *
 * The rate limiter is modeled on collectd's c_complain()/c_release(). See log_complain().
 */
#include "build-config.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* A whole line, '\n' included: at most PIPE_BUF (4096 on Linux), so one write(2) is atomic. */
#define LOG_LINE_MAX 4096
/* The room kept for a rate-limiter suffix such as " (failing for 2d3h, 123 more ...)". */
#define LOG_SUFFIX_MAX 128
#define LOG_TRUNC_MARK "..."
#define LOG_TRUNC_MARK_LEN (sizeof(LOG_TRUNC_MARK) - 1)

#define LOG_LIMIT_FIRST_MS ((mono_ms)60 * 1000)
#define LOG_LIMIT_MAX_MS ((mono_ms)3600 * 1000)

enum log_level log_current_level = LOG_LVL_INFO;

static enum log_target log_target = LOG_TARGET_STDERR;
static enum log_format log_format = LOG_FORMAT_TEXT;
static bool log_syslog_open;
/* -1 = not checked yet, 0 = plain stderr, 1 = stderr is the journal stream. */
static int log_journal = -1;
static uint64_t log_suppressed;
static log_sink_fn *log_sink;
static void *log_sink_arg;

static const char *const log_level_words[] = {
    [LOG_LVL_ERR] = "error",
    [LOG_LVL_WARN] = "warn",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_DEBUG] = "debug",
};

/* syslog(3) priorities, which are also the sd-daemon "<N>" prefixes. */
static const int log_level_prio[] = {
    [LOG_LVL_ERR] = LOG_ERR,
    [LOG_LVL_WARN] = LOG_WARNING,
    [LOG_LVL_INFO] = LOG_INFO,
    [LOG_LVL_DEBUG] = LOG_DEBUG,
};

/* One line being built: the prefix, then the message from offset @msg on. */
struct log_line {
    char buf[LOG_LINE_MAX + 1]; /* + 1 for the NUL that vsnprintf() writes */
    size_t len;                 /* bytes used, not counting the NUL */
    size_t msg;                 /* the offset where the message starts (after the prefix) */
    bool truncated;             /* the message was cut and ends with "..." */
    int64_t ts_ms;              /* when the line was started */
};

/*
 * Whether stderr is the journal stream. systemd sets JOURNAL_STREAM=<dev>:<ino> for a service
 * whose stderr goes to journald. systemd.exec(5) asks that the pair be compared with fstat(2)
 * of stderr: a child that inherited the variable but had its stderr redirected must not write
 * "<N>" prefixes into a file. This is checked once, on the first line written.
 */
static bool
log_is_journal(void)
{
    const char *e;
    char *end;
    unsigned long long dev, ino;
    struct stat st;

    if (log_journal >= 0) {
        return log_journal == 1;
    }
    log_journal = 0;
    e = getenv("JOURNAL_STREAM");
    if (e == NULL || *e == '\0') {
        return false;
    }
    errno = 0;
    dev = strtoull(e, &end, 10);
    if (errno != 0 || end == e || *end != ':') {
        return false;
    }
    e = end + 1;
    ino = strtoull(e, &end, 10);
    if (errno != 0 || end == e || *end != '\0') {
        return false;
    }
    if (fstat(STDERR_FILENO, &st) < 0) {
        return false;
    }
    if ((unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino) {
        log_journal = 1;
    }
    return log_journal == 1;
}

/* Starts @ln with the prefix that @lvl needs on the current output. */
static void
log_line_start(struct log_line *ln, enum log_level lvl)
{
    int64_t now_ms;
    time_t secs;
    struct tm tm;
    size_t n;

    ln->len = 0;
    ln->truncated = false;
    ln->buf[0] = '\0';
    ln->ts_ms = clock_wall_ms();
    /* The sink gets only the message, and syslog adds its own header. */
    if (log_sink == NULL && log_target == LOG_TARGET_STDERR && log_format == LOG_FORMAT_TEXT) {
        if (log_is_journal()) {
            ln->len = (size_t)snprintf(ln->buf, sizeof(ln->buf), "<%d>", log_level_prio[lvl]);
        }
        else {
            now_ms = ln->ts_ms;
            secs = (time_t)(now_ms / 1000);
            if (gmtime_r(&secs, &tm) != NULL) {
                n = strftime(ln->buf, sizeof(ln->buf), "%Y-%m-%dT%H:%M:%S", &tm);
                ln->len = n + (size_t)snprintf(ln->buf + n, sizeof(ln->buf) - n, ".%03dZ %s ",
                                               (int)(now_ms % 1000), log_level_words[lvl]);
            }
            else {
                ln->len = (size_t)snprintf(ln->buf, sizeof(ln->buf), "%s ", log_level_words[lvl]);
            }
        }
    }
    ln->msg = ln->len;
}

/*
 * Marks @ln truncated: cuts the message so that "..." fits below @cap bytes. The cut moves back
 * to a UTF-8 character boundary so that no half character precedes the mark.
 */
static void
log_line_truncate(struct log_line *ln, size_t cap)
{
    size_t cut = cap - LOG_TRUNC_MARK_LEN;

    if (cut > ln->len) {
        cut = ln->len;
    }
    while (cut > ln->msg && ((unsigned char)ln->buf[cut] & 0xc0) == 0x80) {
        cut--;
    }
    memcpy(ln->buf + cut, LOG_TRUNC_MARK, LOG_TRUNC_MARK_LEN);
    ln->len = cut + LOG_TRUNC_MARK_LEN;
    ln->buf[ln->len] = '\0';
    ln->truncated = true;
}

/*
 * Appends printf output to @ln, keeping @reserve bytes free for a suffix that must survive
 * truncation. Once the message has been truncated, further message text is dropped.
 */
static void log_line_vadd(struct log_line *ln, size_t reserve, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
log_line_vadd(struct log_line *ln, size_t reserve, const char *fmt, va_list ap)
{
    size_t cap = LOG_LINE_MAX - 1 - reserve; /* - 1: the '\n' */
    int n;

    if (ln->truncated) {
        return;
    }
    if (ln->len > cap) {
        log_line_truncate(ln, cap); /* earlier text took the room reserved for the suffix */
        return;
    }
    n = vsnprintf(ln->buf + ln->len, cap - ln->len + 1, fmt, ap);
    if (n < 0) {
        /* Only an invalid conversion gets here; say so rather than dropping the line. */
        n = snprintf(ln->buf + ln->len, cap - ln->len + 1, "(bad log format: %s)", fmt);
        if (n < 0) {
            n = 0;
        }
    }
    if ((size_t)n > cap - ln->len) {
        ln->len = cap;
        log_line_truncate(ln, cap);
        return;
    }
    ln->len += (size_t)n;
}

static void log_line_add(struct log_line *ln, size_t reserve, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
log_line_add(struct log_line *ln, size_t reserve, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line_vadd(ln, reserve, fmt, ap);
    va_end(ap);
}

/* Appends @s, which has been sized to fit in the reserve kept by earlier adds. */
static void
log_line_add_suffix(struct log_line *ln, const char *s)
{
    size_t n = strlen(s);
    size_t room = LOG_LINE_MAX - 1 - ln->len;

    if (n > room) {
        n = room;
    }
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
    ln->buf[ln->len] = '\0';
}

/* Writes all of @buf to fd 2: one write(2) unless a signal or a full non-pipe cuts it short. */
static void
log_write_fd(const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(STDERR_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* Nowhere left to report it. */
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Appends @c to @out (at @n, below @cap) escaped for a quoted logfmt or JSON string. */
static size_t
log_escape_char(char *out, size_t n, size_t cap, unsigned char c)
{
    char tmp[8];
    size_t k;

    if (c == '"' || c == '\\') {
        tmp[0] = '\\';
        tmp[1] = (char)c;
        k = 2;
    }
    else if (c < 0x20 || c == 0x7f) {
        k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
    }
    else {
        tmp[0] = (char)c;
        k = 1;
    }
    if (n + k > cap) {
        return n;
    }
    memcpy(out + n, tmp, k);
    return n + k;
}

/* Writes @ln's message as one logfmt or JSON record (see enum log_format). */
static void
log_emit_structured(const struct log_line *ln, enum log_level lvl)
{
    char out[LOG_LINE_MAX + 1], ts[40] = "";
    size_t n = 0, cap = LOG_LINE_MAX - 3; /* room for the closing quote, '}' and '\n' */
    bool json = log_format == LOG_FORMAT_JSON;
    time_t secs = (time_t)(ln->ts_ms / 1000);
    struct tm tm;

    if (log_is_journal()) {
        n = (size_t)snprintf(out, sizeof(out), "<%d>", log_level_prio[lvl]);
    }
    else if (gmtime_r(&secs, &tm) != NULL) {
        size_t k = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + k, sizeof(ts) - k, ".%03dZ", (int)(ln->ts_ms % 1000));
    }
    if (json) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "{%s%s%s\"level\":\"%s\",\"msg\":\"",
                              *ts != '\0' ? "\"ts\":\"" : "", ts, *ts != '\0' ? "\"," : "",
                              log_level_words[lvl]);
    }
    else {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s%slevel=%s msg=\"",
                              *ts != '\0' ? "ts=" : "", ts, *ts != '\0' ? " " : "",
                              log_level_words[lvl]);
    }
    for (size_t i = ln->msg; i < ln->len && n < cap; i++) {
        n = log_escape_char(out, n, cap, (unsigned char)ln->buf[i]);
    }
    out[n++] = '"';
    if (json) {
        out[n++] = '}';
    }
    out[n++] = '\n';
    log_write_fd(out, n);
}

/* Replaces line breaks inside the message, then hands the line to the sink, syslog or fd 2. */
static void
log_line_emit(struct log_line *ln, enum log_level lvl)
{
    for (char *p = ln->buf + ln->msg; p < ln->buf + ln->len; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    ln->buf[ln->len] = '\0';
    if (log_sink != NULL) {
        log_sink(lvl, ln->buf + ln->msg, log_sink_arg);
        return;
    }
    if (log_target == LOG_TARGET_SYSLOG) {
        if (!log_syslog_open) {
            openlog("pollster", LOG_PID | LOG_NDELAY, LOG_DAEMON);
            log_syslog_open = true;
        }
        syslog(log_level_prio[lvl], "%s", ln->buf + ln->msg);
        return;
    }
    if (log_format != LOG_FORMAT_TEXT) {
        log_emit_structured(ln, lvl);
        return;
    }
    ln->buf[ln->len++] = '\n';
    log_write_fd(ln->buf, ln->len);
}

static enum log_level
log_level_clamp(enum log_level lvl)
{
    return (unsigned int)lvl > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : lvl;
}

/*
 * Sets the most verbose level that is written (default LOG_LVL_INFO). Out-of-range values mean
 * debug. Called from main and on reload.
 */
void
log_set_level(enum log_level lvl)
{
    log_current_level = log_level_clamp(lvl);
}

/*
 * Parses a level name: "error", "err", "warn", "warning", "info" or "debug" (exact, lower case, as
 * in Prometheus' --log.level). Stores the level in @out (which may be NULL to only validate) and
 * returns 0, or returns -EINVAL and leaves @out unchanged.
 */
int
log_level_parse(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level lvl;
    } names[] = {
        {"error", LOG_LVL_ERR},    {"err", LOG_LVL_ERR},   {"warn", LOG_LVL_WARN},
        {"warning", LOG_LVL_WARN}, {"info", LOG_LVL_INFO}, {"debug", LOG_LVL_DEBUG},
    };

    if (s == NULL) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            if (out != NULL) {
                *out = names[i].lvl;
            }
            return 0;
        }
    }
    return -EINVAL;
}

bool
log_is_stderr(void)
{
    return log_sink == NULL && log_target == LOG_TARGET_STDERR;
}

void
log_set_format(enum log_format f)
{
    log_format = f;
}

int
log_format_parse(const char *s, enum log_format *out)
{
    static const char *const names[] = {
        [LOG_FORMAT_TEXT] = "text", [LOG_FORMAT_LOGFMT] = "logfmt", [LOG_FORMAT_JSON] = "json"};

    for (size_t i = 0; s != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            if (out != NULL) {
                *out = (enum log_format)i;
            }
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * Chooses stderr (the default) or syslog. syslog is opened lazily on the first line, as
 * openlog("pollster", LOG_PID | LOG_NDELAY, LOG_DAEMON); switching back to stderr closes it.
 */
void
log_set_target(enum log_target t)
{
    if (t != LOG_TARGET_SYSLOG && log_syslog_open) {
        closelog();
        log_syslog_open = false;
    }
    log_target = t == LOG_TARGET_SYSLOG ? LOG_TARGET_SYSLOG : LOG_TARGET_STDERR;
}

/* Returns the number of failures the rate limiter kept from the log since start. */
uint64_t
log_suppressed_total(void)
{
    return log_suppressed;
}

/*
 * Installs @fn to receive every line instead of stderr or syslog (tests), with @arg passed
 * through; NULL restores normal output. The sink gets the message after newline replacement and
 * truncation, without timestamp, level word or "<N>" prefix, and without the '\n'. The string
 * is only valid during the call.
 */
void
log_set_sink(log_sink_fn *fn, void *arg)
{
    log_sink = fn;
    log_sink_arg = fn != NULL ? arg : NULL;
}

/*
 * Writes one line at @lvl if the current level allows it (the log_* macros check first, so their
 * arguments are not evaluated in vain). Newlines in the message become spaces, and a line longer
 * than 4 KiB is cut and ends in "...". errno is preserved, and "%m" works. Not async-signal-safe.
 */
void
log_write(enum log_level lvl, const char *fmt, ...)
{
    int saved_errno = errno;
    struct log_line ln;
    va_list ap;

    lvl = log_level_clamp(lvl);
    if (lvl > log_current_level) {
        return;
    }
    log_line_start(&ln, lvl);
    errno = saved_errno; /* for %m: the prefix may have touched errno */
    va_start(ap, fmt);
    log_line_vadd(&ln, 0, fmt, ap);
    va_end(ap);
    log_line_emit(&ln, lvl);
    errno = saved_errno;
}

/*
 * Renders @ms compactly with at most two units, rounded down: "450ms", "45s", "5m", "5m30s",
 * "1h30m", "2d3h". Negative durations are shown as "0ms".
 */
static void
log_format_duration(char *buf, size_t size, mono_ms ms)
{
    static const struct {
        char name;
        int64_t secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    int64_t secs, hi, lo;

    if (ms < 1000) {
        snprintf(buf, size, "%" PRId64 "ms", ms > 0 ? (int64_t)ms : (int64_t)0);
        return;
    }
    secs = ms / 1000;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (secs < units[i].secs) {
            continue;
        }
        hi = secs / units[i].secs;
        lo = 0;
        if (i + 1 < sizeof(units) / sizeof(units[0])) {
            lo = secs % units[i].secs / units[i + 1].secs;
        }
        if (lo > 0) {
            snprintf(buf, size, "%" PRId64 "%c%" PRId64 "%c", hi, units[i].name, lo,
                     units[i + 1].name);
        }
        else {
            snprintf(buf, size, "%" PRId64 "%c", hi, units[i].name);
        }
        return;
    }
}

/* Writes "<prefix>: <fmt...><suffix>" at @lvl. @suffix survives truncation of the message. */
static void log_complain_emit(enum log_level lvl, const char *prefix, const char *suffix,
                              const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
log_complain_emit(enum log_level lvl, const char *prefix, const char *suffix, const char *fmt,
                  va_list ap)
{
    int saved_errno = errno;
    size_t reserve = strlen(suffix);
    struct log_line ln;

    log_line_start(&ln, lvl);
    if (prefix != NULL && *prefix != '\0') {
        log_line_add(&ln, reserve, "%s: ", prefix);
    }
    errno = saved_errno;
    log_line_vadd(&ln, reserve, fmt, ap);
    log_line_add_suffix(&ln, suffix);
    log_line_emit(&ln, lvl);
    errno = saved_errno;
}

/*
 * Reports a failure of the key @l with @cause at monotonic time @now. @prefix names the key
 * ("job/instance"); @fmt is the message, rendered only when a line is written:
 *   - the first failure of a streak is logged at once as "<prefix>: <message>";
 *   - a repeat of the same cause is counted as suppressed (see log_suppressed_total()), except
 *     when @now has reached l->next: then one summary "<prefix>: <message> (failing for 5m,
 *     20 more failures suppressed)" is logged and the interval doubles, from 60 s up to 1 h;
 *   - a different cause is news: it is logged at once, with the count suppressed under the
 *     previous cause if any, and the interval restarts at 60 s. The streak (l->since,
 *     l->failures) continues, so "failing for" and "recovered after" cover the whole outage.
 * Lines are written at warn level; below it the state is still kept. @cause must be non-zero
 * (0 means healthy); a 0 is taken as INT_MIN so the failure is not lost. Single-threaded: @l
 * belongs to its target and is only touched from the loop. errno is preserved.
 */
void
log_complain(struct log_limit *l, mono_ms now, int cause, const char *prefix, const char *fmt, ...)
{
    int saved_errno = errno;
    char suffix[LOG_SUFFIX_MAX];
    char dur[32];
    uint64_t prev_suppressed;
    va_list ap;

    if (cause == 0) {
        cause = INT_MIN;
    }
    suffix[0] = '\0';
    if (l->cause == 0) {
        bool error = l->error;
        memset(l, 0, sizeof(*l));
        l->error = error;
        l->cause = cause;
        l->since = now;
        l->failures = 1;
        l->interval = LOG_LIMIT_FIRST_MS;
        l->next = now + l->interval;
    }
    else if (l->cause != cause) {
        prev_suppressed = l->suppressed;
        l->cause = cause;
        l->failures++;
        l->suppressed = 0;
        l->interval = LOG_LIMIT_FIRST_MS;
        l->next = now + l->interval;
        if (prev_suppressed > 0) {
            snprintf(suffix, sizeof(suffix),
                     " (cause changed; %" PRIu64 " more %s of the previous cause suppressed)",
                     prev_suppressed, prev_suppressed == 1 ? "failure" : "failures");
        }
    }
    else if (now < l->next) {
        l->failures++;
        l->suppressed++;
        log_suppressed++;
        return;
    }
    else {
        l->failures++;
        log_format_duration(dur, sizeof(dur), now - l->since);
        if (l->suppressed > 0) {
            snprintf(suffix, sizeof(suffix), " (failing for %s, %" PRIu64 " more %s suppressed)",
                     dur, l->suppressed, l->suppressed == 1 ? "failure" : "failures");
        }
        else {
            snprintf(suffix, sizeof(suffix), " (failing for %s)", dur);
        }
        l->suppressed = 0;
        l->interval = l->interval > 0 ? l->interval * 2 : LOG_LIMIT_FIRST_MS;
        if (l->interval > LOG_LIMIT_MAX_MS) {
            l->interval = LOG_LIMIT_MAX_MS;
        }
        l->next = now + l->interval;
    }
    enum log_level lvl = l->error ? LOG_LVL_ERR : LOG_LVL_WARN;
    if (log_current_level < lvl) {
        return;
    }
    errno = saved_errno;
    va_start(ap, fmt);
    log_complain_emit(lvl, prefix, suffix, fmt, ap);
    va_end(ap);
}

/*
 * Reports a success of the key @l at @now. If the key was failing, logs "<prefix>: recovered
 * after 5m (N failures)" at info, the time counted from the first failure of the streak, and
 * zeroes @l. On a healthy key it does nothing. Same context as log_complain(). errno is
 * preserved.
 */
void
log_release(struct log_limit *l, mono_ms now, const char *prefix)
{
    char dur[32];
    uint64_t failures = l->failures;
    mono_ms since = l->since;

    if (l->cause == 0) {
        return;
    }
    bool error = l->error;
    memset(l, 0, sizeof(*l));
    l->error = error;
    log_format_duration(dur, sizeof(dur), now - since);
    if (prefix != NULL && *prefix != '\0') {
        log_info("%s: recovered after %s (%" PRIu64 " %s)", prefix, dur, failures,
                 failures == 1 ? "failure" : "failures");
    }
    else {
        log_info("recovered after %s (%" PRIu64 " %s)", dur, failures,
                 failures == 1 ? "failure" : "failures");
    }
}
