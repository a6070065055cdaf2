/*
 * Mock HTTP targets for the integration tests: an evhttp server on 127.0.0.1 with an ephemeral
 * port, serving well-behaved and hostile responses by path. It runs either on the test's own
 * event_base (in-process tests, same loop as the agent) or in a forked child (tests that run the
 * pollster binary), which stops by itself after a bounded time.
 *
 * Paths:
 *   /ok                 200 "hello\n"
 *   /lastmod            the same with Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT (1445412480)
 *   /simple             200 "# TYPE up_like gauge\nup_like 1\n" (a tiny exposition)
 *   /status/N           status N with a short body
 *   /hang               never answers
 *   /midbody            headers and 5 body bytes, then nothing
 *   /slow/MS            200 after MS milliseconds
 *   /big/N              200 with an N-byte body (Content-Length)
 *   /jsonmap/N          200 with the JSON document {"s":{"0":0,"1":1,...}} of N members
 *   /histograms/N       200 with N OpenMetrics histograms h{i="K"}: buckets le 1 (K) and +Inf,
 *                       _count (K + 1), _sum (K), "# EOF"
 *   /families/N         200 with N samples in families of 100: family F (from 0) is a counter
 *                       cF (HELP and TYPE lines), a gauge gF, or untyped uF (no lines), by F % 3;
 *                       sample K is NAME{a="x",i="K"} K. /families/N/bad/L: line L is cut;
 *                       /families/N/om: OpenMetrics (counter samples cF_total), with "# EOF"
 *   /series/N           200 with N series s{i="K"} K, K = 0..N-1 (Prometheus text);
 *                       /series/N/om: the same in OpenMetrics, with "# EOF";
 *                       /series/N/dup/K (/om/dup/K): series K once more at the end
 *   /bigchunked/N       200 with an N-byte chunked body (no Content-Length)
 *   /redirect/N         302 to /redirect/N-1; /redirect/0 redirects to /ok
 *   /gzip               200 chunked, Content-Encoding: gzip, body "compressed hello\n" x 100
 *   /text/S             200 with body S (URL-decoded), text/plain
 *   /om/S               200 with body S (URL-decoded), application/openmetrics-text
 *   /file/NAME          200 with the fixture file $FIXTURES/NAME
 *   /gzfile/NAME        the same, gzip-compressed and chunked (1000-byte chunks)
 *   /ftp-redirect       302 to ftp://127.0.0.1/
 *   /to/PORT/PATH       302 to http://127.0.0.1:PORT/PATH (another server: host+port differ)
 *
 * With mock_server_require_auth(), every path answers 401 unless the request's Authorization
 * header is exactly the required value.
 */
#ifndef POLLSTER_TESTS_MOCK_SERVER_H
#define POLLSTER_TESTS_MOCK_SERVER_H

#include <sys/types.h>

struct event_base;
struct mock_server;

struct mock_server *mock_server_new(struct event_base *base);
void mock_server_free(struct mock_server *m);
unsigned mock_server_port(const struct mock_server *m);
/* The headers of the last request, as "Name: value\n" lines. */
const char *mock_server_last_headers(const struct mock_server *m);
/* From now on every request without "Authorization: @value" gets 401 (NULL: no check). */
void mock_server_require_auth(struct mock_server *m, const char *value);
/* Requests served so far (all paths). */
unsigned mock_server_requests(const struct mock_server *m);

/* Forks a child serving the mock on its own loop for at most @max_seconds; returns its pid and
 * stores the port. -1 on failure. */
pid_t mock_server_spawn(unsigned *port, int max_seconds);
/* Stops a spawned child (SIGTERM, then waits). */
void mock_server_stop(pid_t pid);

/* A loopback port that nothing listens on (bound, then closed). */
unsigned mock_closed_port(void);

#endif
