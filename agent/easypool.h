/*
 * Idle curl easy handles shared by every scrape of the process (issue 16, memory): a target
 * holds a handle only while its run is in flight, so the handles follow the transfers in flight,
 * not the number of targets (a libcurl 7.88 easy handle is about 5.4 KiB before its first
 * transfer). Connections and the DNS cache live in the multi handle, not in the easy handle: a
 * target keeps its kept-alive connection whichever handle runs it. Loop thread only.
 */
#ifndef POLLSTER_EASYPOOL_H
#define POLLSTER_EASYPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* Idle handles kept at most; more are freed when they come back. */
#define EASYPOOL_KEEP 32

/* A user of the pool (a scrape) appears / goes away; when the last one goes, idle handles are
 * freed. */
void easypool_ref(void);
void easypool_unref(void);

/* A handle with libcurl's defaults: an idle one, or a new one. NULL when out of memory. */
CURL *easypool_get(void);
/* Gives @e back after its transfer (removed from its multi handle): reset and kept, or freed. */
void easypool_put(CURL *e);

/* Idle handles now, and handles made since start (for tests). */
size_t easypool_idle(void);
uint64_t easypool_made(void);

#endif
