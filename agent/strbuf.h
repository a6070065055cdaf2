/*
 * A growing byte buffer: the one place output text is assembled. Encoders append into it, outputs
 * write it out, and it is reused between batches so steady state does no allocation.
 */
#ifndef POLLSTER_STRBUF_H
#define POLLSTER_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct strbuf {
    char *data; /* owned; NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    bool oom; /* sticky: an append failed for lack of memory */
};

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* len = 0, keeps the memory and clears oom. */
void strbuf_reset(struct strbuf *sb);
/* Makes room for @n more bytes (plus NUL). Returns 0 or -ENOMEM (and sets oom). */
int strbuf_reserve(struct strbuf *sb, size_t n);
void strbuf_append(struct strbuf *sb, const char *s, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The encoders' fast path: true when @n more bytes (plus the NUL) fit at sb->data + sb->len,
 * growing the buffer if needed. The inline test keeps the common case free of a call.
 */
static inline bool
strbuf_room(struct strbuf *sb, size_t n)
{
    return (!sb->oom && sb->cap - sb->len > n) || strbuf_reserve(sb, n) == 0;
}

/* strbuf_append() inlined for the encoders' per-sample writes. */
static inline void
strbuf_put(struct strbuf *sb, const char *s, size_t n)
{
    if (!strbuf_room(sb, n)) {
        return;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

/* Appends a string literal (the "" makes anything else a compile error). */
#define STRBUF_PUT_LIT(sb, lit) strbuf_put((sb), "" lit, sizeof(lit) - 1)
/* Appends the literal @lit, which starts with ',', leaving that comma out unless @comma. */
#define STRBUF_PUT_LIT_SEP(sb, comma, lit)                                                         \
    strbuf_put((sb), ("" lit) + !(comma), sizeof(lit) - 1 - !(comma))

#endif
