/*
 * The names the consoles know ctteams' services by: service_name and
 * passive_host, templates in which %o is the org and %c the check (%% a
 * '%'). The agent's passive results and the objects ctteamsctl config
 * prints are named by the same function, so the two cannot disagree.
 */
#ifndef CT_NAMES_H
#define CT_NAMES_H

/* tmpl filled in (free it). */
char *names_fill(const char *tmpl, const char *org, const char *check);

#endif
