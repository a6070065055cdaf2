/*
 * The section of one relabel rule (struct config_relabel): a list field of this section gives
 * a job or an output its relabel rules.
 */
#ifndef POLLSTER_CONF_RELABEL_H
#define POLLSTER_CONF_RELABEL_H

#include "conf.h"

extern const struct conf_section conf_relabel_section;

#endif
