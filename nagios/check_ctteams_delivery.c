/*
 * check_ctteams_delivery: is Graph delivering? The agent's alarms of the
 * delivery check (deliveryGap, deadLetters, unrecognisedNotice,
 * reconcileFailing, throttled, storeTrouble, outputStuck, peerLost,
 * databaseUnreachable) make the verdict; notices
 * recovered by the reconcile, rejected notifications, dead letters,
 * unrecognised important messages and, with the canary on, the canary's
 * age are reported, the last against -w/-c.
 */
#include <stdio.h>
#include <string.h>

#include "np.h"

static const struct np_args args = {
    .help = "Checks that Microsoft Graph delivers the org's notifications: the agent's\n"
	    "alarms deliveryGap, deadLetters, unrecognisedNotice (an important message no\n"
	    "rule matched: the notice wording may have changed), reconcileFailing, throttled,\n"
	    "storeTrouble, outputStuck, peerLost and databaseUnreachable. Perfdata: notices\n"
	    "recovered by reading back, rejected notifications, dead letters, unrecognised\n"
	    "messages, and the delivery canary's age when the canary is on (-w/-c, in\n"
	    "seconds; no default).",
};

static long
rejected(const json_t *counters)
{
	const char *k;
	json_t *v;
	long n = 0;

	json_object_foreach ((json_t *)counters, k, v)
		if (!strncmp(k, "rejected_", 9))
			n += (long)json_integer_value(v);
	return n;
}

static void
perf(struct np *np, const char *org, const char *what, double v, const char *uom)
{
	char label[128];

	snprintf(label, sizeof(label), "%s_%s", what, org);
	np_perf_add(&np->perf, label, v, uom, NULL, NULL, "0", NULL);
}

static void
check_org(struct np *np, const json_t *o)
{
	const char *name = np_str(o, "org");
	const json_t *cnt = json_object_get(o, "counters"), *canary = json_object_get(o, "canary");
	double age;
	char label[128], d[32];

	perf(np, name, "recovered_by_poll",
	     (double)json_integer_value(json_object_get(cnt, "recovered_by_poll")), "c");
	perf(np, name, "rejected", (double)rejected(cnt), "c");
	perf(np, name, "dead_letters",
	     (double)json_integer_value(json_object_get(o, "dead_letters")), "");
	perf(np, name, "unrecognised",
	     (double)json_integer_value(json_object_get(cnt, "unrecognised")), "c");
	np_line(np, "%s: last notification %s, %lld recovered by reading back, %ld rejected", name,
		np_str(json_object_get(o, "subscription"), "last_notification")
		    ? np_str(json_object_get(o, "subscription"), "last_notification")
		    : "none yet",
		json_integer_value(json_object_get(cnt, "recovered_by_poll")), rejected(cnt));
	if (!json_is_object(canary))
		return;
	if (np_age(np_str(canary, "last_delivered"), &age)) {
		enum np_state st = np_threshold(np, age);
		np_worse(np, st);
		if (st != NP_OK)
			np_say(np, "%s canary last came back %s ago", name,
			       np_duration(age, d, sizeof(d)));
		snprintf(label, sizeof(label), "canary_age_%s", name);
		np_perf_add(&np->perf, label, age, "s", &np->warn, &np->crit, "0", NULL);
	}
	np_line(np, "%s: canary last sent %s, last back %s%s", name,
		np_str(canary, "last_sent") ? np_str(canary, "last_sent") : "never",
		np_str(canary, "last_delivered") ? np_str(canary, "last_delivered") : "never",
		json_is_true(json_object_get(canary, "missed")) ? ", MISSED" : "");
}

int
main(int argc, char **argv)
{
	struct np np;

	np_start(&np, "check_ctteams_delivery", "DELIVERY", argc, argv, &args);
	np_check_orgs(&np, "delivery", check_org, "Graph delivers");
}
