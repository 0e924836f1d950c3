/*
 * Passive check results for Nagios and Icinga: what an outbox entry says
 * as the result of a check_ctteams_* service. An emergency event is a
 * CRITICAL result (WARNING for a test call, unless a 911 is open) for the
 * org's emergency service, and its acknowledgement the OK (or WARNING)
 * that follows once no call is open; an alarm's raise is its severity's
 * state for the service of the alarm's check, its clear the state of what
 * stays raised there; a heartbeat is the ctteams-agent service's OK, a
 * clean stop its WARNING. Services are named by service_name (by default
 * ctteams-CHECK-ORG) on the host passive_host (ctteams, or one per org),
 * as nagios/ctteams.cfg and nagios/ctteams-icinga2.conf define them. The transports are
 * out_nagios.c (the external command file) and out_icinga.c (the REST API).
 */
#ifndef CT_PASSIVE_H
#define CT_PASSIVE_H

#include <jansson.h>
#include <stddef.h>

#include "conf.h"
#include "outbox.h"

struct passive_result {
	char *host;    /* passive_host, its %o filled in */
	char *service; /* service_name filled in: ctteams-emergency-acme */
	int state;     /* 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN */
	char *output;  /* one line: no '|', no line break */
	double at;     /* when it happened */
	double ttl;    /* how long it holds (Icinga's ttl); 0: the output's own */
	/* a new call: the console's acknowledgement of the service (an earlier
	 * call's) is removed first, so that this one pages */
	bool clear_ack;
};

/* The results an outbox entry makes (an agent-level alarm makes one per
 * org); 0 for an entry that makes none. */
size_t passive_results(const json_t *entry, struct passive_result **ret);
void passive_results_free(struct passive_result *r, size_t n);
/* How both transports retry: 1 s doubling to 30 s, given up after
 * passive_max_age. */
struct outbox_opts passive_opts(const struct conf *c);

#endif
