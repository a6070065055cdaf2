/* probe_conn: connection facts of a probe's transfer (see probe_conn.h). */
#include "build-config.h"

#include "probe_conn.h"

#include <string.h>

#include <netinet/in.h>
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

/* CURLOPT_OPENSOCKETFUNCTION: records the address, then opens the socket as libcurl would. */
static curl_socket_t
probe_conn_open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct probe_conn *c = arg;

    if (a->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&a->addr;
        c->family = AF_INET;
        memcpy(c->addr, &in->sin_addr, 4);
    }
    else if (a->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&a->addr;
        c->family = AF_INET6;
        memcpy(c->addr, &in6->sin6_addr, 16);
    }
    return socket(a->family, a->socktype, a->protocol);
}

void
probe_conn_prepare(struct probe_conn *c, CURL *easy, enum probe_conn_ip preferred, bool fallback)
{
    long r = CURL_IPRESOLVE_WHATEVER;

    memset(c, 0, sizeof(*c));
    if (!fallback) {
        r = preferred == PROBE_CONN_IP4 ? CURL_IPRESOLVE_V4 : CURL_IPRESOLVE_V6;
    }
    curl_easy_setopt(easy, CURLOPT_IPRESOLVE, r);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, probe_conn_open_cb);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, c);
}

void
probe_conn_add(const struct probe_conn *c, CURL *easy, struct batch *b)
{
    curl_off_t dns = 0;
    bool v6 = c->family == AF_INET6;

    curl_easy_getinfo(easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
    batch_add(b, "probe_dns_lookup_time_seconds", SAMPLE_GAUGE, (double)dns / 1e6, 0);
    if (c->family == 0) {
        return;
    }
    batch_add(b, "probe_ip_protocol", SAMPLE_GAUGE, v6 ? 6 : 4, 0);
    /* blackbox_exporter hashes the address's bytes: 4 for IPv4, 16 for IPv6. */
    batch_add(b, "probe_ip_addr_hash", SAMPLE_GAUGE,
              (double)probe_conn_fnv32a((const char *)c->addr, v6 ? 16 : 4), 0);
}
