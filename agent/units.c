/*
 * Durations, sizes and listen addresses as users write them. Durations follow Prometheus'
 * model.ParseDuration: terms in strictly decreasing unit order, integers only, no sign, "0" alone
 * allowed.
 */
#include "build-config.h"

#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
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

/* Hints: a lenient reading of what a user typed, to suggest the strict spelling. */

/* A unit as people write it, and the unit it means. */
struct unit_alias {
    const char *name;
    double mult; /* milliseconds (durations) or bytes (sizes) */
};

static const struct unit_alias duration_aliases[] = {
    {"y", 365.0 * 24 * 3600 * 1000},
    {"yr", 365.0 * 24 * 3600 * 1000},
    {"yrs", 365.0 * 24 * 3600 * 1000},
    {"year", 365.0 * 24 * 3600 * 1000},
    {"years", 365.0 * 24 * 3600 * 1000},
    {"w", 7.0 * 24 * 3600 * 1000},
    {"wk", 7.0 * 24 * 3600 * 1000},
    {"wks", 7.0 * 24 * 3600 * 1000},
    {"week", 7.0 * 24 * 3600 * 1000},
    {"weeks", 7.0 * 24 * 3600 * 1000},
    {"d", 24.0 * 3600 * 1000},
    {"day", 24.0 * 3600 * 1000},
    {"days", 24.0 * 3600 * 1000},
    {"h", 3600.0 * 1000},
    {"hr", 3600.0 * 1000},
    {"hrs", 3600.0 * 1000},
    {"hour", 3600.0 * 1000},
    {"hours", 3600.0 * 1000},
    {"m", 60.0 * 1000},
    {"min", 60.0 * 1000},
    {"mins", 60.0 * 1000},
    {"minute", 60.0 * 1000},
    {"minutes", 60.0 * 1000},
    {"s", 1000.0},
    {"sec", 1000.0},
    {"secs", 1000.0},
    {"second", 1000.0},
    {"seconds", 1000.0},
    {"ms", 1.0},
    {"msec", 1.0},
    {"msecs", 1.0},
    {"millisecond", 1.0},
    {"milliseconds", 1.0},
    {NULL, 0},
};

static const struct unit_alias size_aliases[] = {
    {"", 1.0},
    {"b", 1.0},
    {"byte", 1.0},
    {"bytes", 1.0},
    {"k", 1024.0},
    {"kb", 1024.0},
    {"ki", 1024.0},
    {"kib", 1024.0},
    {"m", 1048576.0},
    {"mb", 1048576.0},
    {"mi", 1048576.0},
    {"mib", 1048576.0},
    {"g", 1073741824.0},
    {"gb", 1073741824.0},
    {"gi", 1073741824.0},
    {"gib", 1073741824.0},
    {"t", 1099511627776.0},
    {"tb", 1099511627776.0},
    {"ti", 1099511627776.0},
    {"tib", 1099511627776.0},
    {NULL, 0},
};

/*
 * Reads @s leniently as terms "<number>[.<fraction>]<unit>" (spaces and case ignored, any order)
 * with units from @aliases; a lone number without a unit counts in @bare units. Sets @total and
 * whether a fraction was seen; false when @s is no such text.
 */
static bool
lenient_sum(const char *s, const struct unit_alias *aliases, double bare, double *total,
            bool *fraction)
{
    char t[64];
    size_t n = 0;
    const char *p;
    int terms = 0;

    for (; *s != '\0'; s++) {
        if (isspace((unsigned char)*s)) {
            continue;
        }
        if (n + 1 >= sizeof(t)) {
            return false;
        }
        t[n++] = (char)tolower((unsigned char)*s);
    }
    t[n] = '\0';
    *total = 0;
    *fraction = false;
    p = t;
    if (*p == '\0') {
        return false;
    }
    while (*p != '\0') {
        char unit[16];
        size_t ul = 0;
        char *end;
        double v;
        bool found = false;

        if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1]))) {
            return false;
        }
        v = strtod(p, &end);
        for (const char *q = p; q < end; q++) {
            if (!isdigit((unsigned char)*q) && *q != '.') {
                return false; /* strtod read an exponent or a hex number: not a guess to make */
            }
            *fraction = *fraction || *q == '.';
        }
        p = end;
        while (isalpha((unsigned char)*p) && ul + 1 < sizeof(unit)) {
            unit[ul++] = *p++;
        }
        unit[ul] = '\0';
        if (isalpha((unsigned char)*p)) {
            return false;
        }
        terms++;
        if (ul == 0 && *p == '\0' && terms == 1) {
            *total = v * bare;
            return true;
        }
        for (const struct unit_alias *a = aliases; a->name != NULL; a++) {
            if (strcmp(a->name, unit) == 0) {
                *total += v * a->mult;
                found = true;
                break;
            }
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

const char *
units_duration_hint(const char *s, char *buf, size_t len)
{
    double ms;
    bool fraction;
    char d[48];
    int64_t check;

    buf[0] = '\0';
    if (s == NULL || !lenient_sum(s, duration_aliases, 1000.0, &ms, &fraction) || !isfinite(ms) ||
        ms < 0 || ms > 9.2e18 || fabs(ms - round(ms)) > 1e-6) {
        return buf;
    }
    int64_t v = (int64_t)llround(ms);
    if (v > 0 && v < 60000 && v % 1000 != 0) {
        snprintf(d, sizeof(d), "%lldms", (long long)v);
    }
    else {
        units_format_duration(v, d, sizeof(d));
    }
    if (strcmp(d, s) == 0 || units_parse_duration(d, &check) != 0 || check != v) {
        return buf;
    }
    snprintf(buf, len, " (%sdid you mean \"%s\"?)",
             fraction ? "Prometheus durations take no fractions: " : "", d);
    return buf;
}

const char *
units_size_hint(const char *s, char *buf, size_t len)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } out[] = {{"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}};
    double bytes;
    bool fraction;
    char d[48];
    uint64_t check;

    buf[0] = '\0';
    if (s == NULL || !lenient_sum(s, size_aliases, 1.0, &bytes, &fraction) || !isfinite(bytes) ||
        bytes < 0 || bytes > 1.8e19 || fabs(bytes - round(bytes)) > 1e-6) {
        return buf;
    }
    uint64_t v = (uint64_t)llround(bytes);
    snprintf(d, sizeof(d), "%lluB", (unsigned long long)v);
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        if (v > 0 && v % out[i].mult == 0) {
            snprintf(d, sizeof(d), "%llu%s", (unsigned long long)(v / out[i].mult), out[i].name);
            break;
        }
    }
    if (strcmp(d, s) == 0 || units_parse_size(d, &check) != 0 || check != v) {
        return buf;
    }
    snprintf(buf, len, " (%sdid you mean \"%s\"?)", fraction ? "sizes take no fractions: " : "", d);
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
