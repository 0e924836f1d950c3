/*
 * check_ctteams_emergency: CRITICAL while any emergency call has not been
 * taken in hand (ctteamsctl ack EVENT, or the console's acknowledgement),
 * however old: an unanswered 911 never recovers by itself. A test call
 * (933) left unacknowledged is a WARNING. The window (-a) bounds only the
 * acknowledged calls the long output lists. The passive result the agent
 * submits on each event reaches Nagios at once; this active check keeps
 * the service CRITICAL until someone acknowledges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "np.h"

static double window = 3600;

static void
on_option(struct np *np, int c, const char *arg)
{
	char *end;

	if (c != 'a')
		return;
	window = strtod(arg, &end);
	if (*end || window <= 0)
		np_unknown(np, "-a: a number of seconds above 0");
}

static const struct option longopts[] = {{"age", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};

static const struct np_args args = {
    .usage = "[-a SECONDS]",
    .help = "Checks for emergency calls not yet acknowledged: CRITICAL while any emergency\n"
	    "event, however old, has not been acknowledged (ctteamsctl ack EVENT);\n"
	    "WARNING for an unacknowledged test call. -w/-c apply to the number of\n"
	    "unacknowledged emergencies (default -c 0: any).\n\n"
	    "  -a, --age SECONDS    how far back the long output lists acknowledged calls\n"
	    "                       (default 3600); never limits the open ones",
    .crit = "0",
    .longopts = longopts,
    .shortopts = "a:",
    .on_option = on_option,
};

int
main(int argc, char **argv)
{
	struct np np;
	json_t *req, *ans, *e, *status, *orgs, *o;
	long open = 0, open_tests = 0, recent = 0;
	char d[32];
	size_t i;

	np_start(&np, "check_ctteams_emergency", "EMERGENCY", argc, argv, &args);
	status = np_query(&np, json_pack("{s:s}", "cmd", "status"));
	orgs = np_orgs(&np, status); /* -O names an org the agent has */
	/* every unacknowledged emergency, however old and however many newer
	 * events there are (the newest few hundred alone could hide one) */
	req = json_pack("{s:s, s:b, s:f}", "cmd", "events", "open", 1, "since", 0.0);
	if (np.org)
		json_object_set_new(req, "org", json_string(np.org));
	ans = np_query(&np, req);
	json_array_foreach (json_object_get(ans, "events"), i, e) {
		double age;
		bool test = json_is_true(json_object_get(e, "test_call"));
		/* checked here too: an agent from before "open" answers with
		 * its newest events of every kind */
		if (strcmp(np_str(e, "kind") ? np_str(e, "kind") : "", "emergency") != 0 ||
		    json_is_true(json_object_get(e, "acked")))
			continue;
		if (!np_age(np_str(e, "raised"), &age))
			age = 0;
		test ? open_tests++ : open++;
		np_say(&np, "%s%s: %s dialled %s %s ago", test ? "test call " : "",
		       np_str(e, "org"), np_str(e, "caller") ? np_str(e, "caller") : "someone",
		       np_str(e, "number") ? np_str(e, "number") : "?",
		       np_duration(age, d, sizeof(d)));
		np_line(&np,
			"%s event %lld (%s): %s dialled %s from %s at %s, chat %s; "
			"acknowledge with: ctteamsctl ack %lld",
			test ? "TEST CALL" : "EMERGENCY",
			json_integer_value(json_object_get(e, "id")), np_str(e, "org"),
			np_str(e, "caller") ? np_str(e, "caller") : "someone",
			np_str(e, "number") ? np_str(e, "number") : "?",
			np_str(e, "location") ? np_str(e, "location") : "an unknown location",
			np_str(e, "created") ? np_str(e, "created") : np_str(e, "raised"),
			np_str(e, "chat_id"), json_integer_value(json_object_get(e, "id")));
	}
	json_decref(ans);
	/* the acknowledged ones of the window, for the long output */
	req = json_pack("{s:s, s:i}", "cmd", "events", "limit", 500);
	if (np.org)
		json_object_set_new(req, "org", json_string(np.org));
	ans = np_query(&np, req);
	json_array_foreach (json_object_get(ans, "events"), i, e) {
		double age;
		if (strcmp(np_str(e, "kind") ? np_str(e, "kind") : "", "emergency") != 0 ||
		    !np_age(np_str(e, "raised"), &age) || age > window)
			continue;
		recent++;
		if (json_is_true(json_object_get(e, "acked")))
			np_line(&np, "event %lld (%s): %s dialled %s, acknowledged by %s",
				json_integer_value(json_object_get(e, "id")), np_str(e, "org"),
				np_str(e, "caller"), np_str(e, "number"),
				np_str(e, "acked_by") ? np_str(e, "acked_by") : "?");
	}
	np_worse(&np, np_threshold(&np, (double)open));
	if (open_tests)
		np_worse(&np, NP_WARNING);
	if (np.state == NP_OK)
		np_say(&np, "no unacknowledged emergency call");
	np_perf_add(&np.perf, "unacknowledged", (double)open, "", &np.warn, &np.crit, "0", NULL);
	np_perf_add(&np.perf, "unacknowledged_test_calls", (double)open_tests, "", NULL, NULL, "0",
		    NULL);
	np_perf_add(&np.perf, "in_window", (double)recent, "", NULL, NULL, "0", NULL);
	json_array_foreach (orgs, i, o) {
		char label[128];
		snprintf(label, sizeof(label), "emergencies_%s", np_str(o, "org"));
		np_perf_add(&np.perf, label,
			    (double)json_integer_value(
				json_object_get(json_object_get(o, "counters"), "emergencies")),
			    "c", NULL, NULL, "0", NULL);
	}
	json_decref(ans);
	json_decref(orgs);
	json_decref(status);
	np_finish(&np);
}
