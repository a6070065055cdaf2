/*
 * The "vm" output format (encoder.h): VictoriaMetrics /api/v1/import JSON lines.
 */
#ifndef POLLSTER_ENC_VM_H
#define POLLSTER_ENC_VM_H

#include "encoder.h"

extern const struct encoder enc_vm;

#endif
