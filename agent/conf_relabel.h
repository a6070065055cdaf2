/*
 * The section of one relabel rule (struct config_relabel): a list field of this section gives
 * a job or an output its relabel rules; conf_relabel_rules() builds them for relabel.c.
 */
#ifndef POLLSTER_CONF_RELABEL_H
#define POLLSTER_CONF_RELABEL_H

#include "conf.h"
#include "relabel.h"

extern const struct conf_section conf_relabel_section;

/*
 * Builds relabel.c's rules from @n mapped (already validated) rules @c: *@out (free with
 * conf_relabel_rules_free), *@nout = @n. 0, or -EINVAL / -ENOMEM with "[i]: why" in @err
 * (nothing is then allocated). Callable at any time, not only while loading.
 */
int conf_relabel_rules(const struct config_relabel *c, size_t n, struct relabel_rule **out,
                       size_t *nout, char *err, size_t errlen);
/* Releases @n rules and the array (accepts NULL). */
void conf_relabel_rules_free(struct relabel_rule *rules, size_t n);

struct strbuf;
/* Appends every setting of the @n rules @c to a reload identity (never printed). */
void conf_relabel_identity(const struct config_relabel *c, size_t n, struct strbuf *sb);

#endif
