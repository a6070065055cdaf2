/*
 * What this build is: pollster's version, git commit and build date, the versions of the
 * libraries it runs with (libcurl with its TLS backend and resolver, libevent, json-c, libyaml,
 * zlib) and the features compiled in (job kinds, outputs, formats, libcurl's HTTP/2, async DNS).
 * For --version and the status page.
 */
#ifndef POLLSTER_STATUS_VERSION_H
#define POLLSTER_STATUS_VERSION_H

#include "strbuf.h"

/* Appends the lines "pollster VERSION (git COMMIT, built DATE)\n", "libraries: ...\n", "features:
 * ...\n". */
void status_version_render(struct strbuf *sb);

/* Appends the first line alone, without '\n'. */
void status_version_line(struct strbuf *sb);

/* Appends the libraries line's text alone ("libcurl 7.88.1 (OpenSSL/3.0.11, c-ares 1.18.1), ...").
 */
void status_version_libraries(struct strbuf *sb);

#endif
