/*
 * CT-TEAMS-MIB's data without snmpd: every column of every table from a
 * model like the one ctl_status_json gives, GET and GETNEXT in OID order,
 * the notifications' varbinds, and the C tables against the MIB file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alarm.h"
#include "snmp_mib.h"
#include "th.h"
#include "util.h"

#define ROOT SMIB_ROOT

static json_t *
model(void)
{
	json_error_t e;
	json_t *j = json_loads(
	    "{\"agent\": {\"version\": \"0.1.0\", \"started\": \"2026-11-29T01:02:03Z\","
	    " \"heartbeat_interval\": 300, \"last_seq\": 42,"
	    " \"alarms_last_changed\": \"2026-11-29T01:05:00Z\"},"
	    " \"orgs\": [{\"org\": \"acme\", \"index\": 3, \"tenant_id\": \"t-1\","
	    "   \"auth_state\": \"reauth_required\", \"signed_in_user\": \"svc@acme\","
	    "   \"access_token_expires\": \"2026-11-29T02:00:00Z\", \"last_refresh\": null,"
	    "   \"consecutive_failures\": 2, \"last_error\": \"AADSTS50173\","
	    "   \"client_secret_days_left\": 9, \"dead_letters\": 1,"
	    "   \"counters\": {\"received\": 7, \"emergencies\": 2, \"recovered_by_poll\": 1,"
	    "                  \"rejected_source\": 4, \"rejected_client_state\": 1},"
	    "   \"subscription\": {\"state\": \"lapsed\", \"id\": \"sub-1\", \"failures\": 3,"
	    "     \"expires\": \"2026-11-30T00:00:00Z\", \"expires_in\": -5,"
	    "     \"last_notification\": \"2026-11-29T01:00:00.5Z\", \"last_error\": \"HTTP 503\","
	    "     \"resource\": \"/users/u1/chats/getAllMessages\", \"last_renewal\": null}},"
	    "  {\"org\": \"beta\", \"index\": 1, \"tenant_id\": \"t-2\", \"auth_state\": \"valid\","
	    "   \"client_secret_days_left\": null, \"counters\": {}, \"subscription\": null}],"
	    " \"alarms\": [{\"type\": \"signInLost\", \"org\": \"acme\", \"severity\": "
	    "\"critical\","
	    "   \"raised\": \"2026-11-29T01:05:00Z\", \"text\": \"revoked\", \"runbook\": \"x\"},"
	    "  {\"type\": \"storeTrouble\", \"org\": \"\", \"severity\": \"critical\","
	    "   \"raised\": \"2026-11-29T01:06:00Z\", \"text\": \"disk\", \"runbook\": \"y\"}]}",
	    0, &e);

	assert_non_null(j);
	return j;
}

static json_t *
events(void)
{
	return json_loads(
	    "[{\"id\": 12, \"kind\": \"emergency\", \"org\": \"acme\", \"caller\": \"Jane Doe\","
	    "  \"caller_id\": \"c-1\", \"number\": \"933\", \"location\": \"Bldg 4\","
	    "  \"test_call\": true, \"created\": \"2026-11-29T01:07:08.9Z\", \"chat_id\": \"19:a\","
	    "  \"message_id\": \"m-1\", \"source\": \"poll\", \"acked\": true, \"acked_by\": "
	    "\"kim\", \"acked_at\": \"2026-11-29T01:20:00Z\"}]",
	    0, NULL);
}

static const struct smib_var *
get(const struct smib *m, const oid *name, size_t len)
{
	return smib_get(m, name, len);
}

static void
want_str(const struct smib *m, const oid *name, size_t len, const char *s)
{
	const struct smib_var *v = get(m, name, len);

	assert_non_null(v);
	assert_int_equal(v->type, ASN_OCTET_STR);
	assert_int_equal(v->s_len, strlen(s));
	assert_memory_equal(v->s, s, v->s_len);
}

static void
want_int(const struct smib *m, const oid *name, size_t len, u_char type, long l)
{
	const struct smib_var *v = get(m, name, len);

	assert_non_null(v);
	assert_int_equal(v->type, type);
	assert_int_equal(v->l, l);
}

static void
want_c64(const struct smib *m, const oid *name, size_t len, unsigned long l)
{
	const struct smib_var *v = get(m, name, len);

	assert_non_null(v);
	assert_int_equal(v->type, ASN_COUNTER64);
	assert_int_equal(v->c64.high, 0);
	assert_int_equal(v->c64.low, l);
}

#define OIDS(...) ((const oid[]){__VA_ARGS__}), (sizeof((const oid[]){__VA_ARGS__}) / sizeof(oid))

static void
test_every_column(void **state)
{
	json_t *st = model(), *ev = events();
	struct smib_traps tr = {.sent = 5, .not_delivered = 1, .pending = 2};
	struct smib *m = smib_build(st, ev, &tr);
	const struct smib_var *v;
	static const u_char started[] = {0x07, 0xea, 11, 29, 1, 2, 3, 0, '+', 0, 0};

	(void)state;
	/* the agent */
	want_str(m, OIDS(ROOT, 1, 1, 1, 0), "0.1.0");
	/* objects the MIB has (noSuchInstance when absent) and has not */
	assert_true(smib_object_exists(OIDS(ROOT, 1, 1, 10, 0)));
	assert_true(smib_object_exists(OIDS(ROOT, 1, 4, 1, 14, 99)));
	assert_true(smib_object_exists(OIDS(ROOT, 1, 1, 11, 0)));
	/* ctTeamsNotificationSeq is accessible-for-notify: no GET */
	assert_false(smib_object_exists(OIDS(ROOT, 1, 1, 12, 0)));
	assert_true(smib_object_exists(OIDS(ROOT, 1, 1, 14, 0)));
	assert_false(smib_object_exists(OIDS(ROOT, 1, 1, 15, 0)));
	assert_false(smib_object_exists(OIDS(ROOT, 1, 5, 1, 2, 1, 1)));
	assert_false(smib_object_exists(OIDS(ROOT, 1, 6, 1, 2, 1)));
	assert_false(smib_object_exists(OIDS(ROOT, 2, 1)));
	v = get(m, OIDS(ROOT, 1, 1, 2, 0));
	assert_non_null(v);
	assert_int_equal(v->s_len, 11);
	assert_memory_equal(v->s, started, 11);
	want_int(m, OIDS(ROOT, 1, 1, 3, 0), ASN_GAUGE, 2);
	want_c64(m, OIDS(ROOT, 1, 1, 4, 0), 7);
	want_c64(m, OIDS(ROOT, 1, 1, 5, 0), 5);
	want_c64(m, OIDS(ROOT, 1, 1, 6, 0), 2);
	want_c64(m, OIDS(ROOT, 1, 1, 7, 0), 5);
	want_c64(m, OIDS(ROOT, 1, 1, 8, 0), 1);
	want_int(m, OIDS(ROOT, 1, 1, 9, 0), ASN_GAUGE, 2);
	want_int(m, OIDS(ROOT, 1, 1, 10, 0), ASN_GAUGE, 2);
	want_int(m, OIDS(ROOT, 1, 1, 11, 0), ASN_UNSIGNED, 300);
	v = get(m, OIDS(ROOT, 1, 1, 13, 0));
	assert_int_equal(v->s_len, 11);
	assert_int_equal(v->s[5], 5); /* the last change at 01:05 */
	want_int(m, OIDS(ROOT, 1, 1, 14, 0), ASN_UNSIGNED, 42);
	/* the org table, indexed by the stable org index */
	want_str(m, OIDS(ROOT, 1, 2, 1, 2, 3), "acme");
	want_str(m, OIDS(ROOT, 1, 2, 1, 3, 3), "t-1");
	want_int(m, OIDS(ROOT, 1, 2, 1, 4, 3), ASN_INTEGER, 4); /* reauthRequired */
	want_str(m, OIDS(ROOT, 1, 2, 1, 5, 3), "svc@acme");
	assert_int_equal(get(m, OIDS(ROOT, 1, 2, 1, 6, 3))->s_len, 11);
	v = get(m, OIDS(ROOT, 1, 2, 1, 7, 3)); /* never refreshed: all zero */
	assert_int_equal(v->s_len, 8);
	assert_memory_equal(v->s, "\0\0\0\0\0\0\0\0", 8);
	want_int(m, OIDS(ROOT, 1, 2, 1, 8, 3), ASN_GAUGE, 2);
	want_str(m, OIDS(ROOT, 1, 2, 1, 9, 3), "AADSTS50173");
	want_int(m, OIDS(ROOT, 1, 2, 1, 10, 3), ASN_INTEGER, 9);
	want_int(m, OIDS(ROOT, 1, 2, 1, 10, 1), ASN_INTEGER, INT32_MAX); /* not configured */
	want_int(m, OIDS(ROOT, 1, 2, 1, 11, 3), ASN_INTEGER, 5);         /* lapsed */
	want_int(m, OIDS(ROOT, 1, 2, 1, 11, 1), ASN_INTEGER, 1);         /* none */
	v = get(m, OIDS(ROOT, 1, 2, 1, 12, 3));
	assert_int_equal(v->s_len, 11);
	assert_int_equal(v->s[7], 5); /* deci-seconds */
	want_c64(m, OIDS(ROOT, 1, 2, 1, 13, 3), 7);
	want_c64(m, OIDS(ROOT, 1, 2, 1, 14, 3), 2);
	want_c64(m, OIDS(ROOT, 1, 2, 1, 15, 3), 1);
	want_int(m, OIDS(ROOT, 1, 2, 1, 16, 3), ASN_GAUGE, 1);
	want_int(m, OIDS(ROOT, 1, 2, 1, 17, 3), ASN_GAUGE, 1);
	want_int(m, OIDS(ROOT, 1, 2, 1, 17, 1), ASN_GAUGE, 0);
	/* the subscription table: only orgs that have one */
	want_str(m, OIDS(ROOT, 1, 3, 1, 2, 3, 1), "sub-1");
	want_str(m, OIDS(ROOT, 1, 3, 1, 3, 3, 1), "/users/u1/chats/getAllMessages");
	assert_int_equal(get(m, OIDS(ROOT, 1, 3, 1, 4, 3, 1))->s_len, 11);
	want_int(m, OIDS(ROOT, 1, 3, 1, 5, 3, 1), ASN_INTEGER, -5);
	want_int(m, OIDS(ROOT, 1, 3, 1, 6, 3, 1), ASN_INTEGER, 5);
	want_int(m, OIDS(ROOT, 1, 3, 1, 7, 3, 1), ASN_GAUGE, 3);
	want_int(m, OIDS(ROOT, 1, 3, 1, 8, 3, 1), ASN_INTEGER, 3); /* failed */
	want_str(m, OIDS(ROOT, 1, 3, 1, 9, 3, 1), "HTTP 503");
	want_c64(m, OIDS(ROOT, 1, 3, 1, 10, 3, 1), 7);
	assert_int_equal(get(m, OIDS(ROOT, 1, 3, 1, 11, 3, 1))->s_len, 11);
	assert_null(get(m, OIDS(ROOT, 1, 3, 1, 2, 1, 1)));
	/* the event table, indexed by event id */
	want_int(m, OIDS(ROOT, 1, 4, 1, 2, 12), ASN_INTEGER, 1);
	assert_int_equal(get(m, OIDS(ROOT, 1, 4, 1, 3, 12))->s[7], 9);
	want_str(m, OIDS(ROOT, 1, 4, 1, 4, 12), "acme");
	want_str(m, OIDS(ROOT, 1, 4, 1, 5, 12), "Jane Doe");
	want_str(m, OIDS(ROOT, 1, 4, 1, 6, 12), "c-1");
	want_str(m, OIDS(ROOT, 1, 4, 1, 7, 12), "933");
	want_str(m, OIDS(ROOT, 1, 4, 1, 8, 12), "Bldg 4");
	want_int(m, OIDS(ROOT, 1, 4, 1, 9, 12), ASN_INTEGER, 1);
	want_str(m, OIDS(ROOT, 1, 4, 1, 10, 12), "19:a");
	want_str(m, OIDS(ROOT, 1, 4, 1, 11, 12), "m-1");
	want_int(m, OIDS(ROOT, 1, 4, 1, 12, 12), ASN_INTEGER, 2); /* poll */
	want_int(m, OIDS(ROOT, 1, 4, 1, 13, 12), ASN_INTEGER, 1);
	want_str(m, OIDS(ROOT, 1, 4, 1, 14, 12), "kim");
	want_int(m, OIDS(ROOT, 1, 4, 1, 15, 12), ASN_UNSIGNED, 12); /* the index as a value */
	v = get(m, OIDS(ROOT, 1, 4, 1, 16, 12));
	assert_int_equal(v->s_len, 11);
	assert_int_equal(v->s[5], 20); /* acknowledged at 01:20 */
	/* the alarm table: (type, org index); the agent's own under org 0 */
	want_str(m, OIDS(ROOT, 1, 5, 1, 3, 2, 3), "acme");
	want_int(m, OIDS(ROOT, 1, 5, 1, 4, 2, 3), ASN_INTEGER, 3);
	assert_int_equal(get(m, OIDS(ROOT, 1, 5, 1, 5, 2, 3))->s_len, 11);
	want_str(m, OIDS(ROOT, 1, 5, 1, 6, 2, 3), "revoked");
	want_str(m, OIDS(ROOT, 1, 5, 1, 7, 2, 3), "/usr/share/doc/ctteams/alarms.md#x");
	want_int(m, OIDS(ROOT, 1, 5, 1, 8, 2, 3), ASN_INTEGER, 2); /* signInLost, as a value */
	want_str(m, OIDS(ROOT, 1, 5, 1, 3, 11, 0), "");
	want_str(m, OIDS(ROOT, 1, 5, 1, 6, 11, 0), "disk");
	/* not there: a column of no row, beyond a table */
	assert_null(get(m, OIDS(ROOT, 1, 2, 1, 2, 2)));
	assert_null(get(m, OIDS(ROOT, 1, 6)));
	smib_free(m);
	json_decref(st);
	json_decref(ev);
}

static void
test_getnext_order(void **state)
{
	json_t *st = model(), *ev = events();
	struct smib *m = smib_build(st, ev, NULL);
	const oid root[] = {ROOT};
	const struct smib_var *v, *prev = NULL;
	size_t n = 0;
	oid cur[SMIB_OID_MAX];
	size_t len = sizeof(root) / sizeof(oid);

	(void)state;
	memcpy(cur, root, sizeof(root));
	/* a walk from the root visits every variable once, strictly rising */
	while ((v = smib_next(m, cur, len))) {
		if (prev)
			assert_true(
			    snmp_oid_compare(prev->name, prev->name_len, v->name, v->name_len) < 0);
		assert_ptr_equal(v, smib_at(m, n));
		memcpy(cur, v->name, v->name_len * sizeof(oid));
		len = v->name_len;
		prev = v;
		n++;
	}
	assert_int_equal(n, smib_count(m));
	/* 13 scalars, 16 + 16 org columns, 10 sub, 15 event, 2 x 6 alarm */
	assert_int_equal(n, 13 + 32 + 10 + 15 + 12);
	/* column-major within a table: org name of both rows before tenant */
	v = smib_next(m, OIDS(ROOT, 1, 2, 1, 2, 1));
	assert_true(v->name[14] == 3 && v->name[13] == 2);
	v = smib_next(m, OIDS(ROOT, 1, 2, 1, 2, 3));
	assert_true(v->name[13] == 3 && v->name[14] == 1);
	/* from between instances, and from before the MIB */
	v = smib_next(m, OIDS(ROOT, 1, 4, 1, 5, 11, 99));
	assert_int_equal(v->name[13], 5);
	assert_int_equal(v->name[14], 12);
	v = smib_next(m, OIDS(1, 3, 6, 1));
	assert_ptr_equal(v, smib_at(m, 0));
	assert_null(smib_next(m, OIDS(ROOT, 1, 5, 1, 8, 11, 0)));
	smib_free(m);
	json_decref(st);
	json_decref(ev);
}

static const char *
vb_str(const netsnmp_variable_list *v, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)v->val_len, (const char *)v->val.string);
	return buf;
}

static long
index_of_gone(const char *org)
{
	return !strcmp(org, "gone") ? 7 : -1;
}

static void
test_notifications(void **state)
{
	json_t *st = model();
	json_t *ev = json_loads("{\"seq\": 4, \"kind\": \"event\", \"event\": \"emergency\","
				" \"id\": 12, \"org\": \"acme\", \"caller\": \"Jane\","
				" \"number\": \"911\", \"test_call\": false, \"chat_id\": \"19:a\","
				" \"message_id\": \"m-1\", \"source\": \"webhook\","
				" \"created\": \"2026-11-29T01:07:08Z\"}",
				0, NULL);
	json_t *raise =
	    json_loads("{\"kind\": \"alarm\", \"transition\": \"raise\","
		       " \"type\": \"subscriptionLapsed\", \"org\": \"acme\","
		       " \"severity\": \"critical\", \"raised\": \"2026-11-29T01:05:00Z\","
		       " \"text\": \"lapsed\"}",
		       0, NULL);
	json_t *clear = json_deep_copy(raise);
	netsnmp_variable_list *v, *w;
	char buf[64];
	size_t n;

	(void)state;
	json_object_set_new(clear, "transition", json_string("clear"));
	json_object_set_new(clear, "severity", json_string("cleared"));
	v = smib_notification(ev, st, NULL);
	assert_string_equal(smib_notification_name(v), "ctTeamsEmergencyCall");
	for (n = 0, w = v; w; w = w->next_variable)
		n++;
	assert_int_equal(n, 13);                            /* snmpTrapOID.0 and twelve objects */
	w = v->next_variable->next_variable->next_variable; /* caller */
	assert_int_equal(w->name[13], 5);
	assert_int_equal(w->name[14], 12);
	assert_string_equal(vb_str(w, buf, sizeof(buf)), "Jane");
	for (w = v; w->next_variable->next_variable; w = w->next_variable)
		;
	assert_int_equal(w->name[13], 15); /* ctTeamsEventId.12 = 12 */
	assert_int_equal(*w->val.integer, 12);
	w = w->next_variable; /* last: ctTeamsNotificationSeq.0, the entry's */
	assert_int_equal(w->name[12], 12);
	assert_int_equal(*w->val.integer, 4);
	snmp_free_varbind(v);

	/* the heartbeat: the entry's values, scalars' instances, its number */
	json_t *hb = json_loads("{\"kind\": \"heartbeat\", \"seq\": 77, \"version\": \"1.2\","
				" \"started\": \"2026-11-29T01:00:00Z\", \"alarms\": 2,"
				" \"interval\": 300}",
				0, NULL);
	static const oid hb_cols[] = {1, 2, 10, 11, 12};
	v = smib_notification(hb, st, NULL);
	assert_string_equal(smib_notification_name(v), "ctTeamsHeartbeat");
	n = 0;
	for (w = v->next_variable; w; w = w->next_variable, n++) {
		assert_int_equal(w->name[12], hb_cols[n]);
		assert_int_equal(w->name[13], 0);
	}
	assert_int_equal(n, 5);
	for (w = v; w->next_variable; w = w->next_variable)
		;
	assert_int_equal(*w->val.integer, 77);
	snmp_free_varbind(v);
	json_object_set_new(hb, "kind", json_string("stop"));
	v = smib_notification(hb, st, NULL);
	assert_string_equal(smib_notification_name(v), "ctTeamsAgentStop");
	snmp_free_varbind(v);
	json_decref(hb);

	/* the acknowledgement: the same event instance, who and when */
	json_t *ack = json_loads("{\"kind\": \"ack\", \"event\": \"emergency\", \"id\": 12,"
				 " \"org\": \"acme\", \"number\": \"911\", \"test_call\": false,"
				 " \"caller\": \"Jane\", \"location\": \"Bldg 4\","
				 " \"acked_by\": \"kim\", \"acked_at\": \"2026-11-29T01:20:00Z\"}",
				 0, NULL);
	static const oid ack_cols[] = {4, 15, 7, 9, 5, 8, 14, 16};
	v = smib_notification(ack, st, NULL);
	assert_string_equal(smib_notification_name(v), "ctTeamsEmergencyAcknowledged");
	n = 0;
	for (w = v->next_variable; w->next_variable; w = w->next_variable, n++) {
		assert_int_equal(w->name[13], ack_cols[n]);
		assert_int_equal(w->name[14], 12);
	}
	assert_int_equal(n, 8);
	assert_int_equal(w->name[12], 12); /* and its number */
	w = v->next_variable;
	for (int i = 0; i < 6; i++)
		w = w->next_variable;
	assert_string_equal(vb_str(w, buf, sizeof(buf)), "kim");
	assert_int_equal(w->next_variable->val_len, 11);
	snmp_free_varbind(v);
	json_decref(ack);

	v = smib_notification(raise, st, NULL);
	w = smib_notification(clear, st, NULL);
	assert_string_equal(smib_notification_name(v), "ctTeamsSubscriptionLapsed");
	assert_string_equal(smib_notification_name(w), "ctTeamsSubscriptionRestored");
	/* the same instances; severity cleared(1) in the clear */
	for (netsnmp_variable_list *a = v->next_variable, *b = w->next_variable; a || b;
	     a = a->next_variable, b = b->next_variable) {
		assert_true(a && b);
		assert_int_equal(snmp_oid_compare(a->name, a->name_length, b->name, b->name_length),
				 0);
		if (a->name[13] == 4) {
			assert_int_equal(*a->val.integer, 3);
			assert_int_equal(*b->val.integer, 1);
		}
	}
	snmp_free_varbind(v);
	snmp_free_varbind(w);

	/* an org no longer configured keeps its index through index_of */
	json_object_set_new(raise, "org", json_string("gone"));
	assert_null(smib_notification(raise, st, NULL));
	v = smib_notification(raise, st, index_of_gone);
	assert_non_null(v);
	assert_int_equal(v->next_variable->name[15], 7); /* (kind, org 7) */
	assert_int_equal(v->next_variable->name[14], 5); /* subscriptionLapsed */
	snmp_free_varbind(v);
	json_decref(raise);
	json_decref(clear);
	json_decref(ev);
	json_decref(st);
}

static void
test_text(void **state)
{
	u_char buf[11];

	(void)state;
	/* texts (agent/text.c): cut between characters, no control
	 * characters: an alarm text with a new line is one line */
	{
		json_t *st = model(), *ev = events();
		struct smib *m;
		json_object_set_new(json_array_get(json_object_get(st, "alarms"), 0), "text",
				    json_string("Entra said:\nrevoked é"));
		m = smib_build(st, ev, NULL);
		want_str(m, OIDS(ROOT, 1, 5, 1, 6, 2, 3), "Entra said: revoked é");
		smib_free(m);
		json_decref(st);
		json_decref(ev);
	}
	assert_int_equal(smib_date_and_time(NULL, buf), 8);
	assert_int_equal(smib_date_and_time("junk", buf), 8);
	assert_int_equal(smib_date_and_time("2026-01-02T03:04:05+01:00", buf), 11);
	assert_int_equal(buf[4], 2); /* in UTC */
}

/* Every notification and alarm kind the C side knows is in the MIB with
 * the same number, and the other way round. */
static void
test_mib_file_agrees(void **state)
{
	char *mib = th_read_file(CT_MIB_FILE), *want, *at;
	char *text;

	(void)state;
	assert_non_null(mib);
	for (int i = 0; i < ALARM_N; i++) {
		/* CtTeamsAlarmKind: name(i + 1) */
		if (asprintf(&want, "%s(%d)", alarm_defs[i].name, i + 1) < 0)
			abort();
		assert_non_null(strstr(mib, want));
		free(want);
	}
	for (oid n = 1; n < 10 + 2 * ALARM_N; n++) {
		oid trap[] = {ROOT, 0, n};
		netsnmp_variable_list vb = {.val.objid = trap, .val_len = sizeof(trap)};
		const char *name = smib_notification_name(&vb);
		if (n > 6 && n < 10) {
			assert_string_equal(name, "?");
			continue;
		}
		if (asprintf(&want, "%s NOTIFICATION-TYPE", name) < 0)
			abort();
		at = strstr(mib, want);
		assert_non_null(at);
		free(want);
		if (asprintf(&want, "::= { ctTeamsNotifications %lu }", (unsigned long)n) < 0)
			abort();
		text = strstr(at, "::=");
		assert_int_equal(strncmp(text, want, strlen(want)), 0);
		free(want);
	}
	/* the arc, named in the MIB's one place, is the one the code serves */
	want = xprintf("::= { %s }", SMIB_ROOT_NAME);
	*strchr(want, '.') = ' ';
	assert_non_null(strstr(mib, want));
	free(want);
	free(mib);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_column),    cmocka_unit_test(test_getnext_order),
	    cmocka_unit_test(test_notifications),   cmocka_unit_test(test_text),
	    cmocka_unit_test(test_mib_file_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
