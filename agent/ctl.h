/*
 * The control protocol on the local sockets: one JSON object per line each
 * way, documented in docs/control-protocol.md. Answers carry "proto" and
 * "ok", and never a token, code or secret; a sign-in link is the one
 * capability handed out, on the admin socket only.
 */
#ifndef CT_CTL_H
#define CT_CTL_H

#include <jansson.h>

#include "conf.h"
#include "event.h"

#define CTL_PROTO 1 /* docs/control-protocol.md; bumped on an incompatible change */

struct store;

/* st may be NULL on reload: the store stays the same. */
void ctl_init(const struct conf *c, struct store *st);
/* One request line: its answer line (no newline). Changes are refused on
 * the monitoring socket and logged with the caller's uid. */
char *ctl_handle(const char *line, const struct ev_ctl_peer *peer);
/* What the status request answers: {agent, orgs, alarms} (org NULL: all);
 * NULL when there is no such org. The SNMP subagent reads the same. */
json_t *ctl_status_json(const char *org);
/* agent.KEY in the status answer: what fn says (a new reference). */
void ctl_add_status(const char *key, json_t *(*fn)(void));

#endif
