/*
 * scrape_config_files, Prometheus' top-level key for scrape configs kept in other files: each
 * glob pattern (relative to the config file's directory, "*" only in its last path element)
 * names files that hold only a scrape_configs list. Their jobs come after the main file's, in the
 * order of the patterns and, per pattern, of the sorted file names. Relative paths inside a file
 * are resolved against that file's directory, and its errors carry its own FILE:LINE:COL. The
 * files are read at every load (start-up, --check-config, reload), as Prometheus does.
 */
#ifndef POLLSTER_CONF_INCLUDE_H
#define POLLSTER_CONF_INCLUDE_H

#include <stdbool.h>

#include "conf.h"

#define CONF_INCLUDE_MAX_FILES 1000 /* files matched by all patterns of one load */

/* Maps the value of a scrape_configs key (a sequence of scrape configs) into x->cfg. */
typedef void conf_include_map_fn(struct conf_ctx *x, const struct conf_node *list);

/*
 * Reads the files the patterns of the sequence @patterns match and hands each one's
 * scrape_configs to @map. With @expand_env, ${VAR} is expanded in them as in the main file. A
 * pattern that matches no file is a warning. Blocking file I/O: start-up and reload only.
 */
void conf_include_scrape_files(struct conf_ctx *x, const struct conf_node *patterns,
                               bool expand_env, conf_include_map_fn *map);

#endif
