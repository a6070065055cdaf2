/*
 * Streaming parser for the Prometheus text exposition format 0.0.4 and the OpenMetrics 1.0 text
 * format. The scrape's write callback feeds the body chunk by chunk, as it arrives, split anywhere
 * (mid-line, mid-escape, mid-UTF-8 sequence); every complete line is parsed straight out of the
 * chunk and only an unfinished last line is copied and kept until the next chunk. Samples go into
 * a struct batch: their names, label arrays and strings come from the batch's arena; the parser
 * itself allocates nothing per sample and keeps its buffers from one body to the next.
 *
 * What is accepted and rejected, and where pollster deliberately differs from Prometheus, is
 * documented at the top of prom_parse.c.
 */
#ifndef POLLSTER_PROM_PARSE_H
#define POLLSTER_PROM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

/* The longest line accepted, in bytes without its '\n'. Bounds the parser's memory. */
#define PROM_PARSE_LINE_MAX 1048576

enum prom_format {
    PROM_FORMAT_TEXT = 0,    /* Prometheus text format 0.0.4 */
    PROM_FORMAT_OPENMETRICS, /* OpenMetrics 1.0 (and 0.0.1) text format */
};

/*
 * The Accept header value Prometheus sends: OpenMetrics 1.0.0 preferred, then OpenMetrics 0.0.1,
 * then text 0.0.4, then anything.
 */
extern const char PROM_PARSE_ACCEPT[];

/*
 * The body format from a Content-Type header value (may be NULL): a media type of
 * application/openmetrics-text (any case, any parameters) gives PROM_FORMAT_OPENMETRICS,
 * anything else, including NULL and text/plain, PROM_FORMAT_TEXT (as Prometheus falls back).
 */
enum prom_format prom_parse_format_from_content_type(const char *ct);

/*
 * The format named by @name, as written on the command line and in the config: "prom" or "text"
 * for the Prometheus text format, "openmetrics" for OpenMetrics. Returns 0 and sets @out, or
 * -EINVAL for any other name (including NULL).
 */
int prom_parse_format_from_name(const char *name, enum prom_format *out);

/* "prom" or "openmetrics"; never NULL. */
const char *prom_parse_format_name(enum prom_format fmt);

struct prom_parser;

/*
 * Returns a new parser, or NULL when out of memory. It parses nothing until prom_parser_reset()
 * gives it a format and a batch. One parser per target, reused for every scrape, keeps the
 * steady state free of allocations.
 */
struct prom_parser *prom_parser_new(void);

/* Frees @p and every buffer it owns; accepts NULL. The batch it was filling is not touched. */
void prom_parser_free(struct prom_parser *p);

/*
 * Sets the longest line accepted, in bytes, for the bodies that follow (default and upper bound:
 * PROM_PARSE_LINE_MAX; 0 means the default). The tail buffer never grows past it.
 */
void prom_parser_set_line_max(struct prom_parser *p, size_t n);

/*
 * Starts a new body in format @fmt whose samples are appended to @out (borrowed: it must outlive
 * the parse and must not be cleared until prom_parser_finish(), because consecutive samples share
 * name and label strings in its arena; treat those strings and label arrays as read-only). Clears
 * a previous error and all per-body state; keeps buffers for reuse, shrinking any that a previous
 * body made unusually large.
 */
void prom_parser_reset(struct prom_parser *p, enum prom_format fmt, struct batch *out);
/*
 * Frees the line tail @p holds (at least 4 KiB once a body was split mid-line), between bodies:
 * a parser that waits for its next body holds only its struct and small buffers. The next body
 * starts with prom_parser_reset() as always.
 */
void prom_parser_idle(struct prom_parser *p);

/*
 * Feeds the next @len bytes of the body (any split). Complete lines are parsed at once and their
 * samples appended to the batch; an unfinished last line is kept for the next call.
 * Returns 0; -EINVAL on a syntax error or data after OpenMetrics' "# EOF" (prom_parser_error()
 * says which, and where); -E2BIG on a line longer than the line cap (prom_parser_set_line_max(),
 * "line N longer than X bytes": a limit, not a syntax error); -ENOMEM when a buffer, the
 * arena or the sample array could not grow. Samples of the lines before the failing one stay in
 * the batch. After a failure every further call is a no-op that returns the same error.
 * Calling context: anywhere, including libcurl's write callback; never blocks.
 */
int prom_parser_feed(struct prom_parser *p, const char *data, size_t len);

/*
 * Ends the body: parses a final line that has no '\n' and, in OpenMetrics, requires that the body
 * ended with "# EOF". Returns 0, -EINVAL, -E2BIG or -ENOMEM as prom_parser_feed(). Feeding after
 * finish is an error until the next prom_parser_reset().
 */
int prom_parser_finish(struct prom_parser *p);

/*
 * After a failure, "parse error at line N: <cause>" (or "out of memory while parsing line N");
 * "" when there was none. Valid UTF-8, at most BATCH_ERROR_MAX - 1 bytes. Borrowed: valid until
 * the next call on @p.
 */
const char *prom_parser_error(const struct prom_parser *p);

/*
 * A big body in windows (job_prom.c): the batch is handed on (or cleared) between feeds and the
 * parse goes on into another, or the body's rest is parsed again later from where a window ended.
 *
 * prom_parser_set_out() goes on appending to @out (empty): the parser forgets the samples of the
 * batch it filled, which may then be changed, cleared or handed on (call it before touching
 * them). In OpenMetrics a Metric seen before the cut is then compared by its LabelSet's 64-bit
 * hash (prom_parse_metric.c). 0, or the parse error it found (the last Metric is checked then).
 * The mark is the state a parse needs at the end of the complete lines fed so far (the current
 * family, the line number); prom_parser_mark() takes it and borrows the unfinished line the rest
 * starts with into *@tail, *@tail_len (valid until the next feed). prom_parser_resume() starts a
 * second pass over the body's rest at a mark, appending to @out: feed it the tail, then what
 * followed. The rules across lines are not checked again (the first pass did: without what came
 * before the mark, a MetricPoint across it would look broken). Both return 0 or -ENOMEM.
 */
struct prom_parse_mark {
    enum prom_format fmt;
    size_t lineno;
    bool have_cur;
    uint8_t cur_type;
    uint8_t cur_flags; /* OpenMetrics: its metadata so far */
    char *cur;         /* owned: the current family's name, cur_len bytes */
    size_t cur_len;
};

int prom_parser_set_out(struct prom_parser *p, struct batch *out);
int prom_parser_mark(const struct prom_parser *p, struct prom_parse_mark *m, const char **tail,
                     size_t *tail_len);
int prom_parser_resume(struct prom_parser *p, const struct prom_parse_mark *m, struct batch *out);
/* Frees what @m owns and empties it (accepts an empty mark). */
void prom_parse_mark_release(struct prom_parse_mark *m);

/* Bytes of memory the parser owns now (its buffers, not the batch): for self metrics, tests. */
size_t prom_parser_mem_size(const struct prom_parser *p);

#endif
