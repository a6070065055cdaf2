/* What this build is; see status_version.h. */
#include "build-config.h"

#include "status_version.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json_c_version.h>
#include <yaml.h>
#include <zlib.h>

#include "encoder.h"
#include "kinds.h"
#include "outputs.h"

void
status_version_line(struct strbuf *sb)
{
    strbuf_printf(sb, "pollster %s (git %s, built %s)", PACKAGE_VERSION, POLLSTER_GIT_COMMIT,
                  POLLSTER_BUILD_DATE);
}

void
status_version_libraries(struct strbuf *sb)
{
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

    strbuf_printf(sb, "libcurl %s (%s", cv->version,
                  cv->ssl_version != NULL ? cv->ssl_version : "no TLS");
    if (cv->ares != NULL) {
        strbuf_printf(sb, ", c-ares %s", cv->ares);
    }
    if (cv->nghttp2_version != NULL) {
        strbuf_printf(sb, ", nghttp2 %s", cv->nghttp2_version);
    }
    strbuf_printf(sb, "), libevent %s, json-c %s, libyaml %s, zlib %s", event_get_version(),
                  json_c_version(), yaml_get_version_string(), zlibVersion());
}

void
status_version_render(struct strbuf *sb)
{
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

    status_version_line(sb);
    strbuf_puts(sb, "\nlibraries: ");
    status_version_libraries(sb);
    strbuf_puts(sb, "\nfeatures: kinds ");
    kinds_names(sb);
    strbuf_puts(sb, "; outputs ");
    outputs_names(sb);
    strbuf_puts(sb, "; formats ");
    encoder_names(sb);
    strbuf_printf(sb, "; libcurl:%s%s%s%s%s\n",
                  (cv->features & CURL_VERSION_SSL) != 0 ? " TLS" : "",
                  (cv->features & CURL_VERSION_HTTP2) != 0 ? " HTTP/2" : "",
                  (cv->features & CURL_VERSION_ASYNCHDNS) != 0 ? " async-DNS" : "",
                  (cv->features & CURL_VERSION_LIBZ) != 0 ? " gzip" : "",
                  (cv->features & CURL_VERSION_IPV6) != 0 ? " IPv6" : "");
}
