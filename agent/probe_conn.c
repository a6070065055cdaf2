/* probe_conn: connection facts of a probe's transfer (see probe_conn.h). */
#include "build-config.h"

#include "probe_conn.h"

#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

uint32_t
probe_conn_fnv32a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void
probe_conn_prepare(CURL *easy, enum probe_conn_ip preferred, bool fallback)
{
    long r = CURL_IPRESOLVE_WHATEVER;

    if (!fallback) {
        r = preferred == PROBE_CONN_IP4 ? CURL_IPRESOLVE_V4 : CURL_IPRESOLVE_V6;
    }
    curl_easy_setopt(easy, CURLOPT_IPRESOLVE, r);
}

void
probe_conn_add(CURL *easy, struct batch *b)
{
    curl_off_t dns = 0;
    char *ip = NULL;

    curl_easy_getinfo(easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    batch_add(b, "probe_dns_lookup_time_seconds", SAMPLE_GAUGE, (double)dns / 1e6, 0);
    if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || ip == NULL ||
        *ip == '\0') {
        return;
    }
    bool v6 = strchr(ip, ':') != NULL;
    unsigned char addr[16];
    batch_add(b, "probe_ip_protocol", SAMPLE_GAUGE, v6 ? 6 : 4, 0);
    /* blackbox_exporter hashes the address's bytes: 4 for IPv4, 16 for IPv6. */
    if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, addr) == 1) {
        batch_add(b, "probe_ip_addr_hash", SAMPLE_GAUGE,
                  (double)probe_conn_fnv32a((const char *)addr, v6 ? 16 : 4), 0);
    }
}
