/* The "telegraf" output format (encoder.h). */
#ifndef POLLSTER_ENC_TELEGRAF_H
#define POLLSTER_ENC_TELEGRAF_H

#include "encoder.h"

extern const struct encoder enc_telegraf;

#endif
