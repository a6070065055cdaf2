/* The process's idle curl easy handles (easypool.h). */
#include "build-config.h"

#include "easypool.h"

static CURL *idle[EASYPOOL_KEEP];
static size_t nidle;
static size_t users;
static uint64_t made;

void
easypool_ref(void)
{
    users++;
}

void
easypool_unref(void)
{
    if (users > 0 && --users == 0) {
        while (nidle > 0) {
            curl_easy_cleanup(idle[--nidle]);
        }
    }
}

CURL *
easypool_get(void)
{
    if (nidle > 0) {
        return idle[--nidle];
    }
    CURL *e = curl_easy_init();
    if (e != NULL) {
        made++;
    }
    return e;
}

void
easypool_put(CURL *e)
{
    if (e == NULL) {
        return;
    }
    if (users == 0 || nidle == EASYPOOL_KEEP) {
        curl_easy_cleanup(e);
        return;
    }
    /* Its options and per-transfer state go now (the strings it copied), not when it is next used.
     */
    curl_easy_reset(e);
    idle[nidle++] = e;
}

size_t
easypool_idle(void)
{
    return nidle;
}

uint64_t
easypool_made(void)
{
    return made;
}
