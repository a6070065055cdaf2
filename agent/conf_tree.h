/*
 * The config file as a tree: libyaml events become nodes (scalar, sequence, mapping) that keep
 * the file, line and column of every key and value. Aliases point at the anchored node (shared,
 * never copied; an alias may only name a node that is complete, so there are no cycles), "<<"
 * merge keys are expanded, duplicate keys are reported with both positions, and the size after
 * alias expansion is bounded so a "billion laughs" document cannot blow up the mapping. The
 * tree knows nothing of what the keys mean (conf.c maps it).
 */
#ifndef POLLSTER_CONF_TREE_H
#define POLLSTER_CONF_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf_ctx;
struct conf_anchor;

enum conf_node_kind { CONF_NODE_SCALAR = 0, CONF_NODE_SEQ, CONF_NODE_MAP };

struct conf_node {
    enum conf_node_kind kind;
    bool plain;       /* an unquoted scalar: may be null */
    int line;         /* 1-based */
    int col;          /* 1-based */
    const char *file; /* borrowed: the doc */
    char *str;        /* scalar: owned, NUL-terminated */
    size_t len;
    struct conf_node **kids; /* sequence: items; mapping: key, value, key, value, ... (borrowed) */
    size_t n;
    size_t cap;
    uint64_t weight;            /* nodes under this one after alias expansion, itself included */
    bool expanded;              /* conf_tree_expand_env has been here (aliases share nodes) */
    struct conf_node *all_next; /* the doc's list of every node (owner) */
};

/* One parsed document. Zero-initialised, with @file set (owned), before conf_tree_parse. */
struct conf_doc {
    char *file;             /* owned */
    struct conf_node *root; /* NULL for an empty document */
    struct conf_node *all;  /* owned: every node */
    struct conf_anchor *anchors;
    size_t nanchors;
};

/* "scalar", "sequence" or "mapping". */
const char *conf_tree_kind_name(const struct conf_node *n);
/* True for NULL and for the plain scalars "", "~", "null", "Null", "NULL". */
bool conf_tree_is_null(const struct conf_node *n);
/* Mapping @m's number of pairs, its key @i and its value @i. */
size_t conf_tree_len(const struct conf_node *m);
const struct conf_node *conf_tree_key(const struct conf_node *m, size_t i);
const struct conf_node *conf_tree_val(const struct conf_node *m, size_t i);
/* The value of @key in mapping @m, or NULL when absent or null (also when @m is no mapping). */
const struct conf_node *conf_tree_get(const struct conf_node *m, const char *key);
/* The key node of @key in mapping @m (for positions), or NULL. */
const struct conf_node *conf_tree_get_key(const struct conf_node *m, const char *key);

/*
 * Parses @len bytes of @buf (named d->file) into d->root, reporting errors through @x. Returns 0,
 * or -EINVAL / -ENOMEM after reporting. A tree is always left in @d for conf_tree_release, even
 * after an error.
 */
int conf_tree_parse(struct conf_ctx *x, struct conf_doc *d, const char *buf, size_t len);
/*
 * Replaces ${NAME} in every scalar value under @root (not in keys) by the environment variable
 * NAME, and $$ by $; any other $ stays as written. NAME is letters, digits and _, not starting
 * with a digit. An unset variable, or "${" not followed by NAME and "}", is an error at the
 * value. Values of the keys regex and replacement, and of keys ending in "regexp", are left
 * alone: there $ is an anchor or a capture group ($1, ${1}), as in Prometheus.
 */
void conf_tree_expand_env(struct conf_ctx *x, struct conf_node *root);

/* Frees everything @d owns; @d is zeroed. */
void conf_tree_release(struct conf_doc *d);

/*
 * Reads the whole file @path (at most @max bytes) into *@out (NUL-terminated, caller frees) and
 * its length into *@outlen. 0, or a negative errno (-EFBIG past @max). Blocking.
 */
int conf_tree_read_file(const char *path, size_t max, char **out, size_t *outlen);

#endif
