/*
 * ctteamsd as an AgentX subagent of the host's snmpd: CT-TEAMS-MIB read
 * from the agent's model (never written), and the model's outbox sent as
 * notifications through the master, which routes them to its own sinks
 * (trap2sink, informsink, trapsess). net-snmp runs inside the agent's one
 * event loop (event.c): no thread, no SIGALRM, short AgentX timeouts. A
 * master that is away is tried again every agentx_reconnect; what it
 * missed is sent, in order, once it is back. docs/snmp.md.
 */
#ifndef CT_SNMP_AGENT_H
#define CT_SNMP_AGENT_H

#include "conf.h"
#include "store.h"

/* Does nothing when agentx_socket is off. 0, or -1 if net-snmp could not
 * be set up (logged). */
int snmpa_start(const struct conf *c, struct store *st);
/* A reload: what can change live does (trap_max_age, snmp_events); a new
 * agentx_socket takes a restart, and says so. */
void snmpa_reload(const struct conf *c);
void snmpa_stop(void);

#endif
