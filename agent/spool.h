/*
 * The disk spool of one output: an append-only queue of records (encoded batches) in segment
 * files under one directory, read oldest first, deleted segment by segment once the sink has
 * acknowledged every record in them. It is what makes delivery at-least-once across sink
 * outages, restarts and kill -9.
 *
 * On disk (little-endian):
 *   DIR/lock                  flock()ed while open: one process per spool
 *   DIR/ack                   "SEGMENT_ID OFFSET\n": the first unacknowledged record (rewritten
 *                             in place on every ack; missing or unreadable = the oldest record)
 *   DIR/%016llx.seg           segments, ids increasing; each a sequence of records:
 *       u32 magic 0x52534c50 ("PLSR")
 *       u32 len               payload bytes
 *       u32 nsamples          samples the payload holds (for the books)
 *       u32 crc               zlib crc32 over the nsamples field (4 bytes) and the payload
 *       len bytes payload
 *
 * A record is written with one write() (writev), so kill -9 can tear at most the last record of
 * the last segment. On open every segment is scanned and every record's CRC checked. A bad
 * record (wrong magic, truncated, CRC mismatch) does not end its segment: the scan resynchronises
 * on the next offset where a whole record starts (the magic, a length that fits the file, a
 * matching CRC), and the bytes in between are a hole, skipped by the reader and counted in
 * corrupt_bytes; only a torn or damaged tail loses the rest of a segment. A record that goes bad
 * after open is found by the reader, which resynchronises the same way.
 *
 * Samples lost to corruption (corrupt_samples), as exactly as the data allows:
 *   - found by the reader: exact. The index counted the segment's records and samples when they
 *     were appended or scanned; when the reader reaches the segment's end, what it did not get
 *     is what the holes held. Until then those samples stay pending.
 *   - found at open: a hole's records are walked by their headers from its start: each header
 *     with the magic and a length that fits the hole (or is cut off by the end of the file)
 *     counts one record and the samples it states (the CRC that failed also covers that count:
 *     an estimate). Bytes no header describes count as one record of 0 samples (unknowable).
 * Holes before the acknowledged position are not counted again at a later open.
 *
 * Acknowledgement across holes: DIR/ack still holds one offset, the first unacknowledged
 * record's. Holes are not written down anywhere: the scan is deterministic, so every open finds
 * the same holes and the same record boundaries after them, and the acknowledged offset is one
 * of those boundaries (when the records before a hole are acknowledged the offset moves past the
 * hole, to the record the resync found). Appends always go to a new segment after open, never
 * after a torn tail.
 *
 * Records get sequence numbers in memory only (from 0 at open, in order): the reader hands
 * them out, the output acks by sequence number after the sink accepted them.
 *
 * Bound: when an append would take the spool over max_bytes, whole segments are deleted oldest
 * first (never the one being appended to) until it fits; their unread and unacknowledged samples
 * are added to the caller's dropped count and logged (rate limited: one line per episode, then
 * summaries). Records of a deleted segment that are in flight (read, not acked) are counted once:
 * they stay pending; a later ack covering them counts them as acknowledged (the sink has them),
 * a rewind adds them to its dropped count (they cannot be read again).
 *
 * Not thread-safe; used from the loop thread. Calls block on disk I/O (local files only).
 */
#ifndef POLLSTER_SPOOL_H
#define POLLSTER_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define SPOOL_HEADER_BYTES 16u

enum spool_fsync {
    SPOOL_FSYNC_NEVER = 0, /* leave it to the kernel: survives kill -9, not power loss */
    SPOOL_FSYNC_BATCH,     /* fdatasync after every append (and the ack file after every ack) */
    SPOOL_FSYNC_INTERVAL,  /* only when the owner calls spool_sync() (its flush timer) */
};

struct spool_stats {
    uint64_t bytes;           /* on disk now: all segment files (headers included) */
    uint64_t records;         /* unacknowledged records (read or not) */
    uint64_t samples;         /* their samples */
    uint64_t unread_bytes;    /* payload bytes of the records not read yet */
    uint64_t segments;        /* segment files */
    uint64_t corrupt_bytes;   /* skipped as corrupt since open (not in bytes) */
    uint64_t corrupt_records; /* records lost to corruption since open (see above) */
    uint64_t corrupt_samples; /* their samples (see above): those found at open were never in
                                 samples; those found later were, until found */
};

struct spool;

/*
 * Opens the spool in @dir (created with mode 0750 if missing, parents not), locks it and scans
 * it. @max_bytes > 0 bounds the segment files' total size; segments are rotated at
 * clamp(max_bytes / 8, 4 KiB, 64 MiB) bytes (a single larger record gets a segment of its own).
 * @what names the spool in log lines (e.g. "outputs[0]"). NULL with a message in @err when the
 * directory cannot be created, opened or locked ("spool DIR is locked by another process").
 */
struct spool *spool_open(const char *dir, uint64_t max_bytes, enum spool_fsync policy,
                         const char *what, char *err, size_t errlen);

/* Syncs (whatever the policy), closes and frees. Files stay. Accepts NULL. */
void spool_close(struct spool *s);

/*
 * Appends a record of @len bytes holding @nsamples samples. Makes room first (see the bound
 * above), adding the samples of deleted records to *@dropped_samples. Returns 0, or a negative
 * errno when the write failed (logged with the cause: ENOSPC, EIO, ...); then nothing was
 * appended and the caller still owns the data. A record larger than max_bytes is refused with
 * -EFBIG.
 */
int spool_append(struct spool *s, const void *data, size_t len, uint32_t nsamples,
                 uint64_t *dropped_samples);

/*
 * Reads the next unread record: appends its payload to @out and sets *@nsamples and *@seq.
 * Returns 1, 0 when every record has been read, or a negative errno on a read error (logged).
 */
int spool_read(struct spool *s, struct strbuf *out, uint32_t *nsamples, uint64_t *seq);

/*
 * Makes the oldest unacknowledged record the next one read (after a failed send). Records read
 * from a segment deleted since (the bound) cannot be read again: their samples are added to
 * *@dropped_samples (may be NULL).
 */
void spool_rewind(struct spool *s, uint64_t *dropped_samples);

/*
 * Acknowledges every record with sequence number <= @seq: deletes segments all of whose records
 * are now acknowledged, records the position in DIR/ack, and adds the samples newly acknowledged
 * (not those dropped earlier) to *@acked_samples. Returns 0 or a negative errno (logged).
 */
int spool_ack(struct spool *s, uint64_t seq, uint64_t *acked_samples);

/* True when no unacknowledged record is left. */
bool spool_empty(const struct spool *s);
/* True when every unacknowledged record has been read (nothing more for spool_read now). */
bool spool_all_read(const struct spool *s);

/* fdatasync()s the segment being appended to and the ack file. 0 or a negative errno. */
int spool_sync(struct spool *s);

void spool_stats(const struct spool *s, struct spool_stats *st);

#endif
