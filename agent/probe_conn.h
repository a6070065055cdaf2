/*
 * The connection facts every blackbox_exporter prober reports, read from a finished libcurl
 * transfer: probe_dns_lookup_time_seconds, probe_ip_protocol (4 or 6) and probe_ip_addr_hash
 * (FNV-1a 32 of the address's 4 or 16 bytes, as blackbox_exporter hashes it), and the
 * preferred_ip_protocol / ip_protocol_fallback settings that choose the address family.
 */
#ifndef POLLSTER_PROBE_CONN_H
#define POLLSTER_PROBE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "sample.h"

enum probe_conn_ip { PROBE_CONN_IP6 = 0, PROBE_CONN_IP4 }; /* blackbox_exporter's default: ip6 */

/* The address a probe's transfer last tried to connect to (also when the connect failed). */
struct probe_conn {
    int family; /* AF_INET, AF_INET6; 0: no connect attempted */
    unsigned char addr[16];
};

/* FNV-1a, 32 bits, of @len bytes of @s. */
uint32_t probe_conn_fnv32a(const char *s, size_t len);

/*
 * Resets @c and has @easy record in it each address it opens a socket for (@c must live until
 * the transfer is done). Restricts @easy to @preferred's family when @fallback is false; with
 * fallback libcurl tries both families (happy eyeballs) as blackbox_exporter falls back to the
 * other one.
 */
void probe_conn_prepare(struct probe_conn *c, CURL *easy, enum probe_conn_ip preferred,
                        bool fallback);

/*
 * Adds probe_dns_lookup_time_seconds, and when a connect was attempted (refused too, as
 * blackbox_exporter reports it after resolving), probe_ip_protocol and probe_ip_addr_hash.
 */
void probe_conn_add(const struct probe_conn *c, CURL *easy, struct batch *b);

#endif
