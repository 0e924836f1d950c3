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

void proc_start(const struct conf *c, struct store *st);
void proc_reload(const struct conf *c);
void proc_stop(void);
void proc_kick(void);
/* Outputs register here; called once per new event. */
void proc_on_event(void (*fn)(long id, const struct store_event *e));
struct org;
/* Runs the org's detector on a chatMessage and records any event; spends
 * inbox row seq (0: none) with it. 1: a new event, 0: nothing new, -1: the
 * store failed (the row stays). */
int proc_message(struct org *o, json_t *msg, const char *source, long seq);
/* {inbox_pending, dead_letters, held_by_graph} of one org. */
json_t *proc_status(const char *org);
/* test-match: the verdict on a message under an org's rules, explained. */
json_t *proc_test_match(const char *org, json_t *message);

#endif
