/*
 * Processing the inbox: for each acknowledged notification, fetch the
 * message (a basic notification carries only its address), run the org's
 * detector, record the event, and only then take the notification out of
 * the inbox. A crash anywhere replays from the inbox; the event table's
 * uniqueness on (org, chat, message) makes the replay harmless. Lifecycle
 * notifications go to the subscription manager.
 *
 * New events go to the outputs (SNMP, Nagios/Icinga) through one hook.
 */
#ifndef CT_PROC_H
#define CT_PROC_H

#include <jansson.h>

#include "conf.h"
#include "detect.h"
#include "store.h"

struct org;

/* The agent-wide scheduler and retention timers. */
void proc_start(void);
void proc_stop(void);
/* The org's processing part (its detector's rules, pacing and place in
 * the inbox), made and freed with the org (org.c); configure: the org's
 * configuration was reloaded (the rules are compiled again). None of the
 * three looks at other orgs: a reload kicks the scheduler once it is done. */
void proc_attach(struct org *o);
void proc_configure(struct org *o);
void proc_detach(struct org *o);
void proc_kick(void);
/* Outputs register here; called once per new event. */
void proc_on_event(void (*fn)(long id, const struct store_event *e));
/* Runs the org's detector on a chatMessage and records any event; spends
 * inbox row seq (0: none) with it. 1: a new event, 0: nothing new, -1: the
 * store failed (the row stays). */
int proc_message(struct org *o, json_t *msg, const char *source, long seq);
/* {inbox_pending, dead_letters, held_by_graph} of one org. */
json_t *proc_status(const struct org *o);
/* What the throttling alarm is decided from (health.c). */
struct proc_health {
	double throttled_since; /* Retry-After held reads since (0: not held) */
	bool reads_seen;        /* a read worked since the start: "not held" is known */
};
void proc_health(const struct org *o, struct proc_health *ret);
/* test-match: the verdict on a message under an org's rules, explained. */
json_t *proc_test_match(struct org *o, json_t *message);

#endif
