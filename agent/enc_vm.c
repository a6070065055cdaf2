/*
 * The "vm" output format: VictoriaMetrics' /api/v1/import JSON lines, one line per sample:
 *
 *   {"metric":{"__name__":"node_load1","job":"node","instance":"h:9100",...},
 *    "values":[0.42],"timestamps":[1764220800123]}
 *
 * A record is whole lines, so the document framing strings are all "" (encoder.h). Strings and
 * finite numbers are written by jsonw.c's writers, so the escaping (and the replacement of
 * invalid UTF-8) and the shortest round-trip numbers are the native encoder's.
 *
 * Non-finite values are written as the bare tokens NaN, +Inf and -Inf. That is not RFC 8259
 * JSON, but it is exactly what VictoriaMetrics' own /api/v1/export writes and what its import
 * parser (fastjson) reads back. Checked against VictoriaMetrics 1.79.5 (Debian 12): bare NaN,
 * Inf, +Inf and -Inf are accepted; the strings "NaN", "+Inf", "Inf" and null make it skip the
 * whole line (logged on its side, still answered 204), and so do the bare words Infinity and
 * -Infinity. Later versions also take the strings "Inf", "-Inf" and "NaN" and null (never
 * "+Inf"), and still take the bare tokens. VictoriaMetrics stores no NaN sample (1.79 drops it
 * on ingestion), so NaN lines are accepted but not kept; we send them anyway rather than
 * second-guess the server.
 *
 * The identity labels (enc_vm_ident_*) are shared with the telegraf encoder: job, instance, the
 * target labels and the sample's labels, each name written once. Their common part, the same
 * for every sample of a batch, is escaped once per encode() call and copied from the output for
 * the following samples.
 */
#include "build-config.h"

#include "enc_vm.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "jsonw.h"

/* ---- identity labels (shared with enc_telegraf.c) ---- */

static inline void
mark_first(struct enc_vm_ident *id, const char *name)
{
    unsigned char c = (unsigned char)name[0];

    id->first[c >> 6] |= UINT64_C(1) << (c & 63);
}

static inline bool
is_marked(const struct enc_vm_ident *id, const char *name)
{
    unsigned char c = (unsigned char)name[0];

    return (id->first[c >> 6] >> (c & 63)) & 1;
}

/* Prepares the identity label writer for one batch; see enc_vm.h. */
void
enc_vm_ident_init(struct enc_vm_ident *id, const struct batch *b, bool drop_name_label)
{
    uint32_t i;

    memset(id, 0, sizeof(*id));
    id->b = b;
    id->drop_name_label = drop_name_label;
    mark_first(id, "job");
    mark_first(id, "instance");
    for (i = 0; i < b->ntarget_labels; i++) {
        const char *name = jsonw_str_or_empty(b->target_labels[i].name);

        mark_first(id, name);
        if (strcmp(name, "job") == 0) {
            id->job_shadowed = true;
        }
        else if (strcmp(name, "instance") == 0) {
            id->instance_shadowed = true;
        }
    }
}

static bool
sample_has_label(const struct sample *s, const char *name)
{
    uint32_t i;

    for (i = 0; i < s->nlabels; i++) {
        if (strcmp(jsonw_str_or_empty(s->labels[i].name), name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Whether a label of @s replaces job, instance or a target label. Most label names start with
 * a byte no such name starts with, so the bitmap answers without a strcmp.
 */
static bool
sample_overrides(const struct enc_vm_ident *id, const struct sample *s)
{
    const struct batch *b = id->b;
    uint32_t i, k;

    for (i = 0; i < s->nlabels; i++) {
        const char *name = jsonw_str_or_empty(s->labels[i].name);

        if (!is_marked(id, name)) {
            continue;
        }
        if (strcmp(name, "job") == 0 || strcmp(name, "instance") == 0) {
            return true;
        }
        for (k = 0; k < b->ntarget_labels; k++) {
            if (strcmp(jsonw_str_or_empty(b->target_labels[k].name), name) == 0) {
                return true;
            }
        }
    }
    return false;
}

static inline bool
is_name(const char *name)
{
    return name[0] == '_' && strcmp(name, "__name__") == 0;
}

static inline void
put_member(struct strbuf *sb, bool sep, const char *name, const char *value)
{
    if (sep) {
        STRBUF_PUT_LIT(sb, ",");
    }
    jsonw_cstr(sb, name);
    STRBUF_PUT_LIT(sb, ":");
    jsonw_cstr(sb, value);
}

/*
 * Appends job, instance and the target labels (those not replaced by a later label: a target
 * label, or a label of @s when @s is not NULL). Returns whether anything was written.
 */
static bool
put_common(struct strbuf *sb, const struct enc_vm_ident *id, const struct sample *s, bool comma)
{
    const struct batch *b = id->b;
    bool any = false;
    uint32_t i;

    if (b->job != NULL && !id->job_shadowed && (s == NULL || !sample_has_label(s, "job"))) {
        put_member(sb, comma, "job", b->job);
        any = true;
    }
    if (b->instance != NULL && !id->instance_shadowed &&
        (s == NULL || !sample_has_label(s, "instance"))) {
        put_member(sb, comma || any, "instance", b->instance);
        any = true;
    }
    for (i = 0; i < b->ntarget_labels; i++) {
        const char *name = jsonw_str_or_empty(b->target_labels[i].name);

        if ((s != NULL && sample_has_label(s, name)) || (id->drop_name_label && is_name(name))) {
            continue;
        }
        put_member(sb, comma || any, name, b->target_labels[i].value);
        any = true;
    }
    return any;
}

/* Copies the cached common text, with a comma before it when @comma. */
static void
put_cached(struct strbuf *sb, const struct enc_vm_ident *id, bool comma)
{
    size_t n = id->len + (comma ? 1 : 0);
    char *p;

    if (!strbuf_room(sb, n)) {
        return;
    }
    p = sb->data + sb->len;
    if (comma) {
        *p++ = ',';
    }
    memcpy(p, sb->data + id->off, id->len); /* earlier text of this buffer: no overlap */
    sb->len += n;
    sb->data[sb->len] = '\0';
}

/*
 * Appends the identity labels of @s; see enc_vm.h. The shared part is written label by label
 * for the first sample and for a sample that overrides part of it, and copied otherwise.
 */
bool
enc_vm_ident_put(struct strbuf *sb, struct enc_vm_ident *id, const struct sample *s, bool comma)
{
    bool any;
    size_t off;
    uint32_t i;

    if (s->nlabels > 0 && sample_overrides(id, s)) {
        any = put_common(sb, id, s, comma);
    }
    else if (id->cached) {
        any = id->len > 0;
        if (any) {
            put_cached(sb, id, comma);
        }
    }
    else {
        off = sb->len + (comma ? 1 : 0);
        any = put_common(sb, id, NULL, comma);
        if (!sb->oom) {
            id->cached = true;
            id->off = off;
            id->len = any ? sb->len - off : 0;
        }
    }
    for (i = 0; i < s->nlabels; i++) {
        const char *name = jsonw_str_or_empty(s->labels[i].name);

        if (id->drop_name_label && is_name(name)) {
            continue;
        }
        put_member(sb, comma || any, name, s->labels[i].value);
        any = true;
    }
    return any;
}

/* ---- the encoder ---- */

/* A value as VictoriaMetrics writes and reads it: non-finite ones as bare tokens (see top). */
static inline void
put_value(struct strbuf *sb, double v)
{
    if (isfinite(v)) {
        jsonw_double(sb, v);
    }
    else if (isnan(v)) {
        STRBUF_PUT_LIT(sb, "NaN");
    }
    else if (v > 0) {
        STRBUF_PUT_LIT(sb, "+Inf");
    }
    else {
        STRBUF_PUT_LIT(sb, "-Inf");
    }
}

/*
 * Appends one import line per sample of @b; a batch without samples writes nothing. Returns 0,
 * or -ENOMEM with @sb truncated back to its length at the call. Called on the loop thread.
 */
static int
encode_vm(struct strbuf *sb, const struct batch *b)
{
    struct enc_vm_ident id;
    char bts[JSONW_I64_MAX], ts[JSONW_I64_MAX];
    size_t start = sb->len;
    size_t btslen = jsonw_fmt_i64(bts, b->ts_ms);
    size_t i;

    enc_vm_ident_init(&id, b, true);
    for (i = 0; i < b->nsamples && !sb->oom; i++) {
        const struct sample *s = &b->samples[i];

        STRBUF_PUT_LIT(sb, "{\"metric\":{\"__name__\":");
        jsonw_cstr(sb, s->name);
        enc_vm_ident_put(sb, &id, s, true);
        STRBUF_PUT_LIT(sb, "},\"values\":[");
        put_value(sb, s->value);
        STRBUF_PUT_LIT(sb, "],\"timestamps\":[");
        if (s->has_ts) {
            strbuf_put(sb, ts, jsonw_fmt_i64(ts, s->ts_ms));
        }
        else {
            strbuf_put(sb, bts, btslen);
        }
        STRBUF_PUT_LIT(sb, "]}\n");
    }
    if (sb->oom) {
        if (sb->data != NULL) {
            sb->len = start;
            sb->data[start] = '\0';
        }
        return -ENOMEM;
    }
    return 0;
}

const struct encoder enc_vm = {
    .name = "vm",
    .content_type = "application/json",
    .doc_open = "",
    .doc_sep = "",
    .doc_close = "",
    .encode = encode_vm,
};
