/*
 * The nats output: each batch, encoded in the output's format (json by default) as one document,
 * is published as one message to a NATS JetStream stream, on the subject the `subject` template
 * gives its job ("pollster.{job}"). A batch counts as delivered only when JetStream acknowledged
 * it (a publish acknowledgement, handled asynchronously: the loop never waits).
 *
 * It is the http output's machinery (out_http.h: memory queue, disk spool, drain, retries with
 * backoff, books, self metrics with type="nats") with NATS as the transport: one message in
 * flight at a time, oldest first. Every message carries a Nats-Msg-Id that is a 128-bit digest of
 * its subject and bytes, the same on every retry and after a restart from the spool, so a publish
 * that JetStream stored but whose acknowledgement was lost is deduplicated by the stream (within
 * its duplicate_window) when it is sent again.
 *
 * The connection (libnats, url: one server or a cluster's list) runs on the loop through
 * libnats' libevent adapter; libnats calls back from its own threads (acknowledgements,
 * reconnects), which only record what happened and wake the loop through an eventfd. The stream
 * is looked up, and created when missing (create_stream: its subjects from the template, file
 * storage, `replicas`, `duplicate_window`), by a helper thread, since libnats' JetStream API
 * calls wait for their answer; until that succeeds every publish counts as a failed request
 * (retried; batches go to the spool when there is one).
 */
#ifndef POLLSTER_OUT_NATS_H
#define POLLSTER_OUT_NATS_H

#include "outputs.h"

/* Headers of every message: its batch's sample count, and its format (json, vm, ...). */
#define OUT_NATS_HDR_SAMPLES "Pollster-Samples"
#define OUT_NATS_HDR_FORMAT "Pollster-Format"

/* The nats output's row in the outputs registry. */
extern const struct output_type out_nats_type;

/*
 * The subject of a batch of job @job under the template @tpl: each "{job}" replaced by the job
 * name, with the characters a subject token cannot hold ('.', '*', '>', white space) as '_'.
 * Caller frees; NULL when out of memory.
 */
char *out_nats_subject_dup(const char *tpl, const char *job);

#endif
