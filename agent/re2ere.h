/*
 * RE2 to POSIX ERE. Prometheus' regexes (relabel_configs, blackbox's fail_if_* and the like) are
 * RE2; pollster compiles them with regcomp(). The escapes that are common in pasted configs and
 * have an exact ERE spelling are rewritten: \d \D \w \W \s \S (RE2's ASCII classes), \t \n \r \f
 * \v, and escaped punctuation, also inside brackets ("[\w.\-]" becomes "[0-9A-Za-z_.-]", where
 * POSIX would read the backslashes as literals). What has no exact spelling (\D inside brackets,
 * \pN, \x41, \A, \z, ...) is refused with the reason; everything else is copied unchanged for
 * regcomp and conf_regex's checks to judge.
 */
#ifndef POLLSTER_RE2ERE_H
#define POLLSTER_RE2ERE_H

#include <stddef.h>

/*
 * The ERE spelling of the RE2 regex @re (malloc'd: free it), or NULL with the reason in @err
 * ("out of memory" when that is it).
 */
char *re2ere_dup(const char *re, char *err, size_t errlen);

/*
 * re2ere_dup, and the groups: *@nuser is the number of RE2 capturing groups; when "(?:" groups
 * moved them, *@map (malloc'd: free it) holds for RE2 group k (1-based) its ERE group number at
 * index k - 1, else *@map is NULL (RE2 group k is ERE group k).
 */
char *re2ere_dup_groups(const char *re, unsigned **map, size_t *nuser, char *err, size_t errlen);

#endif
