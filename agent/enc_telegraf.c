/*
 * The "telegraf" output format: the shape of Telegraf's JSON serializer, batches as
 * {"metrics":[...]}, with metrics mapped the way Telegraf's prometheus input plugin maps them
 * with metric_version = 2, so consumers of that plugin's output can switch to pollster:
 *
 *   {"fields":{"node_load1":0.42},"name":"prometheus",
 *    "tags":{"job":"node","instance":"h:9100","env":"prod"},"timestamp":1764220800}
 *
 * What follows Telegraf:
 *   - the measurement is always "prometheus" and each sample is one metric whose one field is
 *     named after the sample (node_cpu_seconds_total, foo_bucket with an "le" tag, foo with a
 *     "quantile" tag);
 *   - as metric_version 2 does, the _count and _sum of one histogram or summary series make one
 *     metric with two fields, when the exposition has them next to each other (as every client
 *     library writes them) with the same labels and timestamp;
 *   - keys are in the order Go's encoding/json writes the serializer's map: fields, name, tags,
 *     timestamp (the members inside fields and tags keep our order, which JSON ignores);
 *   - timestamp is in whole seconds, Telegraf's default json_timestamp_units = "1s", truncated
 *     toward zero like Go's UnixNano() / 1e9; the sample's own timestamp when it has one, else
 *     the batch start.
 * Where we differ:
 *   - the tags are job, instance, the target labels (external labels included) and the sample's
 *     labels (enc_labels_ident_put(): each name once, the sample's label winning); Telegraf has no
 *     job/instance and adds a "url" tag instead;
 *   - non-finite values are written as the strings "NaN", "+Inf" and "-Inf", as the native
 *     format writes them (Prometheus HTTP API spelling). Telegraf itself loses them: its parser
 *     drops NaN gauges and counters, and its JSON serializer leaves out every NaN or infinite
 *     field (a metric may end up with "fields":{}). We keep the sample, as everywhere else.
 *
 * A record is the batch's metric objects joined by ','; a batch without samples writes nothing.
 */
#include "build-config.h"

#include "enc_telegraf.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "enc_labels.h"
#include "jsonw.h"

static inline bool
str_eq(const char *a, const char *b)
{
    return a == b || strcmp(jsonw_str_or_empty(a), jsonw_str_or_empty(b)) == 0;
}

static bool
labels_equal(const struct sample *a, const struct sample *b)
{
    uint32_t i;

    if (a->nlabels != b->nlabels) {
        return false;
    }
    if (a->labels == b->labels) {
        return true;
    }
    for (i = 0; i < a->nlabels; i++) {
        if (!str_eq(a->labels[i].name, b->labels[i].name) ||
            !str_eq(a->labels[i].value, b->labels[i].value)) {
            return false;
        }
    }
    return true;
}

/* Length of @name without its suffix @sfx (NUL-terminated), or 0 when it does not end so. */
static size_t
base_len(const char *name, size_t len, const char *sfx)
{
    size_t n = strlen(sfx);

    if (len > n && memcmp(name + len - n, sfx, n) == 0) {
        return len - n;
    }
    return 0;
}

/*
 * Whether @a and @b are the _count and _sum (in either order) of one histogram or summary
 * series: same type, same family name, same labels, same timestamp. Sets *@count to the
 * _count one.
 */
static bool
count_sum_pair(const struct sample *a, const struct sample *b, const struct sample **count)
{
    const struct sample *c, *s;
    const char *cn, *sn;
    size_t cl, sl, cb, sbl;

    if (a->type != b->type || (a->type != SAMPLE_HISTOGRAM && a->type != SAMPLE_SUMMARY) ||
        a->has_ts != b->has_ts || (a->has_ts && a->ts_ms != b->ts_ms)) {
        return false;
    }
    cn = jsonw_str_or_empty(a->name);
    sn = jsonw_str_or_empty(b->name);
    c = a;
    s = b;
    cl = strlen(cn);
    if (base_len(cn, cl, "_count") == 0) {
        c = b;
        s = a;
        cn = jsonw_str_or_empty(c->name);
        sn = jsonw_str_or_empty(s->name);
        cl = strlen(cn);
    }
    sl = strlen(sn);
    cb = base_len(cn, cl, "_count");
    sbl = base_len(sn, sl, "_sum");
    if (cb == 0 || cb != sbl || memcmp(cn, sn, cb) != 0 || !labels_equal(a, b)) {
        return false;
    }
    *count = c;
    return true;
}

static inline void
put_field(struct strbuf *sb, const struct sample *s)
{
    const char *name = jsonw_str_or_empty(s->name);

    jsonw_string(sb, name, strlen(name));
    STRBUF_PUT_LIT(sb, ":");
    jsonw_double(sb, s->value); /* non-finite: "NaN", "+Inf", "-Inf" (see top) */
}

/*
 * Appends the metric objects of @b joined by ','. Returns 0, or -ENOMEM with @sb truncated back
 * to its length at the call. Called on the loop thread.
 */
static int
encode_telegraf(struct strbuf *sb, const struct batch *b)
{
    struct enc_labels_ident id;
    char bts[JSONW_I64_MAX], ts[JSONW_I64_MAX];
    size_t start = sb->len;
    size_t btslen = jsonw_fmt_i64(bts, b->ts_ms / 1000);
    const struct sample *count = NULL;
    size_t i = 0;

    enc_labels_ident_init(&id, b, false);
    while (i < b->nsamples && !sb->oom) {
        const struct sample *s = &b->samples[i];
        bool pair = i + 1 < b->nsamples && count_sum_pair(s, s + 1, &count);

        STRBUF_PUT_LIT_SEP(sb, i > 0, ",{\"fields\":{");
        if (pair) {
            /* _count first: the order Go writes the two keys in */
            put_field(sb, count);
            STRBUF_PUT_LIT(sb, ",");
            put_field(sb, count == s ? s + 1 : s);
        }
        else {
            put_field(sb, s);
        }
        STRBUF_PUT_LIT(sb, "},\"name\":\"prometheus\",\"tags\":{");
        enc_labels_ident_put(sb, &id, s, false);
        STRBUF_PUT_LIT(sb, "},\"timestamp\":");
        if (s->has_ts) {
            strbuf_put(sb, ts, jsonw_fmt_i64(ts, s->ts_ms / 1000));
        }
        else {
            strbuf_put(sb, bts, btslen);
        }
        STRBUF_PUT_LIT(sb, "}");
        i += pair ? 2 : 1;
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

const struct encoder enc_telegraf = {
    .name = "telegraf",
    .content_type = "application/json",
    .doc_open = "{\"metrics\":[",
    .doc_sep = ",",
    .doc_close = "]}\n",
    .encode = encode_telegraf,
};
