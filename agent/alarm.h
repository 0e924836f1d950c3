/*
 * The alarm table: every condition that must reach a NOC, with its
 * identity (type and org), an X.733 severity, when it was raised and why.
 * The agent's modules say what is true (alarm_set); this file turns that
 * into raise and clear edges, each written with its outbox entry in one
 * transaction, so an output never decides on its own what counts as an
 * alarm, and a restart neither forgets an alarm nor raises it twice.
 * docs/alarms.md is the runbook: each type's anchor there is part of it.
 */
#ifndef CT_ALARM_H
#define CT_ALARM_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

enum alarm_type {
	ALARM_NOT_SIGNED_IN,
	ALARM_SIGNIN_LOST,
	ALARM_SECRET_INVALID,
	ALARM_SECRET_EXPIRING,
	ALARM_SUBSCRIPTION,
	ALARM_DELIVERY_GAP,
	ALARM_UNRECOGNISED,
	ALARM_DEAD_LETTERS,
	ALARM_RECONCILE,
	ALARM_THROTTLED,
	ALARM_STORE,
	ALARM_CERT,
	ALARM_OUTPUT_STUCK,
	ALARM_SIGNIN_DEGRADED,
	ALARM_PEER_LOST,
	ALARM_DB_UNREACHABLE,
	ALARM_N
};

/* ITU-T X.733 perceived severity, numbered as the IETF ALARM-MIB does. */
enum alarm_severity {
	SEV_CLEARED = 1,
	SEV_INDETERMINATE,
	SEV_CRITICAL,
	SEV_MAJOR,
	SEV_MINOR,
	SEV_WARNING,
};

struct alarm_def {
	const char *name; /* stable: outputs and the MIB use it */
	enum alarm_severity severity;
	bool per_org;        /* false: the agent's own (org "") */
	const char *runbook; /* anchor in docs/alarms.md */
	const char *summary; /* one line, for a console */
	const char *check;   /* the check_ctteams_* plugin (and service) it belongs to */
};

extern const struct alarm_def alarm_defs[ALARM_N];

const char *alarm_severity_name(enum alarm_severity s);
/* The severity of a name; indeterminate for none. */
enum alarm_severity alarm_severity_named(const char *name);
/* The Monitoring Plugins state of a severity: critical and major are
 * CRITICAL (2), minor and warning WARNING (1), cleared OK (0). */
int alarm_check_state(enum alarm_severity s);
/* The definition of a type by name, or NULL. */
const struct alarm_def *alarm_def_named(const char *name);
/* Loads the active set kept across restarts. */
int alarms_start(struct store *st);
void alarms_stop(void);
/* The agent stands down (ha.c): alarms it raised from memory while the
 * store could not write them (databaseUnreachable) are written raised and
 * cleared, so that the agent taking over sends their clear. */
void alarms_hand_over(void);
/* The table read again from the store: the standby's view of the alarms
 * the active raises (ha.c). */
int alarms_reload(void);
/* What is true now: raises with text, or clears. Only edges are written
 * (and appended to the outbox); the same truth again costs nothing. org is
 * "" for the agent's own alarms. -1 if the store failed (tried again at
 * the next evaluation). */
int alarm_set(enum alarm_type type, const char *org, bool active, const char *text);
/* The same with a severity other than the type's own (an escalation: a
 * change while raised is a raise of the same instance with it). */
int alarm_set_severity(enum alarm_type type, const char *org, bool active, enum alarm_severity sev,
		       const char *text);
/* When an alarm was last raised, escalated or cleared; 0: never. */
double alarms_last_changed(void);
/* Active alarms (org NULL: all), oldest first. */
json_t *alarms_list(const char *org);
/* Forget the alarms of an org that left the configuration (cleared); -1
 * if the store failed (tried again at the next evaluation). */
int alarms_org_gone(const char *org);

#endif
