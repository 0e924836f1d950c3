/*
 * The alarm evaluator: reads each module's state and tells the alarm
 * table what is true (see alarm.h). Runs every few seconds and on a kick.
 */
#ifndef CT_HEALTH_H
#define CT_HEALTH_H

/* Reads the orgs' configuration and store (orgs_conf, orgs_store). */
void health_start(void);
void health_stop(void);
/* A state changed (an edge): evaluate at once, not at the next tick. */
void health_kick(void);

#endif
