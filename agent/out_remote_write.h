/*
 * The remote_write output: Prometheus remote write 1.0 to Prometheus, Mimir, Thanos, Cortex,
 * VictoriaMetrics. It is the http output (out_http.h: memory queue, spool, drain, retries,
 * books, self metrics) with a different body and request: each batch is encoded here as
 * WriteRequest timeseries (enc_remote_write.h) after the output's write_relabel_configs, a
 * request body is snappy-compressed (block format) and sent with Content-Encoding: snappy,
 * Content-Type: application/x-protobuf and X-Prometheus-Remote-Write-Version: 0.1.0. It sends
 * staleness markers (stale.h).
 *
 * Its section takes Prometheus' remote_write keys (url, name, remote_timeout, headers, the auth
 * and TLS sections, write_relabel_configs, queue_config, metadata_config) plus pollster's
 * queue_max_bytes, spool_dir, spool_max_bytes and fsync; a prometheus.yml's top-level
 * `remote_write:` list becomes outputs of this type (config.c). queue_config maps onto the http
 * output: max_samples_per_send bounds a request (a batch is never split, so a request holds at
 * least one), batch_send_deadline is the flush interval, min_backoff and max_backoff the retry
 * backoff, retry_on_http_429 false makes 429 a refusal, max_shards (at most 8) is the number of
 * senders: http outputs with a queue, a spool (spool_dir/shard-N) and a connection each, one
 * request in flight each. A target's batches always go to the same sender (a hash of job and
 * URL), so every series stays in order while several requests are in flight. Spools left
 * by a run with more shards are drained, never written to. The output's books are the sum of
 * its senders'.
 */
#ifndef POLLSTER_OUT_REMOTE_WRITE_H
#define POLLSTER_OUT_REMOTE_WRITE_H

#include "outputs.h"

/* The remote_write output's row in the outputs registry. */
extern const struct output_type out_remote_write_type;

/*
 * Snappy block compression of @len bytes at @in into @out (reset first). 0, -ENOMEM, or -EIO.
 * (out_http's compress hook.)
 */
int out_remote_write_snappy(struct strbuf *out, const char *in, size_t len);

#endif
