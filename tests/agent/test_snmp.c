/*
 * The SNMP side against real snmpd and snmptrapd, driven by graphsim:
 * ctteamsd registers CT-TEAMS-MIB with snmpd as an AgentX subagent; a walk
 * by name shows what the control socket shows; each condition caused in
 * graphsim reaches snmptrapd as its notification, and its end as the clear
 * with the same identity; snmpd restarted or away loses nothing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ta.h"

/* each test's own snmpd and snmptrapd */
static struct th_snmp snmp;

static char *
agentx_conf(const char *more)
{
	char *s;

	if (asprintf(&s, "agentx_socket = %s\nagentx_reconnect = 1s\n%s", snmp.agentx,
		     more ? more : "") < 0)
		abort();
	return s;
}

/* The line snmptrapd logged for the nth (0-based) notification named
 * trap, or NULL. */
static char *
trap_line(const char *trap, int nth)
{
	char *log = th_snmp_traps(&snmp), *line, *save = NULL, *found = NULL;
	char *want;

	if (asprintf(&want, "snmpTrapOID.0 = OID: %s\t", trap) < 0)
		abort();
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *l;
		if (asprintf(&l, "%s\t", line) < 0)
			abort();
		if (strstr(l, want) && nth-- == 0) {
			found = strdup(line);
			free(l);
			break;
		}
		free(l);
	}
	free(want);
	free(log);
	return found;
}

static int
trap_count(const char *trap)
{
	int n = 0;
	char *l;

	while ((l = trap_line(trap, n))) {
		free(l);
		n++;
	}
	return n;
}

struct trap_wait {
	const char *trap;
	int n;
};

static bool
enough_traps(void *arg)
{
	struct trap_wait *w = arg;

	return trap_count(w->trap) >= w->n;
}

static void
wait_trap(const char *trap, int n, double timeout)
{
	struct trap_wait w = {trap, n};

	if (!th_wait_until(enough_traps, &w, timeout)) {
		char *log = th_snmp_traps(&snmp);
		fprintf(stderr, "no %s (x%d) in snmptrapd's log:\n%s\n", trap, n, log);
		free(log);
		fail();
	}
}

static void
want_value(const char *text, const char *name, const char *want)
{
	char *got = th_snmp_value(text, name);

	if (!got || strcmp(got, want) != 0) {
		fprintf(stderr, "%s: want '%s', got '%s' in:\n%s\n", name, want,
			got ? got : "(absent)", text);
		fail();
	}
	free(got);
}

/* "column.id", as a walk or trap names an event's value */
static char *
column_of(const char *column, long id)
{
	char *s;

	if (asprintf(&s, "%s.%ld", column, id) < 0)
		abort();
	return s;
}

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static pid_t fake_master; /* a fake AgentX master's process, or 0 */

static int
test_teardown(void **state)
{
	/* a fake master a failed test left running */
	if (fake_master > 0) {
		kill(fake_master, SIGKILL);
		waitpid(fake_master, NULL, 0);
		fake_master = 0;
	}
	ta_short_tokens(*state, false);
	ta_test_teardown(state);
	th_snmp_stop(&snmp);
	return 0;
}

/* A walk by name shows what the control socket shows; a 911 notice
 * arrives as ctTeamsEmergencyCall with its row in the event table. */
static void
test_walk_and_emergency(void **state)
{
	struct ta *t = *state;
	char *conf, *walk, *line, *want;
	json_t *status, *org, *sub, *events, *ev;

	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	conf = agentx_conf(NULL);
	ta_ready(t, conf);
	free(conf);
	assert_true(th_wait_until(ta_snmp_connected, t, 20));
	wait_trap("ctTeamsAgentStart", 1, 20);

	walk = th_snmp_walk(&snmp, "CT-TEAMS-MIB::ctTeamsMIB");
	assert_non_null(walk);
	status = ta_ctl(t, "status", NULL);
	org = json_array_get(json_object_get(status, "orgs"), 0);
	sub = json_object_get(org, "subscription");
	want_value(walk, "ctTeamsVersion.0", ta_str(json_object_get(status, "agent"), "version"));
	want_value(walk, "ctTeamsOrgCount.0", "1");
	want_value(walk, "ctTeamsOrgName.1", "acme");
	want_value(walk, "ctTeamsOrgTenantId.1", TA_TENANT);
	want_value(walk, "ctTeamsOrgAuthState.1", "valid");
	want_value(walk, "ctTeamsOrgSignedInUser.1", TA_UPN);
	want_value(walk, "ctTeamsOrgSubState.1", "active");
	want_value(walk, "ctTeamsSubId.1.1", ta_str(sub, "id"));
	want_value(walk, "ctTeamsSubState.1.1", "active");
	want_value(walk, "ctTeamsSubLastResult.1.1", "succeeded");
	if (asprintf(&want, "/users/%s/chats/getAllMessages", t->svc) < 0)
		abort();
	want_value(walk, "ctTeamsSubResource.1.1", want);
	free(want);
	want_value(walk, "ctTeamsActiveAlarms.0", "0");
	json_decref(status);
	free(walk);
	/* the MIB in the master's sysORTable, for a manager's discovery */
	walk = th_snmp_walk(&snmp, "SNMPv2-MIB::sysORDescr");
	assert_non_null(walk);
	assert_non_null(strstr(walk, "CT-TEAMS-MIB: ctteamsd"));
	free(walk);

	ta_sim_ok(t, "POST", "/emergency",
		  json_pack("{s:s, s:[s], s:s, s:s}", "caller", t->caller, "members", t->svc,
			    "number", "911", "location", "Building 4, 1 Main St, Springfield"));
	wait_trap("ctTeamsEmergencyCall", 1, 30);
	events = ta_events(t);
	ev = json_array_get(events, 0);
	line = trap_line("ctTeamsEmergencyCall", 0);
	if (asprintf(&want, "ctTeamsEventNumber.%lld",
		     json_integer_value(json_object_get(ev, "id"))) < 0)
		abort();
	want_value(line, want, "911");
	free(want);
	if (asprintf(&want, "ctTeamsEventChatId.%lld",
		     json_integer_value(json_object_get(ev, "id"))) < 0)
		abort();
	want_value(line, want, ta_str(ev, "chat_id"));
	free(want);
	if (asprintf(&want, "ctTeamsEventLocation.%lld",
		     json_integer_value(json_object_get(ev, "id"))) < 0)
		abort();
	want_value(line, want, "Building 4, 1 Main St, Springfield");
	free(want);
	free(line);

	walk = th_snmp_walk(&snmp, "CT-TEAMS-MIB::ctTeamsEventTable");
	if (asprintf(&want, "ctTeamsEventCaller.%lld",
		     json_integer_value(json_object_get(ev, "id"))) < 0)
		abort();
	want_value(walk, want, ta_str(ev, "caller"));
	free(want);
	free(walk);
	assert_int_equal(trap_count("ctTeamsEmergencyCall"), 1);

	/* acknowledged: ctTeamsEmergencyAcknowledged, the same instance, who;
	 * a second acknowledgement sends nothing (the next call's trap, which
	 * comes after anything it would have sent, finds one) */
	long id = (long)json_integer_value(json_object_get(ev, "id"));
	json_decref(ta_ack(t, id, "Nachtdienst Müller"));
	wait_trap("ctTeamsEmergencyAcknowledged", 1, 30);
	line = trap_line("ctTeamsEmergencyAcknowledged", 0);
	want = column_of("ctTeamsEventAckedBy", id);
	want_value(line, want, "Nachtdienst Müller");
	free(want);
	want = column_of("ctTeamsEventId", id);
	char *gauge; /* Unsigned32 is a Gauge32 on the wire */
	if (asprintf(&gauge, "Gauge32: %ld", id) < 0)
		abort();
	want_value(line, want, gauge);
	free(gauge);
	free(want);
	free(line);
	json_t *again = ta_ack(t, id, "someone else");
	assert_true(json_is_true(json_object_get(again, "already")));
	assert_string_equal(ta_str(again, "acked_by"), "Nachtdienst Müller");
	json_decref(again);
	ta_sim_ok(t, "POST", "/emergency",
		  json_pack("{s:s, s:[s], s:s}", "caller", t->caller, "members", t->svc, "number",
			    "933"));
	wait_trap("ctTeamsEmergencyCall", 2, 30);
	assert_int_equal(trap_count("ctTeamsEmergencyAcknowledged"), 1);
	walk = th_snmp_walk(&snmp, "CT-TEAMS-MIB::ctTeamsEventTable");
	want = column_of("ctTeamsEventAcknowledged", id);
	want_value(walk, want, "true");
	free(want);
	free(walk);
	json_decref(events);
	assert_int_equal(ta_stop(t), 0);
}

/* The lines docs/alarms.md gives for snmpd.conf ("agent liveness"), with
 * the internal user's pass phrase the test's own. */
#define DISMAN_RECIPE                                                                              \
	"createUser internalUser SHA internal-pass-0123\n"                                         \
	"rouser internalUser auth\n"                                                               \
	"iquerySecName internalUser\n"                                                             \
	"monitor -r 2 -S -I ctteamsdGone ! CT-TEAMS-MIB::ctTeamsVersion.0\n"

struct trap_text_wait {
	const char *after, *needle;
};

/* needle in snmptrapd's log after the first "after" */
static bool
traps_have(void *arg)
{
	struct trap_text_wait *w = arg;
	char *log = th_snmp_traps(&snmp), *from = log ? strstr(log, w->after) : NULL;
	bool ok = from && strstr(from, w->needle);

	free(log);
	return ok;
}

/* A trap-only NOC knows the agent is alive: ctTeamsHeartbeat at the start
 * and every interval, numbered in order; ctTeamsAgentStop at a clean stop
 * (snmpd itself sends nothing when a subagent goes). */
static void
test_heartbeat_and_stop(void **state)
{
	struct ta *t = *state;
	char *conf, *line, *walk;
	long seq[3];

	/* docs/alarms.md's DISMAN recipe: snmpd itself says when the
	 * subagent's objects are gone */
	assert_int_equal(th_snmp_start(&snmp, DISMAN_RECIPE, NULL), 0);
	conf = agentx_conf("heartbeat_interval = 1s\n");
	ta_ready(t, conf);
	free(conf);
	wait_trap("ctTeamsHeartbeat", 3, 30);
	for (int i = 0; i < 3; i++) {
		char *v;
		line = trap_line("ctTeamsHeartbeat", i);
		v = th_snmp_value(line, "ctTeamsNotificationSeq.0");
		assert_non_null(v);
		seq[i] = strtol(strchr(v, ':') ? strchr(v, ':') + 1 : v, NULL, 10);
		if (i > 0)
			assert_true(seq[i] > seq[i - 1]);
		want_value(line, "ctTeamsHeartbeatInterval.0", "Gauge32: 1 seconds");
		free(v);
		free(line);
	}
	walk = th_snmp_get(&snmp, "CT-TEAMS-MIB::ctTeamsHeartbeatInterval.0");
	assert_non_null(walk);
	assert_non_null(strstr(walk, "1"));
	free(walk);
	assert_int_equal(ta_stop(t), 0);
	wait_trap("ctTeamsAgentStop", 1, 10);
	line = trap_line("ctTeamsAgentStop", 0);
	assert_non_null(strstr(line, "ctTeamsVersion.0"));
	free(line);
	/* and the agent gone, snmpd's own monitor fires (it did at snmpd's
	 * start too, before the agent came: the objects were absent then) */
	struct trap_text_wait gone = {"OID: ctTeamsAgentStop", "ctteamsdGone"};
	if (!th_wait_until(traps_have, &gone, 30)) {
		char *log = th_snmp_traps(&snmp);
		fprintf(stderr, "no ctteamsdGone from snmpd's monitor:\n%s\n", log);
		free(log);
		fail();
	}
}

/* Graph removes the subscription and refuses a new one twice: the
 * subscriptionLapsed raise, then its clear once the agent has made one. */
static void
lapse_subscription(struct ta *t)
{
	json_t *sub;
	char *path;

	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/subscriptions", "method", "POST",
			    "count", 2, "status", 503));
	sub = ta_sim_sub(t);
	if (asprintf(&path, "/subscriptions/%s/remove", ta_str(sub, "id")) < 0)
		abort();
	json_decref(sub);
	ta_sim_ok(t, "POST", path, NULL);
	free(path);
}

/* ---- the snmptt recipe, as shipped ---- */

/* docs/snmp.md's optional EXEC line, which submits the 911 to Nagios */
#define SNMPTT_EXEC                                                                                \
	"EXEC printf '[%s] PROCESS_SERVICE_CHECK_RESULT;ctteams;ctteams-emergency-%s;2;%s\\n' "    \
	"\"$(date +%s)\" \"$1\" \"$Fz\" >> /var/lib/nagios4/rw/nagios.cmd"

/* CT-TEAMS-MIB.snmptt as shipped, with the EXEC line after the emergency
 * call's FORMAT, writing to the test's file instead of Nagios'. */
static char *
snmptt_file(const char *dir)
{
	char *text = th_read_file(CT_SNMPTT_FILE), *path, *exec, *from, *to, *eol;
	const char *format = "\nFORMAT ctteams: EMERGENCY CALL";

	assert_non_null(text);
	from = strstr(text, format);
	assert_non_null(from);
	eol = strchr(from + 1, '\n');
	if (asprintf(&path, "%s/CT-TEAMS-MIB.snmptt", dir) < 0 ||
	    asprintf(&exec, "%s", SNMPTT_EXEC) < 0)
		abort();
	*strstr(exec, " >> ") = '\0';
	if (asprintf(&to, "%.*s\n%s >> %s/nagios.cmd%s", (int)(eol - text), text, exec, dir, eol) <
	    0)
		abort();
	assert_int_equal(th_write_file(path, to), 0);
	free(text);
	free(exec);
	free(to);
	return path;
}

/* Debian's stock snmptt.ini, changed as docs/snmp.md tells the operator
 * (CT-TEAMS-MIB.snmptt in snmptt_conf_files, unknown traps logged), and
 * for the test alone where it logs. */
static char *
snmptt_ini(const char *dir)
{
	char *ini, *text = th_read_file("/etc/snmp/snmptt.ini"), *to, *file = snmptt_file(dir);

	assert_non_null(text);
	if (asprintf(&ini, "%s/snmptt.ini", dir) < 0)
		abort();
	assert_int_equal(th_write_file(ini, text), 0);
	free(text);
	ta_replace_in_file(ini, "\nunknown_trap_log_enable = 0", "\nunknown_trap_log_enable = 1");
	if (asprintf(&to, "/etc/snmptt/snmptt.conf\n%s\nEND", file) < 0)
		abort();
	ta_replace_in_file(ini, "/etc/snmptt/snmptt.conf\nEND", to);
	free(to);
	free(file);
	static const char *const logs[][2] = {
	    {"\nlog_file = /var/log/snmptt/snmptt.log", "snmptt.log"},
	    {"\nunknown_trap_log_file = /var/log/snmptt/snmpttunknown.log", "unknown.log"},
	    {"\nlog_system_file = /var/log/snmptt/snmpttsystem.log", "system.log"},
	};
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char *key = strndup(logs[i][0], strcspn(logs[i][0], "="));
		if (asprintf(&to, "%s= %s/%s", key, dir, logs[i][1]) < 0)
			abort();
		ta_replace_in_file(ini, logs[i][0], to);
		free(to);
		free(key);
	}
	return ini;
}

/* mibs/snmptrapd.conf.example's lines as shipped, but snmptt standalone
 * (the line the example gives for a host without Debian's snmptt
 * service) and with the test's snmptt.ini. */
static char *
shipped_trapd_conf(const char *ini)
{
	char *text = th_read_file(CT_TRAPD_EXAMPLE), *out, *to;
	const char *from = "\ntraphandle default /usr/sbin/snmptthandler\n";
	char *at;

	assert_non_null(text);
	at = strstr(text, from);
	assert_non_null(at);
	if (asprintf(&to, "\ntraphandle default /usr/sbin/snmptt --ini=%s\n", ini) < 0 ||
	    asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) < 0)
		abort();
	free(to);
	free(text);
	return out;
}

struct log_wait {
	const char *path, *needle;
};

static bool
log_has(void *arg)
{
	struct log_wait *w = arg;
	char *text = th_read_file(w->path);
	bool ok = text && strstr(text, w->needle);

	free(text);
	return ok;
}

static void
wait_snmptt(const char *log, const char *needle)
{
	struct log_wait w = {log, needle};

	if (!th_wait_until(log_has, &w, 60)) {
		char *text = th_read_file(log), *trapd = th_snmp_traps(&snmp);
		fprintf(stderr, "snmptt logged no '%s':\n%s\nsnmptrapd's log:\n%s\n", needle,
			text ? text : "(nothing)", trapd);
		free(text);
		free(trapd);
		fail();
	}
}

/* The NOC's recipe, run for real: snmptrapd set up as the shipped example
 * says hands each notification to Debian's snmptt with its stock
 * snmptt.ini and the documented changes. The 911 is logged readable
 * (caller, location, time as text, enums by name, the event id), and so
 * are its acknowledgement and an alarm's raise and clear. snmptt keeps
 * only ASCII letters, digits and some punctuation of a value, as
 * docs/snmp.md says: the event id leads to the full text. */
static void
test_snmptt_as_shipped(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("snmptt"), *ini = snmptt_ini(dir), *extra = shipped_trapd_conf(ini);
	char *log, *unknown, *conf, *path, *want, *text;
	json_t *e;
	long id;
	regex_t re;

	if (asprintf(&log, "%s/snmptt.log", dir) < 0 ||
	    asprintf(&unknown, "%s/unknown.log", dir) < 0)
		abort();
	assert_int_equal(th_snmp_start(&snmp, NULL, extra), 0);
	conf = agentx_conf(NULL);
	ta_ready(t, conf);
	free(conf);
	assert_true(th_wait_until(ta_snmp_connected, t, 20));
	wait_snmptt(log, "ctteams: ctteamsd ");

	ta_sim_ok(t, "POST", "/emergency",
		  json_pack("{s:s, s:[s], s:s, s:s}", "caller", t->caller, "members", t->svc,
			    "number", "911", "location", "Rua São João 4º, Sala 12 – 東京"));
	wait_snmptt(log, "EMERGENCY CALL (org acme, event ");
	e = ta_events(t);
	id = (long)json_integer_value(json_object_get(json_array_get(e, 0), "id"));
	json_decref(e);
	if (asprintf(&want,
		     "CRITICAL \"Status Events\" localhost - ctteams: EMERGENCY CALL (org acme, "
		     "event %ld): Jane Doe dialled 911 from Rua So Joo 4, Sala 12",
		     id) < 0)
		abort();
	wait_snmptt(log, want);
	free(want);
	/* the time as text, the enum by name */
	text = th_read_file(log);
	assert_int_equal(regcomp(&re,
				 "Sala 12 +at 20[0-9][0-9]-[0-9]+-[0-9]+,[0-9]+:[0-9]+:[0-9.]+,"
				 "[-+][0-9]+:[0-9]+; test call: false",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	if (regexec(&re, text, 0, NULL, 0) != 0) {
		fprintf(stderr, "snmptt's log:\n%s\n", text);
		fail();
	}
	regfree(&re);
	free(text);

	/* the EXEC line's passive result, as Nagios would read it */
	if (asprintf(&path, "%s/nagios.cmd", dir) < 0 ||
	    asprintf(&want,
		     "] PROCESS_SERVICE_CHECK_RESULT;ctteams;ctteams-emergency-acme;2;ctteams: "
		     "EMERGENCY CALL (org acme, event %ld): Jane Doe dialled 911",
		     id) < 0)
		abort();
	wait_snmptt(path, want);
	free(want);
	free(path);

	json_decref(ta_ack(t, id, "night desk"));
	if (asprintf(&want,
		     "ctteams: Org acme: event %ld (911 from Jane Doe) acknowledged by "
		     "night desk at 20",
		     id) < 0)
		abort();
	wait_snmptt(log, want);
	free(want);

	/* an alarm's raise and clear */
	lapse_subscription(t);
	wait_snmptt(log, "CRITICAL \"Status Events\" localhost - ctteams: Org acme: Graph "
			 "subscription lapsed, notices are not delivered: ");
	wait_snmptt(log, "ctteams: Org acme: Graph subscription restored");
	/* nothing of ours that snmptt could not place (snmpd's own coldStart
	 * and shutdown are there: the test gives snmptt no file for them) */
	text = th_read_file(CT_SNMPTT_FILE);
	char *root = strstr(text, "EVENT ctTeamsEmergencyCall ");
	assert_non_null(root);
	root += strlen("EVENT ctTeamsEmergencyCall ");
	*strstr(root, ".0.1 ") = '\0'; /* ctTeamsNotifications.1 */
	if (asprintf(&want, "Unknown trap (%s.", root) < 0)
		abort();
	free(text);
	text = th_read_file(unknown);
	if (text && strstr(text, want)) {
		fprintf(stderr, "snmptt could not place:\n%s\n", text);
		fail();
	}
	free(want);
	free(text);
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
	free(ini);
	free(extra);
	free(log);
	free(unknown);
}

static void same_identity(const char *raise, const char *clear);

/* Another process holds the database's write lock: storeTrouble reaches
 * snmptrapd while the lock is held, with SQLite's own reason (not the
 * "not an error" read after a rollback), and its clear once writes work:
 * each once (the raise written late to the store is not sent again). */
static void
test_store_trouble_trap(void **state)
{
	struct ta *t = *state;
	char *conf, *path, *line;
	sqlite3 *db;

	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	conf = agentx_conf(NULL);
	ta_ready(t, conf);
	free(conf);
	assert_true(th_wait_until(ta_snmp_connected, t, 20));
	if (asprintf(&path, "%s/state/ctteams.db", t->dir) < 0)
		abort();
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* the agent may be writing this moment: wait for it, as a backup tool would */
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ta_emergency(t);
	wait_trap("ctTeamsStoreTrouble", 1, 30);
	line = trap_line("ctTeamsStoreTrouble", 0);
	assert_non_null(strstr(line, "database is locked"));
	free(line);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	wait_trap("ctTeamsStoreRestored", 1, 30);
	same_identity("ctTeamsStoreTrouble", "ctTeamsStoreRestored");
	assert_int_equal(trap_count("ctTeamsStoreTrouble"), 1);
	assert_int_equal(trap_count("ctTeamsStoreRestored"), 1);
	assert_int_equal(ta_stop(t), 0);
	free(path);
}

/* The varbind names of a trap line, without values: the identity a raise
 * and its clear must share. */
static char *
names_of(const char *line)
{
	char *out = calloc(1, strlen(line) + 1), *copy = strdup(line), *save = NULL, *vb;

	for (vb = strtok_r(copy, "\t", &save); vb; vb = strtok_r(NULL, "\t", &save)) {
		char *eq = strstr(vb, " = ");
		/* CT-TEAMS-MIB's varbinds: names with their instance */
		if (!eq || strncmp(vb, "ctTeams", 7) != 0)
			continue;
		strncat(out, vb, (size_t)(eq - vb));
		strcat(out, " ");
	}
	free(copy);
	return out;
}

/* The raise and the clear of an alarm carry the same instance. */
static void
same_identity(const char *raise, const char *clear)
{
	char *r = trap_line(raise, 0), *c = trap_line(clear, 0);
	char *rn = names_of(r), *cn = names_of(c);

	assert_string_equal(rn, cn);
	assert_true(strstr(rn, "ctTeamsAlarmOrgName.") != NULL);
	assert_non_null(strstr(c, "cleared(1)"));
	free(r);
	free(c);
	free(rn);
	free(cn);
}

static bool alarm_active(struct ta *t, const char *type);

static bool
sign_in_lost(void *t)
{
	return alarm_active(t, "signInLost");
}

static bool
alarm_active(struct ta *t, const char *type)
{
	json_t *j = ta_ctl(t, "alarms", NULL), *a;
	bool found = false;
	size_t i;

	json_array_foreach (json_object_get(j, "alarms"), i, a)
		found |= !strcmp(ta_str(a, "type"), type);
	json_decref(j);
	return found;
}

/* Each alarm the issue names, caused in graphsim, reaches snmptrapd as its
 * raise, and its end as the clear with the same identity. */
static void
test_alarm_notifications(void **state)
{
	struct ta *t = *state;
	char soon[64], sooner[64], *conf, *path;
	time_t when = time(NULL) + 10 * 86400;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(soon, sizeof(soon), "client_secret_expires = %Y-%m-%d\n", &tm);
	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	conf = agentx_conf("reconcile_interval = 3s\nbackfill_delay = 1s\nevent_alarm_hold = 6s\n"
			   "refresh_margin = 1s");
	ta_short_tokens(t, true);
	assert_int_equal(ta_start(t, conf, soon), 0);
	free(conf);
	/* before anyone signs in; the secret inside its warning window */
	wait_trap("ctTeamsNotSignedIn", 1, 20);
	wait_trap("ctTeamsSecretExpiring", 1, 20);
	/* a week from expiry: the same instance raised again, critical */
	{
		char *first, *second, *fn, *sn;
		when = time(NULL) + 3 * 86400;
		gmtime_r(&when, &tm);
		strftime(sooner, sizeof(sooner), "client_secret_expires = %Y-%m-%d\n", &tm);
		ta_replace_in_file(t->conf, soon, sooner);
		kill(t->pid, SIGHUP);
		wait_trap("ctTeamsSecretExpiring", 2, 20);
		first = trap_line("ctTeamsSecretExpiring", 0);
		second = trap_line("ctTeamsSecretExpiring", 1);
		fn = names_of(first);
		sn = names_of(second);
		assert_string_equal(fn, sn);
		assert_non_null(strstr(first, "warning(6)"));
		assert_non_null(strstr(second, "critical(3)"));
		free(first);
		free(second);
		free(fn);
		free(sn);
	}
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	wait_trap("ctTeamsSignedIn", 1, 20);
	same_identity("ctTeamsNotSignedIn", "ctTeamsSignedIn");
	assert_true(th_wait_until(ta_sub_active, t, 20));

	/* the subscription deleted, and Graph refusing a new one for a while */
	lapse_subscription(t);
	wait_trap("ctTeamsSubscriptionLapsed", 1, 30);
	wait_trap("ctTeamsSubscriptionRestored", 1, 60);
	same_identity("ctTeamsSubscriptionLapsed", "ctTeamsSubscriptionRestored");

	/* Graph skips a delivery; the reconcile reads the notice back */
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 1));
	ta_emergency(t);
	wait_trap("ctTeamsDeliveryGap", 1, 30);
	wait_trap("ctTeamsEmergencyCall", 1, 5);
	wait_trap("ctTeamsDeliveryRestored", 1, 40);
	same_identity("ctTeamsDeliveryGap", "ctTeamsDeliveryRestored");
	{
		char *l = trap_line("ctTeamsEmergencyCall", 0);
		assert_non_null(strstr(l, "poll(2)"));
		free(l);
	}

	/* the refresh token revoked; someone signs in again */
	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	ta_sim_ok(t, "POST", path, NULL);
	free(path);
	wait_trap("ctTeamsSignInLost", 1, 30);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	wait_trap("ctTeamsSignInRestored", 1, 20);
	same_identity("ctTeamsSignInLost", "ctTeamsSignInRestored");

	/* the secret renewed: its date moves out of the window */
	ta_replace_in_file(t->conf, sooner, "client_secret_expires = 2030-01-01\n");
	kill(t->pid, SIGHUP);
	wait_trap("ctTeamsSecretRenewed", 1, 20);
	same_identity("ctTeamsSecretExpiring", "ctTeamsSecretRenewed");

	/* each once */
	assert_int_equal(trap_count("ctTeamsSignInLost"), 1);
	assert_int_equal(trap_count("ctTeamsSubscriptionLapsed"), 1);
	assert_int_equal(trap_count("ctTeamsSecretExpiring"), 2); /* raise, escalation */
	assert_int_equal(ta_stop(t), 0);
	ta_short_tokens(t, false);
}

static bool
tables_back(void *arg)
{
	char *walk = th_snmp_walk(&snmp, "CT-TEAMS-MIB::ctTeamsMIB");
	bool ok = walk && strstr(walk, "ctTeamsOrgName.1 = acme") &&
		  strstr(walk, "ctTeamsAlarmSeverity.clientSecretExpiring.1 = warning");

	(void)arg;
	free(walk);
	return ok;
}

static bool
nothing_pending(void *arg)
{
	json_t *j = ta_ctl(arg, "status", NULL);
	json_t *tr = json_object_get(
	    json_object_get(json_object_get(json_object_get(j, "agent"), "snmp"), "traps"),
	    "pending");
	bool ok = json_is_integer(tr) && json_integer_value(tr) == 0;

	json_decref(j);
	return ok;
}

static bool
has_event(void *arg)
{
	json_t *e = ta_events(arg);
	bool ok = json_array_size(e) > 0;

	json_decref(e);
	return ok;
}

/* snmpd restarted: the tables come back with the active alarm. snmpd away
 * while an emergency arrives and an alarm is raised: both notifications
 * arrive once, in order, after it returns. */
static void
test_master_restart_and_away(void **state)
{
	struct ta *t = *state;
	char soon[64], *conf, *path, *e, *a;
	time_t when = time(NULL) + 10 * 86400;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(soon, sizeof(soon), "client_secret_expires = %Y-%m-%d\n", &tm);
	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	conf = agentx_conf("refresh_margin = 1s");
	ta_short_tokens(t, true);
	assert_int_equal(ta_start(t, conf, soon), 0);
	free(conf);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	wait_trap("ctTeamsSecretExpiring", 1, 20);

	th_snmpd_stop(&snmp);
	assert_int_equal(th_snmpd_start(&snmp), 0);
	/* agentx_reconnect = 1s: back within a few seconds, not net-snmp's 15 */
	assert_true(th_wait_until(tables_back, NULL, 6));
	/* and its sysORTable entry, which the new master knew nothing of */
	{
		char *walk = th_snmp_walk(&snmp, "SNMPv2-MIB::sysORDescr");
		assert_non_null(walk);
		assert_non_null(strstr(walk, "CT-TEAMS-MIB: ctteamsd"));
		free(walk);
	}

	th_snmpd_stop(&snmp);
	ta_emergency(t);
	assert_true(th_wait_until(has_event, t, 20));
	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	ta_sim_ok(t, "POST", path, NULL);
	free(path);
	assert_true(th_wait_until(sign_in_lost, t, 30));
	assert_int_equal(trap_count("ctTeamsEmergencyCall"), 0);

	assert_int_equal(th_snmpd_start(&snmp), 0);
	wait_trap("ctTeamsEmergencyCall", 1, 30);
	wait_trap("ctTeamsSignInLost", 1, 30);
	assert_true(th_wait_until(nothing_pending, t, 20));
	assert_int_equal(trap_count("ctTeamsEmergencyCall"), 1);
	assert_int_equal(trap_count("ctTeamsSignInLost"), 1);
	/* in the order they happened */
	{
		char *log = th_snmp_traps(&snmp);
		e = strstr(log, "OID: ctTeamsEmergencyCall");
		a = strstr(log, "OID: ctTeamsSignInLost");
		assert_true(e && a && e < a);
		free(log);
	}
	assert_int_equal(ta_stop(t), 0);
	ta_short_tokens(t, false);
}

/* How long the control socket takes to answer a ping. */
static double
ping_time(struct ta *t)
{
	double start = th_now();
	json_t *j = ta_ctl(t, "ping", NULL);

	assert_non_null(j);
	json_decref(j);
	return th_now() - start;
}

struct hung_wait {
	struct ta *t;
	int times;
};

/* The agent has said n times that the master does not answer. */
static bool
hung_said(void *arg)
{
	struct hung_wait *w = arg;
	char *log = th_read_file(w->t->log), *at = log;
	int n = 0;

	while (at && (at = strstr(at, "does not answer; waiting for it"))) {
		n++;
		at++;
	}
	free(log);
	return n >= w->times;
}

/* snmpd stopped in its tracks (SIGSTOP), not gone: the agent's loop keeps
 * answering, and the emergency reaches snmptrapd when snmpd goes on,
 * without a storm of repeats. */
static void
test_master_hung(void **state)
{
	struct ta *t = *state;
	char *conf;
	double worst = 0;

	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	conf = agentx_conf(NULL);
	ta_ready(t, conf);
	free(conf);
	assert_true(th_wait_until(ta_snmp_connected, t, 20));
	kill(snmp.snmpd, SIGSTOP);
	ta_emergency(t);
	assert_true(th_wait_until(has_event, t, 20));
	/* eight seconds of a hung master, its session still open:
	 * notifications and pings never wait for its answers (a reconnect to
	 * a master that does not answer is test_master_never_answers) */
	for (double end = th_now() + 8; th_now() < end;) {
		double d = ping_time(t);
		if (d > worst)
			worst = d;
	}
	assert_true(worst < 1.5);
	assert_int_equal(trap_count("ctTeamsEmergencyCall"), 0);
	kill(snmp.snmpd, SIGCONT);
	wait_trap("ctTeamsEmergencyCall", 1, 30);
	assert_true(th_wait_until(nothing_pending, t, 30));
	/* at least once: a Notify the master read before it stopped may be
	 * forwarded as well as the one sent again, but no more */
	assert_true(trap_count("ctTeamsEmergencyCall") <= 2);
	/* hung again, and the agent stops meanwhile: it lets the session go
	 * without waiting for a Close to be answered, cleanly (ASan) */
	kill(snmp.snmpd, SIGSTOP);
	ta_emergency(t);
	struct hung_wait hw = {t, 2};
	assert_true(th_wait_until(hung_said, &hw, 30));
	assert_int_equal(ta_stop(t), 0);
	kill(snmp.snmpd, SIGCONT);
}

static bool
snmp_probed(void *arg)
{
	struct ta *t = arg;
	char *log = th_read_file(t->log);
	bool hit = log && strstr(log, "does not answer yet: no answer in time");

	free(log);
	return hit;
}

/* A "master" that takes connections and never answers, over AF_UNIX and
 * over TCP (an address that listens and says nothing): the agent asks it
 * an Open without waiting, never reconnects to it, and its loop answers
 * at once all the while. */
static void
test_master_never_answers(void **state)
{
	struct ta *t = *state;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t in_len = sizeof(in);
	int ufd = socket(AF_UNIX, SOCK_STREAM, 0), tfd = socket(AF_INET, SOCK_STREAM, 0);
	char *conf, where[160], *dir = th_tmpdir("mute");

	snprintf(un.sun_path, sizeof(un.sun_path), "%s/master", dir);
	unlink(un.sun_path);
	assert_int_equal(bind(ufd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(ufd, 64), 0);
	assert_int_equal(bind(tfd, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(tfd, 64), 0);
	assert_int_equal(getsockname(tfd, (struct sockaddr *)&in, &in_len), 0);
	for (int pass = 0; pass < 2; pass++) {
		double worst = 0;
		if (pass == 0)
			snprintf(where, sizeof(where), "%s", un.sun_path);
		else
			snprintf(where, sizeof(where), "tcp:127.0.0.1:%d", ntohs(in.sin_port));
		if (asprintf(&conf,
			     "agentx_socket = %s\nagentx_reconnect = 1s\nagentx_timeout = 2s",
			     where) < 0)
			abort();
		assert_int_equal(ta_start(t, conf, NULL), 0);
		free(conf);
		/* the first probe has gone unanswered: reconnects are under way */
		assert_true(th_wait_until(snmp_probed, t, 30));
		for (double end = th_now() + 6; th_now() < end;) {
			double d = ping_time(t);
			if (d > worst)
				worst = d;
		}
		/* a reconnect that waited would take agentx_timeout, 2 s */
		assert_true(worst < 1.5);
		assert_false(ta_snmp_connected(t));
		assert_int_equal(ta_stop(t), 0);
	}
	close(ufd);
	close(tfd);
	th_rmtree(dir);
	free(dir);
}

/* A "master" on path that answers the agent's probe (each first, third,
 * ... connection: an Open answered with a Response) and falls silent for
 * net-snmp's own Open that follows it (each second, fourth, ...): a master
 * that stops right between the two. A child process; kill it. */
static pid_t
master_silent_after_probe(const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), held[64] = {0};
	pid_t pid;

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(listen(fd, 16), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(fd);
		return pid;
	}
	/* it dies with the test, and holds none of its output open */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(1);
	close(2);
	for (unsigned k = 0;; k++) {
		unsigned char h[20], body[512];
		size_t got = 0, len;
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		if (k % 2 == 1) {
			if (held[k / 2 % 64] > 0)
				close(held[k / 2 % 64]);
			held[k / 2 % 64] = c; /* read nothing, answer nothing */
			continue;
		}
		while (got < sizeof(h)) {
			ssize_t n = read(c, h + got, sizeof(h) - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		/* the probe's payload is in network byte order */
		len = (size_t)h[16] << 24 | (size_t)h[17] << 16 | (size_t)h[18] << 8 | h[19];
		if (got < sizeof(h) || len > sizeof(body) || read(c, body, len) < 0) {
			close(c);
			continue;
		}
		h[1] = 18; /* Response */
		h[16] = h[17] = h[18] = 0;
		h[19] = 8; /* sysUpTime, error, index */
		memset(body, 0, 8);
		if (write(c, h, sizeof(h)) < 0 || write(c, body, 8) < 0)
			_exit(1);
		close(c);
	}
}

/* A master that answers the probe and falls silent before net-snmp's own
 * Open: net-snmp's synchronous Open and registration wait a moment each,
 * not (1 + agentx_retries) x agentx_timeout (15 s here; 11 minutes with
 * the largest settings), and the loop answers all the while. */
static void
test_master_silent_after_probe(void **state)
{
	struct ta *t = *state;
	char *conf, *dir = th_tmpdir("half"), path[100];
	double worst = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/master", dir);
	pid = fake_master = master_silent_after_probe(path);
	if (asprintf(&conf,
		     "agentx_socket = %s\nagentx_reconnect = 1s\nagentx_timeout = 5s\n"
		     "agentx_retries = 2",
		     path) < 0)
		abort();
	assert_int_equal(ta_start(t, conf, NULL), 0);
	free(conf);
	for (double end = th_now() + 6; th_now() < end;) {
		double d = ping_time(t);
		if (d > worst)
			worst = d;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fake_master = 0;
	/* the attempts happened: net-snmp's Open went unanswered */
	{
		char *log = th_read_file(t->log);
		assert_non_null(log);
		assert_non_null(strstr(log, "net-snmp could not open its session"));
		free(log);
	}
	if (worst >= 1.0)
		fail_msg("the loop was held %.2f s by an Open", worst);
	assert_false(ta_snmp_connected(t));
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
}

/* The emergency through an SNMPv3 authPriv trapsess and as an inform, as
 * snmpd's own sinks carry it. */
static void
test_v3_and_inform(void **state)
{
	struct ta *t = *state;
	char *conf, *log;

	assert_int_equal(
	    th_snmp_start(&snmp,
			  "trapsess -v 3 -u ctops -l authPriv -a SHA -A ct-auth-pass-1 -x AES "
			  "-X ct-priv-pass-1 -e 0x80001f8880c0ffee0001 @TRAPSINK@\n"
			  "informsink @TRAPSINK@ public\n",
			  "createUser -e 0x80001f8880c0ffee0001 ctops SHA ct-auth-pass-1 AES "
			  "ct-priv-pass-1\n"
			  "authUser log ctops priv\n"),
	    0);
	conf = agentx_conf(NULL);
	ta_ready(t, conf);
	free(conf);
	ta_emergency(t);
	/* trap2sink, trapsess and informsink: three arrivals of one trap */
	wait_trap("ctTeamsEmergencyCall", 3, 30);
	log = th_snmp_traps(&snmp);
	assert_non_null(strstr(log, "ctops"));
	assert_non_null(strstr(log, "INFORM"));
	free(log);
	assert_true(th_wait_until(nothing_pending, t, 20));
	assert_int_equal(ta_stop(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_walk_and_emergency, test_teardown),
	    cmocka_unit_test_teardown(test_snmptt_as_shipped, test_teardown),
	    cmocka_unit_test_teardown(test_heartbeat_and_stop, test_teardown),
	    cmocka_unit_test_teardown(test_alarm_notifications, test_teardown),
	    cmocka_unit_test_teardown(test_store_trouble_trap, test_teardown),
	    cmocka_unit_test_teardown(test_master_restart_and_away, test_teardown),
	    cmocka_unit_test_teardown(test_master_hung, test_teardown),
	    cmocka_unit_test_teardown(test_master_never_answers, test_teardown),
	    cmocka_unit_test_teardown(test_master_silent_after_probe, test_teardown),
	    cmocka_unit_test_teardown(test_v3_and_inform, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
