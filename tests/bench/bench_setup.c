/*
 * Benchmark set-up (not a test): graphsim and a signed-in ctteamsd with an
 * active subscription, then the facts a load generator needs, written to
 * the file named on the command line: the agent's webhook URL, its pid,
 * and the directory of valid notification bodies (basic, rich, a batch of
 * ten). Stays up until SIGTERM or SIGINT.
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

/* One item for the live subscription, for a message that does not exist:
 * intake, inbox, then processing fails on its own (a read answered 404,
 * or a rich payload whose token does not verify); the intake is what is
 * measured. */
static json_t *
item(json_t *sub, int n, bool rich)
{
	char res[128], id[32];
	json_t *it;

	snprintf(id, sizeof(id), "%d", n);
	snprintf(res, sizeof(res), "chats('19:bench%d@thread.v2')/messages('%d')", n, n);
	it = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "id", id, "subscriptionId",
		       json_string_value(json_object_get(sub, "id")), "changeType", "created",
		       "clientState", json_string_value(json_object_get(sub, "clientState")),
		       "tenantId", TA_TENANT, "resource", res, "resourceData", "id", id);
	if (rich) {
		/* the sizes of Graph's: a 2 KB payload, an RSA-2048 key */
		char data[2732], key[345], sig[45];
		memset(data, 'A', sizeof(data) - 1);
		memset(key, 'B', sizeof(key) - 1);
		memset(sig, 'C', sizeof(sig) - 1);
		data[sizeof(data) - 1] = key[sizeof(key) - 1] = sig[sizeof(sig) - 1] = '\0';
		json_object_set_new(it, "encryptedContent",
				    json_pack("{s:s, s:s, s:s, s:s, s:s}", "data", data, "dataKey",
					      key, "dataSignature", sig, "encryptionCertificateId",
					      "bench", "encryptionCertificateThumbprint",
					      "0123456789ABCDEF0123456789ABCDEF01234567"));
	}
	return it;
}

static void
body_file(const char *dir, const char *name, json_t *value, bool tokens)
{
	char path[4096];
	json_t *body = json_pack("{s:o}", "value", value);
	FILE *f;

	if (tokens) {
		char jwt[1201];
		memset(jwt, 'D', sizeof(jwt) - 1);
		jwt[sizeof(jwt) - 1] = '\0';
		json_object_set_new(body, "validationTokens", json_pack("[s]", jwt));
	}
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	f = fopen(path, "w");
	json_dumpf(body, f, JSON_COMPACT);
	fclose(f);
	json_decref(body);
}

/* basic.json, rich.json and batch.json (ten basic items) in dir. */
static void
bodies(const char *dir, json_t *sub)
{
	json_t *batch = json_array();

	body_file(dir, "basic", json_pack("[o]", item(sub, 1, false)), false);
	body_file(dir, "rich", json_pack("[o]", item(sub, 1, true)), true);
	for (int i = 0; i < 10; i++)
		json_array_append_new(batch, item(sub, i, false));
	body_file(dir, "batch", batch, false);
}

int
main(int argc, char **argv)
{
	struct ta *t = NULL;
	json_t *subs, *v, *sub = NULL;
	const char *dir;
	size_t i;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_setup OUT-FILE rich|basic BODY-DIR\n");
		return 2;
	}
	dir = argv[3];
	if (ta_setup((void **)&t, NULL) < 0 ||
	    /* wrk's connections all come from one address */
	    ta_start(t, "log_level = warning\nmax_connections_per_address = 0",
		     !strcmp(argv[2], "basic") ? "rich_notifications = no" : NULL) < 0 ||
	    ta_signin(t, "acme", NULL) != 200 || !th_wait_until(active, t, 20)) {
		fprintf(stderr, "bench_setup: could not get a subscription going\n");
		return 1;
	}
	subs = th_sim(&t->gs, "GET", "/subscriptions", NULL, NULL);
	json_array_foreach (json_object_get(subs, "value"), i, v)
		if (json_is_true(json_object_get(v, "live")))
			sub = v;
	bodies(dir, sub);
	f = fopen(argv[1], "w");
	/* shell syntax, sourced by scripts/bench: no JSON in it */
	fprintf(f, "URL=%s/api/org/acme/ms-teams/notify\nPID=%d\nMSOCK=%s\nBODIES=%s\n", t->base,
		(int)t->pid, t->msock, dir);
	fclose(f);
	json_decref(subs);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop)
		pause();
	return ta_teardown((void **)&t) == 0 ? 0 : 1;
}
