/* The "vm" output format (encoder.h). */
#ifndef POLLSTER_ENC_VM_H
#define POLLSTER_ENC_VM_H

#include "encoder.h"

extern const struct encoder enc_vm;

#endif
