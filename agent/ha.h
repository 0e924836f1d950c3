/* Two agents, one database: which one does the duties (ha.c). */
#ifndef CT_HA_H
#define CT_HA_H

#include <jansson.h>
#include <stdbool.h>

#include "conf.h"
#include "store.h"

/* Takes the duties' lease if it is free (always "active" on SQLite). */
int ha_start(const struct conf *c, struct store *st);
/* Lets the lease go at once when this agent held it. */
void ha_stop(void);
/* Does this agent do the duties now? Each duty's timer asks first. */
bool ha_active(void);
/* A duty's timer asks this first: false, it does nothing now, and its
 * timer t is armed again for a second later while the agent is active
 * but its lease is being renewed. */
struct ev_timer;
bool ha_gate(struct ev_timer *t);
/* And will it still for margin seconds (before a request to Entra or
 * Graph that must not be made twice)? */
bool ha_may_act(double margin);
/* Long enough since it became active that a refresh the last holder sent
 * has been answered or given up (ha_settle_left: seconds still to wait). */
bool ha_settled(void);
double ha_settle_left(void);
/* The active whose lease ran out while the database was away: its duties
 * wait; what it says of the database still goes out (health.c, outbox.c). */
bool ha_paused(void);
/* The loop was stopped to start afresh in the other role. */
bool ha_lost(void);
/* The other agent stopped beating: why, or NULL (peerLost). */
const char *ha_peer_problem(void);
/* {agent, role, holder, lease_left, epoch, lease_time, peers}; null when
 * the store is not shared. */
json_t *ha_status(void);

#endif
