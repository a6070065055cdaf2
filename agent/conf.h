/*
 * The config core: a positioned node tree (conf_tree.h) is mapped onto C structs through one
 * declarative table per section (struct conf_field: key, type, default, offset, description, in
 * the style of Fluent Bit's config_map). The same tables supply the defaults (written once, as
 * text parsed by the same code as user values), reject unknown keys, tell a known Prometheus key
 * that pollster does not support from a typo, free the result and print the reference text. A
 * section's check hook does what a table cannot: cross-field rules, secrets read from files,
 * targets resolved to URLs.
 *
 * The core knows no job kind and no output type by name: each registered kind and output owns
 * its section (kinds.c, outputs.c list them) and uses the helpers below. Every error is
 * collected with its position through struct conf_ctx.
 */
#ifndef POLLSTER_CONF_H
#define POLLSTER_CONF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf_tree.h"
#include "config.h"
#include "sample.h"
#include "suggest.h"

#define CONF_FILE_MAX_BYTES (64u << 20) /* a config or file_sd file */
#define CONF_PATH_MAX 256               /* "scrape_configs[0].static_configs[1]" */

/* What one load is doing: where errors go and what is being built. */
struct conf_ctx {
    struct config_errors *errs; /* borrowed */
    struct config *cfg;         /* being built */
    char *dir;                  /* owned: base of relative paths; NULL = use them as written */
    size_t nerr;                /* errors reported through this context */
    bool oom;
    uint64_t regex_cost; /* of the regexes checked so far (conf_regex_compile) */
    /*
     * While mapping section @foreign_for: asked about each key the section does not know before
     * it is reported as unknown; returns true when it reported the key itself.
     */
    const struct conf_section *foreign_for;
    bool (*foreign)(struct conf_ctx *x, const struct conf_node *key, const struct conf_node *value,
                    const char *where);
    const void *foreign_arg; /* for the hook */
    /* Offers the keys @foreign takes to a did-you-mean search (NULL: none). */
    void (*foreign_names)(struct suggest *sg);
    struct conf_claim *claims; /* owned: see conf_claim */
    size_t nclaims;
    /* The section conf_map is mapping now (NULL outside), and its path: for indentation hints. */
    const struct conf_section *cur;
    const char *cur_path;
};

enum conf_ftype {
    CONF_FT_STR,      /* char * */
    CONF_FT_PATH,     /* char *, relative to the config file's directory */
    CONF_FT_DURATION, /* int64_t ms; -1 when unset and without a default */
    CONF_FT_SIZE,     /* uint64_t bytes */
    CONF_FT_INT,      /* int64_t in [min, max] */
    CONF_FT_BOOL,     /* bool */
    CONF_FT_ENUM,     /* an int-sized enum, from choices */
    CONF_FT_LABELS,   /* struct label * + size_t count: a map of label name to string */
    CONF_FT_HEADERS,  /* struct config_header * + size_t count */
    CONF_FT_STRLIST,  /* char ** + size_t count */
    CONF_FT_INTLIST,  /* int * + size_t count, each in [min, max] */
    CONF_FT_REGEXES,  /* char ** + size_t count, each a valid regex */
    CONF_FT_PARAMS,   /* struct config_param * + size_t count */
    CONF_FT_SECTION,  /* an embedded struct described by sub */
    CONF_FT_LIST,     /* an array of structs described by sub + size_t count */
    CONF_FT_DEFER,    /* accepted here, read by the section's check hook (sub: for the reference) */
};

#define CONF_F_REQUIRED 0x01u
#define CONF_F_SECRET 0x02u      /* never printed */
#define CONF_F_NONEMPTY 0x04u    /* strings (and list items) must not be empty */
#define CONF_F_FIRST 0x08u       /* mapped before the other keys of the section */
#define CONF_F_RESERVED_OK 0x10u /* labels: "__" names allowed (target groups) */
#define CONF_F_SHARED 0x20u      /* list storage shared by several fields: freed by its owner */
#define CONF_F_DEFAULTS 0x40u    /* section: defaults apply even when the key is absent */
#define CONF_F_LABELNAME 0x80u   /* strings (and list items) must be label names */
#define CONF_F_OPTS 0x100u       /* the offset is into the section's opts struct (see below) */

struct conf_choice {
    const char *name;
    int value;
    bool unsupported; /* a known value pollster does not implement yet */
};

struct conf_section;

struct conf_field {
    const char *key;
    enum conf_ftype type;
    size_t off;      /* the value, or the array */
    size_t off_n;    /* the count of an array */
    const char *def; /* default, as a user would write it; NULL = none */
    unsigned flags;
    const struct conf_section *sub;    /* CONF_FT_SECTION, CONF_FT_LIST (CONF_FT_DEFER: shown) */
    const struct conf_choice *choices; /* CONF_FT_ENUM, ended by a NULL name */
    int64_t min, max;                  /* CONF_FT_INT, CONF_FT_INTLIST */
    const char *desc;
};

/*
 * A section: the keys of one mapping. A section may keep part of its values in a struct of its
 * own, hung off the mapped struct: @opts_size > 0 makes conf_defaults allocate it (zeroed) into
 * the void * at @opts_off, fields flagged CONF_F_OPTS have offsets into it, and conf_release
 * frees it. That is how a job kind or an output type keeps its settings out of the core's
 * structs (struct config_job, struct config_output).
 */
struct conf_section {
    const char *name; /* for the reference text */
    const char *what; /* NULL, or what its messages say it is for ("output type http") */
    const struct conf_field *fields;
    size_t nfields;
    const char *const *unsupported; /* fnmatch patterns of known keys not supported yet */
    const char *const *server_only; /* keys only a Prometheus server uses: a warning each */
    size_t size;                    /* sizeof one element (list items) */
    size_t opts_off;                /* offset of the void * to the opts struct */
    size_t opts_size;               /* sizeof the opts struct; 0 = none */
    void (*init)(void *base);       /* before the defaults; idempotent */
    void (*check)(struct conf_ctx *x, void *base, const struct conf_node *map, const char *path);
    void (*release)(void *base); /* frees what the fields do not describe (not opts itself) */
};

#define CONF_FIELDS(a) .fields = (a), .nfields = sizeof(a) / sizeof((a)[0])
#define CONF_FLD(k, t, st, m, ...)                                                                 \
    {                                                                                              \
        .key = (k), .type = (t), .off = offsetof(st, m), __VA_ARGS__                               \
    }
#define CONF_FLDN(k, t, st, m, nm, ...)                                                            \
    {                                                                                              \
        .key = (k), .type = (t), .off = offsetof(st, m), .off_n = offsetof(st, nm), __VA_ARGS__    \
    }

/* The keys every output type's section starts with (see outputs.h). */
#define CONF_OUTPUT_FIELDS                                                                         \
    CONF_FLD("type", CONF_FT_DEFER, struct config_output, type, .flags = CONF_F_REQUIRED,          \
             .desc = "The output type (this section's)."),                                         \
        CONF_FLD("format", CONF_FT_STR, struct config_output, format, .def = "json",               \
                 .flags = CONF_F_NONEMPTY,                                                         \
                 .desc =                                                                           \
                     "json, vm, otlp, telegraf or remote_write (stdout, file: a readable dump)."), \
        CONF_OUTPUT_NAME_FIELD

/* outputs[].name (config.c checks it and gives the default). */
#define CONF_OUTPUT_NAME_FIELD                                                                     \
    CONF_FLD("name", CONF_FT_STR, struct config_output, name, .flags = CONF_F_NONEMPTY,            \
             .desc = "Its name in logs, self metrics (output label) and the status page; unique "  \
                     "(default TYPE[N]: http[0] is the first http output).")

/* Errors. Each counts in x->nerr; the text never holds a secret (callers' duty). */
void conf_err(struct conf_ctx *x, const struct conf_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error at @file:@line:@col (0 = unknown). */
void conf_err_at(struct conf_ctx *x, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* "out of memory", once per load. */
void conf_oom(struct conf_ctx *x);
/* A warning at @at: the load still succeeds (not counted in x->nerr). */
void conf_warn(struct conf_ctx *x, const struct conf_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Reports "invalid @what \"@word\" (did you mean \"NAME\"? expected one of: @expected)" at @at,
 * NAME being what search @sg found (the part is left out when it found nothing).
 */
void conf_err_name(struct conf_ctx *x, const struct conf_node *at, const char *what,
                   const char *word, const struct suggest *sg, const char *expected);

/*
 * Records that the config item @owner (e.g. "outputs[1]") uses the resource @what = @value (a
 * file, a spool directory); when an earlier item claimed the same one, reports "@what "@value" is
 * already used by OWNER" at @at. Resources must not be shared between outputs.
 */
void conf_claim(struct conf_ctx *x, const struct conf_node *at, const char *what, const char *value,
                const char *owner);
/* Frees the claims of @x (the end of a load). */
void conf_claims_release(struct conf_ctx *x);

/* malloc'ed printf; NULL when out of memory. */
char *conf_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *conf_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/*
 * Makes room for element @n of an array whose capacity is implied by its count: arrays grown
 * only through here are full exactly when the count is 0 or a power of two. New room is zeroed.
 * Returns the (maybe moved) array, or NULL when out of memory (@arr is then unchanged).
 */
void *conf_grow(void *arr, size_t n, size_t elem);
bool conf_is_label_name(const char *s);
bool conf_is_metric_name(const char *s);
/* True when @s is an HTTP header name (an RFC 9110 token). */
bool conf_is_header_name(const char *s);
/* @ms as a duration ("1m30s") in @buf; returns @buf. */
const char *conf_fmt_ms(int64_t ms, char *buf, size_t len);
/* The name of choice value @v ("?" when none). */
const char *conf_choice_name(const struct conf_choice *c, int v);
/* @p resolved against the config file's directory (caller frees); NULL when out of memory. */
char *conf_path_resolve(const struct conf_ctx *x, const char *p);
/* True when @v is of @kind; else reports "expected @noun for @what, got a ...". */
bool conf_expect(struct conf_ctx *x, const struct conf_node *v, enum conf_node_kind kind,
                 const char *noun, const char *what);
/* qsort comparison of struct label by name. */
int conf_label_cmp(const void *a, const void *b);
void conf_labels_free(struct label *l, size_t n);
void conf_strv_free(char **v, size_t n);

/*
 * Maps mapping @map onto @base with table @s: defaults first, then every key (CONF_F_FIRST keys
 * before the others), then the required keys are checked and the section's check hook runs.
 * @path names the section in messages ("scrape_configs[0]"; "" at the top).
 */
void conf_map(struct conf_ctx *x, const struct conf_section *s, void *base,
              const struct conf_node *map, const char *path);
/* Sets every field of @s that has a default (unset durations to -1); allocates its opts. */
void conf_defaults(struct conf_ctx *x, const struct conf_section *s, void *base);
/* Frees what the fields of @s describe in @base, then its release hook, then its opts. */
void conf_release(const struct conf_section *s, void *base);
/* The field of @s named @key, or NULL. */
const struct conf_field *conf_field_find(const struct conf_section *s, const char *key);
/* Prints @s's keys (type, default, description), indented by @indent, sub-sections below. */
void conf_reference(FILE *f, const struct conf_section *s, int indent);
/* Prints the one key @fl as conf_reference does, its description after @prefix. */
void conf_reference_field(FILE *f, const struct conf_field *fl, int indent, const char *prefix);

#endif
