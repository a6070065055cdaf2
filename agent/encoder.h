/*
 * The encoder interface: one const table entry per output format (DESIGN.md, "Modules"). An
 * output looks its format up with encoder_find() and calls encode() for every batch; it never
 * knows which format it writes. A new format is one enc_<format>.c defining one
 * `const struct encoder` with designated initializers, plus one row in encoders.c.
 *
 * encode() writes one *record*: the part of a document one batch contributes. A *document* is
 * what one HTTP request carries, or what one line of stdout/file output holds:
 *
 *     doc_open  record1  doc_sep  record2  ...  doc_close
 *
 * For line formats (json, vm) a record is whole lines and the three strings are "". For otlp a
 * record is one resourceMetrics element and the document an ExportMetricsServiceRequest; for
 * telegraf a record is comma-separated metric objects and the document {"metrics":[...]}. An
 * empty record (0 bytes) contributes nothing, not even its separator. doc_close ends in '\n' so
 * a document of one record is one line on stdout or in a file.
 */
#ifndef POLLSTER_ENCODER_H
#define POLLSTER_ENCODER_H

#include "sample.h"
#include "strbuf.h"

struct encoder {
    const char *name;         /* the config's `format:` value, e.g. "json"; static storage */
    const char *content_type; /* of a document, for HTTP */
    const char *doc_open;     /* never NULL */
    const char *doc_sep;      /* never NULL */
    const char *doc_close;    /* never NULL */
    /*
     * Appends the record of @b to @sb (the batch is only read). Returns 0, or -ENOMEM when @sb
     * ran out of memory; @sb then holds what it held before the call, with its oom flag set.
     * Called on the loop thread; must not block.
     */
    int (*encode)(struct strbuf *sb, const struct batch *b);
    /*
     * Optional, for a binary format: the record as readable text, which outputs that print
     * documents (stdout, file) write instead (`--once --format remote_write`). Same contract as
     * encode(). NULL: they write encode()'s record.
     */
    int (*encode_text)(struct strbuf *sb, const struct batch *b);
};

/* The encoder whose name is @name ("json", "vm", "otlp", "telegraf"), or NULL. */
const struct encoder *encoder_find(const char *name);
/* Appends "json, vm, otlp, telegraf" (every encoder's name) to @sb, for messages. */
void encoder_names(struct strbuf *sb);

/* Appends a document holding the one record @rec (@len bytes) to @sb. */
void encoder_document(const struct encoder *enc, struct strbuf *sb, const char *rec, size_t len);

#endif
