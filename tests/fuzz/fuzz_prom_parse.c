/*
 * libFuzzer harness for prom_parse.c. The first byte of the input picks how the rest is split:
 * the body is parsed once in one piece and once as a first chunk ending at a position derived from
 * that byte followed by chunks of a size derived from it too, in both formats. The split parse
 * also goes on into another batch whenever its batch holds a few samples (a big body's windows,
 * prom_parser_set_out()), and a valid body is parsed a second time from the mark taken at the
 * first such cut (prom_parser_resume()). Beyond crashes and sanitizer reports it traps when the
 * parses disagree (return code, error text or samples) or when a sample breaks the parser's
 * guarantees: valid metric and label names, no duplicate label names, valid UTF-8 without NUL in
 * every string, error text valid UTF-8 and short enough for a batch.
 *
 * clang -fsanitize=fuzzer,address,undefined -g -O1 -Iagent -I<dir with config.h> \
 *     agent/sample.c agent/prom_parse*.c tests/fuzz/fuzz_prom_parse.c -lm -o fuzz_prom_parse
 * ./fuzz_prom_parse -max_total_time=180 corpus/ tests/fixtures/
 */
#include "build-config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prom_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static bool
valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c, need, i;
    uint32_t cp;

    while (*s != '\0') {
        c = *s++;
        if (c < 0x80) {
            continue;
        }
        if (c >= 0xc2 && c < 0xe0) {
            need = 1;
            cp = c & 0x1f;
        }
        else if (c >= 0xe0 && c < 0xf0) {
            need = 2;
            cp = c & 0x0f;
        }
        else if (c >= 0xf0 && c < 0xf5) {
            need = 3;
            cp = c & 0x07;
        }
        else {
            return false;
        }
        for (i = 0; i < need; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        s += need;
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
    }
    return true;
}

static bool
valid_name(const char *s, bool metric)
{
    const char *p;

    for (p = s; *p != '\0'; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        bool ok = alpha || (metric && *p == ':') || (p != s && *p >= '0' && *p <= '9');

        if (!ok) {
            return false;
        }
    }
    return p != s;
}

static void
check_batch(const struct batch *b)
{
    size_t i;
    uint32_t j, k;

    for (i = 0; i < b->nsamples; i++) {
        const struct sample *s = &b->samples[i];

        FUZZ_CHECK(valid_name(s->name, true));
        FUZZ_CHECK(s->type < SAMPLE_TYPE__COUNT);
        FUZZ_CHECK((s->nlabels == 0) == (s->labels == NULL));
        for (j = 0; j < s->nlabels; j++) {
            FUZZ_CHECK(valid_name(s->labels[j].name, false));
            FUZZ_CHECK(valid_utf8(s->labels[j].value));
            for (k = 0; k < j; k++) {
                FUZZ_CHECK(strcmp(s->labels[j].name, s->labels[k].name) != 0);
            }
        }
    }
}

static bool
same_sample(const struct sample *x, const struct sample *y)
{
    uint32_t j;

    if (strcmp(x->name, y->name) != 0 || x->nlabels != y->nlabels || x->type != y->type ||
        x->has_ts != y->has_ts || x->ts_ms != y->ts_ms ||
        memcmp(&x->value, &y->value, sizeof(x->value)) != 0) {
        return false;
    }
    for (j = 0; j < x->nlabels; j++) {
        if (strcmp(x->labels[j].name, y->labels[j].name) != 0 ||
            strcmp(x->labels[j].value, y->labels[j].value) != 0) {
            return false;
        }
    }
    return true;
}

/* Samples of @win are those of @whole from *@pos on; *@pos moves past them. */
static void
check_window(const struct batch *whole, const struct batch *win, size_t *pos)
{
    FUZZ_CHECK(*pos + win->nsamples <= whole->nsamples);
    for (size_t i = 0; i < win->nsamples; i++) {
        FUZZ_CHECK(same_sample(&whole->samples[*pos + i], &win->samples[i]));
    }
    *pos += win->nsamples;
}

/* The window the split parse fills is full: checked, and the parse goes on into the other one. */
static int
next_window(struct prom_parser *p, const struct batch *whole, struct batch win[2], int *cur,
            size_t *pos)
{
    check_window(whole, &win[*cur], pos);
    *cur = !*cur;
    batch_clear(&win[*cur]);
    return prom_parser_set_out(p, &win[*cur]);
}

/*
 * A second pass over the rest of a valid body from @m (taken after the complete lines before
 * @from): its samples are those of @whole from @pos on.
 */
static void
check_resume(struct prom_parser *p, const struct prom_parse_mark *m, const char *tail,
             size_t tail_len, const char *rest, size_t rest_len, const struct batch *whole,
             size_t pos)
{
    static struct batch br;
    static bool init;

    if (!init) {
        batch_init(&br);
        init = true;
    }
    batch_clear(&br);
    FUZZ_CHECK(prom_parser_resume(p, m, &br) == 0);
    FUZZ_CHECK(prom_parser_feed(p, tail, tail_len) == 0);
    FUZZ_CHECK(prom_parser_feed(p, rest, rest_len) == 0);
    FUZZ_CHECK(prom_parser_finish(p) == 0);
    FUZZ_CHECK(pos + br.nsamples == whole->nsamples);
    check_window(whole, &br, &pos);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct prom_parser *whole, *split, *again;
    static struct batch bw, bs[2];
    struct prom_parse_mark mark = {0};
    char *tail = NULL;
    size_t tail_len = 0, mark_pos = 0, mark_off = 0, pos, win;
    int cur;
    bool marked;
    const char *body = (const char *)data + 1;
    size_t n, first, chunk, off, len;
    int fmt, rw, rs;

    if (whole == NULL) {
        whole = prom_parser_new();
        split = prom_parser_new();
        again = prom_parser_new();
        FUZZ_CHECK(whole != NULL && split != NULL && again != NULL);
        batch_init(&bw);
        batch_init(&bs[0]);
        batch_init(&bs[1]);
    }
    if (size == 0) {
        return 0;
    }
    n = size - 1;
    first = n * data[0] / 256;
    chunk = 1 + (size_t)(data[0] % 17) * (data[0] % 5 + 1);
    win = 1 + data[0] % 7;
    /* One input in 8 runs under a small line cap (line_size_limit): -E2BIG, whatever the cut. */
    prom_parser_set_line_max(whole, data[0] % 8 == 0 ? 40 : 0);
    prom_parser_set_line_max(split, data[0] % 8 == 0 ? 40 : 0);

    for (fmt = PROM_FORMAT_TEXT; fmt <= PROM_FORMAT_OPENMETRICS; fmt++) {
        batch_clear(&bw);
        prom_parser_reset(whole, (enum prom_format)fmt, &bw);
        rw = prom_parser_feed(whole, body, n);
        if (rw == 0) {
            rw = prom_parser_finish(whole);
        }

        cur = 0;
        pos = 0;
        marked = false;
        batch_clear(&bs[0]);
        prom_parser_reset(split, (enum prom_format)fmt, &bs[0]);
        rs = prom_parser_feed(split, body, first);
        for (off = first; rs == 0 && off < n; off += len) {
            if (bs[cur].nsamples >= win) {
                const char *t;
                if (!marked) {
                    FUZZ_CHECK(prom_parser_mark(split, &mark, &t, &tail_len) == 0);
                    tail = malloc(tail_len + 1);
                    FUZZ_CHECK(tail != NULL);
                    memcpy(tail, t, tail_len);
                    mark_pos = pos + bs[cur].nsamples;
                    mark_off = off;
                    marked = true;
                }
                rs = next_window(split, &bw, bs, &cur, &pos);
                if (rs != 0) {
                    break;
                }
            }
            len = n - off < chunk ? n - off : chunk;
            rs = prom_parser_feed(split, body + off, len);
        }
        if (rs == 0) {
            rs = prom_parser_finish(split);
        }
        check_window(&bw, &bs[cur], &pos);
        FUZZ_CHECK(pos == bw.nsamples);
        if (marked && rw == 0) {
            check_resume(again, &mark, tail, tail_len, body + mark_off, n - mark_off, &bw,
                         mark_pos);
        }
        prom_parse_mark_release(&mark);
        free(tail);
        tail = NULL;

        FUZZ_CHECK(rw == 0 || rw == -EINVAL || rw == -E2BIG);
        FUZZ_CHECK(rw == rs);
        FUZZ_CHECK(strcmp(prom_parser_error(whole), prom_parser_error(split)) == 0);
        FUZZ_CHECK(strlen(prom_parser_error(whole)) < BATCH_ERROR_MAX);
        FUZZ_CHECK(valid_utf8(prom_parser_error(whole)));
        FUZZ_CHECK((rw == 0) == (prom_parser_error(whole)[0] == '\0'));
        check_batch(&bw);
    }
    return 0;
}
