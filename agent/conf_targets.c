/*
 * Targets in the config: Prometheus' target model resolved to final URLs and labels. Every
 * discovered target (static_configs and file_sd_configs target groups, and any other SD) goes
 * through one function, conf_targets_from_labels(): the label set Prometheus builds
 * (__address__, __scheme__, __metrics_path__, __param_<name>, __scrape_interval__,
 * __scrape_timeout__, job, the group's and __meta_* labels), relabel_configs, then URL, default
 * port, instance and the labels left. Also URL targets of the other kinds, and URL checks.
 * file_sd files are read at load and reload; sdwatch.c re-globs the patterns kept in the job.
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

#include "dropped.h"
#include "httpc.h"
#include "strbuf.h"
#include "units.h"

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
    free(t->discovered);
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
                 const struct label *labels, size_t nlabels, int64_t interval_ms,
                 int64_t timeout_ms)
{
    struct config_target t = {.interval_ms = interval_ms, .timeout_ms = timeout_ms};
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
            o->interval_ms == t.interval_ms && o->timeout_ms == t.timeout_ms &&
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
 * Whether Prometheus adds the scheme's default port to @a: when Go's net.SplitHostPort fails on
 * it but succeeds once ":1234" is appended ("host", "[::1]"; not "::1", not "host:").
 */
static bool
address_needs_port(const char *a)
{
    const char *colon = strchr(a, ':');

    if (a[0] == '[') {
        const char *end = strchr(a, ']');
        return end != NULL && end[1] == '\0' && strchr(end + 1, '[') == NULL;
    }
    return colon == NULL && strchr(a, '[') == NULL && strchr(a, ']') == NULL;
}

/* @ms as Prometheus' model.Duration prints it ("15s", "1m30s", "1w"): __scrape_interval__. */
static const char *
prom_duration(int64_t ms, char *buf, size_t len)
{
    static const struct {
        const char *unit;
        int64_t ms;
        bool exact;
    } parts[] = {
        {"y", 365LL * 86400000, true},
        {"w", 7LL * 86400000, true},
        {"d", 86400000, false},
        {"h", 3600000, false},
        {"m", 60000, false},
        {"s", 1000, false},
        {"ms", 1, false},
    };
    size_t off = 0;

    snprintf(buf, len, "0s");
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && ms > 0; i++) {
        if ((parts[i].exact && ms % parts[i].ms != 0) || ms / parts[i].ms == 0) {
            continue;
        }
        int w =
            snprintf(buf + off, len - off, "%lld%s", (long long)(ms / parts[i].ms), parts[i].unit);
        if (w < 0 || (size_t)w >= len - off) {
            break;
        }
        off += (size_t)w;
        ms %= parts[i].ms;
    }
    return buf;
}

/* Sets @name to @value in the (arena) label array @l of *@n labels, capacity @cap. */
static void
set_in(struct label *l, size_t *n, const char *name, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(l[i].name, name) == 0) {
            l[i].value = value;
            return;
        }
    }
    l[*n].name = name;
    l[(*n)++].value = value;
}

/* Appends the scrape URL of a relabeled target to @sb (address with its port). */
static void
build_url(struct strbuf *sb, const struct conf_targets_defaults *d, const struct relabel_set *ls,
          const char *scheme, const char *addr, const char *mpath)
{
    char sep = '?';
    size_t np = 0;
    struct {
        const char *name, *first;
        const struct config_param *job;
    } p[64];

    strbuf_printf(sb, "%s://%s", scheme, addr);
    if (mpath[0] != '\0' && mpath[0] != '/') {
        strbuf_putc(sb, '/'); /* as Go's url.URL writes a relative path after a host */
    }
    url_escape(sb, mpath, "$&+,/:;=@", false);
    /* The job's params, each name's first value replaced by its __param_<name> label. */
    for (size_t i = 0; i < d->nparams && np < 64; i++) {
        p[np].name = d->params[i].name;
        p[np].first = NULL;
        p[np++].job = &d->params[i];
    }
    for (uint32_t i = 0; i < ls->nlabels; i++) {
        const char *name = ls->labels[i].name;
        size_t k;
        if (strncmp(name, "__param_", 8) != 0 || name[8] == '\0') {
            continue;
        }
        for (k = 0; k < np && strcmp(p[k].name, name + 8) != 0; k++) {
        }
        if (k == np) {
            if (np == 64) {
                continue;
            }
            p[np].name = name + 8;
            p[np++].job = NULL;
        }
        p[k].first = ls->labels[i].value;
    }
    /* url.Values.Encode: keys sorted, each key's values in order */
    for (size_t i = 1; i < np; i++) {
        for (size_t j = i; j > 0 && strcmp(p[j - 1].name, p[j].name) > 0; j--) {
            __typeof__(p[0]) t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    }
    for (size_t i = 0; i < np; i++) {
        size_t nv = p[i].job != NULL ? p[i].job->nvalues : 0;
        if (nv == 0 && p[i].first != NULL) {
            nv = 1;
        }
        for (size_t v = 0; v < nv; v++) {
            const char *val = v == 0 && p[i].first != NULL ? p[i].first : p[i].job->values[v];
            strbuf_putc(sb, sep);
            sep = '&';
            url_escape(sb, p[i].name, NULL, true);
            strbuf_putc(sb, '=');
            url_escape(sb, val, NULL, true);
        }
    }
}

/*
 * Keeps a dropped target's discovered labels (sorted by name, one block) in @job, unless it
 * holds @keep already (keep_dropped_targets; 0: no limit). Sorts @l. 0 or -ENOMEM.
 */
static int
dropped_add(struct config_job *job, uint64_t keep, struct label *l, size_t n)
{
    struct config_dropped dt = {.nlabels = n};
    struct config_dropped *arr;

    if (keep > 0 && job->ndropped >= keep) {
        return 0;
    }
    qsort(l, n, sizeof(*l), conf_label_cmp);
    dt.labels = label_block_dup(l, n, NULL, NULL);
    if (dt.labels == NULL) {
        return -ENOMEM;
    }
    arr = conf_grow(job->dropped, job->ndropped, sizeof(*arr));
    if (arr == NULL) {
        free(dt.labels);
        return -ENOMEM;
    }
    job->dropped = arr;
    job->dropped[job->ndropped++] = dt;
    return 0;
}

void
conf_targets_dropped_release(struct config_job *job)
{
    for (size_t i = 0; i < job->ndropped; i++) {
        free(job->dropped[i].labels);
    }
    free(job->dropped);
    job->dropped = NULL;
    job->ndropped = 0;
}

/* A duration label of a relabeled target: its value in *@ms, or why not. */
static const char *
duration_label(const struct relabel_set *ls, const char *name, const char *what, int64_t *ms,
               char *err, size_t errlen)
{
    const char *v = conf_targets_label_get(ls->labels, ls->nlabels, name);

    if (v == NULL || units_parse_duration(v, ms) != 0) {
        snprintf(err, errlen, "error parsing %s \"%s\" (%s)", what, v != NULL ? v : "", name);
        return err;
    }
    if (*ms == 0) {
        snprintf(err, errlen, "%s cannot be 0 (%s)", what, name);
        return err;
    }
    return NULL;
}

int
conf_targets_from_labels(struct config_job *job, const struct conf_targets_defaults *d,
                         const struct label *discovered, size_t n, char *err, size_t errlen)
{
    char ival[32], tval[32], b1[32], b2[32];
    struct arena a;
    struct label *l, *disc = NULL;
    struct relabel_set ls;
    size_t nl = 0;
    int64_t interval_ms, timeout_ms;
    const char *addr, *scheme, *mpath, *inst;
    struct strbuf url;
    int rc = -ENOMEM;

    arena_init(&a);
    strbuf_init(&url);
    l = arena_alloc(&a, sizeof(*l) * (n + 6 + d->nparams));
    if (l == NULL) {
        goto out;
    }
    /* Prometheus' PopulateLabels: the group's labels, then what the job sets when they do not */
    for (size_t i = 0; i < n; i++) {
        if (discovered[i].value[0] != '\0') {
            set_in(l, &nl, discovered[i].name, discovered[i].value);
        }
    }
    prom_duration(d->interval_ms, ival, sizeof(ival));
    prom_duration(d->timeout_ms, tval, sizeof(tval));
    const struct label defaults[] = {{"job", d->job},
                                     {"__scrape_interval__", ival},
                                     {"__scrape_timeout__", tval},
                                     {"__metrics_path__", d->metrics_path},
                                     {"__scheme__", d->scheme}};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (conf_targets_label_get(l, nl, defaults[i].name) == NULL) {
            set_in(l, &nl, defaults[i].name, defaults[i].value);
        }
    }
    /* ... and the first value of each of the job's params, over the group's */
    for (size_t i = 0; i < d->nparams; i++) {
        char *pn = arena_alloc(&a, strlen(d->params[i].name) + 9);
        if (pn == NULL) {
            goto out;
        }
        if (d->params[i].nvalues > 0) {
            sprintf(pn, "__param_%s", d->params[i].name);
            set_in(l, &nl, pn, d->params[i].values[0]);
        }
    }
    ls = (struct relabel_set){.labels = l, .nlabels = (uint32_t)nl};
    if (!relabel_process(d->rules, d->nrules, &ls, &a)) {
        rc = dropped_add(job, d->keep_dropped, l, nl) == 0 ? 1 : -ENOMEM;
        goto out;
    }
    addr = conf_targets_label_get(ls.labels, ls.nlabels, "__address__");
    if (addr == NULL || addr[0] == '\0') {
        /* Prometheus logs "no address" and shows it nowhere; pollster lists it as dropped. */
        rc = dropped_add(job, d->keep_dropped, l, nl) == 0 ? 1 : -ENOMEM;
        goto out;
    }
    scheme = conf_targets_label_get(ls.labels, ls.nlabels, "__scheme__");
    mpath = conf_targets_label_get(ls.labels, ls.nlabels, "__metrics_path__");
    scheme = scheme != NULL ? scheme : "";
    mpath = mpath != NULL ? mpath : "";
    rc = -EINVAL;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(err, errlen, "invalid __scheme__ \"%s\" (expected http or https)", scheme);
        goto out;
    }
    if (!address_valid(addr)) {
        char *red = httpc_redact_url_dup(addr);
        snprintf(err, errlen, "invalid target address \"%s\" (expected host:port)",
                 red != NULL ? red : "");
        free(red);
        goto out;
    }
    if (address_needs_port(addr)) {
        char *full = arena_alloc(&a, strlen(addr) + 5);
        if (full == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        sprintf(full, "%s:%s", addr, strcmp(scheme, "https") == 0 ? "443" : "80");
        addr = full;
    }
    if (duration_label(&ls, "__scrape_interval__", "scrape interval", &interval_ms, err, errlen) !=
            NULL ||
        duration_label(&ls, "__scrape_timeout__", "scrape timeout", &timeout_ms, err, errlen) !=
            NULL) {
        goto out;
    }
    if (timeout_ms > interval_ms) {
        snprintf(err, errlen, "scrape timeout cannot be greater than scrape interval (%s > %s)",
                 conf_fmt_ms(timeout_ms, b1, sizeof(b1)), conf_fmt_ms(interval_ms, b2, sizeof(b2)));
        goto out;
    }
    build_url(&url, d, &ls, scheme, addr, mpath);
    if (url.oom) {
        rc = -ENOMEM;
        goto out;
    }
    const char *why = conf_targets_url_check(url.data, NULL);
    if (why != NULL) {
        char *red = httpc_redact_url_dup(url.data);
        snprintf(err, errlen, "invalid URL \"%s\": %s", red != NULL ? red : "", why);
        free(red);
        goto out;
    }
    /*
     * /api/v1/targets shows the labels before relabeling (discoveredLabels), sorted as Prometheus
     * keeps them; copied now, because the rules may have left @l shared with @ls, whose job label
     * is blanked below.
     */
    qsort(l, nl, sizeof(*l), conf_label_cmp);
    disc = label_block_dup(l, nl, NULL, NULL);
    if (disc == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    inst = conf_targets_label_get(ls.labels, ls.nlabels, "instance");
    /* The job label is the job's name; a different one (group, rule) stays a label. */
    const char *jl = conf_targets_label_get(ls.labels, ls.nlabels, "job");
    if (jl != NULL && strcmp(jl, d->job) == 0) {
        for (uint32_t i = 0; i < ls.nlabels; i++) {
            if (strcmp(ls.labels[i].name, "job") == 0) {
                ((struct label *)ls.labels)[i].value = "";
            }
        }
    }
    size_t before = job->ntargets;
    rc = conf_targets_add(job, url.data, inst != NULL && inst[0] != '\0' ? inst : addr, ls.labels,
                          ls.nlabels, interval_ms, timeout_ms);
    if (rc == 0 && job->ntargets > before) {
        struct config_target *t = &job->targets[job->ntargets - 1];
        t->discovered = disc;
        t->ndiscovered = nl;
        disc = NULL;
    }
out:
    free(disc);
    if (rc == -ENOMEM) {
        snprintf(err, errlen, "out of memory");
    }
    strbuf_release(&url);
    arena_release(&a);
    return rc;
}

/*
 * Resolves the targets of one target group: each address, with the group's labels and @meta
 * (file_sd's __meta_filepath), goes through conf_targets_from_labels. @gnode is the group's
 * mapping (positions of the targets).
 */
static void
group_resolve(struct conf_ctx *x, struct config_job *job, const struct conf_targets_defaults *d,
              const struct sd_group *g, const struct conf_node *gnode, const struct label *meta,
              size_t nmeta, const char *path)
{
    const struct conf_node *tn = conf_tree_get(gnode, "targets");
    struct label *l;
    size_t n = g->nlabels + nmeta + 1;

    if (tn == NULL || tn->kind != CONF_NODE_SEQ || tn->n != g->ntargets) {
        return; /* already reported */
    }
    l = calloc(n, sizeof(*l));
    if (l == NULL) {
        conf_oom(x);
        return;
    }
    if (g->nlabels > 0) {
        memcpy(l, g->labels, sizeof(*l) * g->nlabels);
    }
    if (nmeta > 0) {
        memcpy(l + g->nlabels, meta, sizeof(*l) * nmeta);
    }
    for (size_t i = 0; i < g->ntargets; i++) {
        const char *addr = g->targets[i];
        char err[512];
        int rc;

        if (addr[0] == '\0' && d->nrules == 0) {
            /* no rule can fill it (Prometheus logs "no address" and skips the target) */
            conf_err(x, tn->kids[i], "invalid target address \"\" in %s (expected host:port)",
                     path);
            continue;
        }
        l[n - 1].name = "__address__";
        l[n - 1].value = addr;
        rc = conf_targets_from_labels(job, d, l, n, err, sizeof(err));
        if (rc == -ENOMEM) {
            conf_oom(x);
            break;
        }
        if (rc < 0) {
            char *red = httpc_redact_url_dup(addr); /* an address may hold userinfo */
            conf_err(x, tn->kids[i], "target \"%s\" in %s: %s", red != NULL ? red : "", path, err);
            free(red);
        }
    }
    free(l);
}

/* Maps target group @gnode (static_configs item or file_sd group) and resolves its targets. */
void
conf_targets_group_load(struct conf_ctx *x, struct config_job *job,
                        const struct conf_targets_defaults *d, const struct conf_node *gnode,
                        const struct label *meta, size_t nmeta, const char *path)
{
    struct sd_group g = {0};
    size_t before = x->nerr;

    conf_map(x, &conf_targets_group_section, &g, gnode, path);
    if (x->nerr == before) {
        group_resolve(x, job, d, &g, gnode, meta, nmeta, path);
    }
    conf_release(&conf_targets_group_section, &g);
}

void
conf_targets_groups_load(struct conf_ctx *x, struct config_job *job,
                         const struct conf_targets_defaults *d, const struct conf_node *root,
                         const struct label *meta, size_t nmeta)
{
    if (root->kind != CONF_NODE_SEQ) {
        conf_err(x, root, "expected a sequence of target groups, got a %s",
                 conf_tree_kind_name(root));
        return;
    }
    for (size_t i = 0; i < root->n; i++) {
        char gpath[64];
        snprintf(gpath, sizeof(gpath), "target_groups[%zu]", i);
        conf_targets_group_load(x, job, d, root->kids[i], meta, nmeta, gpath);
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
    const struct label meta = {"__meta_filepath", file};
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
        conf_targets_groups_load(x, job, sc, d.root, &meta, 1);
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
                              job->labels, job->nlabels, 0, 0) != 0) {
        conf_oom(x);
    }
    free(hostport);
    free(red);
}
