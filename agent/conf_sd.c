/*
 * http_sd_configs and dns_sd_configs in the config: their tables (Prometheus' keys and defaults),
 * the checks a table cannot make, the cache key of each item, and the hook into the target group
 * code: an item's targets are its cached list (sdcache.h) read exactly as a file_sd file is.
 */
#include "build-config.h"

#include "conf_sd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf_http.h"
#include "conf_tree.h"
#include "fnv.h"
#include "httpc.h"
#include "log.h"
#include "sdcache.h"

static void http_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                       const char *path);
static void dns_check(struct conf_ctx *x, void *base, const struct conf_node *map,
                      const char *path);

#define HS(k, t, m, ...) CONF_FLD(k, t, struct config_sd, m, __VA_ARGS__)
static const struct conf_field http_fields[] = {
    HS("url", CONF_FT_STR, url, .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY,
       .desc = "Where the target groups come from (JSON, as in a file_sd file; each target gets "
               "__meta_url)."),
    HS("refresh_interval", CONF_FT_DURATION, refresh_ms, .def = "60s",
       .desc = "How often the URL is fetched (also the fetch's timeout, as in Prometheus)."),
    CONF_HTTP_CLIENT_FIELDS(struct config_sd, http),
};
/* What conf_http_resolve added to the client settings (http_headers, oauth2's params). */
static void
http_release(void *base)
{
    conf_http_release(&((struct config_sd *)base)->http);
}

const struct conf_section conf_sd_http_section = {.name = "http_sd_configs[]",
                                                  CONF_FIELDS(http_fields),
                                                  .size = sizeof(struct config_sd),
                                                  .check = http_check,
                                                  .release = http_release};

static const struct conf_choice dns_type_choices[] = {{"SRV", CONFIG_SD_DNS_SRV, false},
                                                      {"A", CONFIG_SD_DNS_A, false},
                                                      {"AAAA", CONFIG_SD_DNS_AAAA, false},
                                                      {"MX", CONFIG_SD_DNS_MX, false},
                                                      {"NS", 0, true},
                                                      {NULL, 0, false}};
_Static_assert(sizeof(enum config_sd_dns_type) == sizeof(int), "enum size");

static const struct conf_field dns_fields[] = {
    CONF_FLDN("names", CONF_FT_STRLIST, struct config_sd, names, nnames,
              .flags = CONF_F_REQUIRED | CONF_F_NONEMPTY, .desc = "DNS names to query."),
    HS("type", CONF_FT_ENUM, type, .def = "SRV", .choices = dns_type_choices,
       .desc = "SRV, A, AAAA or MX."),
    HS("port", CONF_FT_INT, port, .def = "0", .min = 0, .max = 65535,
       .desc = "Port of the targets of A, AAAA and MX records (required for them)."),
    HS("refresh_interval", CONF_FT_DURATION, refresh_ms, .def = "30s",
       .desc = "How often the names are queried."),
};
#undef HS
const struct conf_section conf_sd_dns_section = {.name = "dns_sd_configs[]",
                                                 CONF_FIELDS(dns_fields),
                                                 .size = sizeof(struct config_sd),
                                                 .check = dns_check};

const char *
conf_sd_mech_name(enum config_sd_mech mech)
{
    return mech == CONFIG_SD_HTTP ? "http" : "dns";
}

static const struct conf_section *
section_of(enum config_sd_mech mech)
{
    return mech == CONFIG_SD_HTTP ? &conf_sd_http_section : &conf_sd_dns_section;
}

static void
http_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_sd *sd = base;
    const struct conf_node *un = conf_tree_get(map, "url");
    const char *why;

    (void)path;
    if (sd->url != NULL && un != NULL) {
        why = conf_targets_url_check(sd->url, NULL);
        if (why != NULL) {
            char *red = httpc_redact_url_dup(sd->url);
            conf_err(x, un, "invalid http_sd url \"%s\": %s", red != NULL ? red : "", why);
            free(red);
        }
    }
    if (sd->refresh_ms == 0) {
        conf_err(x, conf_tree_get(map, "refresh_interval"),
                 "refresh_interval must be greater than 0");
    }
    /* Every rule the client has is checked here: --check-config rejects what the daemon would. */
    conf_http_resolve(x, &sd->http, map);
}

static void
dns_check(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path)
{
    struct config_sd *sd = base;

    (void)path;
    if (sd->type != CONFIG_SD_DNS_SRV && sd->port == 0) {
        const struct conf_node *tn = conf_tree_get(map, "type");
        conf_err(x, tn != NULL ? tn : map, "dns_sd_configs of type %s need a port",
                 conf_choice_name(dns_type_choices, (int)sd->type));
    }
    if (sd->refresh_ms == 0) {
        conf_err(x, conf_tree_get(map, "refresh_interval"),
                 "refresh_interval must be greater than 0");
    }
    for (size_t i = 0; i < sd->nnames; i++) {
        if (strlen(sd->names[i]) > 253) {
            conf_err(x, conf_tree_get(map, "names"),
                     "DNS name \"%.40s...\" is longer than 253 "
                     "characters",
                     sd->names[i]);
        }
    }
}

/* @h with the NUL-terminated @s mixed in, its NUL included: fields stay apart. */
static uint64_t
mix(uint64_t h, const char *s)
{
    return fnv64(h, s, strlen(s) + 1);
}

/*
 * The cache key of @sd in job @job: the job (readable, as far as it is file-name safe), the
 * mechanism, and a hash of what is asked (URL; names, type, port), so that a changed question
 * never starts from the answer to another one.
 */
static char *
key_dup(const char *job, const struct config_sd *sd)
{
    uint64_t h = FNV64_INIT;
    char safe[48], num[24];
    size_t n = 0;

    for (const char *p = job; *p != '\0' && n + 1 < sizeof(safe); p++) {
        safe[n++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                           *p) != NULL &&
                            *p != '\0'
                        ? *p
                        : '_';
    }
    safe[n] = '\0';
    h = mix(h, job);
    h = mix(h, conf_sd_mech_name(sd->mech));
    if (sd->mech == CONFIG_SD_HTTP) {
        h = mix(h, sd->url);
    }
    else {
        snprintf(num, sizeof(num), "%d:%lld", (int)sd->type, (long long)sd->port);
        h = mix(h, num);
        for (size_t i = 0; i < sd->nnames; i++) {
            h = mix(h, sd->names[i]);
        }
    }
    return conf_printf("%s-%s-%016llx", safe, conf_sd_mech_name(sd->mech), (unsigned long long)h);
}

/*
 * Adds the targets of the cached list of @sd. Its problems are logged as warnings: they come
 * from a server's answer, and must not make the config invalid.
 */
static void
cached_load(struct conf_ctx *x, struct config_job *job, const struct conf_targets_defaults *d,
            const struct config_sd *sd, const char *path)
{
    const char *dir = sdcache_dir(x->cfg);
    struct config_errors errs;
    struct conf_ctx sub = {.errs = &errs, .cfg = x->cfg};
    struct conf_doc doc = {0};
    size_t len = 0;
    int err = 0;
    char *text = sdcache_get_dup(dir, sd->key, &len, &err);

    if (text == NULL) {
        if (err != 0) {
            log_warn("config: %s: cannot read the cached target list of job \"%s\": %s", path,
                     job->name != NULL ? job->name : "", strerror(err));
        }
        return;
    }
    config_errors_init(&errs);
    doc.file = dir != NULL ? sdcache_path_dup(dir, sd->key) : conf_printf("sd-%s", sd->key);
    if (doc.file == NULL) {
        conf_oom(x);
    }
    else if (conf_tree_parse(&sub, &doc, text, len) == 0 && doc.root != NULL) {
        conf_targets_groups_load(&sub, job, d, doc.root, NULL, 0);
    }
    for (size_t i = 0; i < errs.n; i++) {
        log_warn("config: %s: job \"%s\": cached target list: %s", path,
                 job->name != NULL ? job->name : "", errs.v[i].text);
    }
    conf_claims_release(&sub);
    config_errors_release(&errs);
    conf_tree_release(&doc);
    free(text);
}

void
conf_sd_load(struct conf_ctx *x, struct config_job *job, const struct conf_targets_defaults *d,
             enum config_sd_mech mech, const struct conf_node *item, const char *path)
{
    const struct conf_section *s = section_of(mech);
    struct config_sd *arr, *sd;
    size_t before = x->nerr;

    arr = conf_grow(job->sds, job->nsds, sizeof(*arr));
    if (arr == NULL) {
        conf_oom(x);
        return;
    }
    job->sds = arr;
    sd = &job->sds[job->nsds++];
    sd->mech = mech;
    conf_map(x, s, sd, item, path);
    if (x->nerr != before) {
        return; /* kept for conf_sd_free; the config is not returned anyway */
    }
    sd->key = key_dup(job->name != NULL ? job->name : "", sd);
    if (sd->key == NULL) {
        conf_oom(x);
        return;
    }
    cached_load(x, job, d, sd, path);
}

void
conf_sd_summary(FILE *f, const struct config *c, const struct config_job *job)
{
    const char *dir = sdcache_dir(c);
    char b[32];

    for (size_t i = 0; i < job->nsds; i++) {
        const struct config_sd *sd = &job->sds[i];
        fprintf(f, "  %s_sd ", conf_sd_mech_name(sd->mech));
        if (sd->mech == CONFIG_SD_HTTP) {
            char *red = httpc_redact_url_dup(sd->url);
            fprintf(f, "%s", red != NULL ? red : "");
            free(red);
        }
        else {
            fprintf(f, "%s", conf_choice_name(dns_type_choices, (int)sd->type));
            for (size_t k = 0; k < sd->nnames; k++) {
                fprintf(f, "%s%s", k == 0 ? " " : ",", sd->names[k]);
            }
        }
        fprintf(f, ", refresh %s, last good list ", conf_fmt_ms(sd->refresh_ms, b, sizeof(b)));
        if (dir != NULL) {
            fprintf(f, "in %s/sd-%s.json\n", dir, sd->key);
        }
        else {
            fprintf(f, "in memory only (no state_dir)\n");
        }
    }
}

void
conf_sd_free(struct config_sd *sds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        conf_release(section_of(sds[i].mech), &sds[i]);
        free(sds[i].key);
    }
    free(sds);
}
