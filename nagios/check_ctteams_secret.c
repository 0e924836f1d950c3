/*
 * check_ctteams_secret: what expires on a date. Days left of each org's
 * client secret (client_secret_expires in the agent's configuration) and
 * of the encryption certificate for rich notifications, against -w/-c;
 * and the agent's alarms clientSecretExpiring and encryptionCertificate.
 */
#include <stdio.h>
#include <string.h>

#include "np.h"

static const struct np_args args = {
    .help = "Checks the days left of each org's client secret and of the agent's\n"
	    "encryption certificate for rich notifications (-w/-c, in days), and the\n"
	    "agent's alarms clientSecretExpiring and encryptionCertificate. Given -w or\n"
	    "-c, they decide the secret's state, not the agent's alarm (raised at 30\n"
	    "days, critical at 7).",
    .warn = "30:",
    .crit = "7:",
    .thresholded = "clientSecretExpiring",
};

static void
days_left(struct np *np, const char *what, const char *label, const json_t *days, const char *date)
{
	enum np_state st;
	double d;

	if (!json_is_integer(days)) {
		np_line(np, "%s: no expiry date known", what);
		return;
	}
	d = (double)json_integer_value(days);
	st = np_threshold(np, d);
	np_worse(np, st);
	if (st != NP_OK)
		np_say(np, "%s expires in %.0f day(s)", what, d);
	np_perf_add(&np->perf, label, d, "", &np->warn, &np->crit, NULL, NULL);
	np_line(np, "%s: expires %s, %.0f day(s) left", what, date ? date : "?", d);
}

int
main(int argc, char **argv)
{
	struct np np;
	json_t *status, *orgs, *o, *cert;
	char what[128], label[128];
	size_t i;

	np_start(&np, "check_ctteams_secret", "SECRET", argc, argv, &args);
	status = np_query(&np, json_pack("{s:s}", "cmd", "status"));
	orgs = np_orgs(&np, status);
	np_alarms(&np, status, "secret");
	json_array_foreach (orgs, i, o) {
		snprintf(what, sizeof(what), "%s client secret", np_str(o, "org"));
		snprintf(label, sizeof(label), "secret_days_left_%s", np_str(o, "org"));
		days_left(&np, what, label, json_object_get(o, "client_secret_days_left"),
			  np_str(o, "client_secret_expires"));
	}
	cert = json_object_get(json_object_get(status, "agent"), "encryption_certificate");
	if (json_is_object(cert))
		days_left(&np, "encryption certificate", "certificate_days_left",
			  json_object_get(cert, "days_left"), np_str(cert, "expires"));
	if (np.state == NP_OK)
		np_say(&np, "nothing expires within the warning range");
	json_decref(orgs);
	json_decref(status);
	np_finish(&np);
}
