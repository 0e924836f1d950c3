/*
 * The pair demo (scripts/demo-pair): two real ctteamsd sharing a real
 * PostgreSQL database behind one address, against the bundled Microsoft
 * cloud simulator. The active agent is killed and a 911 call comes at
 * once: it arrives, once. Exits non-zero if any step does not behave, so
 * it doubles as a test.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta.h"

static struct th_pg pg;
static struct ta_pair pair;
static struct ta *demo_ta;
static bool paired;

static void
cleanup(void)
{
	if (paired)
		ta_pair_free(&pair);
	paired = false;
	if (demo_ta)
		ta_teardown((void **)&demo_ta);
	demo_ta = NULL;
	th_pg_stop(&pg);
}

static void
ctl(struct ta *t, const char *who, const char *cmd, const char *org)
{
	const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, cmd, org, NULL};
	char *out = NULL;

	printf("   %s$ ctteamsctl %s%s%s\n", who, cmd, org ? " " : "", org ? org : "");
	th_run(argv, &out, NULL);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		printf("   %s\n", line);
	free(out);
	fflush(stdout);
}

static void
role(struct ta *t, const char *who)
{
	char *r = ta_role(t);

	printf("   %s: %s\n", who, *r ? r : "(not answering)");
	free(r);
	fflush(stdout);
}

struct call {
	char *chat;
	json_t *events;
};

static bool
raised(void *arg)
{
	struct call *c = arg;
	json_t *ev = ta_pair_events(&pair), *e;
	size_t i;

	json_decref(c->events);
	c->events = json_array();
	json_array_foreach (ev, i, e)
		if (!strcmp(ta_str(e, "chat_id") ? ta_str(e, "chat_id") : "", c->chat))
			json_array_append(c->events, e);
	json_decref(ev);
	return json_array_size(c->events) > 0;
}

static bool
trapped(void *arg)
{
	char *traps = ta_pair_traps(&pair);
	bool ok = traps && strstr(traps, arg);

	free(traps);
	return ok;
}

int
main(void)
{
	struct ta *t = NULL;
	struct call c = {NULL, NULL};
	char want[64], *traps;
	long status = 0;
	json_t *m;

	printf("ctteams pair demo: two agents share one PostgreSQL database behind one address.\n"
	       "The active one is killed; a 911 call comes at that moment; the other takes over\n"
	       "and the notice reaches the trap console once. PostgreSQL, snmpd and snmptrapd are\n"
	       "the real ones; Microsoft's cloud is simulated by graphsim.\n");
	atexit(cleanup);

	th_step("Start PostgreSQL (a cluster of the demo's own, TLS, password in a file)");
	th_check(th_pg_start(&pg) == 0, "PostgreSQL starts");
	printf("   postgresql://ctteams@127.0.0.1:%d (sslmode=verify-full)\n", pg.port);

	th_step("Start the simulated cloud, then two agents, alpha and beta, with their own\n"
		"   snmpd and snmptrapd, behind a load balancer at one address");
	th_check(ta_setup((void **)&t, NULL) == 0, "graphsim starts");
	demo_ta = t;
	paired = true;
	ta_pair_up(&pair, t, &pg, "demo", true, NULL);
	printf("   the address Graph and the browser use: %s\n", t->base);
	role(t, "alpha");
	role(&pair.b, "beta");

	th_step("Sign in once, on the active agent; it subscribes in Graph");
	th_check(ta_signin(t, "acme", NULL) == 200, "sign-in completes");
	th_check(th_wait_until(ta_sub_active, t, 30), "the subscription is active");
	ctl(t, "alpha", "status", "acme");
	printf("   beta reads the same sign-in from the database (at its next beat):\n");
	th_check(ta_wait_auth(&pair.b, "acme", "valid", 20), "beta shows the sign-in");
	ctl(&pair.b, "beta", "status", "acme");

	th_step(
	    "From now on the balancer sends webhooks to both agents in turn.\n"
	    "   The active agent, alpha, is killed (SIGKILL); at that moment someone dials 911");
	th_proxy_mode(pair.lb, true);
	ta_kill(t);
	m = th_sim(&t->gs, "POST", "/emergency",
		   json_pack("{s:s, s:[s], s:s, s:s}", "caller", t->caller, "members", t->svc,
			     "number", "911", "location", "Gebäude 4, 1 Main St, Springfield 🚑"),
		   &status);
	th_check(status == 201, "Teams posts the notice");
	c.chat = strdup(ta_str(m, "chat_id"));
	json_decref(m);

	th_step("beta finds the lease run out, takes the duties over, and raises the event");
	ta_wait_role(&pair.b, "active", 30);
	role(&pair.b, "beta");
	th_check(th_wait_until(raised, &c, 60), "the notice is an event");
	snprintf(want, sizeof(want), "ctTeamsEventNumber.%ld ",
		 (long)json_integer_value(json_object_get(json_array_get(c.events, 0), "id")));
	th_check(th_wait_until(trapped, want, 30), "the trap reaches snmptrapd");
	ctl(&pair.b, "beta", "events", "acme");

	th_step("alpha comes back, as the standby: beta keeps the duties");
	th_check(ta_restart(t) == 0, "alpha starts again");
	ta_wait_role(t, "standby", 30);
	role(t, "alpha");
	role(&pair.b, "beta");

	th_step("Once: one event for the call, one trap for it, across both snmptrapd");
	th_check(json_array_size(c.events) == 1, "one event");
	traps = ta_pair_traps(&pair);
	printf("   traps for the call: %d\n", ta_count_in(traps, want));
	th_check(ta_count_in(traps, want) == 1, "one trap");
	free(traps);

	th_step("Stop everything the demo started");
	ta_pair_down(&pair);
	paired = false;
	{
		int rc = ta_teardown((void **)&t);
		demo_ta = NULL;
		th_pg_stop(&pg);
		free(c.chat);
		json_decref(c.events);
		printf("\npair demo complete: both ctteamsd, graphsim, PostgreSQL, snmpd and "
		       "snmptrapd stopped.\n");
		return rc == 0 ? 0 : 1;
	}
}
