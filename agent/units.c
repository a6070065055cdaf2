/*
 * Durations, sizes and listen addresses as users write them. Durations follow Prometheus'
 * model.ParseDuration: terms in strictly decreasing unit order, integers only, no sign, "0" alone
 * allowed.
 */
#include "build-config.h"

#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct unit {
    const char *name;
    int64_t ms;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit duration_units[] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"ms", 1},
    {"m", 60LL * 1000},
    {"s", 1000},
};

/* Rank of a unit in decreasing size, to enforce the order. */
static int
duration_rank(int64_t ms)
{
    static const int64_t order[] = {365LL * 24 * 3600 * 1000,
                                    7LL * 24 * 3600 * 1000,
                                    24LL * 3600 * 1000,
                                    3600LL * 1000,
                                    60LL * 1000,
                                    1000,
                                    1};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (order[i] == ms) {
            return (int)i;
        }
    }
    return -1;
}

int
units_parse_duration(const char *s, int64_t *out_ms)
{
    int64_t total = 0;
    int last_rank = -1;
    const char *p = s;

    if (s == NULL || *s == '\0') {
        return -EINVAL;
    }
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    while (*p != '\0') {
        int64_t n = 0;
        const struct unit *u = NULL;

        if (!isdigit((unsigned char)*p)) {
            return -EINVAL;
        }
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10) {
                return -ERANGE;
            }
            n = n * 10 + (*p - '0');
            p++;
        }
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            size_t len = strlen(duration_units[i].name);
            if (strncmp(p, duration_units[i].name, len) == 0) {
                u = &duration_units[i];
                p += len;
                break;
            }
        }
        if (u == NULL) {
            return -EINVAL;
        }
        int rank = duration_rank(u->ms);
        if (rank <= last_rank) {
            return -EINVAL;
        }
        last_rank = rank;
        if (n > (INT64_MAX - total) / u->ms) {
            return -ERANGE;
        }
        total += n * u->ms;
    }
    *out_ms = total;
    return 0;
}

int
units_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"kb", 1ULL << 10},
        {"mb", 1ULL << 20},
        {"gb", 1ULL << 30},
        {"tb", 1ULL << 40},
        {"kib", 1ULL << 10},
        {"mib", 1ULL << 20},
        {"gib", 1ULL << 30},
        {"tib", 1ULL << 40},
        {"k", 1ULL << 10},
        {"m", 1ULL << 20},
        {"g", 1ULL << 30},
    };
    uint64_t n = 0;
    const char *p = s;

    if (s == NULL || !isdigit((unsigned char)*s)) {
        return -EINVAL;
    }
    while (isdigit((unsigned char)*p)) {
        if (n > (UINT64_MAX - 9) / 10) {
            return -ERANGE;
        }
        n = n * 10 + (uint64_t)(*p - '0');
        p++;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(p, units[i].name) == 0) {
            if (units[i].mult > 1 && n > UINT64_MAX / units[i].mult) {
                return -ERANGE;
            }
            *out = n * units[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

char *
units_format_duration(int64_t ms, char *buf, size_t len)
{
    static const struct unit parts[] = {
        {"d", 24LL * 3600 * 1000}, {"h", 3600LL * 1000}, {"m", 60LL * 1000}, {"s", 1000}, {"ms", 1},
    };
    size_t off = 0;

    if (len == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && off < len; i++) {
        int64_t n = ms / parts[i].ms;
        if (n > 0) {
            int w = snprintf(buf + off, len - off, "%lld%s", (long long)n, parts[i].name);
            if (w < 0) {
                break;
            }
            off += (size_t)w;
            ms -= n * parts[i].ms;
        }
    }
    return buf;
}

int
units_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port, char *err,
                   size_t errlen)
{
    const char *colon;
    size_t hl;
    char *end;

    if (listen == NULL || *listen == '\0') {
        snprintf(err, errlen, "empty listen address");
        return -EINVAL;
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "invalid listen address \"%s\": expected [ADDR]:PORT", listen);
            return -EINVAL;
        }
        hl = (size_t)(close - listen - 1);
        colon = close + 1;
        listen++;
    }
    else {
        colon = strrchr(listen, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "invalid listen address \"%s\": expected ADDR:PORT", listen);
            return -EINVAL;
        }
        hl = (size_t)(colon - listen);
    }
    if (hl == 0 || hl >= hostlen) {
        snprintf(err, errlen, "invalid listen address \"%s\": bad host part", listen);
        return -EINVAL;
    }
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535) {
        snprintf(err, errlen, "invalid listen address \"%s\": bad port \"%s\"", listen, colon + 1);
        return -EINVAL;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}
