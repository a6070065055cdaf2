/*
 * The section of one relabel rule (struct config_relabel): a list field of this section gives
 * a job or an output its relabel rules.
 */
#ifndef POLLSTER_CONF_RELABEL_H
#define POLLSTER_CONF_RELABEL_H

#include "conf.h"

extern const struct conf_section conf_relabel_section;

struct relabel_rule;

/*
 * The running rules of @n configured ones (relabel.h): an array the caller frees with
 * conf_relabel_rules_free(*@out, @n); *@out is NULL when @n is 0. @who names the owner in
 * errors ("outputs[0]: write_relabel_configs"). 0, or a negative errno with the cause in @err.
 */
int conf_relabel_rules_new(const struct config_relabel *c, size_t n, const char *who,
                           struct relabel_rule **out, char *err, size_t errlen);
void conf_relabel_rules_free(struct relabel_rule *rules, size_t n);

#endif
