/*
 * The identity label writer (see enc_labels.h). A bitmap of first bytes tells, for most names,
 * without comparing strings, that a sample label cannot override a shared one; the shared text
 * is written once per batch and copied for every sample that overrides none of it.
 */
#include "build-config.h"

#include "enc_labels.h"

#include <string.h>

#include "jsonw.h"

static inline void
mark_first(struct enc_labels_ident *id, const char *name)
{
    unsigned char c = (unsigned char)name[0];

    id->first[c >> 6] |= UINT64_C(1) << (c & 63);
}

static inline bool
is_marked(const struct enc_labels_ident *id, const char *name)
{
    unsigned char c = (unsigned char)name[0];

    return (id->first[c >> 6] >> (c & 63)) & 1;
}

/* Prepares the identity label writer for one batch; see enc_labels.h. */
void
enc_labels_ident_init(struct enc_labels_ident *id, const struct batch *b, bool drop_name_label)
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
sample_overrides(const struct enc_labels_ident *id, const struct sample *s)
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
put_common(struct strbuf *sb, const struct enc_labels_ident *id, const struct sample *s, bool comma)
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
put_cached(struct strbuf *sb, const struct enc_labels_ident *id, bool comma)
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
 * Appends the identity labels of @s; see enc_labels.h. The shared part is written label by label
 * for the first sample and for a sample that overrides part of it, and copied otherwise.
 */
bool
enc_labels_ident_put(struct strbuf *sb, struct enc_labels_ident *id, const struct sample *s,
                     bool comma)
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
