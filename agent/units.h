/*
 * Parsing of the units users type: Prometheus durations ("1m30s", "500ms") and byte sizes
 * ("10MB", "1GiB"), and listen addresses ("127.0.0.1:9464"). Shared by the command line and the
 * config file so both accept the same text.
 */
#ifndef POLLSTER_UNITS_H
#define POLLSTER_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a Prometheus duration: one or more <integer><unit> terms in decreasing unit order,
 * units y w d h m s ms (e.g. "1h30m", "500ms", "0"). Returns 0 and stores milliseconds in
 * @out_ms, or -EINVAL (bad syntax, units out of order) / -ERANGE (overflow).
 */
int units_parse_duration(const char *s, int64_t *out_ms);

/*
 * Parses a byte size: an integer with an optional unit, case-insensitive: B, K/KB/KiB,
 * M/MB/MiB, G/GB/GiB, TB/TiB. All multiples are powers of 1024, as in Prometheus'
 * body_size_limit ("10MB" is 10 * 2^20 bytes). Returns 0 or -EINVAL / -ERANGE.
 */
int units_parse_size(const char *s, uint64_t *out);

/*
 * For a duration units_parse_duration() refused: what the user probably meant, as the tail of an
 * error message in @buf (" (did you mean \"15s\"?)" for "15", " (Prometheus durations take no
 * fractions: did you mean \"1500ms\"?)" for "1.5s"; also upper-case or spelled-out units,
 * spaces and terms out of order), or "" when there is no good guess. Returns @buf.
 */
const char *units_duration_hint(const char *s, char *buf, size_t len);

/* Like units_duration_hint, for a size units_parse_size() refused ("1.5GiB" -> "1536MiB"). */
const char *units_size_hint(const char *s, char *buf, size_t len);

/* Writes @ms as a compact duration ("1m30s", "500ms", "0s") into @buf; returns @buf. */
char *units_format_duration(int64_t ms, char *buf, size_t len);

/*
 * Splits "ADDR:PORT" ("127.0.0.1:9464", "[::1]:0", "localhost:9464") into @host and @port.
 * 0, or -EINVAL with a message in @err.
 */
int units_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port, char *err,
                       size_t errlen);

#endif
