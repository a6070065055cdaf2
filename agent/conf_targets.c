/*
 * Targets in the config: Prometheus' target model (static_configs and file_sd_configs target
 * groups, __address__, __scheme__, __metrics_path__, __param_<name>, instance) resolved to final
 * URLs and labels at load time, URL targets of the other kinds, and URL checks. file_sd files
 * are read at load and reload; sdwatch.c re-globs the patterns kept in the job.
 */
#include "build-config.h"

#include "conf_targets.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "httpc.h"
#include "strbuf.h"

/* A target group, in static_configs or in a file_sd file (a temporary: targets are resolved). */
struct sd_group {
    char **targets;
    size_t ntargets;
    struct label *labels;
    size_t nlabels;
};

static const struct conf_field group_fields[] = {
    CONF_FLDN("targets", CONF_FT_STRLIST, struct sd_group, targets, ntargets,
              .desc = "Addresses (host:port) to scrape."),
    CONF_FLDN("labels", CONF_FT_LABELS, struct sd_group, labels, nlabels,
              .flags = CONF_F_RESERVED_OK,
              .desc = "Labels of every target of the group (__scheme__, __metrics_path__, "
                      "__param_<name> and instance override the job's)."),
};
const struct conf_section conf_targets_group_section = {.name = "static_configs[]",
                                                        CONF_FIELDS(group_fields)};

struct sd_file {
    char **files;
    size_t nfiles;
    int64_t refresh_ms;
};

static const struct conf_field sd_file_fields[] = {
    CONF_FLDN("files", CONF_FT_STRLIST, struct sd_file, files, nfiles,
              .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
              .desc =
                  "Globs of .json, .yml or .yaml files of target groups, read at load and reload."),
    CONF_FLD("refresh_interval", CONF_FT_DURATION, struct sd_file, refresh_ms, .def = "5m",
             .desc = "How often the files are checked (glob, size, mtime); a change reloads the "
                     "targets."),
};
const struct conf_section conf_targets_file_sd_section = {.name = "file_sd_configs[]",
                                                          CONF_FIELDS(sd_file_fields)};

void
conf_targets_release(struct config_target *t)
{
    free(t->url);
    free(t->instance);
    conf_labels_free(t->labels, t->nlabels);
}

/*
 * Checks @url with curl_url(): an http or https URL with a host. Returns NULL, or why not.
 * With @hostport, also returns "host[:port]" (malloc'ed) there.
 */
const char *
conf_targets_url_check(const char *url, char **hostport)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    const char *why = NULL;
    CURLUcode uc;

    if (u == NULL) {
        return "out of memory";
    }
    uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        why = curl_url_strerror(uc);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        why = "only http and https are allowed";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        why = "no host";
        goto out;
    }
    if (hostport != NULL) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
            *hostport = conf_printf("%s:%s", host, port);
        }
        else {
            *hostport = strdup(host);
        }
        if (*hostport == NULL) {
            why = "out of memory";
        }
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return why;
}

const char *
conf_targets_label_get(const struct label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].name, name) == 0) {
            return l[i].value;
        }
    }
    return NULL;
}

static bool
labels_equal(const struct label *a, size_t na, const struct label *b, size_t nb)
{
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].value, b[i].value) != 0) {
            return false;
        }
    }
    return true;
}

/*
 * Adds a target to @job: copies @url, @instance and those of @labels (sorted by name) that are
 * neither "__" labels, nor "instance", nor empty. A target identical to one already there is
 * dropped, as Prometheus does. 0 or -ENOMEM.
 */
int
conf_targets_add(struct config_job *job, const char *url, const char *instance,
                 const struct label *labels, size_t nlabels)
{
    struct config_target t = {0};
    struct config_target *arr;

    t.labels = calloc(nlabels + 1, sizeof(*t.labels));
    t.url = strdup(url);
    t.instance = strdup(instance);
    if (t.labels == NULL || t.url == NULL || t.instance == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (strncmp(labels[i].name, "__", 2) == 0 || strcmp(labels[i].name, "instance") == 0 ||
            labels[i].value[0] == '\0') {
            continue;
        }
        t.labels[t.nlabels].name = strdup(labels[i].name);
        t.labels[t.nlabels].value = strdup(labels[i].value);
        t.nlabels++;
        if (t.labels[t.nlabels - 1].name == NULL || t.labels[t.nlabels - 1].value == NULL) {
            goto fail;
        }
    }
    qsort(t.labels, t.nlabels, sizeof(*t.labels), conf_label_cmp);
    for (size_t i = 0; i < job->ntargets; i++) {
        const struct config_target *o = &job->targets[i];
        if (strcmp(o->url, t.url) == 0 && strcmp(o->instance, t.instance) == 0 &&
            labels_equal(o->labels, o->nlabels, t.labels, t.nlabels)) {
            conf_targets_release(&t);
            return 0;
        }
    }
    arr = conf_grow(job->targets, job->ntargets, sizeof(*arr));
    if (arr == NULL) {
        goto fail;
    }
    job->targets = arr;
    job->targets[job->ntargets++] = t;
    return 0;
fail:
    conf_targets_release(&t);
    return -ENOMEM;
}

/* Percent-encodes @s: unreserved characters and those in @keep stay; with @plus, ' ' is '+'. */
static void
url_escape(struct strbuf *sb, const char *s, const char *keep, bool plus)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~", c) != NULL || (keep != NULL && strchr(keep, c) != NULL)) {
            strbuf_putc(sb, (char)c);
        }
        else if (plus && c == ' ') {
            strbuf_putc(sb, '+');
        }
        else {
            strbuf_printf(sb, "%%%02X", c);
        }
    }
}

static bool
address_valid(const char *a)
{
    if (*a == '\0') {
        return false;
    }
    for (; *a != '\0'; a++) {
        if ((unsigned char)*a <= ' ' || strchr("/?#@\\", *a) != NULL) {
            return false;
        }
    }
    return true;
}

/*
 * Resolves the targets of one target group of scrape job @job (as Prometheus does): each address
 * gets the group's labels, __address__, and the job's scheme, metrics_path and params unless the
 * group's __scheme__, __metrics_path__ or __param_<name> labels override them. @gnode is the
 * group's mapping (positions of the targets).
 */
static void
group_resolve(struct conf_ctx *x, struct config_job *job, const struct conf_targets_defaults *sc,
              const struct sd_group *g, const struct conf_node *gnode, const char *path)
{
    const struct conf_node *tn = conf_tree_get(gnode, "targets");
    const char *scheme = conf_targets_label_get(g->labels, g->nlabels, "__scheme__");
    const char *mpath = conf_targets_label_get(g->labels, g->nlabels, "__metrics_path__");
    const char *inst = conf_targets_label_get(g->labels, g->nlabels, "instance");
    struct config_param *params = NULL;
    size_t nparams = 0;
    struct strbuf sb;

    if (scheme == NULL) {
        scheme = sc->scheme;
    }
    if (mpath == NULL) {
        mpath = sc->metrics_path;
    }
    if (tn == NULL || tn->kind != CONF_NODE_SEQ || tn->n != g->ntargets) {
        return; /* already reported */
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        conf_err(x, gnode, "invalid __scheme__ \"%s\" in %s (expected http or https)", scheme,
                 path);
        return;
    }
    if (mpath[0] != '/') {
        conf_err(x, gnode, "invalid __metrics_path__ \"%s\" in %s (must start with /)", mpath,
                 path);
        return;
    }
    /* the job's params, the first value of each replaced by a __param_<name> label */
    params = calloc(sc->nparams + g->nlabels + 1, sizeof(*params));
    if (params == NULL) {
        conf_oom(x);
        return;
    }
    for (size_t i = 0; i < sc->nparams; i++) {
        params[nparams++] = sc->params[i]; /* shallow: values borrowed */
    }
    const char **firsts = calloc(sc->nparams + g->nlabels + 1, sizeof(*firsts));
    if (firsts == NULL) {
        free(params);
        conf_oom(x);
        return;
    }
    for (size_t i = 0; i < g->nlabels; i++) {
        const char *name = g->labels[i].name;
        size_t j;
        if (strncmp(name, "__param_", 8) != 0 || name[8] == '\0') {
            continue;
        }
        for (j = 0; j < nparams; j++) {
            if (strcmp(params[j].name, name + 8) == 0) {
                break;
            }
        }
        if (j == nparams) {
            params[nparams].name = (char *)name + 8;
            params[nparams].values = NULL;
            params[nparams].nvalues = 0;
            nparams++;
        }
        firsts[j] = g->labels[i].value;
    }
    /* params and firsts move together: sort by index order of names */
    for (size_t i = 1; i < nparams; i++) {
        for (size_t j = i; j > 0 && strcmp(params[j - 1].name, params[j].name) > 0; j--) {
            struct config_param tp = params[j];
            const char *tf = firsts[j];
            params[j] = params[j - 1];
            firsts[j] = firsts[j - 1];
            params[j - 1] = tp;
            firsts[j - 1] = tf;
        }
    }
    strbuf_init(&sb);
    for (size_t i = 0; i < g->ntargets; i++) {
        const char *addr = g->targets[i];
        const struct conf_node *at = tn->kids[i];
        const char *why;
        char sep = '?';

        if (!address_valid(addr)) {
            char *red = httpc_redact_url_dup(addr);
            conf_err(x, at, "invalid target address \"%s\" in %s (expected host:port)",
                     red != NULL ? red : "", path);
            free(red);
            continue;
        }
        strbuf_reset(&sb);
        strbuf_printf(&sb, "%s://%s", scheme, addr);
        url_escape(&sb, mpath, "$&+,/:;=@", false);
        for (size_t p = 0; p < nparams; p++) {
            size_t nv = params[p].nvalues;
            if (nv == 0 && firsts[p] != NULL) {
                nv = 1; /* a __param_<name> label of a name the job does not have */
            }
            for (size_t v = 0; v < nv; v++) {
                const char *val = v == 0 && firsts[p] != NULL ? firsts[p] : params[p].values[v];
                strbuf_putc(&sb, sep);
                sep = '&';
                url_escape(&sb, params[p].name, NULL, true);
                strbuf_putc(&sb, '=');
                url_escape(&sb, val, NULL, true);
            }
        }
        if (sb.oom) {
            conf_oom(x);
            break;
        }
        why = conf_targets_url_check(sb.data, NULL);
        if (why != NULL) {
            conf_err(x, at, "invalid URL \"%s\" for target \"%s\" in %s: %s", sb.data, addr, path,
                     why);
            continue;
        }
        if (conf_targets_add(job, sb.data, inst != NULL && inst[0] != '\0' ? inst : addr, g->labels,
                             g->nlabels) != 0) {
            conf_oom(x);
            break;
        }
    }
    strbuf_release(&sb);
    free(firsts);
    free(params);
}

/* Maps target group @gnode (static_configs item or file_sd group) and resolves its targets. */
void
conf_targets_group_load(struct conf_ctx *x, struct config_job *job,
                        const struct conf_targets_defaults *d, const struct conf_node *gnode,
                        const char *path)
{
    struct sd_group g = {0};
    size_t before = x->nerr;

    conf_map(x, &conf_targets_group_section, &g, gnode, path);
    if (x->nerr == before) {
        group_resolve(x, job, d, &g, gnode, path);
    }
    conf_release(&conf_targets_group_section, &g);
}

void
conf_targets_groups_load(struct conf_ctx *x, struct config_job *job,
                         const struct conf_targets_defaults *d, const struct conf_node *root)
{
    if (root->kind != CONF_NODE_SEQ) {
        conf_err(x, root, "expected a sequence of target groups, got a %s",
                 conf_tree_kind_name(root));
        return;
    }
    for (size_t i = 0; i < root->n; i++) {
        char gpath[64];
        snprintf(gpath, sizeof(gpath), "target_groups[%zu]", i);
        conf_targets_group_load(x, job, d, root->kids[i], gpath);
    }
}

/* Prometheus' rule for file_sd paths: a known extension, "*" only in the last element. */
static bool
sd_path_valid(const char *p)
{
    static const char *const exts[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"};
    const char *star = strchr(p, '*');
    size_t len = strlen(p);
    bool ext = false;

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcmp(p + len - el, exts[i]) == 0) {
            ext = true;
        }
    }
    if (!ext) {
        return false;
    }
    return star == NULL || (strchr(star + 1, '*') == NULL && strchr(star, '/') == NULL);
}

/* Reads one file_sd file: a sequence of target groups, errors at the file's own positions. */
static void
sd_file_load(struct conf_ctx *x, struct config_job *job, const struct conf_targets_defaults *sc,
             const char *file, const struct conf_node *at)
{
    struct conf_doc d = {0};
    char *buf = NULL;
    size_t len = 0;
    int rc = conf_tree_read_file(file, CONF_FILE_MAX_BYTES, &buf, &len);

    if (rc != 0) {
        conf_err(x, at, "cannot read file_sd file \"%s\": %s", file, strerror(-rc));
        return;
    }
    d.file = strdup(file);
    if (d.file == NULL) {
        free(buf);
        conf_oom(x);
        return;
    }
    if (conf_tree_parse(x, &d, buf, len) == 0 && d.root != NULL) {
        conf_targets_groups_load(x, job, sc, d.root);
    }
    conf_tree_release(&d);
    free(buf);
}

void
conf_targets_file_sd_load(struct conf_ctx *x, struct config_job *job,
                          const struct conf_targets_defaults *d, const struct conf_node *item,
                          const char *path)
{
    struct sd_file sf = {0};
    size_t before = x->nerr;
    const struct conf_node *fn;

    conf_map(x, &conf_targets_file_sd_section, &sf, item, path);
    fn = conf_tree_get(item, "files");
    if (x->nerr != before || fn == NULL || fn->kind != CONF_NODE_SEQ || fn->n != sf.nfiles) {
        conf_release(&conf_targets_file_sd_section, &sf);
        return;
    }
    if (sf.refresh_ms > 0 &&
        (job->file_sd_refresh_ms == 0 || sf.refresh_ms < job->file_sd_refresh_ms)) {
        job->file_sd_refresh_ms = sf.refresh_ms;
    }
    for (size_t i = 0; i < sf.nfiles; i++) {
        const struct conf_node *at = fn->kids[i];
        glob_t gl;
        char *pattern;
        int rc;

        if (!sd_path_valid(sf.files[i])) {
            conf_err(
                x, at,
                "invalid file_sd path \"%s\": must end in .json, .yml or .yaml, with \"*\" only "
                "in the last path element",
                sf.files[i]);
            continue;
        }
        pattern = conf_path_resolve(x, sf.files[i]);
        if (pattern == NULL) {
            conf_oom(x);
            break;
        }
        char **g = realloc(job->file_sd_globs, (job->nfile_sd_globs + 1) * sizeof(*g));
        char *keep = strdup(pattern);
        if (g == NULL || keep == NULL) {
            free(keep);
            if (g != NULL) {
                job->file_sd_globs = g;
            }
            free(pattern);
            conf_oom(x);
            break;
        }
        job->file_sd_globs = g;
        g[job->nfile_sd_globs++] = keep;
        rc = glob(pattern, 0, NULL, &gl);
        if (rc == 0) {
            for (size_t k = 0; k < gl.gl_pathc; k++) {
                sd_file_load(x, job, d, gl.gl_pathv[k], at);
            }
        }
        else if (rc == GLOB_NOSPACE) {
            conf_oom(x);
        }
        else if (rc == GLOB_ABORTED) {
            conf_err(x, at, "cannot read the directory of \"%s\"", pattern);
        }
        /* GLOB_NOMATCH: no file yet, no target yet (as Prometheus) */
        globfree(&gl);
        free(pattern);
    }
    conf_release(&conf_targets_file_sd_section, &sf);
}

/* Adds the target of a probe or json URL (the scalar @un). */
void
conf_targets_url(struct conf_ctx *x, struct config_job *job, const struct conf_node *un,
                 bool by_host, const char *path)
{
    const char *inst = conf_targets_label_get(job->labels, job->nlabels, "instance");
    char *hostport = NULL, *red = NULL;
    const char *why;

    if (!conf_expect(x, un, CONF_NODE_SCALAR, "a string", "url")) {
        return;
    }
    why = conf_targets_url_check(un->str, by_host ? &hostport : NULL);
    red = httpc_redact_url_dup(un->str);
    if (red == NULL) {
        free(hostport);
        conf_oom(x);
        return;
    }
    if (why != NULL) {
        conf_err(x, un, "invalid URL \"%s\" in %s: %s", red, path, why);
    }
    else if (conf_targets_add(job, un->str,
                              inst != NULL && inst[0] != '\0' ? inst
                              : hostport != NULL              ? hostport
                                                              : red,
                              job->labels, job->nlabels) != 0) {
        conf_oom(x);
    }
    free(hostport);
    free(red);
}
