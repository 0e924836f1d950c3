/*
 * The snapshot is rebuilt from the model at most about once a second (see
 * snmp_agent.c), so a walk costs one status query, not one per variable.
 * Variables are appended table by table, then sorted once: GETNEXT is a
 * binary search, and the order is net-snmp's own OID comparison.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alarm.h"
#include "snmp_mib.h"
#include "text.h"
#include "util.h"

/* CT-TEAMS-MIB's MODULE-IDENTITY, read from the MIB by the build
 * (plugin/CMakeLists.txt): the one place the arc is named */
const oid smib_root[] = {SMIB_ROOT};
const size_t smib_root_len = sizeof(smib_root) / sizeof(smib_root[0]);

/* ctTeamsObjects subtrees */
enum { T_AGENT = 1, T_ORG = 2, T_SUB = 3, T_EVENT = 4, T_ALARM = 5 };

/* ctTeamsNotificationSeq: ctTeamsAgent.12, in notifications only */
#define SCALAR_SEQ 12

/* notifications: ctTeamsNotifications.N */
enum {
	N_EMERGENCY = 1,
	N_UNMATCHED = 2,
	N_AGENT_START = 3,
	N_ACKNOWLEDGED = 4,
	N_HEARTBEAT = 5,
	N_AGENT_STOP = 6,
	N_ALARM_BASE = 10
};

/* raise, clear: ctTeamsNotifications.(10 + 2 * type) and the next */
static const char *const alarm_notification[ALARM_N][2] = {
    [ALARM_NOT_SIGNED_IN] = {"ctTeamsNotSignedIn", "ctTeamsSignedIn"},
    [ALARM_SIGNIN_LOST] = {"ctTeamsSignInLost", "ctTeamsSignInRestored"},
    [ALARM_SECRET_INVALID] = {"ctTeamsSecretInvalid", "ctTeamsSecretAccepted"},
    [ALARM_SECRET_EXPIRING] = {"ctTeamsSecretExpiring", "ctTeamsSecretRenewed"},
    [ALARM_SUBSCRIPTION] = {"ctTeamsSubscriptionLapsed", "ctTeamsSubscriptionRestored"},
    [ALARM_DELIVERY_GAP] = {"ctTeamsDeliveryGap", "ctTeamsDeliveryRestored"},
    [ALARM_UNRECOGNISED] = {"ctTeamsUnrecognisedNotice", "ctTeamsUnrecognisedCleared"},
    [ALARM_DEAD_LETTERS] = {"ctTeamsDeadLetters", "ctTeamsDeadLettersCleared"},
    [ALARM_RECONCILE] = {"ctTeamsReconcileFailing", "ctTeamsReconcileRestored"},
    [ALARM_THROTTLED] = {"ctTeamsThrottled", "ctTeamsThrottlingEnded"},
    [ALARM_STORE] = {"ctTeamsStoreTrouble", "ctTeamsStoreRestored"},
    [ALARM_CERT] = {"ctTeamsCertificateTrouble", "ctTeamsCertificateRenewed"},
    [ALARM_OUTPUT_STUCK] = {"ctTeamsOutputStuck", "ctTeamsOutputRestored"},
    [ALARM_SIGNIN_DEGRADED] = {"ctTeamsSignInDegraded", "ctTeamsSignInRecovered"},
    [ALARM_PEER_LOST] = {"ctTeamsPeerLost", "ctTeamsPeerRestored"},
    [ALARM_DB_UNREACHABLE] = {"ctTeamsDatabaseUnreachable", "ctTeamsDatabaseRestored"},
};

struct smib {
	struct smib_var *v;
	size_t n, cap;
};

/* ---- values ---- */

size_t
smib_date_and_time(const char *iso, u_char *buf)
{
	double t;
	time_t secs;
	struct tm tm;

	if (!iso || time_parse(iso, &t) < 0 || t <= 0) {
		memset(buf, 0, 8);
		return 8;
	}
	secs = (time_t)t;
	gmtime_r(&secs, &tm);
	buf[0] = (u_char)((tm.tm_year + 1900) >> 8);
	buf[1] = (u_char)((tm.tm_year + 1900) & 0xff);
	buf[2] = (u_char)(tm.tm_mon + 1);
	buf[3] = (u_char)tm.tm_mday;
	buf[4] = (u_char)tm.tm_hour;
	buf[5] = (u_char)tm.tm_min;
	buf[6] = (u_char)tm.tm_sec;
	buf[7] = (u_char)((t - (double)secs) * 10); /* deci-seconds */
	buf[8] = '+';                               /* UTC */
	buf[9] = 0;
	buf[10] = 0;
	return 11;
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long
jint(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

/* The number of a name in a list (1, 2, ...), or 0. */
static long
enum_of(const char *name, const char *const *names)
{
	for (long i = 0; names[i]; i++)
		if (!strcmp(names[i], name))
			return i + 1;
	return 0;
}

static const char *const auth_states[] = {"not_signed_in",   "valid",          "degraded",
					  "reauth_required", "secret_invalid", NULL};
static const char *const sub_states[] = {"none",   "creating", "active", "renewing",
					 "lapsed", "failed",   NULL};
static const char *const severities[] = {"cleared", "indeterminate", "critical", "major",
					 "minor",   "warning",       NULL};

static long
alarm_kind(const char *type)
{
	for (int i = 0; i < ALARM_N; i++)
		if (!strcmp(alarm_defs[i].name, type))
			return i + 1;
	return 0;
}

/* ---- building ---- */

static struct smib_var *
push(struct smib *m, int table, oid column, const oid *index, size_t index_len)
{
	struct smib_var *v;
	size_t n = 0;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	v = &m->v[m->n++];
	memset(v, 0, sizeof(*v));
	memcpy(v->name, smib_root, smib_root_len * sizeof(oid));
	n = smib_root_len;
	v->name[n++] = 1; /* ctTeamsObjects */
	v->name[n++] = (oid)table;
	if (table != T_AGENT)
		v->name[n++] = 1; /* the table's entry */
	v->name[n++] = column;
	memcpy(v->name + n, index, index_len * sizeof(oid));
	v->name_len = n + index_len;
	return v;
}

static void
put_str(struct smib *m, int table, oid col, const oid *idx, size_t ilen, const char *s, size_t max)
{
	struct smib_var *v = push(m, table, col, idx, ilen);

	/* valid UTF-8, no control characters, cut between characters: a
	 * manager's display and the trap log get one clean line */
	v->type = ASN_OCTET_STR;
	v->s = (u_char *)txt_clean(s ? s : "", max);
	v->s_len = strlen((char *)v->s);
}

static void
put_time(struct smib *m, int table, oid col, const oid *idx, size_t ilen, const char *iso)
{
	struct smib_var *v = push(m, table, col, idx, ilen);

	v->type = ASN_OCTET_STR;
	v->s = xcalloc(1, 11);
	v->s_len = smib_date_and_time(iso, v->s);
}

static void
put_int(struct smib *m, int table, oid col, const oid *idx, size_t ilen, u_char type, long l)
{
	struct smib_var *v = push(m, table, col, idx, ilen);

	v->type = type;
	v->l = l;
}

static void
put_c64(struct smib *m, int table, oid col, const oid *idx, size_t ilen, long value)
{
	struct smib_var *v = push(m, table, col, idx, ilen);
	uint64_t u = value > 0 ? (uint64_t)value : 0;

	v->type = ASN_COUNTER64;
	v->c64.high = (u_long)(u >> 32);
	v->c64.low = (u_long)(u & 0xffffffffu);
}

static long
gauge(long v)
{
	return v < 0 ? 0 : v > 0xffffffffL ? 0xffffffffL : v;
}

static void
build_agent(struct smib *m, const json_t *status, const struct smib_traps *traps)
{
	const json_t *agent = json_object_get(status, "agent");
	const json_t *orgs = json_object_get(status, "orgs"), *org, *val;
	long received = 0, rejected = 0, emergencies = 0;
	const oid zero[] = {0};
	const char *name;
	size_t i;

	json_array_foreach (orgs, i, org) {
		const json_t *cnt = json_object_get(org, "counters");
		json_object_foreach ((json_t *)cnt, name, val) {
			if (!strncmp(name, "rejected_", 9))
				rejected += (long)json_integer_value(val);
		}
		received += jint(cnt, "received");
		emergencies += jint(cnt, "emergencies");
	}
	put_str(m, T_AGENT, 1, zero, 1, jstr(agent, "version"), 64);
	put_time(m, T_AGENT, 2, zero, 1, jstr(agent, "started"));
	put_int(m, T_AGENT, 3, zero, 1, ASN_GAUGE, gauge((long)json_array_size(orgs)));
	put_c64(m, T_AGENT, 4, zero, 1, received);
	put_c64(m, T_AGENT, 5, zero, 1, rejected);
	put_c64(m, T_AGENT, 6, zero, 1, emergencies);
	put_c64(m, T_AGENT, 7, zero, 1, traps ? traps->sent : 0);
	put_c64(m, T_AGENT, 8, zero, 1, traps ? traps->not_delivered : 0);
	put_int(m, T_AGENT, 9, zero, 1, ASN_GAUGE, gauge(traps ? traps->pending : 0));
	put_int(m, T_AGENT, 10, zero, 1, ASN_GAUGE,
		gauge((long)json_array_size(json_object_get(status, "alarms"))));
	put_int(m, T_AGENT, 11, zero, 1, ASN_UNSIGNED,
		gauge((long)json_number_value(json_object_get(agent, "heartbeat_interval"))));
	put_time(m, T_AGENT, 13, zero, 1, jstr(agent, "alarms_last_changed"));
	put_int(m, T_AGENT, 14, zero, 1, ASN_UNSIGNED, gauge(jint(agent, "last_seq")));
}

static long
org_alarms(const json_t *status, const char *org)
{
	const json_t *a;
	size_t i;
	long n = 0;

	json_array_foreach (json_object_get(status, "alarms"), i, a)
		n += !strcmp(jstr(a, "org"), org);
	return n;
}

static void
build_org(struct smib *m, const json_t *status, const json_t *org)
{
	const json_t *cnt = json_object_get(org, "counters");
	const json_t *sub = json_object_get(org, "subscription");
	const json_t *days = json_object_get(org, "client_secret_days_left");
	oid idx[] = {(oid)jint(org, "index")};
	long st = enum_of(jstr(sub, "state"), sub_states);

	put_str(m, T_ORG, 2, idx, 1, jstr(org, "org"), 255);
	put_str(m, T_ORG, 3, idx, 1, jstr(org, "tenant_id"), 64);
	put_int(m, T_ORG, 4, idx, 1, ASN_INTEGER, enum_of(jstr(org, "auth_state"), auth_states));
	put_str(m, T_ORG, 5, idx, 1, jstr(org, "signed_in_user"), 255);
	put_time(m, T_ORG, 6, idx, 1, jstr(org, "access_token_expires"));
	put_time(m, T_ORG, 7, idx, 1, jstr(org, "last_refresh"));
	put_int(m, T_ORG, 8, idx, 1, ASN_GAUGE, gauge(jint(org, "consecutive_failures")));
	put_str(m, T_ORG, 9, idx, 1, jstr(org, "last_error"), 255);
	put_int(m, T_ORG, 10, idx, 1, ASN_INTEGER,
		json_is_integer(days) ? (long)json_integer_value(days) : INT32_MAX);
	put_int(m, T_ORG, 11, idx, 1, ASN_INTEGER, st ? st : 1);
	put_time(m, T_ORG, 12, idx, 1, jstr(sub, "last_notification"));
	put_c64(m, T_ORG, 13, idx, 1, jint(cnt, "received"));
	put_c64(m, T_ORG, 14, idx, 1, jint(cnt, "emergencies"));
	put_c64(m, T_ORG, 15, idx, 1, jint(cnt, "recovered_by_poll"));
	put_int(m, T_ORG, 16, idx, 1, ASN_GAUGE, gauge(jint(org, "dead_letters")));
	put_int(m, T_ORG, 17, idx, 1, ASN_GAUGE, gauge(org_alarms(status, jstr(org, "org"))));
}

static void
build_sub(struct smib *m, const json_t *org)
{
	const json_t *sub = json_object_get(org, "subscription");
	oid idx[] = {(oid)jint(org, "index"), 1};
	long st = enum_of(jstr(sub, "state"), sub_states);
	bool has_id = json_is_string(json_object_get(sub, "id"));

	if (!json_is_object(sub))
		return;
	put_str(m, T_SUB, 2, idx, 2, jstr(sub, "id"), 64);
	put_str(m, T_SUB, 3, idx, 2, jstr(sub, "resource"), 255);
	put_time(m, T_SUB, 4, idx, 2, has_id ? jstr(sub, "expires") : NULL);
	put_int(m, T_SUB, 5, idx, 2, ASN_INTEGER, has_id ? jint(sub, "expires_in") : 0);
	put_int(m, T_SUB, 6, idx, 2, ASN_INTEGER, st ? st : 1);
	put_int(m, T_SUB, 7, idx, 2, ASN_GAUGE, gauge(jint(sub, "failures")));
	put_int(m, T_SUB, 8, idx, 2, ASN_INTEGER,
		jint(sub, "failures") > 0                                        ? 3
		: json_is_string(json_object_get(sub, "last_renewal")) || has_id ? 2
										 : 1);
	put_str(m, T_SUB, 9, idx, 2, jstr(sub, "last_error"), 255);
	put_c64(m, T_SUB, 10, idx, 2, jint(json_object_get(org, "counters"), "received"));
	put_time(m, T_SUB, 11, idx, 2, jstr(sub, "last_notification"));
}

/* The event's columns that a notification also carries; e is an event
 * row or an outbox entry, which name the kind differently. */
static void
build_event_common(struct smib *m, const json_t *e, const oid *idx)
{
	put_time(m, T_EVENT, 3, idx, 1, jstr(e, "created"));
	put_str(m, T_EVENT, 4, idx, 1, jstr(e, "org"), 255);
	put_str(m, T_EVENT, 5, idx, 1, jstr(e, "caller"), 255);
	put_str(m, T_EVENT, 6, idx, 1, jstr(e, "caller_id"), 64);
	put_str(m, T_EVENT, 7, idx, 1, jstr(e, "number"), 32);
	put_str(m, T_EVENT, 8, idx, 1, jstr(e, "location"), 255);
	put_int(m, T_EVENT, 9, idx, 1, ASN_INTEGER,
		json_is_true(json_object_get(e, "test_call")) ? 1 : 2);
	put_str(m, T_EVENT, 10, idx, 1, jstr(e, "chat_id"), 255);
	put_str(m, T_EVENT, 11, idx, 1, jstr(e, "message_id"), 64);
	put_int(m, T_EVENT, 12, idx, 1, ASN_INTEGER, !strcmp(jstr(e, "source"), "poll") ? 2 : 1);
	put_int(m, T_EVENT, 15, idx, 1, ASN_UNSIGNED, (long)idx[0]);
}

/* Who took the event in hand, and when: an event row or an "ack" entry. */
static void
build_event_ack(struct smib *m, const json_t *e, const oid *idx)
{
	const char *at = jstr(e, "acked_at");
	bool acked = *at || json_is_true(json_object_get(e, "acked"));

	put_int(m, T_EVENT, 13, idx, 1, ASN_INTEGER, acked ? 1 : 2);
	put_str(m, T_EVENT, 14, idx, 1, jstr(e, "acked_by"), 255);
	put_time(m, T_EVENT, 16, idx, 1, *at ? at : NULL);
}

static void
build_event(struct smib *m, const json_t *e)
{
	oid idx[] = {(oid)jint(e, "id")};

	put_int(m, T_EVENT, 2, idx, 1, ASN_INTEGER, !strcmp(jstr(e, "kind"), "emergency") ? 1 : 2);
	build_event_common(m, e, idx);
	build_event_ack(m, e, idx);
}

static long
org_index(const json_t *status, const char *org)
{
	const json_t *o;
	size_t i;

	if (!*org)
		return 0;
	json_array_foreach (json_object_get(status, "orgs"), i, o)
		if (!strcmp(jstr(o, "org"), org))
			return jint(o, "index");
	return -1;
}

/* The alarm's columns that its notifications also carry. */
static void
build_alarm_common(struct smib *m, const json_t *a, const oid *idx, long severity)
{
	put_str(m, T_ALARM, 3, idx, 2, jstr(a, "org"), 255);
	put_int(m, T_ALARM, 4, idx, 2, ASN_INTEGER, severity);
	put_time(m, T_ALARM, 5, idx, 2, jstr(a, "raised"));
	put_str(m, T_ALARM, 6, idx, 2, jstr(a, "text"), 255);
	put_int(m, T_ALARM, 8, idx, 2, ASN_INTEGER, (long)idx[0]);
}

static void
build_alarm(struct smib *m, const json_t *status, const json_t *a)
{
	long kind = alarm_kind(jstr(a, "type")), org = org_index(status, jstr(a, "org"));
	oid idx[2];
	char *runbook;

	if (!kind || org < 0)
		return;
	idx[0] = (oid)kind;
	idx[1] = (oid)org;
	build_alarm_common(m, a, idx, enum_of(jstr(a, "severity"), severities));
	runbook = xprintf("%s/alarms.md#%s",
			  *jstr(json_object_get(status, "agent"), "runbook_base_url")
			      ? jstr(json_object_get(status, "agent"), "runbook_base_url")
			      : "/usr/share/doc/ctteams",
			  jstr(a, "runbook"));
	put_str(m, T_ALARM, 7, idx, 2, runbook, 255);
	free(runbook);
}

static int
var_cmp(const void *a, const void *b)
{
	const struct smib_var *x = a, *y = b;

	return snmp_oid_compare(x->name, x->name_len, y->name, y->name_len);
}

struct smib *
smib_build(const json_t *status, const json_t *events, const struct smib_traps *traps)
{
	struct smib *m = xcalloc(1, sizeof(*m));
	const json_t *j;
	size_t i;

	build_agent(m, status, traps);
	json_array_foreach (json_object_get(status, "orgs"), i, j) {
		/* no number yet (the store failed when the org started): no row
		 * until it has one, rather than a row at a wrapped index */
		if (jint(j, "index") <= 0)
			continue;
		build_org(m, status, j);
		build_sub(m, j);
	}
	json_array_foreach (events, i, j)
		build_event(m, j);
	json_array_foreach (json_object_get(status, "alarms"), i, j)
		build_alarm(m, status, j);
	qsort(m->v, m->n, sizeof(*m->v), var_cmp);
	return m;
}

void
smib_free(struct smib *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].s);
	free(m->v);
	free(m);
}

size_t
smib_count(const struct smib *m)
{
	return m->n;
}

const struct smib_var *
smib_at(const struct smib *m, size_t i)
{
	return i < m->n ? &m->v[i] : NULL;
}

/* The index of the first variable > name (after) or >= name. */
static size_t
lower_bound(const struct smib *m, const oid *name, size_t len, bool after)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = snmp_oid_compare(m->v[mid].name, m->v[mid].name_len, name, len);
		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct smib_var *
smib_get(const struct smib *m, const oid *name, size_t len)
{
	size_t i = lower_bound(m, name, len, false);

	if (i < m->n && snmp_oid_compare(m->v[i].name, m->v[i].name_len, name, len) == 0)
		return &m->v[i];
	return NULL;
}

const struct smib_var *
smib_next(const struct smib *m, const oid *name, size_t len)
{
	size_t i = lower_bound(m, name, len, true);

	return i < m->n ? &m->v[i] : NULL;
}

bool
smib_object_exists(const oid *name, size_t len)
{
	/* the columns (or scalars) each subtree has: first, last */
	static const oid cols[][2] = {
	    [T_AGENT] = {1, 14}, [T_ORG] = {2, 17},  [T_SUB] = {2, 11},
	    [T_EVENT] = {2, 16}, [T_ALARM] = {3, 8},
	};
	size_t r = smib_root_len;
	oid t, col;

	if (len < r + 3 || snmp_oidtree_compare(name, len, smib_root, r) != 0 || name[r] != 1)
		return false;
	t = name[r + 1];
	if (t < T_AGENT || t > T_ALARM)
		return false;
	if (t == T_AGENT && name[r + 2] == SCALAR_SEQ)
		return false; /* accessible-for-notify: in notifications only */
	if (t == T_AGENT)
		col = name[r + 2];
	else if (len < r + 4 || name[r + 2] != 1)
		return false;
	else
		col = name[r + 3];
	return col >= cols[t][0] && col <= cols[t][1];
}

/* ---- notifications ---- */

static const oid snmptrap_oid0[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};

static netsnmp_variable_list *
trap_start(oid n)
{
	netsnmp_variable_list *vars = NULL;
	oid trap[SMIB_OID_MAX];

	memcpy(trap, smib_root, smib_root_len * sizeof(oid));
	trap[smib_root_len] = 0;
	trap[smib_root_len + 1] = n;
	snmp_varlist_add_variable(&vars, snmptrap_oid0, OID_LENGTH(snmptrap_oid0), ASN_OBJECT_ID,
				  trap, (smib_root_len + 2) * sizeof(oid));
	return vars;
}

/* Appends the variables of a scratch snapshot, in the order given: the
 * column is the element at pos (after the table's entry, or after
 * ctTeamsAgent for a scalar). */
static void
append_at(netsnmp_variable_list **vars, const struct smib *m, const oid *cols, size_t n_cols,
	  size_t pos)
{
	for (size_t c = 0; c < n_cols; c++) {
		for (size_t i = 0; i < m->n; i++) {
			const struct smib_var *v = &m->v[i];
			if (v->name[pos] != cols[c])
				continue;
			if (v->type == ASN_OCTET_STR)
				snmp_varlist_add_variable(vars, v->name, v->name_len, v->type, v->s,
							  v->s_len);
			else if (v->type == ASN_COUNTER64)
				snmp_varlist_add_variable(vars, v->name, v->name_len, v->type,
							  &v->c64, sizeof(v->c64));
			else
				snmp_varlist_add_variable(vars, v->name, v->name_len, v->type,
							  &v->l, sizeof(v->l));
		}
	}
}

static void
append(netsnmp_variable_list **vars, const struct smib *m, const oid *cols, size_t n_cols)
{
	append_at(vars, m, cols, n_cols, smib_root_len + 3);
}

static void
scratch_free(struct smib *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].s);
	free(m->v);
}

/* ctTeamsNotificationSeq.0, the entry's number, last of a notification's
 * objects */
static void
append_seq(netsnmp_variable_list **vars, const json_t *entry)
{
	static const oid seq[] = {SCALAR_SEQ};
	const oid zero[] = {0};
	struct smib m = {0};

	put_int(&m, T_AGENT, SCALAR_SEQ, zero, 1, ASN_UNSIGNED, gauge(jint(entry, "seq")));
	append_at(vars, &m, seq, 1, smib_root_len + 2);
	scratch_free(&m);
}

/* ctTeamsHeartbeat and ctTeamsAgentStop, from the entry's own values: the
 * scalars as they were when it was written, and its number. */
static netsnmp_variable_list *
liveness_notification(const json_t *entry, bool stop)
{
	static const oid heartbeat[] = {1, 2, 10, 11, 12}, stopping[] = {1, 2, 12};
	const oid zero[] = {0};
	struct smib m = {0};
	netsnmp_variable_list *vars = trap_start(stop ? N_AGENT_STOP : N_HEARTBEAT);

	put_str(&m, T_AGENT, 1, zero, 1, jstr(entry, "version"), 64);
	put_time(&m, T_AGENT, 2, zero, 1, jstr(entry, "started"));
	put_int(&m, T_AGENT, 10, zero, 1, ASN_GAUGE, gauge(jint(entry, "alarms")));
	put_int(&m, T_AGENT, 11, zero, 1, ASN_UNSIGNED,
		gauge((long)json_number_value(json_object_get(entry, "interval"))));
	put_int(&m, T_AGENT, SCALAR_SEQ, zero, 1, ASN_UNSIGNED, gauge(jint(entry, "seq")));
	if (stop)
		append_at(&vars, &m, stopping, OID_LENGTH(stopping), smib_root_len + 2);
	else
		append_at(&vars, &m, heartbeat, OID_LENGTH(heartbeat), smib_root_len + 2);
	scratch_free(&m);
	return vars;
}

static netsnmp_variable_list *
event_notification(const json_t *entry)
{
	static const oid emergency[] = {4, 3, 5, 6, 7, 8, 9, 10, 11, 12, 15};
	static const oid unmatched[] = {4, 3, 10, 11, 12, 15};
	bool is_emergency = !strcmp(jstr(entry, "event"), "emergency");
	struct smib m = {0};
	oid idx[] = {(oid)jint(entry, "id")};
	netsnmp_variable_list *vars = trap_start(is_emergency ? N_EMERGENCY : N_UNMATCHED);

	build_event_common(&m, entry, idx);
	if (is_emergency)
		append(&vars, &m, emergency, OID_LENGTH(emergency));
	else
		append(&vars, &m, unmatched, OID_LENGTH(unmatched));
	append_seq(&vars, entry);
	scratch_free(&m);
	return vars;
}

static netsnmp_variable_list *
ack_notification(const json_t *entry)
{
	static const oid cols[] = {4, 15, 7, 9, 5, 8, 14, 16};
	struct smib m = {0};
	oid idx[] = {(oid)jint(entry, "id")};
	netsnmp_variable_list *vars = trap_start(N_ACKNOWLEDGED);

	build_event_common(&m, entry, idx);
	build_event_ack(&m, entry, idx);
	append(&vars, &m, cols, OID_LENGTH(cols));
	append_seq(&vars, entry);
	scratch_free(&m);
	return vars;
}

static netsnmp_variable_list *
alarm_notification_vars(const json_t *entry, const json_t *status,
			long (*index_of)(const char *org))
{
	static const oid cols[] = {3, 4, 5, 6, 8};
	long kind = alarm_kind(jstr(entry, "type"));
	long org = org_index(status, jstr(entry, "org"));
	bool raise = !strcmp(jstr(entry, "transition"), "raise");
	struct smib m = {0};
	netsnmp_variable_list *vars;
	oid idx[2];

	/* an org that left the configuration keeps its number */
	if (org < 0 && index_of)
		org = index_of(jstr(entry, "org"));
	if (!kind || org < 0)
		return NULL;
	idx[0] = (oid)kind;
	idx[1] = (oid)org;
	vars = trap_start(N_ALARM_BASE + 2 * (oid)(kind - 1) + (raise ? 0 : 1));
	build_alarm_common(&m, entry, idx,
			   raise ? enum_of(jstr(entry, "severity"), severities) : 1);
	append(&vars, &m, cols, OID_LENGTH(cols));
	append_seq(&vars, entry);
	scratch_free(&m);
	return vars;
}

netsnmp_variable_list *
smib_notification(const json_t *entry, const json_t *status, long (*index_of)(const char *org))
{
	const char *kind = jstr(entry, "kind");

	if (!strcmp(kind, "event"))
		return event_notification(entry);
	if (!strcmp(kind, "ack"))
		return ack_notification(entry);
	if (!strcmp(kind, "heartbeat") || !strcmp(kind, "stop"))
		return liveness_notification(entry, !strcmp(kind, "stop"));
	if (!strcmp(kind, "alarm"))
		return alarm_notification_vars(entry, status, index_of);
	return NULL;
}

netsnmp_variable_list *
smib_agent_start(const json_t *status)
{
	static const oid cols[] = {1, 2};
	netsnmp_variable_list *vars = trap_start(N_AGENT_START);
	struct smib m = {0};

	build_agent(&m, status, NULL);
	append_at(&vars, &m, cols, OID_LENGTH(cols), smib_root_len + 2);
	scratch_free(&m);
	return vars;
}

const char *
smib_notification_name(const netsnmp_variable_list *vars)
{
	const oid *o = vars ? vars->val.objid : NULL;
	size_t len = vars ? vars->val_len / sizeof(oid) : 0;
	oid n;

	if (!o || len != smib_root_len + 2)
		return "?";
	n = o[len - 1];
	if (n == N_EMERGENCY)
		return "ctTeamsEmergencyCall";
	if (n == N_UNMATCHED)
		return "ctTeamsUnmatchedMessage";
	if (n == N_AGENT_START)
		return "ctTeamsAgentStart";
	if (n == N_ACKNOWLEDGED)
		return "ctTeamsEmergencyAcknowledged";
	if (n == N_HEARTBEAT)
		return "ctTeamsHeartbeat";
	if (n == N_AGENT_STOP)
		return "ctTeamsAgentStop";
	if (n >= N_ALARM_BASE && n < N_ALARM_BASE + 2 * ALARM_N)
		return alarm_notification[(n - N_ALARM_BASE) / 2][(n - N_ALARM_BASE) % 2];
	return "?";
}
