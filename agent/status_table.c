/* The --once table; see status_table.h. */
#include "build-config.h"

#include "status_table.h"

#include <stdio.h>
#include <string.h>

#define TABLE_COLS 6

const char *
status_table_fmt_secs(double s, char *buf, size_t len)
{
    if (s < 1) {
        snprintf(buf, len, "%.3gms", s * 1000);
    }
    else {
        snprintf(buf, len, "%.3gs", s);
    }
    return buf;
}

const char *
status_table_why(const struct engine_target_info *t, char *buf, size_t len)
{
    const char *r = reason_name(t->last_reason);
    size_t n = strlen(r);

    if (strncmp(t->last_error, r, n) == 0 && t->last_error[n] == ':' &&
        t->last_error[n + 1] == ' ') {
        snprintf(buf, len, "%s", t->last_error);
    }
    else {
        snprintf(buf, len, "%s: %s", r, t->last_error);
    }
    return buf;
}

/* The cells of target @t's row, in @buf (reason or error may be long: borrowed from @t). */
struct row {
    const char *cell[TABLE_COLS];
    char dur[32], samples[32], why[BATCH_ERROR_MAX + 64];
};

static void
fill_row(struct row *r, const struct engine_target_info *t)
{
    r->cell[0] = t->display_url;
    r->cell[1] = t->kind;
    r->cell[2] = t->health == ENGINE_HEALTH_UP     ? "up"
                 : t->health == ENGINE_HEALTH_DOWN ? "down"
                                                   : "unknown";
    if (t->health == ENGINE_HEALTH_DOWN) {
        status_table_why(t, r->why, sizeof(r->why));
    }
    else {
        snprintf(r->why, sizeof(r->why), "%s", t->health == ENGINE_HEALTH_UP ? "" : "not run");
    }
    r->cell[3] = r->why;
    if (t->last_ts_ms > 0) {
        status_table_fmt_secs(t->last_duration_s, r->dur, sizeof(r->dur));
    }
    else {
        snprintf(r->dur, sizeof(r->dur), "-");
    }
    r->cell[4] = r->dur;
    snprintf(r->samples, sizeof(r->samples), "%zu", t->last_samples);
    r->cell[5] = r->samples;
}

/* One line: cells padded to @w (the last one not), numbers right-aligned. */
static void
put_line(struct strbuf *sb, const char *const *cell, const size_t *w)
{
    for (int c = 0; c < TABLE_COLS; c++) {
        size_t n = strlen(cell[c]);
        bool right = c >= 4;
        if (right) {
            strbuf_printf(sb, "%*s", (int)(w[c] - n), "");
        }
        strbuf_puts(sb, cell[c]);
        if (c + 1 < TABLE_COLS) {
            strbuf_printf(sb, "%*s", (int)(right ? 2 : w[c] - n + 2), "");
        }
    }
    strbuf_putc(sb, '\n');
}

void
status_table_render(struct strbuf *sb, const struct engine *e)
{
    static const char *const head[TABLE_COLS] = {"TARGET",       "KIND",     "STATE",
                                                 "REASON/ERROR", "DURATION", "SAMPLES"};
    struct engine_target_info t;
    struct row r;
    size_t w[TABLE_COLS];

    for (int c = 0; c < TABLE_COLS; c++) {
        w[c] = strlen(head[c]);
    }
    for (size_t i = 0; engine_target_info(e, i, &t) == 0; i++) {
        fill_row(&r, &t);
        for (int c = 0; c < TABLE_COLS; c++) {
            size_t n = strlen(r.cell[c]);
            w[c] = n > w[c] ? n : w[c];
        }
    }
    put_line(sb, head, w);
    for (size_t i = 0; engine_target_info(e, i, &t) == 0; i++) {
        fill_row(&r, &t);
        put_line(sb, r.cell, w);
    }
    strbuf_putc(sb, '\n');
    status_table_summary(sb, e);
    strbuf_putc(sb, '\n');
}

void
status_table_summary(struct strbuf *sb, const struct engine *e)
{
    struct engine_target_info t;
    size_t n = 0, up = 0, down = 0, unknown = 0;
    size_t by[REASON__COUNT];

    memset(by, 0, sizeof(by));
    for (size_t i = 0; engine_target_info(e, i, &t) == 0; i++) {
        n++;
        up += t.health == ENGINE_HEALTH_UP;
        unknown += t.health == ENGINE_HEALTH_UNKNOWN;
        if (t.health == ENGINE_HEALTH_DOWN) {
            down++;
            by[t.last_reason]++;
        }
    }
    strbuf_printf(sb, "%zu target%s: %zu up, %zu down", n, n == 1 ? "" : "s", up, down);
    if (down > 0) {
        const char *sep = " (";
        for (int k = 0; k < REASON__COUNT; k++) {
            if (by[k] == 0) {
                continue;
            }
            if (by[k] == down) {
                strbuf_printf(sb, "%s%s", sep, reason_name((enum reason)k));
            }
            else {
                strbuf_printf(sb, "%s%zu %s", sep, by[k], reason_name((enum reason)k));
            }
            sep = ", ";
        }
        strbuf_putc(sb, ')');
    }
    if (unknown > 0) {
        strbuf_printf(sb, ", %zu not run", unknown);
    }
}
