/* The "otlp" output format (encoder.h). */
#ifndef POLLSTER_ENC_OTLP_H
#define POLLSTER_ENC_OTLP_H

#include "encoder.h"

extern const struct encoder enc_otlp;

#endif
