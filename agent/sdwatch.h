/*
 * Noticing file_sd changes: the target files behind file_sd_configs are globbed and stat()ed
 * into one fingerprint; the caller compares it every refresh_interval and reloads the targets
 * when it changed (files added, removed, rewritten). Prometheus watches the same files with
 * inotify plus the refresh; a periodic stat costs microseconds and needs no extra descriptors.
 */
#ifndef POLLSTER_SDWATCH_H
#define POLLSTER_SDWATCH_H

#include <stdint.h>

#include "config.h"

/* A hash of every matched file's path, size, mtime and inode, in pattern order. */
uint64_t sdwatch_fingerprint(const struct config *c);

/* The smallest refresh_interval of the jobs that have file_sd patterns; 0 when none has. */
int64_t sdwatch_period_ms(const struct config *c);

#endif
