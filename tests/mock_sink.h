/*
 * A mock metrics sink for the http output's tests: an evhttp server on 127.0.0.1 (ephemeral
 * port) on the test's own event_base, taking POSTs, decompressing gzip bodies and keeping them
 * in order. Its answers follow a script (one entry per request, then 200): a status with an
 * optional Retry-After and body, a delay, or a connection reset. A sink can also be stopped and
 * started again on the same port (an outage).
 */
#ifndef POLLSTER_TESTS_MOCK_SINK_H
#define POLLSTER_TESTS_MOCK_SINK_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct mock_sink;

struct mock_sink_answer {
    int status;       /* 0 = 200 */
    int retry_after;  /* seconds; 0 = no header */
    int delay_ms;     /* answer after this long */
    bool reset;       /* close the connection without answering */
    const char *body; /* answer body; NULL = "" */
};

struct mock_sink *mock_sink_new(struct event_base *base);
void mock_sink_free(struct mock_sink *m);
unsigned mock_sink_port(const struct mock_sink *m);
/* Appends to the script. */
void mock_sink_script(struct mock_sink *m, struct mock_sink_answer a);
/* Stops listening (connections refused) / listens again on the same port. */
void mock_sink_stop(struct mock_sink *m);
int mock_sink_start(struct mock_sink *m);

/* Requests received (answered or not), and bodies of requests answered 2xx, in order. */
size_t mock_sink_requests(const struct mock_sink *m);
size_t mock_sink_accepted(const struct mock_sink *m);
/* The decompressed body of accepted request @i (NUL-terminated), its length in @len. */
const char *mock_sink_body(const struct mock_sink *m, size_t i, size_t *len);
/* Every accepted body concatenated, NUL-terminated (freed with the sink). */
const char *mock_sink_all(struct mock_sink *m);
/* Milliseconds (monotonic) at which request @i arrived. */
double mock_sink_arrival_ms(const struct mock_sink *m, size_t i);
/* The Content-Type / Content-Encoding of the last request ("" if absent). */
const char *mock_sink_content_type(const struct mock_sink *m);
const char *mock_sink_content_encoding(const struct mock_sink *m);
/* Every header of the last request as "Name: value\n" lines. */
const char *mock_sink_headers(const struct mock_sink *m);

#endif
