/*
 * Benchmark set-up (not a test): graphsim and a signed-in ctteamsd with an
 * active subscription, then the facts a load generator needs, written to
 * the file named on the command line: the agent's webhook URL and a valid
 * notification body. Stays up until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ta.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool
active(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	const char *st =
	    json_string_value(json_object_get(json_object_get(o, "subscription"), "state"));
	bool ok = st && !strcmp(st, "active");

	json_decref(o);
	return ok;
}

int
main(int argc, char **argv)
{
	struct ta *t = NULL;
	json_t *subs, *v, *sub = NULL, *body;
	size_t i;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_setup OUT-FILE rich|basic\n");
		return 2;
	}
	if (ta_setup((void **)&t, NULL) < 0 ||
	    ta_start(t, "log_level = warning",
		     !strcmp(argv[2], "basic") ? "rich_notifications = no" : NULL) < 0 ||
	    ta_signin(t, "acme", NULL) != 200 || !th_wait_until(active, t, 20)) {
		fprintf(stderr, "bench_setup: could not get a subscription going\n");
		return 1;
	}
	subs = th_sim(&t->gs, "GET", "/subscriptions", NULL, NULL);
	json_array_foreach (json_object_get(subs, "value"), i, v)
		if (json_is_true(json_object_get(v, "live")))
			sub = v;
	/* a notification for a message that does not exist: intake, inbox,
	 * one read from Graph (404), done; the full path but the detector */
	body = json_pack(
	    "{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}]}", "value", "id", "n", "subscriptionId",
	    json_string_value(json_object_get(sub, "id")), "changeType", "created", "clientState",
	    json_string_value(json_object_get(sub, "clientState")), "tenantId", TA_TENANT,
	    "resource", "chats('19:bench@thread.v2')/messages('1')", "resourceData", "id", "1");
	f = fopen(argv[1], "w");
	fprintf(f, "URL=%s/api/org/acme/ms-teams/notify\nPID=%d\nMSOCK=%s\nBODY='", t->base,
		(int)t->pid, t->msock);
	json_dumpf(body, f, JSON_COMPACT);
	fprintf(f, "'\n");
	fclose(f);
	json_decref(body);
	json_decref(subs);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop)
		pause();
	return ta_teardown((void **)&t) == 0 ? 0 : 1;
}
