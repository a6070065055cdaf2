/*
 * The SD cache: the last good target groups of each http_sd / dns_sd item, as the text of a
 * file_sd file (a JSON list of {targets, labels}). The config loader reads a job's SD targets from
 * here exactly as it reads a file_sd file, so the first start, --check-config and every reload see
 * the same list; sdrun.c stores each successful refresh here and reloads when it changed.
 *
 * Every list is kept in memory for the life of the process. With a state directory (the config's
 * global.state_dir, else $STATE_DIRECTORY as systemd's StateDirectory= sets it) it is also written
 * to DIR/sd-KEY.json (atomically: a temporary file renamed over it), so that a restart while the
 * SD source is down still scrapes the targets last seen. Without one, lists live in memory only.
 *
 * Blocking file I/O on small files: at load, and after a refresh whose list changed.
 */
#ifndef POLLSTER_SDCACHE_H
#define POLLSTER_SDCACHE_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* The state directory of @c: global.state_dir, else the first of $STATE_DIRECTORY, else NULL. */
const char *sdcache_dir(const struct config *c);

/*
 * The cached list of @key: the memory copy, else the file in @dir (may be NULL), which is then
 * kept in memory too. Returns a NUL-terminated copy the caller frees (length in *@len), or NULL
 * when there is none or it cannot be read (then *@err, when not NULL, gets an errno).
 */
char *sdcache_get_dup(const char *dir, const char *key, size_t *len, int *err);

/*
 * Stores @len bytes of @text as the list of @key: in memory, and in @dir when not NULL. Returns 1
 * when the list differs from the one cached before, 0 when it is the same (nothing is written),
 * or a negative errno when the file could not be written (the memory copy is updated anyway).
 */
int sdcache_put(const char *dir, const char *key, const char *text, size_t len);

/* The file of @key in @dir (caller frees); NULL when out of memory. */
char *sdcache_path_dup(const char *dir, const char *key);

/* Forgets every memory copy (at exit, and between tests). */
void sdcache_free_all(void);

#endif
