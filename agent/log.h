/*
 * Logging: levels, one line per event to stderr (journald <N> priority prefixes when
 * JOURNAL_STREAM is set, plain "ts level msg" otherwise) or syslog, and per-key rate limiting of
 * repeated failures ("failing for 5m, 20 more failures suppressed", then one "recovered" line).
 */
#ifndef POLLSTER_LOG_H
#define POLLSTER_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

enum log_target { LOG_TARGET_STDERR = 0, LOG_TARGET_SYSLOG };

/*
 * The shape of a line on stderr: text ("2026-11-27T07:30:01.123Z info msg"), logfmt
 * ("ts=2026-11-27T07:30:01.123Z level=info msg=\"...\"") or json
 * ({"ts":"2026-11-27T07:30:01.123Z","level":"info","msg":"..."}). The journal stream gets the
 * same without ts (journald stamps lines); syslog and the test sink get the message alone.
 */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

extern enum log_level log_current_level;

void log_set_level(enum log_level lvl);
/* "error"|"warn"|"info"|"debug" (also "err", "warning"). Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_target(enum log_target t);
void log_set_format(enum log_format f);
/* True when lines go to stderr (not syslog, not a test sink). */
bool log_is_stderr(void);
/* "text"|"logfmt"|"json". Returns 0 or -EINVAL (then @out is unchanged; it may be NULL). */
int log_format_parse(const char *s, enum log_format *out);
/* Lines suppressed by rate limiting since start (self metric). */
uint64_t log_suppressed_total(void);

void log_write(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Test seam: a sink receives every line instead of stderr or syslog. @line is the message only
 * (no timestamp, level word or "<N>" prefix, no '\n'), after newline replacement and truncation;
 * it is valid during the call only.
 */
typedef void log_sink_fn(enum log_level lvl, const char *line, void *arg);
/* Installs @fn with @arg (tests); NULL restores normal output. */
void log_set_sink(log_sink_fn *fn, void *arg);

/* Arguments are not evaluated below the current level. */
#define log_err(...)                                                                               \
    do {                                                                                           \
        if (log_current_level >= LOG_LVL_ERR)                                                      \
            log_write(LOG_LVL_ERR, __VA_ARGS__);                                                   \
    } while (0)
#define log_warn(...)                                                                              \
    do {                                                                                           \
        if (log_current_level >= LOG_LVL_WARN)                                                     \
            log_write(LOG_LVL_WARN, __VA_ARGS__);                                                  \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_current_level >= LOG_LVL_INFO)                                                     \
            log_write(LOG_LVL_INFO, __VA_ARGS__);                                                  \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_current_level >= LOG_LVL_DEBUG)                                                    \
            log_write(LOG_LVL_DEBUG, __VA_ARGS__);                                                 \
    } while (0)

/*
 * Rate limiter for one key (a target). Embedded in the target, zero-initialised = healthy.
 * The first failure of a cause is logged at once; repeats of the same cause are logged at
 * growing intervals (1 min, doubling, at most 1 h) as one summary line; a change of cause is
 * logged at once; the first success after failures logs one "recovered" line.
 */
struct log_limit {
    int cause;           /* the failing cause (e.g. enum reason); 0 = healthy */
    mono_ms since;       /* first failure of this streak */
    mono_ms next;        /* earliest time the next summary may be logged */
    mono_ms interval;    /* current summary interval */
    uint64_t failures;   /* failures in this streak */
    uint64_t suppressed; /* failures not logged since the last line */
    bool error; /* set by the owner: lines at error level, not warn (kept across streaks) */
};

/*
 * Reports a failure with @cause (non-zero) at @now; logs @fmt at warn level (error with
 * l->error) when the limiter allows it, otherwise counts it as suppressed. @prefix names the key
 * ("job/instance").
 */
void log_complain(struct log_limit *l, mono_ms now, int cause, const char *prefix, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
/* Reports a success; logs "recovered" once if the key was failing. */
void log_release(struct log_limit *l, mono_ms now, const char *prefix);

#endif
