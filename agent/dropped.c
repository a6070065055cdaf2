/*
 * Dropped targets (see dropped.h): each element is one block holding its label array, then its
 * strings, so a set of thousands of dropped targets costs one malloc each and frees simply.
 */
#include "build-config.h"

#include "dropped.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct label *
label_block_dup(const struct label *l, size_t n, const char *tail, const char **tail_copy)
{
    size_t bytes = sizeof(struct label) * n + (tail != NULL ? strlen(tail) + 1 : 0);
    struct label *labels;
    char *p;

    for (size_t i = 0; i < n; i++) {
        bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
    }
    labels = malloc(bytes > 0 ? bytes : 1);
    if (labels == NULL) {
        return NULL;
    }
    p = (char *)(labels + n);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(l[i].name) + 1, vl = strlen(l[i].value) + 1;
        memcpy(p, l[i].name, nl);
        labels[i].name = p;
        p += nl;
        memcpy(p, l[i].value, vl);
        labels[i].value = p;
        p += vl;
    }
    if (tail != NULL) {
        strcpy(p, tail);
        *tail_copy = p;
    }
    return labels;
}

int
dropped_set_add(struct dropped_set *s, const char *job, const struct label *l, size_t n,
                const char *reason)
{
    struct dropped_target *v = realloc(s->v, (s->n + 1) * sizeof(*v));
    const char *jc = NULL;
    struct label *labels;

    if (v == NULL) {
        return -ENOMEM;
    }
    s->v = v;
    labels = label_block_dup(l, n, job, &jc);
    if (labels == NULL) {
        return -ENOMEM;
    }
    s->v[s->n++] = (struct dropped_target){.job = jc,
                                           .labels = labels,
                                           .nlabels = n,
                                           .reason = reason != NULL ? reason : "relabeling"};
    return 0;
}

void
dropped_set_clear(struct dropped_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((void *)s->v[i].labels);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
