/*
 * check_ctteams_auth: each org's sign-in. The verdict is the agent's
 * alarm table (notSignedIn, signInLost, clientSecretInvalid) and the time
 * since the last successful token refresh against -w/-c: tokens are
 * refreshed about hourly, so a last refresh hours ago means refreshing
 * has stopped working.
 */
#include <stdio.h>
#include <string.h>

#include "np.h"

static const struct np_args args = {
    .help = "Checks each org's sign-in to Microsoft Entra ID: the agent's sign-in alarms\n"
	    "(notSignedIn, signInLost, clientSecretInvalid), the seconds since the last\n"
	    "successful token refresh (-w/-c, in seconds) and the refresh failures in a row.",
    .warn = "7200",
    .crit = "14400",
};

static void
check_org(struct np *np, const json_t *o)
{
	const char *name = np_str(o, "org"), *state = np_str(o, "auth_state");
	json_int_t fails = json_integer_value(json_object_get(o, "consecutive_failures"));
	bool usable = state && (!strcmp(state, "valid") || !strcmp(state, "degraded"));
	char label[128], d[32];
	double age;

	if (usable && np_age(np_str(o, "last_refresh"), &age)) {
		enum np_state st = np_threshold(np, age);
		np_worse(np, st);
		if (st != NP_OK)
			np_say(np, "%s last refreshed %s ago", name,
			       np_duration(age, d, sizeof(d)));
		snprintf(label, sizeof(label), "refresh_age_%s", name);
		np_perf_add(&np->perf, label, age, "s", &np->warn, &np->crit, "0", NULL);
	}
	snprintf(label, sizeof(label), "refresh_failures_%s", name);
	np_perf_add(&np->perf, label, (double)fails, "", NULL, NULL, "0", NULL);
	np_line(np, "%s: %s%s%s, last refresh %s, %lld failure(s) in a row%s%s", name,
		state ? state : "?", np_str(o, "signed_in_user") ? " as " : "",
		np_str(o, "signed_in_user") ? np_str(o, "signed_in_user") : "",
		np_str(o, "last_refresh") ? np_str(o, "last_refresh") : "never", (long long)fails,
		np_str(o, "last_error") ? "; last error: " : "",
		np_str(o, "last_error") ? np_str(o, "last_error") : "");
}

int
main(int argc, char **argv)
{
	struct np np;

	np_start(&np, "check_ctteams_auth", "AUTH", argc, argv, &args);
	np_check_orgs(&np, "auth", check_org, "signed in, tokens refreshing");
}
