/*
 * scrape_config_files (see conf_include.h): globbing, reading and parsing the included files,
 * and mapping their scrape_configs with the directory of each file as the base of its paths.
 */
#include "build-config.h"

#include "conf_include.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

/* Maps the parsed file @d: a mapping whose only key is scrape_configs. */
static void
include_doc(struct conf_ctx *x, const struct conf_doc *d, conf_include_map_fn *map)
{
    const struct conf_node *root = d->root;
    char *saved_dir = x->dir;
    const char *slash = strrchr(d->file, '/');

    if (root == NULL) {
        return; /* an empty file adds no job */
    }
    if (root->kind != CONF_NODE_MAP) {
        conf_err(x, root,
                 "expected a mapping with scrape_configs in a scrape config file, got a %s",
                 conf_tree_kind_name(root));
        return;
    }
    x->dir =
        slash == NULL ? NULL : strndup(d->file, slash == d->file ? 1 : (size_t)(slash - d->file));
    if (slash != NULL && x->dir == NULL) {
        conf_oom(x);
        x->dir = saved_dir;
        return;
    }
    for (size_t i = 0; i < conf_tree_len(root); i++) {
        const struct conf_node *k = conf_tree_key(root, i), *v = conf_tree_val(root, i);
        struct suggest sg;
        char hint[SUGGEST_WORD_MAX + 32];

        if (strcmp(k->str, "scrape_configs") == 0) {
            if (!conf_tree_is_null(v)) {
                map(x, v);
            }
            continue;
        }
        suggest_init(&sg, k->str);
        suggest_add(&sg, "scrape_configs");
        conf_err(x, k,
                 "unknown key \"%s\" in a scrape config file (it holds only scrape_configs)%s",
                 k->str, suggest_paren(&sg, "", hint, sizeof(hint)));
    }
    free(x->dir);
    x->dir = saved_dir;
}

/* Reads, parses and maps the file @path, matched by the pattern at @at. */
static void
include_file(struct conf_ctx *x, const char *path, const struct conf_node *at, bool expand_env,
             conf_include_map_fn *map)
{
    struct conf_doc d = {0};
    char *buf = NULL;
    size_t len = 0, before = x->nerr;
    int rc = conf_tree_read_file(path, CONF_FILE_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        conf_err(x, at, "cannot read scrape config file \"%s\": %s", path,
                 rc == -EFBIG ? "file too large" : strerror(-rc));
        return;
    }
    d.file = strdup(path);
    if (d.file == NULL) {
        free(buf);
        conf_oom(x);
        return;
    }
    if (conf_tree_parse(x, &d, buf, len) == 0) {
        if (expand_env) {
            conf_tree_expand_env(x, d.root);
        }
        if (x->nerr == before) {
            include_doc(x, &d, map);
        }
    }
    conf_tree_release(&d);
    free(buf);
}

void
conf_include_scrape_files(struct conf_ctx *x, const struct conf_node *patterns, bool expand_env,
                          conf_include_map_fn *map)
{
    size_t nfiles = 0;

    if (patterns == NULL || patterns->kind != CONF_NODE_SEQ) {
        return; /* the mapping of the key reported it */
    }
    for (size_t i = 0; i < patterns->n; i++) {
        const struct conf_node *it = patterns->kids[i];
        const char *slash;
        char *pattern;
        glob_t gl = {0};

        if (it->kind != CONF_NODE_SCALAR || it->len == 0) {
            continue; /* reported by the mapping of the key */
        }
        slash = strrchr(it->str, '/');
        if (slash != NULL && memchr(it->str, '*', (size_t)(slash - it->str)) != NULL) {
            conf_err(x, it,
                     "invalid scrape_config_files pattern \"%s\": \"*\" may only be in the last "
                     "path element",
                     it->str);
            continue;
        }
        pattern = conf_path_resolve(x, it->str);
        if (pattern == NULL) {
            conf_oom(x);
            return;
        }
        int rc = glob(pattern, 0, NULL, &gl);
        if (rc == GLOB_NOMATCH) {
            conf_warn(x, it, "scrape_config_files pattern \"%s\" matches no file", it->str);
        }
        else if (rc == GLOB_NOSPACE) {
            conf_oom(x);
        }
        else if (rc != 0) {
            conf_err(x, it, "cannot read the directory of \"%s\"", pattern);
        }
        for (size_t k = 0; rc == 0 && k < gl.gl_pathc; k++) {
            if (++nfiles > CONF_INCLUDE_MAX_FILES) {
                conf_err(x, it, "scrape_config_files match more than %d files",
                         CONF_INCLUDE_MAX_FILES);
                break;
            }
            include_file(x, gl.gl_pathv[k], it, expand_env, map);
        }
        globfree(&gl);
        free(pattern);
    }
}
