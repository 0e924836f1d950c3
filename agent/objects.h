/*
 * ctteamsctl config nagios|icinga: the hosts and services of the orgs an
 * agent has, named as its passive results name them, ready to go beside
 * the shipped nagios/ctteams.cfg or nagios/ctteams-icinga2.conf (their
 * commands, templates and apply rules).
 */
#ifndef CT_OBJECTS_H
#define CT_OBJECTS_H

#include <jansson.h>
#include <stdio.h>

/* cfg: the answer to the control protocol's "config" request. console:
 * "nagios" or "icinga". 0, or -1 for an unknown console. */
int obj_print(FILE *out, const char *console, const json_t *cfg);

#endif
