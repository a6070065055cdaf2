/*
 * A big body in windows (prom_parse.h, job_prom.c): the parser goes on into another batch, or
 * starts a second pass over the body's rest from a mark.
 */
#include "build-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prom_parse-internal.h"

int
prom_parser_set_out(struct prom_parser *p, struct batch *out)
{
    /*
     * A Metric noted last is looked up while its sample is still there; an error it finds is
     * told where a whole body's parse would tell it (prom_parse_metric_flush()).
     */
    int rc = p->err;

    if (rc == 0 && p->om_metric.pending && prom_parse_metric_flush(p) != 0) {
        p->cut_err = p->err;
        memcpy(p->cut_msg, p->errmsg, sizeof(p->cut_msg));
        p->err = 0;
        p->errmsg[0] = '\0';
    }

    if (rc == 0 && p->fmt == PROM_FORMAT_OPENMETRICS && !p->checked) {
        rc = prom_parse_metric_cut(p);
    }

    p->base += p->out->nsamples;
    p->out = out;
    prom_parse_forget_last(p);
    return rc;
}

int
prom_parser_mark(const struct prom_parser *p, struct prom_parse_mark *m, const char **tail,
                 size_t *tail_len)
{
    *m = (struct prom_parse_mark){
        .fmt = p->fmt, .lineno = p->lineno, .have_cur = p->have_cur, .cur_type = p->cur_type};
    if (p->have_cur) {
        if (p->fmt == PROM_FORMAT_OPENMETRICS) {
            m->cur_flags = p->fams[p->cur_idx].flags;
        }
        m->cur = malloc(p->cur_len + 1);
        if (m->cur == NULL) {
            return -ENOMEM;
        }
        memcpy(m->cur, p->cur, p->cur_len);
        m->cur_len = p->cur_len;
    }
    *tail = p->tail;
    *tail_len = p->tail_len;
    return 0;
}

int
prom_parser_resume(struct prom_parser *p, const struct prom_parse_mark *m, struct batch *out)
{
    prom_parser_reset(p, m->fmt, out);
    p->lineno = m->lineno;
    p->checked = true;
    if (!m->have_cur) {
        return 0;
    }
    if (m->fmt == PROM_FORMAT_OPENMETRICS) {
        return prom_parse_meta_restore_cur(p, m->cur, m->cur_len, m->cur_type, m->cur_flags);
    }
    return prom_parse_meta_set_cur(p, m->cur, m->cur_len, m->cur_type);
}

void
prom_parse_mark_release(struct prom_parse_mark *m)
{
    free(m->cur);
    *m = (struct prom_parse_mark){0};
}
