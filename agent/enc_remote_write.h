/*
 * The "remote_write" output format (encoder.h): Prometheus remote write 1.0's WriteRequest
 * protobuf, written by hand (no protobuf runtime on the hot path). A record is the batch's
 * series as concatenated `timeseries` (field 1) entries: concatenated entries are themselves a
 * valid WriteRequest, so records join into a request body by plain concatenation (doc_open,
 * doc_sep and doc_close are ""), and the http output's queue, spool and books carry them
 * unchanged. Each sample is one TimeSeries of one Sample: its labels sorted by name with
 * __name__ among them, each name once (the sample's labels over the target labels over job and
 * instance), empty values left out. The timestamp is the sample's own or the batch's start.
 * Staleness markers (b->nstale) are written after the batch's samples.
 *
 * Outputs that print documents (stdout, file) get a readable dump instead (encode_text): one
 * line per series, `{__name__="up", instance="h:1", job="j"} 1764220800123 1`: labels as they
 * would be sent, the timestamp in ms, the value (NaN, +Inf, -Inf, or StaleNaN for a marker).
 */
#ifndef POLLSTER_ENC_REMOTE_WRITE_H
#define POLLSTER_ENC_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "encoder.h"
#include "relabel.h"
#include "sample.h"

extern const struct encoder enc_remote_write;

/*
 * A part of a series' label set: a run [a, b) of the batch's common labels (b > a), whose
 * encoded bytes are written once per batch, or one label of its own (name, value).
 */
struct enc_rw_piece {
    uint32_t a, b;
    const char *name, *value; /* borrowed */
    size_t nlen, vlen;
};

/*
 * A slot of a series' template: a run [a, b) of common labels (b > a), or (b == 0) the
 * sample's own label j, or __name__ (j == ENC_RW_SLOT_NAME); nlen is the label name's length.
 * Which slots a series has depends only on its label names, so samples whose label names are
 * the same strings as the previous sample's (the parser shares them within a family) reuse it.
 */
struct enc_rw_slot {
    uint32_t a, b, j;
    size_t nlen;
};
#define ENC_RW_SLOT_NAME UINT32_MAX

/* Reusable working memory of the encoder (label sets); zero-initialised is empty. */
struct enc_rw_scratch {
    struct enc_rw_piece *pieces; /* owned: 2 * cap + 2 of them */
    size_t *coff;                /* owned: cap + 1 offsets of each common label in cenc */
    struct strbuf cenc;          /* owned: the common labels as encoded Label entries */
    struct label *labels;        /* owned: the series being written, sorted */
    size_t *lens;                /* owned: byte lengths of labels[i].name and .value, interleaved */
    struct label *common; /* owned: job, instance and the target labels, sorted, once per batch */
    size_t *clens;        /* owned: their lengths, as lens */
    struct label *tmp;    /* owned: a sample's own labels, sorted */
    uint32_t *idx;        /* owned: indexes of a sample's own labels, sorted by name */
    struct enc_rw_slot *tpl; /* owned: 2 * cap + 2 slots, the template of the last series */
    const char **tpl_names;  /* owned: cap label names the template was made for */
    size_t ntpl;             /* slots in tpl */
    uint32_t tpl_n;          /* entries of tpl_names */
    bool tpl_ok;             /* tpl holds this batch's template for tpl_names */
    const char *name_ptr;    /* the last series' name and its length */
    size_t name_len;
    size_t cap; /* entries of each label array (each lens array has 2 * cap) */
    size_t ncommon;
    size_t name_pos;    /* where __name__ goes among common: the number of names before it */
    struct arena arena; /* owned: what relabeling allocates; released after every batch */
    bool arena_ready;
};

void enc_rw_scratch_release(struct enc_rw_scratch *x);

/*
 * Appends the record of @b to @sb after applying @nrules write relabel rules to every series
 * (a series a rule drops is left out; @rules may be NULL when @nrules is 0). @x is working
 * memory kept between calls. *@nseries (may be NULL) receives the number of series written.
 * Returns 0 or -ENOMEM (@sb then holds what it held before). Called on the loop thread.
 */
int enc_remote_write_encode(struct strbuf *sb, const struct batch *b,
                            const struct relabel_rule *rules, size_t nrules,
                            struct enc_rw_scratch *x, uint32_t *nseries);
/* The same for samples [@from, @to) of @b's samples and staleness markers only. */
int enc_remote_write_encode_range(struct strbuf *sb, const struct batch *b, size_t from, size_t to,
                                  const struct relabel_rule *rules, size_t nrules,
                                  struct enc_rw_scratch *x, uint32_t *nseries);

#endif
