/*
 * The agent's heartbeat: an outbox entry at the start and every
 * heartbeat_interval, which each output sends (ctTeamsHeartbeat; an OK for
 * the ctteams-agent service), so that a NOC's console turns that service
 * CRITICAL when two intervals pass without one: a stopped, hung or
 * cut-off agent is never silent. A clean stop writes a "stop" entry, and
 * the outputs get a moment to send it before they close.
 */
#ifndef CT_HEARTBEAT_H
#define CT_HEARTBEAT_H

#include <stdbool.h>

#include "conf.h"
#include "store.h"

void hb_start(const struct conf *c, struct store *st);
/* A reload: the next heartbeat comes at the new interval. */
void hb_reload(const struct conf *c);
/* The stop entry (why: "SIGTERM"); false when none was written. */
bool hb_stopping(const char *why);
/* Has every output taken the stop entry (or given it up)? */
bool hb_stop_sent(void);
void hb_shutdown(void);

#endif
