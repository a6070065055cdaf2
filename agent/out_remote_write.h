/*
 * The remote_write output: Prometheus remote write 1.0 to Prometheus, Mimir, Thanos, Cortex,
 * VictoriaMetrics. It is the http output (out_http.h: memory queue, spool, drain, retries,
 * books, self metrics) with a different body and request: each batch is encoded here as
 * WriteRequest timeseries (enc_remote_write.h) after the output's write_relabel_configs and
 * snappy-compressed at once (the queue, the spool and queue_max_bytes count compressed
 * bytes); a request body is those blocks joined into one (block format), sent with
 * Content-Encoding: snappy,
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
 * A batch's record as the output queues it (and spools it): @len bytes of timeseries entries
 * at @rec snappy-compressed once, when the batch is encoded, so the queue and the spool hold
 * compressed bytes and a request is made by joining blocks, not by compressing the whole body
 * again. Appends to @out a framed block: a 0x00 byte (a bare record starts with 0x0a), the
 * block's length (4 bytes, little-endian), the snappy block. Returns 0, -ENOMEM or -EIO.
 */
int out_remote_write_pack(struct strbuf *out, const char *rec, size_t len);

/*
 * The request body for @len bytes of queued records at @in, into @out (reset first): one snappy
 * block, the total length, then every framed block's elements in order (a snappy copy never
 * reaches before its own block's start, so joined blocks decode to the joined records). Bare
 * records (left in a spool by an earlier version, or written with write()) are compressed
 * here. Returns 0, -ENOMEM, -EIO (a framed record cut short or not snappy) or -E2BIG (over
 * 4 GiB uncompressed). (out_http's compress hook.)
 */
int out_remote_write_snappy(struct strbuf *out, const char *in, size_t len);

#endif
