/*
 * The disk spool (spool.h): segment files of CRC-checked records under one locked directory, an
 * in-memory index of those segments (sizes, record and sample counts, acknowledged prefix, first
 * sequence number) so that stats, acks and drop-oldest never rescan a file, and a queue of the
 * records handed out but not yet acknowledged so that an ack knows where each of them ends.
 *
 * Invariants kept by every function:
 *   - segs[] is sorted by id; only the newest segment can be the one appended to (wfd >= 0).
 *   - A segment's records are consecutive sequence numbers; a segment's first unacknowledged
 *     record (at ack_off) has sequence number first_seq.
 *   - The reader is never behind the acknowledged position: acks only cover records read.
 *   - A segment without unacknowledged records is deleted (reap()), except when unlink() fails:
 *     then it stays listed, counted as acknowledged, and is retried at the next ack.
 *   - A segment's holes (bad regions with a whole record after them) lie in [0, valid), never
 *     overlap, and are skipped by the reader wherever it meets them; records, samples and valid
 *     never include them. A bad region at a segment's end is no hole: valid ends before it.
 *   - Records lost in a hole the reader found stay in records/samples until the reader passes
 *     the segment's end (read_end()), which is why such a segment is sealed for appends.
 *   - In-flight records whose segment was deleted (orphans) are in no segment; they stay in
 *     stats.records/samples until acked or rewound.
 *
 * Decisions the header leaves open:
 *   - The ack file holds the segment id as the 16 hex digits of its file name and the offset in
 *     decimal. Only its first line counts, so a crash between pwrite() and ftruncate() is harmless.
 *   - Rotation happens before an append when the record would take a non-empty segment past the
 *     segment size (or past max_bytes), so a segment exceeds the segment size only when it holds
 *     a single larger record.
 *   - "A record larger than max_bytes" counts its 16-byte header.
 *   - stats.bytes is the segment files' size minus the corrupt tails found (corrupt_bytes); the
 *     bound is kept on the real file sizes, so the disk use never exceeds max_bytes through new
 *     appends. Data over the bound at open (max_bytes lowered) is dropped by the next append.
 *   - A record that fails its check when read (it went bad on disk after open) is resynced past
 *     like a bad record found at open; its samples were in the books, so the exact count lost
 *     goes to stats.corrupt_samples at the segment's end.
 *   - Resync candidates are the bytes "PLSR"; each is checked whole (CRC), so a false magic in a
 *     payload costs a CRC pass, never a wrong record.
 *   - Acks only cover records handed out by spool_read(); a higher @seq acknowledges up to the
 *     last record read.
 */
#include "build-config.h"

#include "spool.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "log.h"

#define SPOOL_MAGIC 0x52534c50u
#define SPOOL_SEG_MIN ((uint64_t)4 << 10)
#define SPOOL_SEG_MAX ((uint64_t)64 << 20)
/* Chunk size for checking payloads at open: big records are never loaded whole. */
#define SPOOL_SCAN_CHUNK (64u << 10)
#define SPOOL_SEG_NAME_LEN 20 /* 16 hex digits + ".seg" */
#define SPOOL_ACK_MAX 64

/* A bad region skipped inside a segment: a valid record starts at off + len. */
struct spool_hole {
    uint64_t off, len;
    uint64_t lost_records, lost_samples; /* found at open: what its headers tell (scan only) */
};

struct spool_seg {
    uint64_t id;
    uint64_t size;            /* bytes in the file */
    uint64_t valid;           /* end of the last good record: records live in [0, valid) */
    uint64_t corrupt;         /* bytes after valid found bad (in corrupt_bytes, not in bytes) */
    uint64_t records;         /* records in [0, valid), acknowledged ones included */
    uint64_t samples;         /* their samples */
    uint64_t ack_off;         /* start of the first unacknowledged record (valid if none) */
    uint64_t ack_records;     /* records before ack_off */
    uint64_t ack_samples;     /* their samples */
    uint64_t first_seq;       /* sequence number of the record at ack_off */
    bool written;             /* created by this process: every record in it came from our writev */
    struct spool_hole *holes; /* owned: bad regions inside [0, valid), sorted by offset */
    size_t nholes;
};

/* A record handed out by spool_read() and not acknowledged yet. */
struct spool_inflight {
    uint64_t seq;
    uint64_t seg_id;
    uint64_t end; /* offset just past the record in its segment */
    uint32_t nsamples;
    bool orphan; /* its segment was deleted for room while the record was in flight */
};

struct spool {
    char *dir;  /* owned */
    char *what; /* owned */
    uint64_t max_bytes;
    uint64_t seg_size;
    enum spool_fsync policy;
    int dfd;    /* the directory: every file is opened relative to it */
    int lockfd; /* flock()ed while open */
    int ackfd;
    int wfd; /* the newest segment, appended to; -1 when sealed or none */
    int rfd; /* segs[read_idx] once the reader entered it; -1 otherwise */

    struct spool_seg *segs; /* owned, sorted by id */
    size_t nsegs, segcap;
    uint64_t next_id;    /* id of the next segment created */
    uint64_t append_seq; /* sequence number of the next record appended */

    /* The reader. read_idx == nsegs means past the end (waiting for a new segment). */
    size_t read_idx;
    bool read_fresh; /* not entered segs[read_idx] yet: it starts at that segment's ack_off */
    uint64_t read_off;
    uint64_t read_records; /* records of segs[read_idx] before read_off */
    uint64_t read_samples; /* their samples */
    uint64_t read_seq;     /* sequence number of the record at read_off */

    struct spool_inflight *fl; /* owned: read, not acked, oldest first from fl_head */
    size_t fl_head, fl_len, fl_cap;

    uint64_t corrupt_bytes;
    uint64_t corrupt_records;
    uint64_t corrupt_samples;
    uint64_t orphan_records; /* in-flight records whose segment is gone (still pending) */
    uint64_t orphan_samples;

    /* Repeated failures are logged once, then summarised (log.h): not a line per batch. */
    struct log_limit append_limit; /* writes that fail (a full disk) */
    struct log_limit room_limit;   /* segments deleted to stay within max_bytes */
    char prefix[64];               /* "spool: <what>", the key of both */
    /* What room_limit's episode (from its first deletion until acks bring the spool under half
     * its bound) deleted, for its lines. */
    uint64_t room_segs, room_records, room_samples;
};

static void
put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t
get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The record CRC: over the nsamples field as stored, then the payload. */
static uint32_t
record_crc(const unsigned char *nsamples_le, const void *data, size_t len)
{
    uLong crc = crc32(crc32(0L, Z_NULL, 0), nsamples_le, 4);

    /* crc32() returns 0 for a NULL buffer whatever the running value: skip empty payloads. */
    if (len > 0) {
        crc = crc32(crc, data, (uInt)len);
    }
    return (uint32_t)crc;
}

static void
seg_name(char *buf, size_t size, uint64_t id)
{
    snprintf(buf, size, "%016" PRIx64 ".seg", id);
}

/* True for exactly 16 lowercase hex digits + ".seg" (the names seg_name() makes). */
#define SPOOL_ID_MAX (UINT64_C(1) << 63)

static bool
seg_name_parse(const char *name, uint64_t *id)
{
    if (strlen(name) != SPOOL_SEG_NAME_LEN || strcmp(name + 16, ".seg") != 0) {
        return false;
    }
    for (int i = 0; i < 16; i++) {
        if (!isdigit((unsigned char)name[i]) && !(name[i] >= 'a' && name[i] <= 'f')) {
            return false;
        }
    }
    *id = strtoull(name, NULL, 16);
    /* Ids grow by one per segment from 1: 2^63 and beyond can only be damage, and would wrap. */
    return *id < SPOOL_ID_MAX;
}

/* Errors worth waiting out (the caller retries later); others mean the record is lost. */
static bool
transient(int rc)
{
    return rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE || rc == -EAGAIN;
}

/* pread() of exactly @len bytes, retrying short reads. Returns 0, -errno, or -ENODATA at EOF. */
static int
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return -ENODATA;
        }
        done += (size_t)n;
    }
    return 0;
}

static int
pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        done += (size_t)n;
    }
    return 0;
}

static uint64_t
disk_bytes(const struct spool *s)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < s->nsegs; i++) {
        sum += s->segs[i].size;
    }
    return sum;
}

static bool
is_write_seg(const struct spool *s, size_t i)
{
    return s->wfd >= 0 && i + 1 == s->nsegs;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/*
 * Closes the segment being appended to: later syncs only reach the next one, so unless the
 * policy is never, what it holds goes to the disk now (spool_sync() would miss it later).
 */
static void
seal_write_seg(struct spool *s)
{
    if (s->wfd >= 0 && s->policy != SPOOL_FSYNC_NEVER && fdatasync(s->wfd) != 0) {
        log_err("spool: %s: fdatasync() of a full segment in %s failed: %s", s->what, s->dir,
                strerror(errno));
    }
    close_fd(&s->wfd);
}

static struct spool_seg *
seg_push(struct spool *s)
{
    if (s->nsegs == s->segcap) {
        size_t cap = s->segcap == 0 ? 16 : s->segcap * 2;
        struct spool_seg *n = realloc(s->segs, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        s->segs = n;
        s->segcap = cap;
    }
    struct spool_seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof(*g));
    return g;
}

/* Forgets segs[i] (the file is already gone), keeping the reader and writer consistent. */
static void
seg_forget(struct spool *s, size_t i)
{
    if (is_write_seg(s, i)) {
        close_fd(&s->wfd);
    }
    if (i == s->read_idx) {
        close_fd(&s->rfd);
        /* The reader continues at the start of the next segment, which moves into slot i. */
        s->read_fresh = true;
    }
    else if (i < s->read_idx) {
        s->read_idx--;
    }
    free(s->segs[i].holes);
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof(s->segs[0]));
    s->nsegs--;
}

/* Unlinks segs[i]'s file. 0 or -errno (logged). */
static int
seg_unlink(struct spool *s, size_t i)
{
    char name[SPOOL_SEG_NAME_LEN + 1];

    seg_name(name, sizeof(name), s->segs[i].id);
    if (unlinkat(s->dfd, name, 0) != 0 && errno != ENOENT) {
        int err = errno;
        log_err("spool: %s: unlink(%s/%s) failed: %s", s->what, s->dir, name, strerror(err));
        return -err;
    }
    return 0;
}

/* Deletes every segment without unacknowledged records (the one appended to included). */
static void
reap(struct spool *s)
{
    size_t i = 0;

    while (i < s->nsegs) {
        struct spool_seg *g = &s->segs[i];
        if (g->ack_records < g->records || seg_unlink(s, i) != 0) {
            i++;
            continue;
        }
        char name[SPOOL_SEG_NAME_LEN + 1];
        seg_name(name, sizeof(name), g->id);
        log_debug("spool: %s: %s/%s: every record acknowledged, deleted", s->what, s->dir, name);
        seg_forget(s, i);
    }
}

/* The position of the first unacknowledged record, present or future. */
static void
ack_position(const struct spool *s, uint64_t *id, uint64_t *off)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct spool_seg *g = &s->segs[i];
        if (g->ack_records < g->records) {
            *id = g->id;
            *off = g->ack_off;
            return;
        }
    }
    /* Everything is acknowledged: the next record goes to the end of the segment appended to,
     * or to the start of the next one created. */
    if (s->wfd >= 0) {
        *id = s->segs[s->nsegs - 1].id;
        *off = s->segs[s->nsegs - 1].valid;
        return;
    }
    *id = s->next_id;
    *off = 0;
}

static int
ack_write(struct spool *s)
{
    char buf[SPOOL_ACK_MAX];
    uint64_t id, off;
    int rc;

    ack_position(s, &id, &off);
    int n = snprintf(buf, sizeof(buf), "%016" PRIx64 " %" PRIu64 "\n", id, off);
    rc = pwrite_full(s->ackfd, buf, (size_t)n, 0);
    if (rc != 0) {
        log_err("spool: %s: pwrite(%s/ack) failed: %s", s->what, s->dir, strerror(-rc));
        return rc;
    }
    if (ftruncate(s->ackfd, n) != 0) {
        rc = -errno;
        log_err("spool: %s: ftruncate(%s/ack) failed: %s", s->what, s->dir, strerror(-rc));
        return rc;
    }
    if (s->policy == SPOOL_FSYNC_BATCH && fdatasync(s->ackfd) != 0) {
        rc = -errno;
        log_err("spool: %s: fdatasync(%s/ack) failed: %s", s->what, s->dir, strerror(-rc));
        return rc;
    }
    return 0;
}

/*
 * Parses the ack file's first line "HEXID OFFSET". False when it is missing, empty or garbage:
 * then reading starts at the oldest record (at-least-once).
 */
static bool
ack_read(struct spool *s, uint64_t *id, uint64_t *off)
{
    char buf[SPOOL_ACK_MAX];
    ssize_t n;
    char *end;

    do {
        n = pread(s->ackfd, buf, sizeof(buf) - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        log_err("spool: %s: %s/ack is unreadable (read failed: %s): ignored; every record in the "
                "spool is sent again from the oldest (the sink may get some twice)",
                s->what, s->dir, strerror(errno));
        return false;
    }
    if (n == 0) {
        /* How every spool starts: nothing acknowledged yet. */
        log_info("spool: %s: %s/ack is missing or empty: starting from the oldest record", s->what,
                 s->dir);
        return false;
    }
    buf[n] = '\0';
    char *nl = memchr(buf, '\n', (size_t)n);
    if (nl == NULL || !isxdigit((unsigned char)buf[0])) {
        goto garbage;
    }
    *nl = '\0';
    errno = 0;
    *id = strtoull(buf, &end, 16);
    if (errno != 0 || end - buf > 16 || *end != ' ' || !isdigit((unsigned char)end[1])) {
        goto garbage;
    }
    *off = strtoull(end + 1, &end, 10);
    if (errno != 0 || *end != '\0' || *id >= SPOOL_ID_MAX) {
        goto garbage;
    }
    return true;
garbage:
    log_err("spool: %s: %s/ack is unreadable (garbage): ignored; every record in the spool is sent "
            "again from the oldest (the sink may get some twice)",
            s->what, s->dir);
    return false;
}

/*
 * Checks the record at @off of @fd, which must end by @end: 0 with *@len and *@ns set when it is
 * whole (magic, a length that fits, its CRC), else 1 with the cause in @cause. @buf holds
 * SPOOL_SCAN_CHUNK bytes: big payloads are checked chunk by chunk, never loaded whole.
 */
static int
record_check(int fd, uint64_t off, uint64_t end, unsigned char *buf, uint32_t *len, uint32_t *ns,
             char *cause, size_t causelen)
{
    unsigned char hdr[SPOOL_HEADER_BYTES];
    uint64_t left = end - off;
    int rc;

    if (left < SPOOL_HEADER_BYTES) {
        snprintf(cause, causelen, "truncated header");
        return 1;
    }
    rc = pread_full(fd, hdr, sizeof(hdr), off);
    if (rc != 0) {
        snprintf(cause, causelen, "read failed: %s", strerror(-rc));
        return 1;
    }
    if (get_le32(hdr) != SPOOL_MAGIC) {
        snprintf(cause, causelen, "bad magic");
        return 1;
    }
    *len = get_le32(hdr + 4);
    *ns = get_le32(hdr + 8);
    if (*len > left - SPOOL_HEADER_BYTES) {
        snprintf(cause, causelen, "truncated payload: %" PRIu32 " bytes, %" PRIu64 " left", *len,
                 left - SPOOL_HEADER_BYTES);
        return 1;
    }
    uLong crc = record_crc(hdr + 8, NULL, 0);
    for (uint32_t done = 0; done < *len;) {
        uint32_t chunk = *len - done < SPOOL_SCAN_CHUNK ? *len - done : SPOOL_SCAN_CHUNK;
        rc = pread_full(fd, buf, chunk, off + SPOOL_HEADER_BYTES + done);
        if (rc != 0) {
            snprintf(cause, causelen, "read failed: %s", strerror(-rc));
            return 1;
        }
        crc = crc32(crc, buf, chunk);
        done += chunk;
    }
    if ((uint32_t)crc != get_le32(hdr + 12)) {
        snprintf(cause, causelen, "CRC mismatch");
        return 1;
    }
    return 0;
}

/*
 * Resynchronises after a bad record: the first offset in [@from, @end) where a whole record
 * starts (record_check()), or @end when there is none. @win and @buf hold SPOOL_SCAN_CHUNK
 * bytes each. Every candidate is a "PLSR" in the bytes; a false one costs its CRC check.
 */
static uint64_t
resync(int fd, uint64_t from, uint64_t end, unsigned char *win, unsigned char *buf)
{
    uint64_t pos = from;

    while (pos + SPOOL_HEADER_BYTES <= end) {
        size_t want = end - pos < SPOOL_SCAN_CHUNK ? (size_t)(end - pos) : SPOOL_SCAN_CHUNK;
        if (pread_full(fd, win, want, pos) != 0) {
            return end;
        }
        for (size_t k = 0; k + 4 <= want; k++) {
            unsigned char *m = memchr(win + k, 'P', want - k - 3);
            if (m == NULL) {
                break;
            }
            k = (size_t)(m - win);
            if (get_le32(m) == SPOOL_MAGIC) {
                char cause[96];
                uint32_t len, ns;
                if (record_check(fd, pos + k, end, buf, &len, &ns, cause, sizeof(cause)) == 0) {
                    return pos + k;
                }
            }
        }
        if (pos + want >= end) {
            break;
        }
        pos += want - 3; /* a magic across the window's edge is seen whole in the next one */
    }
    return end;
}

/*
 * What the bad region [@off, @end) of @fd held, as far as its headers tell: from its start, each
 * header with the magic whose length fits the region counts its records and samples (the first
 * is the damaged record itself; its count is what its header says), and so does a last header
 * whose payload was cut off by the end of the file (@size: a torn tail). Bytes no header
 * describes (garbage, a damaged header) are one record of unknown samples, counted as 0.
 */
static void
hole_estimate(int fd, uint64_t off, uint64_t end, uint64_t size, struct spool_hole *h)
{
    unsigned char hdr[SPOOL_HEADER_BYTES];

    h->lost_records = 0;
    h->lost_samples = 0;
    while (off + SPOOL_HEADER_BYTES <= end && pread_full(fd, hdr, sizeof(hdr), off) == 0 &&
           get_le32(hdr) == SPOOL_MAGIC) {
        uint32_t len = get_le32(hdr + 4);
        bool fits = len <= end - off - SPOOL_HEADER_BYTES;
        if (!fits && end != size) {
            break; /* a damaged length: the rest is unknown */
        }
        h->lost_records++;
        h->lost_samples += get_le32(hdr + 8);
        if (!fits) {
            return;
        }
        off += SPOOL_HEADER_BYTES + len;
    }
    if (off < end) {
        h->lost_records++;
    }
}

static int
hole_push(struct spool_seg *g, uint64_t off, uint64_t len)
{
    struct spool_hole *n = realloc(g->holes, (g->nholes + 1) * sizeof(*n));

    if (n == NULL) {
        return -ENOMEM;
    }
    g->holes = n;
    g->holes[g->nholes++] = (struct spool_hole){.off = off, .len = len};
    return 0;
}

/* @off, or the end of the known hole starting there (a valid record or the valid end follows). */
static uint64_t
hole_skip(const struct spool_seg *g, uint64_t off)
{
    for (size_t i = 0; i < g->nholes; i++) {
        if (g->holes[i].off == off) {
            return off + g->holes[i].len;
        }
    }
    return off;
}

/* Payload and header bytes of the known holes at or after @off. */
static uint64_t
hole_bytes_from(const struct spool_seg *g, uint64_t off)
{
    uint64_t n = 0;

    for (size_t i = 0; i < g->nholes; i++) {
        if (g->holes[i].off >= off) {
            n += g->holes[i].len;
        }
    }
    return n;
}

/* The number of bad regions logged per segment; the rest are summed up in one line. */
#define SPOOL_HOLES_LOGGED 3

/*
 * Counts and logs the bad regions found by seg_scan() after the acknowledged position @ack_off
 * (those before it were dealt with by the run that acknowledged past them), and drops a bad
 * region at the end of the segment from the list (the valid extent ends before it).
 */
static void
seg_scan_report(struct spool *s, struct spool_seg *g, const char *name, uint64_t ack_off,
                const char *first_cause)
{
    uint64_t more = 0, more_bytes = 0;
    size_t logged = 0;

    for (size_t i = 0; i < g->nholes; i++) {
        const struct spool_hole *h = &g->holes[i];
        g->corrupt += h->len;
        if (h->off + h->len <= ack_off) {
            log_debug("spool: %s: %s/%s: bad region of %" PRIu64 " bytes at offset %" PRIu64
                      " before the acknowledged position: skipped",
                      s->what, s->dir, name, h->len, h->off);
            continue;
        }
        s->corrupt_bytes += h->len;
        s->corrupt_records += h->lost_records;
        s->corrupt_samples += h->lost_samples;
        if (logged == SPOOL_HOLES_LOGGED) {
            more++;
            more_bytes += h->len;
            continue;
        }
        char where[64];
        if (h->off + h->len == g->size) {
            snprintf(where, sizeof(where), "to the end of the segment");
        }
        else {
            snprintf(where, sizeof(where), "to the next valid record at offset %" PRIu64,
                     h->off + h->len);
        }
        log_warn("spool: %s: %s/%s: bad record at offset %" PRIu64 " (%s): skipping %" PRIu64
                 " bytes %s, losing %" PRIu64 " record(s) with %" PRIu64 " samples",
                 s->what, s->dir, name, h->off, logged == 0 ? first_cause : "bad record", h->len,
                 where, h->lost_records, h->lost_samples);
        logged++;
    }
    if (more > 0) {
        log_warn("spool: %s: %s/%s: %" PRIu64 " more bad regions skipped (%" PRIu64 " bytes)",
                 s->what, s->dir, name, more, more_bytes);
    }
    if (g->nholes > 0 && g->holes[g->nholes - 1].off >= g->valid) {
        g->nholes--;
    }
}

/*
 * Scans segment @g (open as @fd, size already set): every record's CRC is checked; after a bad
 * one the scan resynchronises on the next whole record (resync()) and the bad region becomes a
 * hole of the segment. Sets its extent (valid: the end of the last whole record), counts and,
 * when @ack_off is a record boundary or the start of a hole, its acknowledged prefix (else the
 * prefix stays empty: the segment is read from its start, at-least-once). Returns whether
 * @ack_off was such a boundary. Fails only for lack of memory: an unreadable part is a hole.
 */
static int
seg_scan(struct spool *s, int fd, struct spool_seg *g, const char *name, uint64_t ack_off,
         unsigned char *buf, unsigned char *win, bool *found)
{
    uint64_t off = 0;
    char cause[96], first_cause[96] = "";

    *found = false;
    for (;;) {
        if (off == ack_off) {
            *found = true;
            g->ack_off = off;
            g->ack_records = g->records;
            g->ack_samples = g->samples;
        }
        if (off == g->size) {
            break;
        }
        uint32_t len = 0, ns = 0;
        if (record_check(fd, off, g->size, buf, &len, &ns, cause, sizeof(cause)) == 0) {
            off += SPOOL_HEADER_BYTES + len;
            g->records++;
            g->samples += ns;
            g->valid = off;
            continue;
        }
        if (first_cause[0] == '\0') {
            snprintf(first_cause, sizeof(first_cause), "%s", cause);
        }
        uint64_t next = resync(fd, off + 1, g->size, win, buf);
        if (hole_push(g, off, next - off) != 0) {
            return -ENOMEM;
        }
        hole_estimate(fd, off, next, g->size, &g->holes[g->nholes - 1]);
        off = next;
    }
    seg_scan_report(s, g, name, *found ? ack_off : 0, first_cause);
    return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
    const struct spool_seg *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Lists the segment files and scans them. Segments below the ack file's id are listed with no
 * records, so reap() deletes them. Returns 0 or -errno with @err set.
 */
static int
scan_dir(struct spool *s, bool have_ack, uint64_t ack_id, uint64_t ack_off, char *err,
         size_t errlen)
{
    unsigned char *buf = malloc(SPOOL_SCAN_CHUNK);
    unsigned char *win = malloc(SPOOL_SCAN_CHUNK);
    int dfd2 = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd2 >= 0 ? fdopendir(dfd2) : NULL;
    uint64_t max_seen = 0;
    int rc = 0;

    if (buf == NULL || win == NULL) {
        snprintf(err, errlen, "spool %s: out of memory", s->dir);
        rc = -ENOMEM;
        goto out;
    }
    if (d == NULL) {
        rc = -errno;
        snprintf(err, errlen, "spool %s: opendir() failed: %s", s->dir, strerror(-rc));
        goto out;
    }
    /*
     * The ack file deletes every segment below the id it names: a damaged id (one flipped bit)
     * must not delete data. An id above the newest segment + 1 cannot have been written by a
     * spool that had those segments, so it is ignored: everything is read again (at least once).
     */
    if (have_ack) {
        uint64_t newest = 0;
        bool any = false;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            uint64_t id;
            if (seg_name_parse(de->d_name, &id)) {
                any = true;
                newest = id > newest ? id : newest;
            }
        }
        rewinddir(d);
        if (any && ack_id > newest + 1) {
            log_err("spool: %s: %s/ack names segment %016" PRIx64 ", beyond the newest one "
                    "(%016" PRIx64 "): ignored; every record in the spool is sent again from the "
                    "oldest (the sink may get some twice)",
                    s->what, s->dir, ack_id, newest);
            have_ack = false;
        }
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0) {
                rc = -errno;
                snprintf(err, errlen, "spool %s: readdir() failed: %s", s->dir, strerror(-rc));
                goto out;
            }
            break;
        }
        const char *name = de->d_name;
        uint64_t id;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "lock") == 0 ||
            strcmp(name, "ack") == 0) {
            continue;
        }
        if (!seg_name_parse(name, &id)) {
            log_info("spool: %s: %s/%s: not a segment file name, ignored", s->what, s->dir, name);
            continue;
        }
        if (id > max_seen) {
            max_seen = id;
        }
        /* O_NONBLOCK: a FIFO with a segment's name must not hang the open. */
        int fd = openat(s->dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 && (errno == ELOOP || errno == ENXIO)) {
            log_warn("spool: %s: %s/%s: not a regular file, ignored", s->what, s->dir, name);
            continue;
        }
        if (fd < 0 || fstat(fd, &st) != 0) {
            /* Skipping it now would have a later start delete it unread: refuse instead. */
            rc = -errno;
            snprintf(err, errlen, "spool %s: cannot open segment %s: %s", s->dir, name,
                     strerror(-rc));
            if (fd >= 0) {
                close(fd);
            }
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            log_warn("spool: %s: %s/%s: not a regular file, ignored", s->what, s->dir, name);
            close(fd);
            continue;
        }
        struct spool_seg *g = seg_push(s);
        if (g == NULL) {
            close(fd);
            snprintf(err, errlen, "spool %s: out of memory", s->dir);
            rc = -ENOMEM;
            goto out;
        }
        g->id = id;
        g->size = (uint64_t)st.st_size;
        if (have_ack && id < ack_id) {
            /* Acknowledged before: no records left, deleted below without reading it. */
            close(fd);
            continue;
        }
        bool at = false;
        rc = seg_scan(s, fd, g, name, have_ack && id == ack_id ? ack_off : 0, buf, win, &at);
        close(fd);
        if (rc != 0) {
            snprintf(err, errlen, "spool %s: out of memory", s->dir);
            goto out;
        }
        if (have_ack && id == ack_id && !at) {
            log_warn("spool: %s: %s/ack: offset %" PRIu64 " is not a record boundary of %s: "
                     "reading that segment from its start",
                     s->what, s->dir, ack_off, name);
        }
    }
    if (s->nsegs > 1) {
        qsort(s->segs, s->nsegs, sizeof(s->segs[0]), seg_cmp);
    }
    /* Sequence numbers from 0 for the first unacknowledged record, in order. */
    for (size_t i = 0; i < s->nsegs; i++) {
        s->segs[i].first_seq = s->append_seq;
        s->append_seq += s->segs[i].records - s->segs[i].ack_records;
    }
    /* Never reuse an id: not one seen (maybe torn), nor the one the ack file names. */
    s->next_id = max_seen + 1;
    if (have_ack && ack_id >= s->next_id) {
        s->next_id = ack_id + 1;
    }
out:
    if (d != NULL) {
        closedir(d);
    }
    else if (dfd2 >= 0) {
        close(dfd2);
    }
    free(buf);
    free(win);
    return rc;
}

struct spool *
spool_open(const char *dir, uint64_t max_bytes, enum spool_fsync policy, const char *what,
           char *err, size_t errlen)
{
    struct spool *s = calloc(1, sizeof(*s));
    uint64_t ack_id = 0, ack_off = 0;

    if (s == NULL) {
        snprintf(err, errlen, "spool %s: out of memory", dir);
        return NULL;
    }
    s->dfd = s->lockfd = s->ackfd = s->wfd = s->rfd = -1;
    s->read_fresh = true;
    s->dir = strdup(dir);
    s->what = strdup(what != NULL ? what : "spool");
    if (s->dir == NULL || s->what == NULL) {
        snprintf(err, errlen, "spool %s: out of memory", dir);
        goto fail;
    }
    snprintf(s->prefix, sizeof(s->prefix), "spool: %s", s->what);
    s->append_limit.error = true; /* a full disk loses data: an error, once per episode */
    if (max_bytes == 0) {
        snprintf(err, errlen, "spool %s: max_bytes must be > 0", dir);
        goto fail;
    }
    s->max_bytes = max_bytes;
    s->seg_size = max_bytes / 8;
    s->seg_size = s->seg_size < SPOOL_SEG_MIN   ? SPOOL_SEG_MIN
                  : s->seg_size > SPOOL_SEG_MAX ? SPOOL_SEG_MAX
                                                : s->seg_size;
    s->policy = policy;
    /* A file size limit must fail the write (EFBIG), not kill the agent. */
    signal(SIGXFSZ, SIG_IGN);

    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool %s: mkdir() failed: %s", dir, strerror(errno));
        goto fail;
    }
    s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0) {
        snprintf(err, errlen, "spool %s: open() failed: %s", dir, strerror(errno));
        goto fail;
    }
    s->lockfd = openat(s->dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (s->lockfd < 0) {
        snprintf(err, errlen, "spool %s: open(%s/lock) failed: %s", dir, dir, strerror(errno));
        goto fail;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            snprintf(err, errlen, "spool %s is locked by another process", dir);
        }
        else {
            snprintf(err, errlen, "spool %s: flock(%s/lock) failed: %s", dir, dir, strerror(errno));
        }
        goto fail;
    }
    s->ackfd = openat(s->dfd, "ack", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (s->ackfd < 0) {
        snprintf(err, errlen, "spool %s: open(%s/ack) failed: %s", dir, dir, strerror(errno));
        goto fail;
    }
    bool have_ack = ack_read(s, &ack_id, &ack_off);
    if (scan_dir(s, have_ack, ack_id, ack_off, err, errlen) != 0) {
        goto fail;
    }
    reap(s);
    s->read_idx = 0;
    s->read_fresh = true;

    struct spool_stats st;
    spool_stats(s, &st);
    log_info("spool: %s: opened %s: %" PRIu64 " records (%" PRIu64 " samples) in %" PRIu64
             " segments, %" PRIu64 " bytes",
             s->what, dir, st.records, st.samples, st.segments, st.bytes);
    return s;
fail:
    spool_close(s);
    return NULL;
}

void
spool_close(struct spool *s)
{
    if (s == NULL) {
        return;
    }
    spool_sync(s);
    /* Also the names of segments created under SPOOL_FSYNC_NEVER (once locked: the ack file is
     * opened after the lock, so a failed open never touches another process's spool). */
    if (s->policy == SPOOL_FSYNC_NEVER && s->ackfd >= 0 && fsync(s->dfd) != 0) {
        log_err("spool: %s: fsync(%s) failed: %s", s->what, s->dir, strerror(errno));
    }
    close_fd(&s->rfd);
    close_fd(&s->wfd);
    close_fd(&s->ackfd);
    close_fd(&s->lockfd);
    close_fd(&s->dfd);
    for (size_t i = 0; i < s->nsegs; i++) {
        free(s->segs[i].holes);
    }
    free(s->segs);
    free(s->fl);
    free(s->dir);
    free(s->what);
    free(s);
}

/*
 * Marks the in-flight entries of a segment deleted for room as orphans: their records are in a
 * request, so they are not dropped yet; an ack delivers them, a rewind drops them (they cannot
 * be read again). Returns their samples.
 */
static uint64_t
inflight_orphan_seg(struct spool *s, uint64_t seg_id)
{
    uint64_t samples = 0;

    for (size_t r = s->fl_head; r < s->fl_head + s->fl_len; r++) {
        if (!s->fl[r].orphan && s->fl[r].seg_id == seg_id) {
            s->fl[r].orphan = true;
            s->orphan_records++;
            s->orphan_samples += s->fl[r].nsamples;
            samples += s->fl[r].nsamples;
        }
    }
    return samples;
}

static int
inflight_push(struct spool *s, uint64_t seq, uint64_t seg_id, uint64_t end, uint32_t nsamples)
{
    if (s->fl_len == 0) {
        s->fl_head = 0;
    }
    if (s->fl_head + s->fl_len == s->fl_cap) {
        if (s->fl_head > 0) {
            memmove(s->fl, s->fl + s->fl_head, s->fl_len * sizeof(s->fl[0]));
            s->fl_head = 0;
        }
        else {
            size_t cap = s->fl_cap == 0 ? 64 : s->fl_cap * 2;
            struct spool_inflight *n = realloc(s->fl, cap * sizeof(*n));
            if (n == NULL) {
                return -ENOMEM;
            }
            s->fl = n;
            s->fl_cap = cap;
        }
    }
    s->fl[s->fl_head + s->fl_len++] =
        (struct spool_inflight){.seq = seq, .seg_id = seg_id, .end = end, .nsamples = nsamples};
    return 0;
}

/*
 * Deletes the oldest segments (never the one appended to) until @need more bytes fit under
 * max_bytes. Returns 0, or -errno when a segment could not be deleted.
 */
static int
make_room(struct spool *s, uint64_t need, uint64_t *dropped_samples)
{
    while (disk_bytes(s) + need > s->max_bytes && s->nsegs > 0 && !is_write_seg(s, 0)) {
        struct spool_seg g = s->segs[0];
        char name[SPOOL_SEG_NAME_LEN + 1];
        int rc = seg_unlink(s, 0);
        if (rc != 0) {
            return rc;
        }
        seg_name(name, sizeof(name), g.id);
        uint64_t in_flight = inflight_orphan_seg(s, g.id);
        uint64_t recs = g.records - g.ack_records;
        uint64_t samples = g.samples - g.ack_samples - in_flight;
        s->room_segs++;
        s->room_records += recs;
        s->room_samples += samples;
        log_complain(&s->room_limit, clock_mono_ms(), 1, s->prefix,
                     "%s/%s deleted to stay within %" PRIu64 " bytes: dropped %" PRIu64
                     " records with %" PRIu64 " samples (so far in this episode: %" PRIu64
                     " segments, %" PRIu64 " records, %" PRIu64 " samples)",
                     s->dir, name, s->max_bytes, recs, samples, s->room_segs, s->room_records,
                     s->room_samples);
        if (dropped_samples != NULL) {
            *dropped_samples += samples;
        }
        seg_forget(s, 0);
    }
    return 0;
}

/* Opens a new, empty segment to append to. 0 or -errno (logged). */
static int
seg_create(struct spool *s)
{
    char name[SPOOL_SEG_NAME_LEN + 1];
    uint64_t id = s->next_id++;
    int rc;

    seg_name(name, sizeof(name), id);
    int fd = openat(s->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        rc = -errno;
        log_err("spool: %s: open(%s/%s) failed: %s", s->what, s->dir, name, strerror(-rc));
        return rc;
    }
    /* The new name must survive a crash, or records synced into the file could be lost. */
    if (s->policy != SPOOL_FSYNC_NEVER && fsync(s->dfd) != 0) {
        rc = -errno;
        log_err("spool: %s: fsync(%s) failed: %s", s->what, s->dir, strerror(-rc));
        goto fail;
    }
    struct spool_seg *g = seg_push(s);
    if (g == NULL) {
        rc = -ENOMEM;
        log_err("spool: %s: out of memory for segment %s/%s", s->what, s->dir, name);
        goto fail;
    }
    g->id = id;
    g->first_seq = s->append_seq;
    g->written = true;
    s->wfd = fd;
    return 0;
fail:
    close(fd);
    unlinkat(s->dfd, name, 0);
    return rc;
}

/* Writes header and payload with writev(), resuming after short writes. 0 or -errno. */
static int
write_record(int fd, unsigned char *hdr, const void *data, size_t len, uint64_t *written)
{
    struct iovec iov[2] = {
        {.iov_base = hdr, .iov_len = SPOOL_HEADER_BYTES},
        {.iov_base = (void *)(uintptr_t)data, .iov_len = len},
    };
    struct iovec *v = iov;
    int cnt = 2;

    *written = 0;
    while (cnt > 0) {
        ssize_t n = writev(fd, v, cnt);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        *written += (uint64_t)n;
        size_t k = (size_t)n;
        while (cnt > 0 && k >= v->iov_len) {
            k -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + k;
            v->iov_len -= k;
        }
    }
    return 0;
}

int
spool_append(struct spool *s, const void *data, size_t len, uint32_t nsamples,
             uint64_t *dropped_samples)
{
    uint64_t rec = SPOOL_HEADER_BYTES + (uint64_t)len;
    unsigned char hdr[SPOOL_HEADER_BYTES];
    char name[SPOOL_SEG_NAME_LEN + 1];
    uint64_t written = 0;
    int rc;

    if (len > UINT32_MAX || rec > s->max_bytes) {
        log_warn("spool: %s: a record of %zu bytes is larger than the spool (%" PRIu64
                 " bytes): refused",
                 s->what, len, s->max_bytes);
        return -EFBIG;
    }
    if (s->wfd >= 0) {
        const struct spool_seg *w = &s->segs[s->nsegs - 1];
        /* Rotate when the record would take a non-empty segment past the segment size, or when
         * the current segment itself must go for the record to fit under max_bytes. */
        if ((w->size > 0 && w->size + rec > s->seg_size) || w->size + rec > s->max_bytes) {
            seal_write_seg(s);
        }
    }
    if (s->wfd < 0) {
        rc = seg_create(s);
        if (rc != 0) {
            return rc;
        }
    }
    rc = make_room(s, rec, dropped_samples);
    if (rc != 0) {
        return rc;
    }
    struct spool_seg *g = &s->segs[s->nsegs - 1];
    seg_name(name, sizeof(name), g->id);
    put_le32(hdr, SPOOL_MAGIC);
    put_le32(hdr + 4, (uint32_t)len);
    put_le32(hdr + 8, nsamples);
    put_le32(hdr + 12, record_crc(hdr + 8, data, len));
    rc = write_record(s->wfd, hdr, data, len, &written);
    if (rc == 0 && s->policy == SPOOL_FSYNC_BATCH && fdatasync(s->wfd) != 0) {
        rc = -errno;
        written = rec;
        log_complain(&s->append_limit, clock_mono_ms(), rc, s->prefix,
                     "fdatasync(%s/%s) failed: %s", s->dir, name, strerror(-rc));
    }
    else if (rc != 0) {
        log_complain(&s->append_limit, clock_mono_ms(), rc, s->prefix, "writev(%s/%s) failed: %s",
                     s->dir, name, strerror(-rc));
    }
    else {
        log_release(&s->append_limit, clock_mono_ms(), s->prefix);
    }
    if (rc != 0) {
        /* Take the partial record back so the segment stays appendable; if that fails too,
         * seal the segment: its tail is torn and nothing more may follow it. */
        if (written > 0 && ftruncate(s->wfd, (off_t)g->size) != 0) {
            log_err("spool: %s: ftruncate(%s/%s) failed: %s; starting a new segment", s->what,
                    s->dir, name, strerror(errno));
            g->size += written;
            close_fd(&s->wfd);
        }
        return rc;
    }
    g->size += rec;
    g->valid = g->size;
    g->records++;
    g->samples += nsamples;
    s->append_seq++;
    return 0;
}

/*
 * After a bad record at the reader's offset, found when reading it (it went bad after open, or
 * the file vanished): resynchronises on the next whole record of segs[read_idx] (resync()) and
 * makes the bad region a hole the reader skips from now on, or, when no whole record follows,
 * ends the segment's valid extent at the reader. The records lost are counted when the reader
 * reaches the end of the segment (read_end()).
 */
static void
read_corrupt(struct spool *s, const char *name, const char *cause)
{
    struct spool_seg *g = &s->segs[s->read_idx];
    uint64_t next = g->valid;

    if (s->rfd >= 0) {
        unsigned char *win = malloc(SPOOL_SCAN_CHUNK);
        unsigned char *buf = malloc(SPOOL_SCAN_CHUNK);
        if (win != NULL && buf != NULL) {
            next = resync(s->rfd, s->read_off + 1, g->valid, win, buf);
        }
        free(win);
        free(buf);
    }
    if (next < g->valid && hole_push(g, s->read_off, next - s->read_off) != 0) {
        next = g->valid; /* out of memory: the rest of the segment goes, as without resync */
    }
    uint64_t lost_bytes = next - s->read_off;
    char where[64];
    if (next < g->valid) {
        snprintf(where, sizeof(where), "to the next valid record at offset %" PRIu64, next);
    }
    else {
        snprintf(where, sizeof(where), "to the end of the segment");
    }
    log_warn("spool: %s: %s/%s: bad record at offset %" PRIu64 " (%s): skipping %" PRIu64
             " bytes %s",
             s->what, s->dir, name, s->read_off, cause, lost_bytes, where);
    s->corrupt_bytes += lost_bytes;
    g->corrupt += lost_bytes;
    if (next < g->valid) {
        s->read_off = next;
    }
    else {
        g->valid = s->read_off;
    }
    if (is_write_seg(s, s->read_idx)) {
        /* The reader must see this segment's end to count the losses: the next append starts
         * a new segment. */
        seal_write_seg(s);
    }
}

/*
 * The reader reached the end of segs[read_idx]. Records the index counted there that the reader
 * did not get were in bad regions found when reading: their number and samples are exactly the
 * index's counts minus those read, which the books had as pending; now they are corrupt.
 * Returns whether any were.
 */
static bool
read_end(struct spool *s)
{
    struct spool_seg *g = &s->segs[s->read_idx];
    char name[SPOOL_SEG_NAME_LEN + 1];

    if (s->read_records >= g->records) {
        return false;
    }
    uint64_t lost_records = g->records - s->read_records;
    uint64_t lost_samples = g->samples > s->read_samples ? g->samples - s->read_samples : 0;
    seg_name(name, sizeof(name), g->id);
    log_warn("spool: %s: %s/%s: %" PRIu64 " record(s) with %" PRIu64
             " samples lost in the bad region(s) of this segment",
             s->what, s->dir, name, lost_records, lost_samples);
    s->corrupt_records += lost_records;
    s->corrupt_samples += lost_samples;
    g->records = s->read_records;
    g->samples = s->read_samples;
    return true;
}

int
spool_read(struct spool *s, struct strbuf *out, uint32_t *nsamples, uint64_t *seq)
{
    char name[SPOOL_SEG_NAME_LEN + 1];
    unsigned char hdr[SPOOL_HEADER_BYTES];
    char cause[96];
    int rc;

    memset(hdr, 0, sizeof(hdr));
    while (s->read_idx < s->nsegs) {
        struct spool_seg *g = &s->segs[s->read_idx];
        if (s->read_fresh) {
            s->read_fresh = false;
            s->read_off = g->ack_off;
            s->read_records = g->ack_records;
            s->read_samples = g->ack_samples;
            s->read_seq = g->first_seq;
            close_fd(&s->rfd);
        }
        s->read_off = hole_skip(g, s->read_off);
        if (s->read_off >= g->valid) {
            if (is_write_seg(s, s->read_idx)) {
                return 0;
            }
            uint64_t id = g->id;
            if (read_end(s)) {
                reap(s);
            }
            close_fd(&s->rfd);
            if (s->read_idx < s->nsegs && s->segs[s->read_idx].id == id) {
                s->read_idx++;
            }
            s->read_fresh = true;
            continue;
        }
        seg_name(name, sizeof(name), g->id);
        if (s->rfd < 0) {
            s->rfd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC);
            if (s->rfd < 0 && errno == ENOENT) {
                read_corrupt(s, name, "segment file vanished");
                continue;
            }
            if (s->rfd < 0) {
                rc = -errno;
                log_err("spool: %s: open(%s/%s) failed: %s", s->what, s->dir, name, strerror(-rc));
                if (transient(rc)) {
                    return rc;
                }
                /* EACCES, EIO...: it will not get better; waiting would stop all delivery. */
                snprintf(cause, sizeof(cause), "cannot open it: %s", strerror(-rc));
                read_corrupt(s, name, cause);
                continue;
            }
        }
        rc = pread_full(s->rfd, hdr, sizeof(hdr), s->read_off);
        if (rc != 0 && rc != -ENODATA) {
            log_err("spool: %s: pread(%s/%s) failed: %s", s->what, s->dir, name, strerror(-rc));
            if (transient(rc)) {
                return rc;
            }
        }
        uint32_t len = get_le32(hdr + 4);
        if (rc != 0 && rc != -ENODATA) {
            snprintf(cause, sizeof(cause), "read failed: %s", strerror(-rc));
        }
        else if (rc == -ENODATA) {
            snprintf(cause, sizeof(cause), "file shrank");
        }
        else if (get_le32(hdr) != SPOOL_MAGIC) {
            snprintf(cause, sizeof(cause), "bad magic");
        }
        else if (len > g->valid - s->read_off - SPOOL_HEADER_BYTES) {
            snprintf(cause, sizeof(cause), "length %" PRIu32 " beyond the valid extent", len);
        }
        else {
            rc = strbuf_reserve(out, len);
            if (rc != 0) {
                log_err("spool: %s: out of memory reading a record of %" PRIu32 " bytes", s->what,
                        len);
                return rc;
            }
            rc = pread_full(s->rfd, out->data + out->len, len, s->read_off + SPOOL_HEADER_BYTES);
            if (rc != 0 && rc != -ENODATA) {
                out->data[out->len] = '\0';
                log_err("spool: %s: pread(%s/%s) failed: %s", s->what, s->dir, name, strerror(-rc));
                if (transient(rc)) {
                    return rc;
                }
            }
            /*
             * Records this process wrote are read back from the page cache it wrote them to: the
             * CRC is for what an earlier run left (torn tails, bad sectors), and checking it again
             * here would double the spool's CPU cost.
             */
            if (rc == 0 && (g->written ||
                            record_crc(hdr + 8, out->data + out->len, len) == get_le32(hdr + 12))) {
                uint64_t end = s->read_off + SPOOL_HEADER_BYTES + len;
                rc = inflight_push(s, s->read_seq, g->id, end, get_le32(hdr + 8));
                if (rc != 0) {
                    out->data[out->len] = '\0';
                    log_err("spool: %s: out of memory tracking a read record", s->what);
                    return rc;
                }
                out->len += len;
                out->data[out->len] = '\0';
                *nsamples = get_le32(hdr + 8);
                *seq = s->read_seq++;
                s->read_off = end;
                s->read_records++;
                s->read_samples += *nsamples;
                return 1;
            }
            out->data[out->len] = '\0';
            if (rc == -ENODATA) {
                snprintf(cause, sizeof(cause), "file shrank");
            }
            else if (rc != 0) {
                snprintf(cause, sizeof(cause), "read failed: %s", strerror(-rc));
            }
            else {
                snprintf(cause, sizeof(cause), "CRC mismatch");
            }
        }
        read_corrupt(s, name, cause);
    }
    return 0;
}

void
spool_rewind(struct spool *s, uint64_t *dropped_samples)
{
    if (dropped_samples != NULL) {
        *dropped_samples += s->orphan_samples;
    }
    s->orphan_records = 0;
    s->orphan_samples = 0;
    s->fl_head = 0;
    s->fl_len = 0;
    close_fd(&s->rfd);
    s->read_idx = 0;
    s->read_fresh = true;
}

int
spool_ack(struct spool *s, uint64_t seq, uint64_t *acked_samples)
{
    bool any = false;

    while (s->fl_len > 0 && s->fl[s->fl_head].seq <= seq) {
        struct spool_inflight e = s->fl[s->fl_head];
        s->fl_head++;
        s->fl_len--;
        if (e.orphan) {
            s->orphan_records--;
            s->orphan_samples -= e.nsamples;
        }
        for (size_t i = 0; i < s->nsegs && !e.orphan; i++) {
            struct spool_seg *g = &s->segs[i];
            if (g->id == e.seg_id) {
                g->ack_off = hole_skip(g, e.end);
                g->ack_records++;
                g->ack_samples += e.nsamples;
                g->first_seq = e.seq + 1;
                break;
            }
        }
        if (acked_samples != NULL) {
            *acked_samples += e.nsamples;
        }
        any = true;
    }
    if (!any) {
        return 0;
    }
    /* The ack file first: if we die before the unlinks, reopening deletes those segments. */
    int rc = ack_write(s);
    reap(s);
    if (s->room_segs > 0 && disk_bytes(s) < s->max_bytes / 2) {
        /* The sink caught up: the episode of deletions is over. */
        log_warn("spool: %s: back under half of spool_max_bytes; deleted to stay within it: "
                 "%" PRIu64 " segments, %" PRIu64 " records, %" PRIu64 " samples",
                 s->what, s->room_segs, s->room_records, s->room_samples);
        s->room_limit = (struct log_limit){0};
        s->room_segs = s->room_records = s->room_samples = 0;
    }
    return rc;
}

bool
spool_empty(const struct spool *s)
{
    if (s->orphan_records > 0) {
        return false;
    }
    for (size_t i = 0; i < s->nsegs; i++) {
        if (s->segs[i].ack_records < s->segs[i].records) {
            return false;
        }
    }
    return true;
}

bool
spool_all_read(const struct spool *s)
{
    struct spool_stats st;

    spool_stats(s, &st);
    return st.records == s->fl_len;
}

int
spool_sync(struct spool *s)
{
    int rc = 0;

    if (s->wfd >= 0 && fdatasync(s->wfd) != 0) {
        rc = -errno;
        log_err("spool: %s: fdatasync(%s/%016" PRIx64 ".seg) failed: %s", s->what, s->dir,
                s->segs[s->nsegs - 1].id, strerror(-rc));
    }
    if (s->ackfd >= 0 && fdatasync(s->ackfd) != 0) {
        int e = errno;
        log_err("spool: %s: fdatasync(%s/ack) failed: %s", s->what, s->dir, strerror(e));
        if (rc == 0) {
            rc = -e;
        }
    }
    return rc;
}

void
spool_stats(const struct spool *s, struct spool_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct spool_seg *g = &s->segs[i];
        st->bytes += g->size - g->corrupt;
        st->records += g->records - g->ack_records;
        st->samples += g->samples - g->ack_samples;
        if (i < s->read_idx) {
            continue; /* read through */
        }
        bool at = i == s->read_idx && !s->read_fresh;
        uint64_t from = at ? s->read_off : g->ack_off;
        uint64_t recs = g->records - (at ? s->read_records : g->ack_records);
        uint64_t gone = hole_bytes_from(g, from) + recs * SPOOL_HEADER_BYTES;
        /* Records lost in a bad region found by the reader stay counted until it passes the
         * segment's end (read_end()): the figure is then an estimate, never below 0. */
        st->unread_bytes += g->valid - from > gone ? g->valid - from - gone : 0;
    }
    st->records += s->orphan_records;
    st->samples += s->orphan_samples;
    st->segments = s->nsegs;
    st->corrupt_bytes = s->corrupt_bytes;
    st->corrupt_records = s->corrupt_records;
    st->corrupt_samples = s->corrupt_samples;
}
