/*
 * A growing, always NUL-terminated byte buffer. Capacity grows geometrically (doubling from
 * STRBUF_MIN_CAP) and is kept across strbuf_reset(), so a buffer reused for every batch stops
 * allocating once it has seen the largest batch. A failed allocation sets the sticky oom flag;
 * from then on appends are no-ops until strbuf_reset(), so an encoder can write a whole batch
 * without checking every call and test the flag once at the end.
 */
#include "build-config.h"

#include "strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRBUF_MIN_CAP 256

/*
 * Initialises an empty buffer without allocating: data stays NULL until the first append or
 * reserve, so an unused buffer costs nothing.
 */
void
strbuf_init(struct strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->oom = false;
}

/* Frees the memory; @sb is left initialised (empty) and may be reused or released again. */
void
strbuf_release(struct strbuf *sb)
{
    free(sb->data);
    strbuf_init(sb);
}

/* Empties the buffer, keeping its memory for reuse, and clears the oom flag. */
void
strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    sb->oom = false;
    if (sb->data != NULL) {
        sb->data[0] = '\0';
    }
}

/*
 * Makes sure @n more bytes plus the terminating NUL fit, so a caller may write up to @n bytes at
 * data + len directly, then advance len and store the NUL. Returns 0, or -ENOMEM and sets the
 * oom flag when the allocation fails or the buffer is already oom (the contents are then
 * incomplete, so nothing more is written to it).
 */
int
strbuf_reserve(struct strbuf *sb, size_t n)
{
    size_t need, cap;
    char *p;

    if (sb->oom) {
        return -ENOMEM;
    }
    if (sb->data != NULL && sb->cap - sb->len > n) {
        return 0;
    }
    if (n > SIZE_MAX - 1 - sb->len) {
        sb->oom = true;
        return -ENOMEM;
    }
    need = sb->len + n + 1;
    cap = sb->cap < STRBUF_MIN_CAP ? STRBUF_MIN_CAP : sb->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(sb->data, cap);
    if (p == NULL) {
        sb->oom = true;
        return -ENOMEM;
    }
    if (sb->data == NULL) {
        p[0] = '\0';
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

/* Appends @n bytes of @s (which may contain NULs; may be NULL when @n is 0). No-op when oom. */
void
strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
    if (strbuf_reserve(sb, n) < 0) {
        return;
    }
    if (n > 0) {
        memcpy(sb->data + sb->len, s, n);
    }
    sb->len += n;
    sb->data[sb->len] = '\0';
}

/* Appends the C string @s. No-op when oom. */
void
strbuf_puts(struct strbuf *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

/* Appends one byte. No-op when oom. */
void
strbuf_putc(struct strbuf *sb, char c)
{
    if (strbuf_reserve(sb, 1) < 0) {
        return;
    }
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\0';
}

/*
 * Appends printf-formatted text. Formats straight into the spare capacity and only formats a
 * second time when that was too small. A formatting error (vsnprintf < 0, e.g. an unconvertible
 * wide string) also sets the oom flag: either way the text is incomplete. No-op when oom.
 */
void
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    size_t avail;
    int n;

    if (strbuf_reserve(sb, 0) < 0) {
        return;
    }
    avail = sb->cap - sb->len;
    va_start(ap, fmt);
    n = vsnprintf(sb->data + sb->len, avail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->data[sb->len] = '\0';
        sb->oom = true;
        return;
    }
    if ((size_t)n >= avail) {
        if (strbuf_reserve(sb, (size_t)n) < 0) {
            sb->data[sb->len] = '\0';
            return;
        }
        va_start(ap, fmt);
        n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            sb->data[sb->len] = '\0';
            sb->oom = true;
            return;
        }
    }
    sb->len += (size_t)n;
}
