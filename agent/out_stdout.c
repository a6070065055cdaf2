/*
 * stdout output. Each record is written whole with write(2), retrying on EINTR and short writes,
 * so lines from one batch never interleave with other output. A write error (closed pipe, full
 * disk) is logged once per streak and counted; the agent keeps collecting.
 */
#include "build-config.h"

#include "out_stdout.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

struct out_stdout {
    int fd;
    bool failing;
};

void *
out_stdout_new(int fd)
{
    struct out_stdout *o = calloc(1, sizeof(*o));

    if (o != NULL) {
        o->fd = fd;
    }
    return o;
}

static int
out_stdout_write(void *state, const char *data, size_t len, uint32_t nsamples)
{
    struct out_stdout *o = state;

    (void)nsamples;

    while (len > 0) {
        ssize_t n = write(o->fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            /* stdout inherited non-blocking: wait for room rather than drop the record. */
            struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
            poll(&pfd, 1, 1000);
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            if (!o->failing) {
                log_err("out_stdout: write() failed: %s", strerror(err));
                o->failing = true;
            }
            return -err;
        }
        data += n;
        len -= (size_t)n;
    }
    if (o->failing) {
        log_info("out_stdout: writing again");
        o->failing = false;
    }
    return 0;
}

const struct output_ops out_stdout_ops = {
    .name = "stdout",
    .write = out_stdout_write,
    .flush = NULL,
    .free = free,
};

/* The stdout output in the config: type stdout (the default output) */

static const struct conf_field stdout_fields[] = {
    CONF_OUTPUT_FIELDS,
};
static const struct conf_section stdout_section = {
    .name = "outputs[] (type stdout)", .what = "output type stdout", CONF_FIELDS(stdout_fields)};

static int
stdout_open(const struct config_output *co, const char *what, struct loop *l, struct output *out,
            char *err, size_t errlen)
{
    out->ops = &out_stdout_ops;
    out->state = out_stdout_new(1);
    if (out->state == NULL) {
        snprintf(err, errlen, "%s: out of memory", what);
        return -ENOMEM;
    }
    return 0;
}

const struct output_type out_stdout_type = {
    .name = "stdout",
    .desc = "Batches to standard output, one document per batch.",
    .conf = &stdout_section,
    .open = stdout_open,
};
