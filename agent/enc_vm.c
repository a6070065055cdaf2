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
 * The identity labels (job, instance, the target labels and the sample's labels, each name
 * written once) are written by enc_labels.c, which the telegraf encoder shares.
 */
#include "build-config.h"

#include "enc_vm.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "enc_labels.h"
#include "jsonw.h"

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
    struct enc_labels_ident id;
    char bts[JSONW_I64_MAX], ts[JSONW_I64_MAX];
    size_t start = sb->len;
    size_t btslen = jsonw_fmt_i64(bts, b->ts_ms);
    size_t i;

    enc_labels_ident_init(&id, b, true);
    for (i = 0; i < b->nsamples && !sb->oom; i++) {
        const struct sample *s = &b->samples[i];

        STRBUF_PUT_LIT(sb, "{\"metric\":{\"__name__\":");
        jsonw_cstr(sb, s->name);
        enc_labels_ident_put(sb, &id, s, true);
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
