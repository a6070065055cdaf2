/*
 * Tests for spool.c: append/read/ack round trips, rewind, segment deletion on ack, reopening with
 * and without the ack file, torn tails, CRC and magic corruption found at open and at read time,
 * the max_bytes bound with drop-oldest, locking and open errors, and the books (appended ==
 * acked + dropped + corrupt + pending) through a random mix of operations. Every test works in a
 * fresh mkdtemp() directory, removed afterwards; log lines are captured through log_set_sink().
 */
#include "build-config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "strbuf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SEGS 256
#define REC(len) (SPOOL_HEADER_BYTES + (len))

static char dir[64];
static char logbuf[1 << 16]; /* every captured line, '\n'-separated, after its level */
static size_t loglen;

static void
capture_cb(enum log_level lvl, const char *line, void *arg)
{
    static const char *const lvls[] = {"error", "warn", "info", "debug"};
    int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s: %s\n", lvls[lvl], line);

    if (n > 0 && (size_t)n < sizeof(logbuf) - loglen) {
        loglen += (size_t)n;
    }
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pollster-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    loglen = 0;
    logbuf[0] = '\0';
    log_set_sink(capture_cb, NULL);
    log_set_level(LOG_LVL_INFO);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void
teardown(void)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    log_set_sink(NULL, NULL);
}

/* ---- helpers ---- */

static uint32_t
ns_of(uint32_t id)
{
    return id % 13 + 1;
}

/* Record @id's payload: its id (4 bytes LE) then bytes derived from it, @len >= 4 bytes. */
static void
make_payload(unsigned char *buf, uint32_t id, size_t len)
{
    buf[0] = (unsigned char)id;
    buf[1] = (unsigned char)(id >> 8);
    buf[2] = (unsigned char)(id >> 16);
    buf[3] = (unsigned char)(id >> 24);
    for (size_t k = 4; k < len; k++) {
        buf[k] = (unsigned char)(id * 31 + k * 7);
    }
}

static struct spool *
open_ok(uint64_t max_bytes, enum spool_fsync policy)
{
    char err[256] = "";
    struct spool *s = spool_open(dir, max_bytes, policy, "test", err, sizeof(err));

    ck_assert_msg(s != NULL, "spool_open: %s", err);
    return s;
}

/* Appends record @id of @len bytes; returns the samples dropped to make room. */
static uint64_t
append_id(struct spool *s, uint32_t id, size_t len)
{
    unsigned char *buf = malloc(len > 0 ? len : 1);
    uint64_t dropped = 0;

    ck_assert_ptr_nonnull(buf);
    make_payload(buf, id, len);
    int rc = spool_append(s, buf, len, ns_of(id), &dropped);
    free(buf);
    ck_assert_msg(rc == 0, "append %u: %s", id, strerror(-rc));
    return dropped;
}

static void
append_range(struct spool *s, uint32_t first, uint32_t n, size_t len)
{
    for (uint32_t i = first; i < first + n; i++) {
        ck_assert_uint_eq(append_id(s, i, len), 0);
    }
}

/* Reads one record, checks its payload is intact and returns its id and seq. */
static uint32_t
read_any(struct spool *s, uint64_t *seq, size_t *len)
{
    struct strbuf sb;
    uint32_t ns = 0;
    uint64_t sq = UINT64_MAX;

    strbuf_init(&sb);
    strbuf_puts(&sb, "pre"); /* spool_read appends */
    int rc = spool_read(s, &sb, &ns, &sq);
    ck_assert_int_eq(rc, 1);
    ck_assert_uint_ge(sb.len, 3 + 4);
    ck_assert(memcmp(sb.data, "pre", 3) == 0);
    const unsigned char *p = (const unsigned char *)sb.data + 3;
    uint32_t id =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    unsigned char *want = malloc(sb.len - 3);
    make_payload(want, id, sb.len - 3);
    ck_assert_msg(memcmp(p, want, sb.len - 3) == 0, "record %u: payload differs", id);
    ck_assert_uint_eq(ns, ns_of(id));
    ck_assert_int_eq(sb.data[sb.len], '\0');
    free(want);
    if (len != NULL) {
        *len = sb.len - 3;
    }
    strbuf_release(&sb);
    *seq = sq;
    return id;
}

static void
read_expect(struct spool *s, uint32_t id, uint64_t *seq)
{
    uint64_t sq;
    uint32_t got = read_any(s, &sq, NULL);

    ck_assert_msg(got == id, "read record %u, expected %u", got, id);
    if (seq != NULL) {
        *seq = sq;
    }
}

/* Reads records @first .. @first + @n - 1 in order, except @skip (UINT32_MAX: none). */
static void
read_ids(struct spool *s, uint32_t first, uint32_t n, uint32_t skip, uint64_t *seq)
{
    for (uint32_t i = first; i < first + n; i++) {
        if (i != skip) {
            read_expect(s, i, seq);
        }
    }
}

static void
read_none(struct spool *s)
{
    struct strbuf sb;
    uint32_t ns = 0;
    uint64_t seq = 0;

    strbuf_init(&sb);
    ck_assert_int_eq(spool_read(s, &sb, &ns, &seq), 0);
    ck_assert_uint_eq(sb.len, 0);
    strbuf_release(&sb);
    ck_assert(spool_all_read(s));
}

static uint64_t
samples_of(uint32_t first, uint32_t n)
{
    uint64_t sum = 0;

    for (uint32_t i = first; i < first + n; i++) {
        sum += ns_of(i);
    }
    return sum;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment files on disk, sorted (names owned by a static table); returns how many. */
static size_t
list_segs(char names[][32], uint64_t *total_bytes)
{
    static char *ptrs[MAX_SEGS];
    static char tmp[MAX_SEGS][32];
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    ck_assert_ptr_nonnull(d);
    if (total_bytes != NULL) {
        *total_bytes = 0;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l == 20 && strcmp(de->d_name + 16, ".seg") == 0) {
            ck_assert_uint_lt(n, MAX_SEGS);
            memcpy(tmp[n], de->d_name, l + 1);
            ptrs[n] = tmp[n];
            if (total_bytes != NULL) {
                char p[384];
                struct stat st;
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                ck_assert_int_eq(stat(p, &st), 0);
                *total_bytes += (uint64_t)st.st_size;
            }
            n++;
        }
    }
    closedir(d);
    qsort(ptrs, n, sizeof(ptrs[0]), name_cmp);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 32, "%s", ptrs[i]);
    }
    return n;
}

static size_t
count_segs(void)
{
    static char names[MAX_SEGS][32];

    return list_segs(names, NULL);
}

static void
path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* Overwrites @len bytes at @off of file @name in the spool directory. */
static void
poke(const char *name, uint64_t off, const void *data, size_t len)
{
    char p[128];

    path_of(p, sizeof(p), name);
    int fd = open(p, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* Flips every bit of the byte at @off of file @name. */
static void
flip(const char *name, uint64_t off)
{
    char p[128];
    unsigned char c;

    path_of(p, sizeof(p), name);
    int fd = open(p, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0xff;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

static void
write_file(const char *name, const char *content)
{
    char p[128];
    FILE *f;

    path_of(p, sizeof(p), name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

static char *
read_file(const char *name)
{
    static char buf[256];
    char p[128];
    FILE *f;
    size_t n;

    path_of(p, sizeof(p), name);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Lines of the captured log that contain @needle. */
static size_t
log_lines_with(const char *needle)
{
    size_t n = 0;

    for (const char *p = logbuf; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

/* ---- round trips ---- */

START_TEST(test_round_trip)
{
    static const size_t lens[] = {4, 5, 100, 4096, 70000, 17, 4, 300};
    struct spool *s = open_ok(1 << 20, SPOOL_FSYNC_NEVER);
    struct spool_stats st;
    uint64_t acked = 0, seq = 0;

    ck_assert(spool_empty(s));
    ck_assert(spool_all_read(s));
    read_none(s);
    for (uint32_t i = 0; i < N_ELEMS(lens); i++) {
        ck_assert_uint_eq(append_id(s, i, lens[i]), 0);
    }
    ck_assert(!spool_empty(s));
    ck_assert(!spool_all_read(s));
    /* Reopening scans them (the 70000-byte record is checked in chunks). */
    spool_close(s);
    s = open_ok(1 << 20, SPOOL_FSYNC_NEVER);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_records, 0);
    ck_assert_uint_eq(st.records, N_ELEMS(lens));
    ck_assert_uint_eq(st.samples, samples_of(0, N_ELEMS(lens)));
    ck_assert_uint_eq(st.segments, 1);
    uint64_t payload = 0;
    for (size_t i = 0; i < N_ELEMS(lens); i++) {
        payload += lens[i];
    }
    ck_assert_uint_eq(st.bytes, payload + N_ELEMS(lens) * SPOOL_HEADER_BYTES);
    ck_assert_uint_eq(st.unread_bytes, payload);
    for (uint32_t i = 0; i < N_ELEMS(lens); i++) {
        size_t len = 0;
        ck_assert_uint_eq(read_any(s, &seq, &len), i);
        ck_assert_uint_eq(len, lens[i]);
        ck_assert_uint_eq(seq, i); /* from 0 at open, in order */
    }
    read_none(s);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.unread_bytes, 0);
    ck_assert_uint_eq(st.records, N_ELEMS(lens)); /* read, not acked */
    ck_assert(!spool_empty(s));
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, N_ELEMS(lens)));
    ck_assert(spool_empty(s));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 0);
    ck_assert_uint_eq(st.samples, 0);
    ck_assert_uint_eq(st.corrupt_records, 0);
    /* Appending after everything was acknowledged (and deleted) keeps working. */
    ck_assert_uint_eq(append_id(s, 100, 10), 0);
    read_expect(s, 100, &seq);
    ck_assert_uint_eq(seq, N_ELEMS(lens));
    spool_close(s);
}
END_TEST

/* A zero-length payload is a valid record (its CRC covers nsamples only). */
START_TEST(test_empty_payload)
{
    struct spool *s = open_ok(1 << 20, SPOOL_FSYNC_NEVER);
    struct strbuf sb;
    uint32_t ns = 0;
    uint64_t seq = 9, dropped = 0;

    ck_assert_int_eq(spool_append(s, NULL, 0, 7, &dropped), 0);
    spool_close(s);
    s = open_ok(1 << 20, SPOOL_FSYNC_NEVER);
    strbuf_init(&sb);
    ck_assert_int_eq(spool_read(s, &sb, &ns, &seq), 1);
    ck_assert_uint_eq(sb.len, 0);
    ck_assert_uint_eq(ns, 7);
    ck_assert_uint_eq(seq, 0);
    strbuf_release(&sb);
    struct spool_stats st;
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_records, 0);
    spool_close(s);
}
END_TEST

START_TEST(test_rewind)
{
    struct spool *s = open_ok(1 << 20, SPOOL_FSYNC_NEVER);
    uint64_t seq[5], again, acked = 0;

    append_range(s, 0, 5, 50);
    for (uint32_t i = 0; i < 3; i++) {
        read_expect(s, i, &seq[i]);
    }
    /* The send failed: the same records come again, with the same sequence numbers. */
    spool_rewind(s, NULL);
    ck_assert(!spool_all_read(s));
    for (uint32_t i = 0; i < 3; i++) {
        read_expect(s, i, &again);
        ck_assert_uint_eq(again, seq[i]);
    }
    ck_assert_int_eq(spool_ack(s, seq[1], &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 2));
    spool_rewind(s, NULL);
    read_expect(s, 2, &again);
    ck_assert_uint_eq(again, seq[2]);
    read_expect(s, 3, NULL);
    read_expect(s, 4, &seq[4]);
    read_none(s);
    /* A repeated or older ack changes nothing. */
    acked = 0;
    ck_assert_int_eq(spool_ack(s, seq[1], &acked), 0);
    ck_assert_uint_eq(acked, 0);
    /* An ack past the last record read covers only the records read. */
    spool_rewind(s, NULL);
    read_expect(s, 2, NULL);
    ck_assert_int_eq(spool_ack(s, seq[4] + 100, &acked), 0);
    ck_assert_uint_eq(acked, ns_of(2));
    read_expect(s, 3, NULL);
    spool_close(s);
}
END_TEST

/* ---- acks and segment files ---- */

/* max_bytes 64 KiB: 8 KiB segments, 8 records of 1000 bytes each. */
#define SEG8_MAX (64u << 10)
#define SEG8_LEN 1000
#define SEG8_PER 8

START_TEST(test_ack_deletes_segments)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_BATCH);
    char names[MAX_SEGS][32];
    uint64_t seq[40], acked = 0, bytes;
    struct spool_stats st;

    append_range(s, 0, 40, SEG8_LEN);
    ck_assert_uint_eq(list_segs(names, &bytes), 5);
    ck_assert_uint_eq(bytes, 40 * REC(SEG8_LEN));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.segments, 5);
    ck_assert_uint_eq(st.bytes, bytes);
    char first[32], second[32];
    snprintf(first, sizeof(first), "%s", names[0]);
    snprintf(second, sizeof(second), "%s", names[1]);
    for (uint32_t i = 0; i < 20; i++) {
        read_expect(s, i, &seq[i]);
    }
    /* Partial ack of the first segment: it stays. */
    ck_assert_int_eq(spool_ack(s, seq[3], &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 4));
    ck_assert_uint_eq(list_segs(names, NULL), 5);
    ck_assert_str_eq(names[0], first);
    char want[64];
    snprintf(want, sizeof(want), "%.16s %u\n", first, 4 * REC(SEG8_LEN));
    ck_assert_str_eq(read_file("ack"), want);
    /* Acks into the middle of the second segment: the first is deleted, the second stays. */
    ck_assert_int_eq(spool_ack(s, seq[10], &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 11));
    ck_assert_uint_eq(list_segs(names, NULL), 4);
    ck_assert_str_eq(names[0], second);
    snprintf(want, sizeof(want), "%.16s %u\n", second, 3 * REC(SEG8_LEN));
    ck_assert_str_eq(read_file("ack"), want);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.segments, 4);
    ck_assert_uint_eq(st.records, 29);
    ck_assert_uint_eq(st.samples, samples_of(11, 29));
    /* Everything: every segment goes, the one appended to included. */
    for (uint32_t i = 20; i < 40; i++) {
        read_expect(s, i, &seq[i % 20]);
    }
    ck_assert_int_eq(spool_ack(s, seq[19], &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 40));
    ck_assert_uint_eq(count_segs(), 0);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.segments, 0);
    ck_assert_uint_eq(st.bytes, 0);
    ck_assert(spool_empty(s));
    append_range(s, 40, 1, 10);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    ck_assert_str_gt(names[0], first);
    read_expect(s, 40, NULL);
    ck_assert_int_eq(spool_sync(s), 0);
    spool_close(s);
}
END_TEST

/* A damaged ack file must not delete data: an id beyond the newest segment is ignored. */
static const struct {
    const char *ack;
    const char *log;
} damaged_acks[] = {
    /* a flipped bit: a plausible-looking id */
    {"0000000000000101 0\n", "names segment 0000000000000101, beyond "
                             "the newest one"},
    /* the top bit: no segment id can be so */
    {"8000000000000001 0\n", "is unreadable (garbage): ignored; every "
                             "record in the spool is sent again from the oldest"},
};

START_TEST(test_implausible_ack_ignored)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    uint64_t seq, acked = 0;
    char path[128];

    append_range(s, 0, 5, SEG8_LEN);
    read_expect(s, 0, &seq);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    spool_close(s);
    snprintf(path, sizeof(path), "%s/ack", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(damaged_acks[_i].ack, f);
    fclose(f);
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char want[512];
    snprintf(want, sizeof(want), "error: spool: test: %s/ack %s", dir, damaged_acks[_i].log);
    ck_assert_msg(strstr(logbuf, want) != NULL, "no \"%s\" in:\n%s", want, logbuf);
    /* Everything is read again (at least once), nothing deleted. */
    for (uint32_t i = 0; i < 5; i++) {
        read_expect(s, i, &seq);
    }
    read_none(s);
    spool_close(s);
}
END_TEST

/* Segment names at or beyond 2^63 are not ours (ids would wrap): ignored, never deleted. */
START_TEST(test_huge_segment_id_ignored)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/ffffffffffffffff.seg", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    uint64_t seq, acked = 0;
    append_range(s, 0, 3, SEG8_LEN);
    for (uint32_t i = 0; i < 3; i++) {
        read_expect(s, i, &seq);
    }
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    spool_close(s);
    /* The new segment did not get id 0 (a wrap): reopening finds nothing left to deliver. */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    read_none(s);
    spool_close(s);
    ck_assert_int_eq(access(path, F_OK), 0);
    unlink(path);
}
END_TEST

START_TEST(test_reopen_continues)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_INTERVAL);
    uint64_t seq, acked = 0;
    struct spool_stats st;

    append_range(s, 0, 20, SEG8_LEN);
    for (uint32_t i = 0; i < 12; i++) {
        read_expect(s, i, &seq);
        if (i == 10) {
            ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
        }
    }
    ck_assert_int_eq(spool_sync(s), 0);
    spool_close(s);
    ck_assert_uint_eq(count_segs(), 2); /* 0-7 gone; 8-15 and 16-19 left */

    /* 11 read but not acked: delivered again; 0-10 never again. */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_INTERVAL);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 9);
    ck_assert_uint_eq(st.samples, samples_of(11, 9));
    read_expect(s, 11, &seq);
    ck_assert_uint_eq(seq, 0);
    read_expect(s, 12, &seq);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    spool_close(s);

    /* Appends after reopening go to a new segment, after the old ones. */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_INTERVAL);
    append_range(s, 20, 1, 10);
    ck_assert_uint_eq(count_segs(), 3);
    for (uint32_t i = 13; i <= 20; i++) {
        read_expect(s, i, &seq);
    }
    read_none(s);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 21));
    spool_close(s);
    ck_assert_uint_eq(count_segs(), 0);

    s = open_ok(SEG8_MAX, SPOOL_FSYNC_INTERVAL);
    ck_assert(spool_empty(s));
    read_none(s);
    spool_close(s);
}
END_TEST

/* Without a usable ack file every record left on disk is delivered again (at-least-once). */
static const char *const bad_acks[] = {
    NULL, /* missing */
    "",
    "garbage\n",
    "0000000000000001 12", /* no newline: torn */
    "0000000000000001 -5\n",
    "0000000000000001  5\n",
    "00000000000000001 0\n", /* 17 digits */
    "zz 0\n",
};

START_TEST(test_reopen_without_ack)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    uint64_t seq, acked = 0;
    char ackpath[128];

    append_range(s, 0, 5, 100);
    for (uint32_t i = 0; i < 3; i++) {
        read_expect(s, i, &seq);
    }
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    spool_close(s);
    path_of(ackpath, sizeof(ackpath), "ack");
    if (bad_acks[_i] == NULL) {
        ck_assert_int_eq(unlink(ackpath), 0);
    }
    else {
        write_file("ack", bad_acks[_i]);
    }
    loglen = 0;
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    /* A missing or empty ack file is how a spool starts: info. Anything else is an error. */
    char want[256];
    snprintf(want, sizeof(want), "%s: spool: test: %s/ack ",
             bad_acks[_i] == NULL || bad_acks[_i][0] == '\0' ? "info" : "error", dir);
    ck_assert_msg(strstr(logbuf, want) != NULL, "no \"%s\" in:\n%s", want, logbuf);
    ck_assert_ptr_nonnull(strstr(logbuf, "from the oldest"));
    for (uint32_t i = 0; i < 5; i++) {
        read_expect(s, i, &seq);
        ck_assert_uint_eq(seq, i);
    }
    read_none(s);
    spool_close(s);
}
END_TEST

/* An ack offset that is no record boundary: that segment is read from its start. */
START_TEST(test_ack_not_boundary)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32], ack[64];
    uint64_t seq;

    append_range(s, 0, 12, SEG8_LEN); /* two segments: 0-7, 8-11 */
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 2);
    snprintf(ack, sizeof(ack), "%.16s %u\n", names[1], REC(SEG8_LEN) + 3);
    write_file("ack", ack);
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    /* The first segment is below the ack's: acknowledged, deleted. */
    ck_assert_uint_eq(count_segs(), 1);
    ck_assert_ptr_nonnull(strstr(logbuf, "not a record boundary"));
    for (uint32_t i = 8; i < 12; i++) {
        read_expect(s, i, &seq);
    }
    read_none(s);
    spool_close(s);

    /* A boundary is honoured, and an offset at the end means the whole segment is done. */
    snprintf(ack, sizeof(ack), "%.16s %u\n", names[1], 2 * REC(SEG8_LEN));
    write_file("ack", ack);
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    read_expect(s, 10, &seq);
    ck_assert_uint_eq(seq, 0);
    spool_close(s);
    snprintf(ack, sizeof(ack), "%.16s %u\n", names[1], 4 * REC(SEG8_LEN));
    write_file("ack", ack);
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    ck_assert(spool_empty(s));
    ck_assert_uint_eq(count_segs(), 0);
    spool_close(s);
}
END_TEST

/* ---- corruption ---- */

#define TORN_LEN 100
/* Cut points into the third record of a segment, relative to its start. */
static const struct {
    uint64_t cut;
    bool corrupt;
} torn_cases[] = {
    {0, false},                      /* exactly at a boundary: nothing torn */
    {1, true},                       /* in the magic */
    {5, true},                       /* in the header */
    {SPOOL_HEADER_BYTES - 1, true},  /* header one byte short */
    {SPOOL_HEADER_BYTES, true},      /* header, no payload */
    {SPOOL_HEADER_BYTES + 50, true}, /* in the payload */
    {REC(TORN_LEN) - 1, true},       /* one payload byte missing */
    {REC(TORN_LEN) + 7, true},       /* third complete, fourth torn */
    {2 * REC(TORN_LEN) + 3, true},   /* fourth complete, fifth torn (fourth delivered) */
};

START_TEST(test_torn_tail)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32], p[128];
    uint64_t seq;
    uint64_t base = 2 * REC(TORN_LEN);
    uint64_t cut = base + torn_cases[_i].cut;
    struct spool_stats st;

    append_range(s, 0, 5, TORN_LEN);
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    path_of(p, sizeof(p), names[0]);
    ck_assert_int_eq(truncate(p, (off_t)cut), 0);

    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    uint32_t complete = (uint32_t)(cut / REC(TORN_LEN));
    uint64_t torn = cut - complete * REC(TORN_LEN);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.records, complete);
    ck_assert_uint_eq(st.samples, samples_of(0, complete));
    ck_assert_uint_eq(st.corrupt_records, torn_cases[_i].corrupt ? 1 : 0);
    ck_assert_uint_eq(st.corrupt_bytes, torn);
    /* The torn record's samples are known when its header survived the cut. */
    ck_assert_uint_eq(st.corrupt_samples, torn >= SPOOL_HEADER_BYTES ? ns_of(complete) : 0);
    ck_assert_uint_eq(st.bytes, complete * REC(TORN_LEN));
    if (torn_cases[_i].corrupt) {
        char want[128];
        snprintf(want, sizeof(want), "%s: bad record at offset %" PRIu64, names[0],
                 (uint64_t)complete * REC(TORN_LEN));
        ck_assert_msg(strstr(logbuf, want) != NULL, "no \"%s\" in:\n%s", want, logbuf);
    }
    for (uint32_t i = 0; i < complete; i++) {
        read_expect(s, i, &seq);
    }
    read_none(s);
    /* New records go to a new segment, never after the torn tail. */
    append_range(s, 50, 2, TORN_LEN);
    ck_assert_uint_eq(count_segs(), 2);
    read_expect(s, 50, NULL);
    read_expect(s, 51, &seq);
    read_none(s);
    spool_close(s);

    /* The same again after another reopen: nothing lost, the tail still skipped. */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    for (uint32_t i = 0; i < complete; i++) {
        read_expect(s, i, &seq);
    }
    read_expect(s, 50, NULL);
    read_expect(s, 51, &seq);
    read_none(s);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_bytes, torn);
    spool_close(s);
}
END_TEST

/* Short and empty segment files and junk names do not stop the open. */
START_TEST(test_junk_files)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char p[128];
    uint64_t seq;
    struct spool_stats st;

    append_range(s, 0, 3, 30);
    spool_close(s);
    write_file("notes.txt", "hello");
    write_file("0000000000000000.seg", "");       /* empty: fine */
    write_file("00000000000000ff.seg", "PLSR");   /* shorter than a header: torn */
    write_file("00000000000000AB.seg", "junk");   /* upper case: not ours */
    write_file("0000000000000001.seg.tmp", "xx"); /* not ours */
    path_of(p, sizeof(p), "00000000000000fe.seg");
    ck_assert_int_eq(mkdir(p, 0700), 0); /* not a regular file */
    loglen = 0;
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    ck_assert_ptr_nonnull(strstr(logbuf, "notes.txt"));
    ck_assert_ptr_nonnull(strstr(logbuf, "not a regular file"));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_records, 1);
    ck_assert_uint_eq(st.corrupt_bytes, 4);
    for (uint32_t i = 0; i < 3; i++) {
        read_expect(s, i, &seq);
    }
    read_none(s);
    /* The next segment's id is above every segment-like name seen. */
    append_range(s, 3, 1, 30);
    char names[MAX_SEGS][32];
    size_t n = list_segs(names, NULL);
    ck_assert_str_gt(names[n - 1], "00000000000000ff.seg");
    read_expect(s, 3, NULL);
    spool_close(s);
    /* Junk is left alone. */
    path_of(p, sizeof(p), "notes.txt");
    ck_assert_int_eq(access(p, F_OK), 0);
    path_of(p, sizeof(p), "00000000000000AB.seg");
    ck_assert_int_eq(access(p, F_OK), 0);
}
END_TEST

/*
 * Three segments of 8 records; the middle one is damaged at record @rec (its magic, or a byte
 * of its payload). The open resynchronises on the next record: only record 8 + @rec is lost,
 * counted as corrupt (its samples only when its header was intact), and everything else is
 * delivered and acknowledged.
 */
static void
corrupt_middle(uint32_t rec, bool magic)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32];
    uint64_t seq, acked = 0, dropped = 0;
    struct spool_stats st;

    append_range(s, 0, 24, SEG8_LEN);
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 3);
    uint64_t off = rec * REC(SEG8_LEN);
    if (magic) {
        poke(names[1], off, "XXXX", 4);
    }
    else {
        flip(names[1], off + SPOOL_HEADER_BYTES + 500);
    }
    loglen = 0;
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char want[256];
    snprintf(want, sizeof(want),
             "%s: bad record at offset %" PRIu64 " (%s): skipping %u bytes to %s, losing 1 "
             "record(s) with %u samples",
             names[1], off, magic ? "bad magic" : "CRC mismatch", REC(SEG8_LEN),
             rec + 1 < SEG8_PER ? "the next valid record" : "the end of the segment",
             magic ? 0 : ns_of(8 + rec));
    ck_assert_msg(strstr(logbuf, want) != NULL || rec + 1 < SEG8_PER, "no \"%s\" in:\n%s", want,
                  logbuf);
    if (rec + 1 < SEG8_PER) {
        snprintf(want, sizeof(want),
                 "%s: bad record at offset %" PRIu64 " (%s): skipping %u bytes to the next "
                 "valid record at offset %" PRIu64 ", losing 1 record(s) with %u samples",
                 names[1], off, magic ? "bad magic" : "CRC mismatch", REC(SEG8_LEN),
                 off + REC(SEG8_LEN), magic ? 0 : ns_of(8 + rec));
        ck_assert_msg(strstr(logbuf, want) != NULL, "no \"%s\" in:\n%s", want, logbuf);
    }
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_records, 1);
    ck_assert_uint_eq(st.corrupt_bytes, REC(SEG8_LEN));
    ck_assert_uint_eq(st.corrupt_samples, magic ? 0 : ns_of(8 + rec));
    ck_assert_uint_eq(st.records, 23);
    ck_assert_uint_eq(st.samples, samples_of(0, 24) - ns_of(8 + rec));
    read_ids(s, 0, 24, 8 + rec, &seq);
    read_none(s);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 24) - ns_of(8 + rec));
    ck_assert(spool_empty(s));
    ck_assert_uint_eq(count_segs(), 0); /* the damaged segment too, once the rest is acked */
    ck_assert_int_eq(spool_append(s, "abcd", 4, 1, &dropped), 0);
    spool_close(s);
}

START_TEST(test_crc_corruption)
{
    corrupt_middle(2, false);
}
END_TEST

START_TEST(test_crc_corruption_first)
{
    corrupt_middle(0, false);
}
END_TEST

START_TEST(test_bad_magic)
{
    corrupt_middle(0, true);
}
END_TEST

START_TEST(test_bad_magic_middle)
{
    corrupt_middle(5, true);
}
END_TEST

START_TEST(test_crc_corruption_last)
{
    corrupt_middle(SEG8_PER - 1, false);
}
END_TEST

/*
 * A record that goes bad after open is found when read: the reader resynchronises on the next
 * record, and at the end of the segment the lost record's samples (in the books since the open)
 * are counted as corrupt, exactly; the books still balance.
 */
START_TEST(test_read_time_corruption)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32];
    uint64_t seq, acked = 0;
    struct spool_stats st;

    append_range(s, 0, 8, 100);
    /* Records this process wrote are trusted on read; those of an earlier run are checked. */
    spool_close(s);
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    read_expect(s, 0, NULL);
    read_expect(s, 1, NULL);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    flip(names[0], 4 * REC(100) + SPOOL_HEADER_BYTES + 10);
    read_expect(s, 2, NULL);
    read_expect(s, 3, NULL);
    read_expect(s, 5, NULL);
    char want[160];
    snprintf(want, sizeof(want),
             "bad record at offset %u (CRC mismatch): skipping %u bytes to the next valid "
             "record at offset %u",
             4 * REC(100), REC(100), 5 * REC(100));
    ck_assert_msg(strstr(logbuf, want) != NULL, "no \"%s\" in:\n%s", want, logbuf);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_bytes, REC(100));
    /* Counted once the reader passed the segment's end: until then they are pending. */
    ck_assert_uint_eq(st.corrupt_samples, 0);
    ck_assert_uint_eq(samples_of(0, 8), acked + st.corrupt_samples + st.samples);
    read_expect(s, 6, NULL);
    read_expect(s, 7, &seq);
    read_none(s);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_records, 1);
    ck_assert_uint_eq(st.corrupt_samples, ns_of(4));
    ck_assert_uint_eq(st.records, 7);
    ck_assert_uint_eq(samples_of(0, 8), acked + st.corrupt_samples + st.samples);
    ck_assert_ptr_nonnull(strstr(logbuf, "1 record(s) with"));
    /* Read again after a rewind: the hole is known, nothing is counted twice. */
    spool_rewind(s, NULL);
    read_ids(s, 0, 8, 4, &seq);
    read_none(s);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_bytes, REC(100));
    ck_assert_uint_eq(st.corrupt_samples, ns_of(4));
    /* Appends never follow the bad record: a new segment. */
    append_range(s, 8, 1, 100);
    ck_assert_uint_eq(count_segs(), 2);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 8) - ns_of(4));
    ck_assert_uint_eq(count_segs(), 1);
    read_expect(s, 8, &seq);
    read_none(s);
    spool_stats(s, &st);
    ck_assert_uint_eq(samples_of(0, 9), acked + st.corrupt_samples + st.samples);
    spool_close(s);
}
END_TEST

/* A bad header found when reading a record appended after open: the reader resyncs past it. */
START_TEST(test_read_time_bad_magic)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32];
    struct spool_stats st;
    uint64_t seq, acked = 0;

    append_range(s, 0, 3, 100);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    poke(names[0], REC(100), "\xff\xff\xff\xff", 4);
    read_expect(s, 0, NULL);
    read_expect(s, 2, &seq);
    read_none(s);
    ck_assert_ptr_nonnull(strstr(logbuf, "bad magic"));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_samples, ns_of(1));
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, ns_of(0) + ns_of(2));
    ck_assert(spool_empty(s));
    spool_close(s);
}
END_TEST

/* A segment file deleted behind the spool's back: its records are lost, counted, not fatal. */
START_TEST(test_read_time_vanished)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32], p[128];
    uint64_t seq, acked = 0;
    struct spool_stats st;

    append_range(s, 0, 12, SEG8_LEN); /* 0-7, 8-11 */
    ck_assert_uint_eq(list_segs(names, NULL), 2);
    path_of(p, sizeof(p), names[0]);
    ck_assert_int_eq(unlink(p), 0);
    read_expect(s, 8, &seq);
    ck_assert_ptr_nonnull(strstr(logbuf, "vanished"));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_samples, samples_of(0, 8));
    ck_assert_uint_eq(st.segments, 1);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    spool_stats(s, &st);
    ck_assert_uint_eq(samples_of(0, 12), acked + st.corrupt_samples + st.samples);
    spool_close(s);
}
END_TEST

/* Overwrites @len bytes at @off of file @name with a pattern that is no record. */
static void
smear(const char *name, uint64_t off, size_t len)
{
    unsigned char junk[256];

    ck_assert_uint_le(len, sizeof(junk));
    for (size_t k = 0; k < len; k++) {
        junk[k] = (unsigned char)(0xa5 ^ k);
    }
    poke(name, off, junk, len);
}

/*
 * The case: 64 bytes flipped in the middle of a segment, across the end of one record
 * and the header of the next. Both are lost (the first with the samples its header states, the
 * second with a damaged header: unknown, counted as 0); every record after them is delivered.
 */
START_TEST(test_flip_mid_segment)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32];
    uint64_t seq, acked = 0;
    struct spool_stats st;

    append_range(s, 0, 8, SEG8_LEN);
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    smear(names[0], 4 * REC(SEG8_LEN) - 32, 64); /* the end of record 3, the header of 4 */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_bytes, 2 * REC(SEG8_LEN));
    ck_assert_uint_eq(st.corrupt_records, 2);
    ck_assert_uint_eq(st.corrupt_samples, ns_of(3));
    ck_assert_uint_eq(st.records, 6);
    ck_assert_uint_eq(st.bytes, 6 * REC(SEG8_LEN));
    for (uint32_t i = 0; i < 8; i++) {
        if (i != 3 && i != 4) {
            read_expect(s, i, &seq);
        }
    }
    read_none(s);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked + st.corrupt_samples, samples_of(0, 8) - ns_of(4));
    ck_assert(spool_empty(s));
    spool_close(s);
}
END_TEST

/* Garbage before the first record (and between records): skipped, everything delivered. */
START_TEST(test_garbage_at_start)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32], p[128];
    uint64_t seq;
    struct spool_stats st;

    append_range(s, 0, 4, 200);
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    path_of(p, sizeof(p), names[0]);
    /* The file again with 100 bytes of junk (holding a false "PLSR") in front. */
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    unsigned char buf[100 + 4 * REC(200)];
    memset(buf, 'x', 100);
    memcpy(buf + 40, "PLSR\x10\x00\x00\x00", 8);
    ck_assert_uint_eq(fread(buf + 100, 1, 4 * REC(200), f), 4 * REC(200));
    fclose(f);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
    fclose(f);
    loglen = 0;
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    ck_assert_ptr_nonnull(strstr(logbuf, "bad record at offset 0 (bad magic): skipping 100 bytes "
                                         "to the next valid record at offset 100"));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_bytes, 100);
    ck_assert_uint_eq(st.corrupt_records, 1);
    ck_assert_uint_eq(st.corrupt_samples, 0);
    ck_assert_uint_eq(st.records, 4);
    read_ids(s, 0, 4, UINT32_MAX, &seq);
    read_none(s);
    spool_close(s);
}
END_TEST

/*
 * Acknowledgements across a hole: the ack file names the first unacknowledged record, which
 * after a hole is the record the resync found (a hole right after the acknowledged records is
 * skipped by the ack position). A reopen scans the segment the same way and finds that offset a
 * boundary; the hole before it is not counted again, the records after it are read once.
 */
START_TEST(test_ack_across_hole)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32];
    uint64_t seq, acked = 0;
    struct spool_stats st;

    append_range(s, 0, 8, SEG8_LEN);
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    flip(names[0], 3 * REC(SEG8_LEN) + 100); /* record 3 */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    read_expect(s, 0, NULL);
    read_expect(s, 1, NULL);
    read_expect(s, 2, &seq);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    /* The ack names the record after the hole ("ID OFFSET", the id without ".seg"). */
    char expect[64];
    snprintf(expect, sizeof(expect), "%.16s %u\n", names[0], 4 * REC(SEG8_LEN));
    ck_assert_str_eq(read_file("ack"), expect);
    spool_close(s);

    loglen = 0;
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_bytes, 0);
    ck_assert_uint_eq(st.corrupt_samples, 0);
    ck_assert_uint_eq(st.records, 4);
    ck_assert_ptr_null(strstr(logbuf, "bad record"));
    read_expect(s, 4, NULL);
    read_expect(s, 5, &seq);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    spool_close(s);

    /* Acked in the middle after the hole: the rest again, once. */
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    read_expect(s, 6, NULL);
    read_expect(s, 7, &seq);
    read_none(s);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, samples_of(0, 8) - ns_of(3));
    ck_assert_uint_eq(count_segs(), 0);
    spool_close(s);
}
END_TEST

/* Many bad regions in one segment: a few lines each, then one line for the rest. */
START_TEST(test_many_holes_logged_once)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char names[MAX_SEGS][32];
    struct spool_stats st;

    append_range(s, 0, 40, 100);
    spool_close(s);
    ck_assert_uint_eq(list_segs(names, NULL), 1);
    for (uint32_t i = 1; i < 40; i += 2) {
        flip(names[0], i * REC(100) + SPOOL_HEADER_BYTES + 1);
    }
    loglen = 0;
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.corrupt_records, 20);
    ck_assert_uint_eq(st.records, 20);
    ck_assert_uint_eq(log_lines_with("bad record at offset"), 3);
    ck_assert_ptr_nonnull(strstr(logbuf, "17 more bad regions skipped"));
    spool_close(s);
}
END_TEST

/* ---- the bound ---- */

START_TEST(test_max_bytes_drops_oldest)
{
    const uint64_t max = 32u << 10; /* 4 KiB segments: 4 records of 1000 bytes */
    struct spool *s = open_ok(max, SPOOL_FSYNC_NEVER);
    uint64_t dropped = 0, disk, seq, acked = 0;
    struct spool_stats st;
    char names[MAX_SEGS][32];

    for (uint32_t i = 0; i < 100; i++) {
        dropped += append_id(s, i, 1000);
        spool_stats(s, &st);
        ck_assert_uint_le(st.bytes, max);
        list_segs(names, &disk);
        ck_assert_uint_le(disk, max);
        ck_assert_uint_eq(st.bytes, disk);
    }
    ck_assert_ptr_nonnull(strstr(logbuf, ".seg deleted to stay within 32768 bytes: dropped 4 "
                                         "records"));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.segments, count_segs());
    /* Whole segments went, oldest first: the survivors are the newest records, in order. */
    uint32_t first = read_any(s, &seq, NULL);
    ck_assert_uint_eq(first % 4, 0);
    ck_assert_uint_gt(first, 0);
    ck_assert_uint_eq(dropped, samples_of(0, first));
    ck_assert_uint_eq(st.samples, samples_of(first, 100 - first));
    ck_assert_uint_eq(st.records, 100 - first);
    for (uint32_t i = first + 1; i < 100; i++) {
        read_expect(s, i, &seq);
    }
    read_none(s);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked + dropped, samples_of(0, 100));
    spool_close(s);
}
END_TEST

/*
 * A spool forced to delete segment after segment, or whose writes keep failing (a full disk:
 * here a file size limit), logs the first of each once, then only summaries (log.h), and
 * "recovered" when writes work again: not one line per batch (issue 13 item 7).
 */
START_TEST(test_logs_rate_limited)
{
    struct spool *s = open_ok(32u << 10, SPOOL_FSYNC_NEVER);
    unsigned char buf[1000];
    uint64_t dropped = 0, acked = 0, seq = 0;
    struct rlimit old, lim;

    for (uint32_t i = 0; i < 100; i++) {
        dropped += append_id(s, i, 1000);
    }
    ck_assert_uint_gt(dropped, 0);
    ck_assert_uint_eq(log_lines_with("deleted to stay within"), 1);
    ck_assert_uint_eq(log_lines_with("warn: spool: test: "), 1);
    /* The sink catches up: one line ends the episode, with its totals. */
    while (!spool_all_read(s)) {
        read_any(s, &seq, NULL);
    }
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked + dropped, samples_of(0, 100));
    char want[160];
    snprintf(want, sizeof(want),
             "deleted to stay within it: %" PRIu64 " segments, %" PRIu64 " records, %" PRIu64
             " samples",
             (uint64_t)(100 - 32) / 4, (uint64_t)(100 - 32), dropped);
    /* (32 records of 1,016 bytes fit in 32 KiB: 8 segments of 4) */
    ck_assert_msg(strstr(logbuf, want) != NULL, "no \"%s\" in:\n%s", want, logbuf);
    /* A new episode is logged again. */
    for (uint32_t i = 100; i < 140; i++) {
        append_id(s, i, 1000);
    }
    ck_assert_uint_eq(log_lines_with("deleted to stay within 32768"), 2);

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 512; /* no record of 1,016 bytes fits in any file */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    make_payload(buf, 1000, sizeof(buf));
    for (int i = 0; i < 50; i++) {
        ck_assert_int_lt(spool_append(s, buf, sizeof(buf), 1, &dropped), 0);
    }
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    /* A full disk (here a file size limit) loses data: one error line for the episode. */
    ck_assert_uint_eq(log_lines_with("writev("), 1);
    ck_assert_uint_eq(log_lines_with("error: spool: test: writev("), 1);
    ck_assert_int_eq(spool_append(s, buf, sizeof(buf), 1, &dropped), 0);
    ck_assert_uint_eq(log_lines_with("recovered"), 1);
    spool_close(s);
}
END_TEST

/*
 * Records read (in a request) when their segment is deleted to make room are counted once: the
 * unread ones of that segment are dropped at once; the ones in flight stay pending, and are
 * delivered by a later ack (the request succeeded: the sink has them) or dropped by a rewind
 * (the request failed: they cannot be read again). Never both (issue 13 item 7).
 */
START_TEST(test_drop_read_records)
{
    const uint64_t max = 32u << 10;
    struct spool *s = open_ok(max, SPOOL_FSYNC_NEVER);
    uint64_t dropped = 0, acked = 0, seq = 0, seq1;
    struct spool_stats st;
    uint32_t n = 0;
    bool fail = _i == 1;

    append_range(s, 0, 8, 1000);
    read_expect(s, 0, NULL);
    read_expect(s, 1, &seq1);
    /* Fill until the first segment (records 0-3) is deleted. */
    for (n = 8; dropped == 0; n++) {
        dropped += append_id(s, n, 1000);
    }
    ck_assert_uint_eq(dropped, samples_of(2, 2));
    spool_stats(s, &st);
    ck_assert_uint_eq(samples_of(0, n), acked + dropped + st.samples);
    ck_assert(!spool_empty(s));
    if (fail) {
        spool_rewind(s, &dropped);
        ck_assert_uint_eq(dropped, samples_of(0, 4));
        ck_assert_int_eq(spool_ack(s, seq1, &acked), 0);
        ck_assert_uint_eq(acked, 0);
        read_expect(s, 4, &seq);
    }
    else {
        ck_assert_int_eq(spool_ack(s, seq1, &acked), 0);
        ck_assert_uint_eq(acked, samples_of(0, 2));
        /* The reader moved to the next segment's start. */
        read_expect(s, 4, &seq);
    }
    spool_stats(s, &st);
    ck_assert_uint_eq(samples_of(0, n), acked + dropped + st.samples);
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_uint_eq(acked, (fail ? 0 : samples_of(0, 2)) + ns_of(4));
    spool_stats(s, &st);
    ck_assert_uint_eq(samples_of(0, n), acked + dropped + st.samples);
    spool_rewind(s, &dropped);
    read_expect(s, 5, NULL);
    spool_stats(s, &st);
    ck_assert_uint_eq(samples_of(0, n), acked + dropped + st.samples);
    spool_close(s);
}
END_TEST

START_TEST(test_too_big)
{
    struct spool *s = open_ok(8192, SPOOL_FSYNC_NEVER);
    char *big = calloc(1, 8192);
    uint64_t dropped = 0;
    struct spool_stats st;

    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(spool_append(s, big, 8192, 1, &dropped), -EFBIG);
    ck_assert_int_eq(spool_append(s, big, 8192 - SPOOL_HEADER_BYTES + 1, 1, &dropped), -EFBIG);
    spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 0);
    /* Exactly max_bytes with its header fits, after dropping everything else. */
    append_range(s, 0, 3, 100);
    ck_assert_int_eq(spool_append(s, big, 8192 - SPOOL_HEADER_BYTES, 5, &dropped), 0);
    ck_assert_uint_eq(dropped, samples_of(0, 3));
    spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 1);
    ck_assert_uint_eq(st.bytes, 8192);
    free(big);
    spool_close(s);
}
END_TEST

/* ---- open errors ---- */

START_TEST(test_locked)
{
    struct spool *s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    char err[256] = "";

    ck_assert_ptr_null(spool_open(dir, SEG8_MAX, SPOOL_FSYNC_NEVER, "second", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "locked"));
    ck_assert_ptr_nonnull(strstr(err, dir));
    spool_close(s);
    s = open_ok(SEG8_MAX, SPOOL_FSYNC_NEVER);
    spool_close(s);
}
END_TEST

START_TEST(test_open_errors)
{
    char p[128], err[256] = "";

    write_file("plain", "x");
    path_of(p, sizeof(p), "plain/spool");
    ck_assert_ptr_null(spool_open(p, SEG8_MAX, SPOOL_FSYNC_NEVER, "t", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, p));
    ck_assert_ptr_nonnull(strstr(err, strerror(ENOTDIR)));

    /* Parents are not created. */
    err[0] = '\0';
    path_of(p, sizeof(p), "a/b");
    ck_assert_ptr_null(spool_open(p, SEG8_MAX, SPOOL_FSYNC_NEVER, "t", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));

    /* A regular file where the directory should be. */
    err[0] = '\0';
    path_of(p, sizeof(p), "plain");
    ck_assert_ptr_null(spool_open(p, SEG8_MAX, SPOOL_FSYNC_NEVER, "t", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, p));

    /* A missing directory is created (mode 0750). */
    struct stat st;
    path_of(p, sizeof(p), "new");
    struct spool *s = spool_open(p, SEG8_MAX, SPOOL_FSYNC_NEVER, "t", err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0027, 0);
    spool_close(s);
}
END_TEST

/* ---- policies ---- */

START_TEST(test_fsync_policies)
{
    static const enum spool_fsync pol[] = {SPOOL_FSYNC_NEVER, SPOOL_FSYNC_BATCH,
                                           SPOOL_FSYNC_INTERVAL};
    struct spool *s = open_ok(SEG8_MAX, pol[_i]);
    uint64_t seq, acked = 0;

    append_range(s, 0, 20, SEG8_LEN);
    ck_assert_int_eq(spool_sync(s), 0);
    for (uint32_t i = 0; i < 10; i++) {
        read_expect(s, i, &seq);
    }
    ck_assert_int_eq(spool_ack(s, seq, &acked), 0);
    ck_assert_int_eq(spool_sync(s), 0);
    spool_close(s);
    s = open_ok(SEG8_MAX, pol[_i]);
    read_expect(s, 10, NULL);
    spool_close(s);
}
END_TEST

/* ---- the books ---- */

/*
 * A seeded random mix of appends, reads, acks, rewinds and reopens under a small bound: after
 * every step appended == acked + dropped + pending, acknowledged records never come back and
 * records come in order.
 */
START_TEST(test_books)
{
    const uint64_t max = 16u << 10;
    unsigned int seed = 12345u + (unsigned int)_i;
    struct spool *s = open_ok(max, SPOOL_FSYNC_NEVER);
    uint64_t appended = 0, acked = 0, dropped = 0;
    uint64_t last_seq = 0;
    bool have_read = false;
    int64_t last_acked_id = -1, last_read_id = -1;
    uint32_t next_id = 0;
    int drops_seen = 0;

    for (int step = 0; step < 3000; step++) {
        int op = rand_r(&seed) % 100;
        if (op < 45) {
            size_t len = 4 + (size_t)(rand_r(&seed) % 1500);
            uint64_t d = append_id(s, next_id, len);
            drops_seen += d > 0;
            dropped += d;
            appended += ns_of(next_id);
            next_id++;
        }
        else if (op < 80) {
            if (!spool_all_read(s)) {
                uint64_t seq;
                uint32_t id = read_any(s, &seq, NULL);
                ck_assert_int_gt((int64_t)id, last_read_id);
                ck_assert_int_gt((int64_t)id, last_acked_id);
                ck_assert(!have_read || seq > last_seq);
                last_read_id = id;
                last_seq = seq;
                have_read = true;
            }
            else {
                read_none(s);
            }
        }
        else if (op < 92) {
            if (have_read) {
                ck_assert_int_eq(spool_ack(s, last_seq, &acked), 0);
                last_acked_id = last_read_id;
            }
        }
        else if (op < 97) {
            spool_rewind(s, &dropped);
            last_read_id = last_acked_id;
            have_read = false;
        }
        else {
            struct spool_stats before, after;
            /* As the http output does before closing: records in flight whose segment was
             * deleted for room can no longer be kept. */
            spool_rewind(s, &dropped);
            spool_stats(s, &before);
            spool_close(s);
            s = open_ok(max, SPOOL_FSYNC_NEVER);
            spool_stats(s, &after);
            ck_assert_uint_eq(after.samples, before.samples);
            ck_assert_uint_eq(after.records, before.records);
            last_read_id = last_acked_id;
            have_read = false;
        }
        struct spool_stats st;
        uint64_t disk;
        char names[MAX_SEGS][32];
        spool_stats(s, &st);
        ck_assert_msg(appended == acked + dropped + st.samples,
                      "step %d: appended %" PRIu64 " != acked %" PRIu64 " + dropped %" PRIu64
                      " + pending %" PRIu64,
                      step, appended, acked, dropped, st.samples);
        ck_assert_uint_eq(st.corrupt_records, 0);
        ck_assert_uint_eq(list_segs(names, &disk), st.segments);
        ck_assert_uint_le(disk, max);
        ck_assert_uint_eq(st.bytes, disk);
        ck_assert_uint_eq(spool_empty(s), st.records == 0);
    }
    ck_assert_int_gt(drops_seen, 0);
    ck_assert_uint_gt(acked, 0);
    spool_close(s);
}
END_TEST

static Suite *
spool_suite(void)
{
    Suite *s = suite_create("spool");
    TCase *tc;

    tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_payload);
    tcase_add_test(tc, test_rewind);
    tcase_add_loop_test(tc, test_fsync_policies, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("ack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ack_deletes_segments);
    tcase_add_test(tc, test_reopen_continues);
    tcase_add_loop_test(tc, test_implausible_ack_ignored, 0, (int)N_ELEMS(damaged_acks));
    tcase_add_test(tc, test_huge_segment_id_ignored);
    tcase_add_loop_test(tc, test_reopen_without_ack, 0, (int)N_ELEMS(bad_acks));
    tcase_add_test(tc, test_ack_not_boundary);
    suite_add_tcase(s, tc);

    tc = tcase_create("corruption");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_torn_tail, 0, (int)N_ELEMS(torn_cases));
    tcase_add_test(tc, test_junk_files);
    tcase_add_test(tc, test_crc_corruption);
    tcase_add_test(tc, test_crc_corruption_first);
    tcase_add_test(tc, test_bad_magic);
    tcase_add_test(tc, test_bad_magic_middle);
    tcase_add_test(tc, test_crc_corruption_last);
    tcase_add_test(tc, test_flip_mid_segment);
    tcase_add_test(tc, test_garbage_at_start);
    tcase_add_test(tc, test_ack_across_hole);
    tcase_add_test(tc, test_many_holes_logged_once);
    tcase_add_test(tc, test_read_time_corruption);
    tcase_add_test(tc, test_read_time_bad_magic);
    tcase_add_test(tc, test_read_time_vanished);
    suite_add_tcase(s, tc);

    tc = tcase_create("bound");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_max_bytes_drops_oldest);
    tcase_add_loop_test(tc, test_drop_read_records, 0, 2);
    tcase_add_test(tc, test_too_big);
    tcase_add_test(tc, test_logs_rate_limited);
    suite_add_tcase(s, tc);

    tc = tcase_create("open");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_locked);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("books");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* Thousands of steps, each listing the directory: slow under valgrind. */
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_books, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(spool_suite());

    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
