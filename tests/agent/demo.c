/*
 * The ctteams demo: the real ctteamsd and ctteamsctl against the bundled
 * Microsoft cloud simulator, narrated. It exits non-zero if any step does
 * not behave, so it doubles as a test.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	printf("ctteams demo: keeping a Teams service user signed in, and raising the alarm\n"
	       "when it cannot be. Microsoft's cloud is simulated by graphsim, over HTTPS.\n");

	th_step("Start the simulated cloud: a tenant, an app registration, the service user");
	th_check(ta_setup((void **)&t, (const char *const[]){"--access-token-lifetime=4s", NULL}) ==
		     0,
		 "graphsim starts");
	printf("   graphsim at %s\n", t->gs.base);

	th_step("Start ctteamsd with this configuration");
	th_check(ta_start(t, "refresh_margin = 2s", NULL) == 0, "ctteamsd starts");
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
	ctl(t, "status", NULL);

	th_step("The administrator signs in again, as the status says");
	th_check(ta_signin(t, "acme", NULL) == 200, "sign-in completes");
	th_check(ta_wait_auth(t, "acme", "valid", 10), "valid again");
	ctl(t, "status", "acme");

	printf("\ndemo complete: next come the Graph subscription, emergency events, and the\n"
	       "SNMP and Nagios/Icinga outputs that carry them to the NOC.\n");
	return ta_teardown((void **)&t) == 0 ? 0 : 1;
}
