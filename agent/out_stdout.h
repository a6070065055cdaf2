/* The stdout output: encoded batches written to file descriptor 1, one record per line. */
#ifndef POLLSTER_OUT_STDOUT_H
#define POLLSTER_OUT_STDOUT_H

#include "output.h"
#include "outputs.h"

extern const struct output_ops out_stdout_ops;

/* The stdout output's row in the outputs registry. */
extern const struct output_type out_stdout_type;

/* State for writing to @fd (1 in production; tests pass a pipe). NULL when out of memory. */
void *out_stdout_new(int fd);

#endif
