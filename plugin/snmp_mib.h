/*
 * CT-TEAMS-MIB as data: a snapshot of the agent's model (the same JSON the
 * control protocol answers) turned into a sorted list of variables, GET and
 * GETNEXT over it, and the varbinds of each notification. Nothing here
 * talks to snmpd, so every column and the walk order are tested in-process
 * (tests/unit/test_snmp_mib.c). mibs/CT-TEAMS-MIB.txt is the contract.
 */
#ifndef CT_SNMP_MIB_H
#define CT_SNMP_MIB_H

#include <jansson.h>
#include <stdbool.h>
/* net-snmp: its configuration header first, always */
#include <net-snmp/net-snmp-config.h>

#include <net-snmp/net-snmp-includes.h>

#define SMIB_OID_MAX 24

/* ctTeamsMIB: the one place the arc is named (as in the MIB) */
extern const oid smib_root[];
extern const size_t smib_root_len;

struct smib_var {
	oid name[SMIB_OID_MAX];
	size_t name_len;
	u_char type; /* ASN_INTEGER, ASN_OCTET_STR, ASN_GAUGE, ASN_COUNTER64 */
	long l;
	struct counter64 c64;
	u_char *s;
	size_t s_len;
};

struct smib;

/* What the outputs add to the model: the trap output's own counts. */
struct smib_traps {
	long sent, not_delivered, pending;
};

/* status: {agent, orgs, alarms} as ctl_status_json gives it; events: the
 * newest events first, as store_events gives them. Borrowed. */
struct smib *smib_build(const json_t *status, const json_t *events, const struct smib_traps *traps);
void smib_free(struct smib *m);
size_t smib_count(const struct smib *m);
const struct smib_var *smib_at(const struct smib *m, size_t i);
/* The variable named exactly, or NULL. */
const struct smib_var *smib_get(const struct smib *m, const oid *name, size_t len);
/* Does name fall under an object of the MIB (a scalar or a column)? A GET
 * of one that is not there is noSuchInstance, of anything else
 * noSuchObject. */
bool smib_object_exists(const oid *name, size_t len);
/* The first variable after name, or NULL at the end of the MIB. */
const struct smib_var *smib_next(const struct smib *m, const oid *name, size_t len);

/* The notification for an outbox entry (docs/control-protocol.md): its
 * snmpTrapOID.0 varbind followed by its objects; NULL for an entry that
 * has no notification. The org's index from status (may be NULL), else
 * from index_of (may be NULL). sysUpTime.0
 * is the sender's to add. */
netsnmp_variable_list *smib_notification(const json_t *entry, const json_t *status,
					 long (*index_of)(const char *org));
/* ctTeamsAgentStart. */
netsnmp_variable_list *smib_agent_start(const json_t *status);
/* The notification's OID name for logs ("ctTeamsEmergencyCall"). */
const char *smib_notification_name(const netsnmp_variable_list *vars);

/* DateAndTime (RFC 2579) of an ISO 8601 UTC time in buf[11]; the
 * '0000000000000000'H "unknown" value (8 bytes) for NULL or junk. Returns
 * the length. */
size_t smib_date_and_time(const char *iso, u_char *buf);

#endif
