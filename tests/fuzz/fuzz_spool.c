/*
 * libFuzzer harness for the spool reader (spool.c). The input is split by its first byte into
 * two segment files and an ack file (an earlier run's leftovers, any bytes at all); the spool is
 * opened over them, every record is read and acknowledged, then one record is appended and read
 * back. The second segment ends with a whole record the harness writes after the input's bytes:
 * whatever comes before it, the reader must resynchronise on it (or hand it out inside a record
 * the input made whole around it). Beyond crashes and sanitizer reports it traps when the reader
 * does not terminate, hands out a record larger than the files, loses the appended record or the
 * resync record, or leaves the books inconsistent (records read while some are left unread,
 * spool_stats counting past what was found, bytes read and skipped as corrupt beyond the files).
 */
#include "build-config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "log.h"
#include "spool.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void
put_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

/* A whole record (spool.h's format) of the payload "resync!" holding 5 samples. */
static size_t
tail_record(uint8_t *rec)
{
    static const char payload[] = "resync!";
    uint8_t ns[4] = {5, 0, 0, 0};
    uint32_t len = sizeof(payload) - 1;
    uint32_t crc = (uint32_t)crc32(crc32(crc32(0L, Z_NULL, 0), ns, 4), (const Bytef *)payload, len);
    uint32_t v[4] = {0x52534c50u, len, 5, crc};

    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 4; b++) {
            rec[i * 4 + b] = (uint8_t)(v[i] >> (8 * b));
        }
    }
    memcpy(rec + SPOOL_HEADER_BYTES, payload, len);
    return SPOOL_HEADER_BYTES + len;
}

/*
 * Whether the payload @p (@n bytes) is the resync record's, or a record the input made whole
 * across its start: one whose payload ends with the first bytes of @tail (@tn bytes).
 */
static bool
covers_tail(const char *p, size_t n, const uint8_t *tail, size_t tn)
{
    if (n == 7 && memcmp(p, "resync!", 7) == 0) {
        return true;
    }
    for (size_t k = 1; k <= tn && k <= n; k++) {
        if (memcmp(p + n - k, tail, k) == 0) {
            return true;
        }
    }
    return false;
}

static void
rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    FUZZ_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
    FUZZ_CHECK(rmdir(dir) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    char dir[] = "/tmp/fuzz_spool.XXXXXX", err[256];
    struct spool_stats st;
    struct strbuf out;
    uint64_t seq = 0, dropped = 0, acked = 0, nread = 0, bytes_read = 0;
    uint32_t ns = 0;
    int rc;

    if (!quiet) {
        log_set_level(LOG_LVL_ERR);
        quiet = true;
    }
    if (size < 2) {
        return 0;
    }
    size_t ack_len = data[0] % 32 < size - 1 ? data[0] % 32 : 0;
    size_t rest = size - 1 - ack_len;
    size_t cut = rest > 0 ? (size_t)data[1] * rest / 256 : 0;
    const uint8_t *seg = data + 1 + ack_len;

    FUZZ_CHECK(mkdtemp(dir) != NULL);
    put_file(dir, "ack", data + 1, ack_len);
    put_file(dir, "0000000000000001.seg", seg, cut);
    uint8_t *seg2 = malloc(rest - cut + 64);
    FUZZ_CHECK(seg2 != NULL);
    memcpy(seg2, seg + cut, rest - cut);
    uint8_t tail[64];
    size_t tail_len = tail_record(tail);
    memcpy(seg2 + rest - cut, tail, tail_len);
    size_t seg2_len = rest - cut + tail_len;
    put_file(dir, "0000000000000002.seg", seg2, seg2_len);
    free(seg2);
    size_t files = cut + seg2_len;
    bool saw_tail = false;

    struct spool *s = spool_open(dir, 1 << 20, SPOOL_FSYNC_NEVER, "fuzz", err, sizeof(err));
    FUZZ_CHECK(s != NULL);
    strbuf_init(&out);
    for (int i = 0; i < 100000; i++) {
        strbuf_reset(&out);
        rc = spool_read(s, &out, &ns, &seq);
        FUZZ_CHECK(rc >= 0);
        if (rc == 0) {
            break;
        }
        nread++;
        bytes_read += out.len + SPOOL_HEADER_BYTES;
        FUZZ_CHECK(bytes_read <= files);
        saw_tail = saw_tail || covers_tail(out.data, out.len, tail, tail_len);
        FUZZ_CHECK(spool_ack(s, seq, &acked) == 0);
    }
    FUZZ_CHECK(spool_all_read(s));
    FUZZ_CHECK(spool_empty(s));
    spool_stats(s, &st);
    FUZZ_CHECK(st.records == 0 && st.samples == 0 && st.unread_bytes == 0);
    FUZZ_CHECK(nread <= files / SPOOL_HEADER_BYTES);
    FUZZ_CHECK(bytes_read + st.corrupt_bytes <= files);
    /* Without an ack file nothing counts as acknowledged: the resync record is read. */
    FUZZ_CHECK(ack_len > 0 || saw_tail);

    /* Whatever was there, a new record goes in and comes back whole. */
    FUZZ_CHECK(spool_append(s, "fresh record", 12, 3, &dropped) == 0);
    strbuf_reset(&out);
    FUZZ_CHECK(spool_read(s, &out, &ns, &seq) == 1);
    FUZZ_CHECK(out.len == 12 && memcmp(out.data, "fresh record", 12) == 0 && ns == 3);
    strbuf_release(&out);
    spool_close(s);
    rm_dir(dir);
    return 0;
}
