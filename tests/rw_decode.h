/*
 * Test helper: decodes remote write bodies with protobuf-c code generated from
 * tests/remote_write.proto, and renders a decoded series as one comparable text line.
 */
#ifndef POLLSTER_TESTS_RW_DECODE_H
#define POLLSTER_TESTS_RW_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "remote_write.pb-c.h"

/* Unpacks a WriteRequest from @len bytes (uncompressed; @snappy: snappy block first). */
Prometheus__WriteRequest *rw_decode(const char *data, size_t len, bool snappy);
void rw_decode_free(Prometheus__WriteRequest *w);
/* Appends `{a="b", c="d"}` of @ts's labels to @buf (@cap bytes, NUL-terminated). */
void rw_decode_labels(const Prometheus__TimeSeries *ts, char *buf, size_t cap);

#endif
