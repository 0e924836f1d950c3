/*
 * The SNMP side against real snmpd and snmptrapd, driven by graphsim:
 * ctteamsd registers CT-TEAMS-MIB with snmpd as an AgentX subagent; a walk
 * by name shows what the control socket shows; each condition caused in
 * graphsim reaches snmptrapd as its notification, and its end as the clear
 * with the same identity; snmpd restarted or away loses nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static bool
snmp_connected(void *arg)
{
	json_t *j = ta_ctl(arg, "status", NULL);
	bool ok = json_is_true(
	    json_object_get(json_object_get(json_object_get(j, "agent"), "snmp"), "connected"));

	json_decref(j);
	return ok;
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

/* The value of name in "name = value" lines (a walk, a trap line). */
static char *
value_of(const char *text, const char *name)
{
	char *want, *at, *end;

	if (asprintf(&want, "%s = ", name) < 0)
		abort();
	for (at = strstr(text, want); at && at != text && at[-1] != '\n' && at[-1] != '\t';
	     at = strstr(at + 1, want))
		;
	if (!at) {
		free(want);
		return NULL;
	}
	at += strlen(want);
	free(want);
	/* snmptrapd names the type; a walk with -OQ does not */
	if (!strncmp(at, "STRING: ", 8))
		at += 8;
	end = at + strcspn(at, "\t\n");
	return strndup(at, (size_t)(end - at));
}

static void
want_value(const char *text, const char *name, const char *want)
{
	char *got = value_of(text, name);

	if (!got || strcmp(got, want) != 0) {
		fprintf(stderr, "%s: want '%s', got '%s' in:\n%s\n", name, want,
			got ? got : "(absent)", text);
		fail();
	}
	free(got);
}

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static int
test_teardown(void **state)
{
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
	assert_true(th_wait_until(snmp_connected, t, 20));
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
	json_decref(events);
	assert_int_equal(ta_stop(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_walk_and_emergency, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
