/*
 * The ctteams demo: the real ctteamsd and ctteamsctl against the bundled
 * Microsoft cloud simulator, narrated. It exits non-zero if any step does
 * not behave, so it doubles as a test.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ta.h"

static void
ctl(struct ta *t, const char *cmd, const char *org)
{
	const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, cmd, org, NULL};
	char *out = NULL;

	printf("   $ ctteamsctl %s%s%s\n", cmd, org ? " " : "", org ? org : "");
	th_run(argv, &out, NULL);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		printf("   %s\n", line);
	free(out);
	fflush(stdout);
}

static struct th_snmp snmp;
static struct th_nagios nagios;
static struct ta *demo_ta;

/* A step that fails ends the demo at once (th_check): nothing it started
 * may stay behind. */
static void
cleanup(void)
{
	if (demo_ta)
		ta_teardown((void **)&demo_ta);
	demo_ta = NULL;
	th_snmp_stop(&snmp);
	th_nagios_free(&nagios);
}

/* The line snmptrapd logged for the notification named trap, or NULL. */
static char *
trap_line(const char *trap)
{
	char *log = th_snmp_traps(&snmp), *want, *at, *end, *line = NULL;

	if (asprintf(&want, "OID: %s\t", trap) < 0)
		abort();
	if ((at = strstr(log, want))) {
		while (at > log && at[-1] != '\n')
			at--;
		end = strchr(at, '\n');
		line = strndup(at, end ? (size_t)(end - at) : strlen(at));
	}
	free(want);
	free(log);
	return line;
}

static bool
trap_arrived(void *trap)
{
	char *line = trap_line(trap);

	free(line);
	return line != NULL;
}

/* As snmptrapd logged it: one varbind a line. */
static void
show_trap(const char *trap)
{
	char *line = trap_line(trap), *save = NULL;

	printf("   snmptrapd logged:\n");
	for (char *vb = strtok_r(line, "\t", &save); vb; vb = strtok_r(NULL, "\t", &save))
		printf("     %s\n", vb);
	free(line);
	fflush(stdout);
}

static void
walk(const char *what)
{
	char *out = th_snmp_walk(&snmp, what);

	printf("   $ snmpwalk -v2c -c public -m +CT-TEAMS-MIB 127.0.0.1:%d %s\n", snmp.port, what);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		printf("   %s\n", line);
	free(out);
	fflush(stdout);
}

/* A check plugin as Nagios runs it, and what it printed. */
static void
check(struct ta *t, const char *name)
{
	char *path, *out = NULL;
	int rc;

	if (asprintf(&path, "%s/%s", TA_PLUGINS, name) < 0)
		abort();
	const char *argv[] = {path, "-S", t->msock, "-O", "acme", NULL};
	rc = th_run(argv, &out, NULL);
	printf("   $ %s -O acme        (exit %d)\n", name, rc);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		printf("   %s\n", line);
	free(out);
	free(path);
	fflush(stdout);
}

static bool
nagios_shows(void *needle)
{
	char *block = th_nagios_service(&nagios, "ctteams-emergency-acme");
	bool ok = block && strstr(block, needle);

	free(block);
	return ok;
}

/* What Nagios' status file says of a service. */
static void
show_nagios(const char *service)
{
	char *block = th_nagios_service(&nagios, service), *save = NULL;

	printf("   Nagios status.dat, service %s:\n", service);
	for (char *line = strtok_r(block, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == '\t')
			line++;
		if (!strncmp(line, "current_state=", 14) || !strncmp(line, "plugin_output=", 14) ||
		    !strncmp(line, "check_type=", 11))
			printf("     %s\n", line);
	}
	free(block);
	fflush(stdout);
}

struct chain {
	struct ta *t;
	long since;
	size_t n;
};

static bool
refreshes(void *arg)
{
	struct chain *c = arg;
	json_t *r = ta_requests(c->t, c->since, "refresh_token");
	bool ok = json_array_size(r) >= c->n;

	json_decref(r);
	return ok;
}

int
main(void)
{
	struct ta *t = NULL;
	char *page = NULL, *path;

	printf("ctteams demo: a 911 notice from Microsoft Teams reaching an SNMP trap console\n"
	       "and Nagios, its acknowledgement in Nagios, and the alarm raised when the service\n"
	       "user's sign-in is lost. Microsoft's cloud is simulated by graphsim, over HTTPS;\n"
	       "snmpd, snmptrapd and Nagios are the real ones.\n");

	th_step("Start the simulated cloud: a tenant, an app registration, the service user");
	atexit(cleanup);
	th_check(ta_setup((void **)&t, (const char *const[]){"--access-token-lifetime=4s", NULL}) ==
		     0,
		 "graphsim starts");
	demo_ta = t;
	printf("   graphsim at %s\n", t->gs.base);

	th_step("Start a real snmpd (AgentX master) and snmptrapd on loopback ports");
	th_check(th_snmp_start(&snmp, NULL, NULL) == 0, "snmpd and snmptrapd start");
	printf("   snmpd: UDP 127.0.0.1:%d, AgentX master at %s, trap2sink 127.0.0.1:%d\n",
	       snmp.port, snmp.agentx, snmp.trap_port);

	th_check(th_nagios_init(&nagios) == 0, "a directory for Nagios");

	th_step("Start ctteamsd with this configuration");
	if (asprintf(&path,
		     "refresh_margin = 2s\nagentx_socket = %s\nagentx_reconnect = 1s\n"
		     "nagios_command_file = %s\nmonitor_ack = yes",
		     snmp.agentx, nagios.cmd) < 0)
		abort();
	th_check(ta_start(t, path, NULL) == 0, "ctteamsd starts");
	free(path);
	char *conf = th_read_file(t->conf);
	for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n"))
		if (line[0] != '#')
			printf("   | %s\n", line);
	free(conf);
	ctl(t, "status", NULL);

	th_step("The administrator asks for a sign-in link and opens it in a browser");
	ctl(t, "login", "acme");
	th_check(ta_signin(t, "acme", &page) == 200, "sign-in completes");
	printf("   browser: login link -> Entra authorize (PKCE) -> callback -> \"Signed in\"\n");
	free(page);
	ctl(t, "status", NULL);

	th_step("ctteamsd subscribes to the service user's chats in Microsoft Graph");
	th_check(th_wait_until(ta_sub_active, t, 30), "the subscription is active");
	ctl(t, "status", "acme");

	th_step("A real Nagios 4 core with nagios/ctteams.cfg; the check plugins, all healthy");
	nagios.notify = true;
	th_check(th_nagios_configure(&nagios, CT_NAGIOS_CFG, TA_PLUGINS, t->msock) == 0,
		 "Nagios is configured");
	/* the shipped acknowledgement command, with this build's ctteamsctl */
	if (asprintf(&path, "%s/ctteams.cfg", nagios.dir) < 0)
		abort();
	{
		char *to;
		if (asprintf(&to, "%s -S %s console-ack", TA_CTTEAMSCTL, t->msock) < 0)
			abort();
		ta_replace_in_file(
		    path, "/usr/bin/ctteamsctl -S /run/ctteams/ctteamsd-monitor.sock console-ack",
		    to);
		free(to);
	}
	free(path);
	th_check(th_nagios_start(&nagios) == 0, "Nagios starts");
	printf("   Nagios reads its command file %s; ctteamsd writes passive results there\n",
	       nagios.cmd);
	check(t, "check_ctteams_auth");
	check(t, "check_ctteams_subscription");
	check(t, "check_ctteams_secret");
	check(t, "check_ctteams_delivery");
	check(t, "check_ctteams_emergency");

	th_step("Someone dials 911 from Teams; Teams posts its notice to the service user");
	json_decref(th_sim(&t->gs, "POST", "/emergency",
			   json_pack("{s:s, s:[s], s:s, s:s}", "caller", t->caller, "members",
				     t->svc, "number", "911", "location",
				     "Building 4, 1 Main St, Springfield, IL 62701"),
			   NULL));
	th_check(th_wait_until(trap_arrived, "ctTeamsEmergencyCall", 30),
		 "the trap reaches snmptrapd");
	show_trap("ctTeamsEmergencyCall");
	walk("CT-TEAMS-MIB::ctTeamsEventTable");
	ctl(t, "events", "acme");
	th_check(th_wait_until(nagios_shows, "EMERGENCY CALL", 30),
		 "the passive result reaches Nagios");
	printf("   the passive result, in Nagios before any check ran:\n");
	show_nagios("ctteams-emergency-acme");
	check(t, "check_ctteams_emergency");

	th_step("The NOC sends people to Building 4, then acknowledges the call in Nagios;\n"
		"   Nagios tells ctteamsd (ctteamsctl console-ack), and everything follows");
	{
		char *cmd;
		if (asprintf(&cmd,
			     "[%ld] ACKNOWLEDGE_SVC_PROBLEM;ctteams;ctteams-emergency-acme;2;1;0;"
			     "night desk;security on the way\n",
			     (long)time(NULL)) < 0)
			abort();
		th_check(th_nagios_command(&nagios, cmd) == 0, "the acknowledgement is written");
		free(cmd);
	}
	th_check(th_wait_until(trap_arrived, "ctTeamsEmergencyAcknowledged", 30),
		 "the acknowledgement is trapped");
	show_trap("ctTeamsEmergencyAcknowledged");
	ctl(t, "events", "acme");
	th_check(th_wait_until(nagios_shows, "current_state=0", 30),
		 "the emergency service is OK again");
	show_nagios("ctteams-emergency-acme");
	check(t, "check_ctteams_emergency");

	th_step("Time runs fast here: access tokens live 4 s, not an hour; ctteamsd refreshes\n"
		"   each one ahead of its expiry, and Entra rotates the refresh token every time");
	struct chain c = {t, ta_last_request_seq(t), 4};
	th_check(th_wait_until(refreshes, &c, 40), "refreshes happen");
	json_t *r = ta_requests(t, c.since, "refresh_token");
	for (size_t i = 0; i < json_array_size(r); i++)
		printf("   token endpoint: %s\n", ta_str(json_array_get(r, i), "note"));
	json_decref(r);
	printf("   each refresh uses the refresh token the previous one issued\n");

	th_step("An administrator revokes the service user's sessions in Entra");
	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	json_decref(th_sim(&t->gs, "POST", path, NULL, NULL));
	free(path);
	th_check(ta_wait_auth(t, "acme", "reauth_required", 30), "the failure is noticed");
	printf("   without ctteams, 911 notices would now stop without a sound. Instead:\n");
	th_check(th_wait_until(trap_arrived, "ctTeamsSignInLost", 30), "the alarm is trapped");
	show_trap("ctTeamsSignInLost");
	walk("CT-TEAMS-MIB::ctTeamsAlarmTable");
	ctl(t, "alarms", NULL);
	check(t, "check_ctteams_auth");

	th_step("The administrator signs in again, as the status says");
	th_check(ta_signin(t, "acme", NULL) == 200, "sign-in completes");
	th_check(ta_wait_auth(t, "acme", "valid", 10), "valid again");
	th_check(th_wait_until(trap_arrived, "ctTeamsSignInRestored", 30), "the clear is trapped");
	show_trap("ctTeamsSignInRestored");
	ctl(t, "status", "acme");

	th_step("Stop everything the demo started");
	{
		int rc = ta_teardown((void **)&t);
		demo_ta = NULL;
		th_snmp_stop(&snmp);
		th_nagios_free(&nagios);
		printf(
		    "\ndemo complete: ctteamsd, graphsim, snmpd, snmptrapd and Nagios stopped.\n");
		return rc == 0 ? 0 : 1;
	}
}
