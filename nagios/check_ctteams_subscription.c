/*
 * check_ctteams_subscription: each org's Graph change-notification
 * subscription, which carries the 911 notices. CRITICAL when none is
 * active; the seconds until Graph deletes it against -w/-c (the agent
 * renews a day ahead, so less than that means renewing fails).
 */
#include <stdio.h>
#include <string.h>

#include "np.h"

static const struct np_args args = {
    .help = "Checks each org's Microsoft Graph subscription on the service user's chat\n"
	    "messages: CRITICAL when none is active (the agent's subscriptionLapsed alarm,\n"
	    "or no subscription), and the seconds until it expires (-w/-c, in seconds).",
    .warn = "43200:",
    .crit = "21600:",
};

static void
check_org(struct np *np, const json_t *o)
{
	const char *name = np_str(o, "org");
	const json_t *sub = json_object_get(o, "subscription");
	const char *state = np_str(sub, "state");
	bool active = state && (!strcmp(state, "active") || !strcmp(state, "renewing"));
	char label[128], d[32];

	if (!active) {
		np_worse(np, NP_CRITICAL);
		np_say(np, "%s has no active subscription (%s)", name, state ? state : "none");
		np_line(np, "%s: no active subscription: %s%s%s", name, state ? state : "none",
			np_str(sub, "last_error") ? ": " : "",
			np_str(sub, "last_error") ? np_str(sub, "last_error") : "");
		return;
	}
	double left = (double)json_integer_value(json_object_get(sub, "expires_in"));
	enum np_state st = np_threshold(np, left);
	np_worse(np, st);
	if (st != NP_OK)
		np_say(np, "%s subscription expires in %s", name, np_duration(left, d, sizeof(d)));
	snprintf(label, sizeof(label), "expires_in_%s", name);
	np_perf_add(&np->perf, label, left, "s", &np->warn, &np->crit, NULL, NULL);
	snprintf(label, sizeof(label), "notifications_%s", name);
	np_perf_add(
	    &np->perf, label,
	    (double)json_integer_value(json_object_get(json_object_get(o, "counters"), "received")),
	    "c", NULL, NULL, "0", NULL);
	np_line(np, "%s: %s %s, expires %s (in %s), last notification %s", name, state,
		np_str(sub, "id") ? np_str(sub, "id") : "", np_str(sub, "expires"),
		np_duration(left, d, sizeof(d)),
		np_str(sub, "last_notification") ? np_str(sub, "last_notification") : "none yet");
}

int
main(int argc, char **argv)
{
	struct np np;

	np_start(&np, "check_ctteams_subscription", "SUBSCRIPTION", argc, argv, &args);
	np_check_orgs(&np, "subscription", check_org, "subscription active");
}
