/* Test helper: remote write bodies decoded with protobuf-c (see rw_decode.h). */
#include "build-config.h"

#include "rw_decode.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Prometheus__WriteRequest *
rw_decode(const char *data, size_t len, bool snappy)
{
    Prometheus__WriteRequest *w;
    size_t n = 0;

    if (!snappy) {
        return prometheus__write_request__unpack(NULL, len, (const uint8_t *)data);
    }
    if (snappy_uncompressed_length(data, len, &n) != SNAPPY_OK) {
        return NULL;
    }
    char *raw = malloc(n + 1);
    if (raw == NULL || snappy_uncompress(data, len, raw, &n) != SNAPPY_OK) {
        free(raw);
        return NULL;
    }
    w = prometheus__write_request__unpack(NULL, n, (const uint8_t *)raw);
    free(raw);
    return w;
}

void
rw_decode_free(Prometheus__WriteRequest *w)
{
    if (w != NULL) {
        prometheus__write_request__free_unpacked(w, NULL);
    }
}

void
rw_decode_labels(const Prometheus__TimeSeries *ts, char *buf, size_t cap)
{
    size_t off = 0;

    buf[0] = '\0';
    off += (size_t)snprintf(buf + off, cap - off, "{");
    for (size_t i = 0; i < ts->n_labels && off < cap; i++) {
        off += (size_t)snprintf(buf + off, cap - off, "%s%s=\"%s\"", i > 0 ? ", " : "",
                                ts->labels[i]->name, ts->labels[i]->value);
    }
    if (off < cap) {
        snprintf(buf + off, cap - off, "}");
    }
}
