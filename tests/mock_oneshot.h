/*
 * A loopback HTTP/1.1 server whose kept connections die as they are reused: it answers the first
 * request of each connection (200, keep-alive, body "x 1\n") and closes the connection, without a
 * byte, when a second request arrives on it. libcurl retries such a request on a new connection,
 * and counts the retry in the easy handle. Request bodies (Content-Length) are read and dropped.
 */
#ifndef POLLSTER_TESTS_MOCK_ONESHOT_H
#define POLLSTER_TESTS_MOCK_ONESHOT_H

struct event_base;
struct mock_oneshot;

/* Listening on 127.0.0.1, an ephemeral port, on @base; NULL on failure. */
struct mock_oneshot *mock_oneshot_new(struct event_base *base);
void mock_oneshot_free(struct mock_oneshot *m);
unsigned mock_oneshot_port(const struct mock_oneshot *m);
/* Connections accepted, requests answered. */
unsigned mock_oneshot_accepted(const struct mock_oneshot *m);
unsigned mock_oneshot_answered(const struct mock_oneshot *m);

#endif
