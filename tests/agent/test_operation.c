/*
 * ctteamsd in operation: the TLS listener, several orgs kept independent
 * (one on another cloud's endpoints), and reloading the configuration.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

/* A HEAD with curl's SSLVERSION (range) and, if given, OpenSSL's cipher
 * list; returns curl's code. */
static CURLcode
tls_get(const char *url, const char *ca, long version, const char *ciphers, long *ret_status)
{
	CURL *c = curl_easy_init();
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, version);
	if (ciphers)
		curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
	rc = curl_easy_perform(c);
	*ret_status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
	curl_easy_cleanup(c);
	return rc;
}

#define MODERN (long)CURL_SSLVERSION_TLSv1_2
#define OLD    (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1)
#define TLS12  (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2)
/* OpenSSL's default level would refuse 1.1 itself */
#define OLD_SUITES "DEFAULT@SECLEVEL=0"

static void
test_tls_listener_refuses_old_versions(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("tls"), *cert, *key, *extra, *url, *gs_url;
	long status;

	th_selfsigned(dir, &cert, &key);
	if (asprintf(&extra, "tls_cert = %s\ntls_key = %s", cert, key) < 0 ||
	    asprintf(&url, "https://127.0.0.1:%d/nothing", t->port) < 0 ||
	    asprintf(&gs_url, "%s/_sim/health", t->gs.base) < 0)
		abort();
	assert_int_equal(ta_start(t, extra, NULL), 0);
	assert_int_equal(tls_get(url, cert, MODERN, NULL, &status), CURLE_OK);
	assert_int_equal(status, 404);
	/* the same old-protocol client does reach a server that allows it */
	assert_int_equal(tls_get(gs_url, t->gs.ca, OLD, OLD_SUITES, &status), CURLE_OK);
	/* but not ctteamsd */
	assert_int_not_equal(tls_get(url, cert, OLD, OLD_SUITES, &status), CURLE_OK);
	/* TLS 1.2: forward secrecy and AEAD only (the key is ECDSA) */
	assert_int_equal(tls_get(url, cert, TLS12, "ECDHE-ECDSA-AES128-GCM-SHA256", &status),
			 CURLE_OK);
	assert_int_equal(tls_get(url, cert, TLS12, "ECDHE-ECDSA-CHACHA20-POLY1305", &status),
			 CURLE_OK);
	assert_int_not_equal(tls_get(url, cert, TLS12, "ECDHE-ECDSA-AES128-SHA", &status),
			     CURLE_OK);
	assert_int_not_equal(tls_get(url, cert, TLS12, "ECDHE-ECDSA-AES256-SHA384", &status),
			     CURLE_OK);
	assert_int_not_equal(tls_get(url, cert, TLS12, "AES128-GCM-SHA256", &status), CURLE_OK);
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
	free(cert);
	free(key);
	free(extra);
	free(url);
	free(gs_url);
}

static void
test_orgs_are_independent(void **state)
{
	struct ta *t = *state;
	struct th_graphsim gov;
	char *redirect, *extra, *ca, *link;
	const char *beta_tenant = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
	const char *beta_client = "11112222-3333-4444-8555-666677778888";
	struct th_resp r;
	long status;

	/* a second cloud, as for US Government tenants */
	assert_int_equal(
	    th_graphsim_start(&gov, (const char *const[]){"--access-token-lifetime=3s", NULL}), 0);
	free(th_sim_user(&gov, beta_tenant, "svc-beta@beta.example", "Beta Desk"));
	if (asprintf(&redirect, "%s/api/org/beta/ms-teams/callback", t->base) < 0)
		abort();
	json_decref(
	    th_sim(&gov, "POST", "/apps",
		   json_pack("{s:s, s:s, s:s, s:[s]}", "tenant", beta_tenant, "client_id",
			     beta_client, "client_secret", TA_SECRET, "redirect_uris", redirect),
		   &status));
	assert_int_equal(status, 201);
	/* ca_file holds both clouds' anchors */
	char *a = th_read_file(t->gs.ca), *b = th_read_file(gov.ca);
	if (asprintf(&ca, "%s/both-ca.pem", gov.dir) < 0)
		abort();
	FILE *f = fopen(ca, "w");
	fprintf(f, "%s%s", a, b);
	fclose(f);
	free(a);
	free(b);
	t->ca_file = ca;

	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s}", "access_token_lifetime", "3s"), NULL));
	/* beta's secret file: the same secret, written beside graphsim's */
	char *beta_secret;
	if (asprintf(&beta_secret, "%s/beta-secret", gov.dir) < 0)
		abort();
	f = fopen(beta_secret, "w");
	fprintf(f, "%s\n", TA_SECRET);
	fclose(f);
	chmod(beta_secret, 0600);
	if (asprintf(&extra,
		     "\n[org beta]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n"
		     "service_user = svc-beta@beta.example\nauthority_host = %s\n"
		     "graph_endpoint = %s\n",
		     beta_tenant, beta_client, beta_secret, gov.base, gov.base) < 0)
		abort();
	assert_int_equal(ta_start(t, "refresh_margin = 1s", extra), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	link = ta_link(t, "beta");
	assert_int_equal(th_browse(link, ca, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	assert_true(ta_wait_auth(t, "beta", "valid", 5));

	/* beta's token endpoint hangs, then fails; acme refreshes on time */
	json_decref(th_sim(&gov, "POST", "/faults",
			   json_pack("{s:s, s:s, s:i, s:i}", "path", "/", "method", "POST",
				     "delay_ms", 6000, "count", 1),
			   NULL));
	json_decref(th_sim(&gov, "POST", "/faults",
			   json_pack("{s:s, s:s, s:i, s:i}", "path", "/", "method", "POST",
				     "status", 503, "count", 50),
			   NULL));
	assert_true(ta_wait_requests(t, ta_last_request_seq(t), "refresh_token", 4, 30));
	assert_true(ta_wait_auth(t, "beta", "degraded", 30));
	json_t *o = ta_org_status(t, "acme");
	assert_string_equal(ta_str(o, "auth_state"), "valid");
	json_decref(o);
	assert_int_equal(ta_stop(t), 0);
	t->ca_file = NULL;
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s}", "access_token_lifetime", "3599s"), NULL));
	assert_int_equal(th_graphsim_stop(&gov), 0);
	free(ca);
	free(beta_secret);
	free(extra);
	free(redirect);
	free(link);
}

static void
append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	fputs(text, f);
	fclose(f);
}

static bool
log_says(struct ta *t, const char *what)
{
	char *log = th_read_file(t->log);
	bool hit = log && strstr(log, what);

	free(log);
	return hit;
}

struct log_wait {
	struct ta *t;
	const char *what;
};

static bool
log_has(void *arg)
{
	struct log_wait *w = arg;

	return log_says(w->t, w->what);
}

static void
test_reload(void **state)
{
	struct ta *t = *state;
	char *original, *gamma;
	json_t *st;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	original = th_read_file(t->conf);

	/* a broken file: refused, and the daemon carries on as it was */
	append(t->conf, "\n[org gamma]\nbogus = 1\n");
	kill(t->pid, SIGHUP);
	struct log_wait w = {t, "reload refused"};
	assert_true(th_wait_until(log_has, &w, 10));
	assert_true(log_says(t, "unknown key 'bogus'"));
	st = ta_ctl(t, "status", NULL);
	assert_int_equal(json_array_size(json_object_get(st, "orgs")), 1);
	json_decref(st);

	/* a good one: the new org appears, acme keeps its sign-in */
	FILE *f = fopen(t->conf, "w");
	fputs(original, f);
	fclose(f);
	if (asprintf(&gamma,
		     "\n[org gamma]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = "
		     "%s/client-secret\nservice_user = other@contoso.example\n",
		     TA_TENANT, TA_CLIENT, t->dir) < 0)
		abort();
	append(t->conf, gamma);
	kill(t->pid, SIGHUP);
	w.what = "configuration reloaded: 2 org(s)";
	assert_true(th_wait_until(log_has, &w, 10));
	json_t *a = ta_org_status(t, "acme"), *g = ta_org_status(t, "gamma");
	assert_string_equal(ta_str(a, "auth_state"), "valid");
	assert_string_equal(ta_str(g, "auth_state"), "not_signed_in");
	json_decref(a);
	json_decref(g);
	assert_int_equal(ta_stop(t), 0);
	free(original);
	free(gamma);
}

static bool
no_sim_sub(void *arg)
{
	json_t *s = ta_sim_sub(arg);
	bool none = s == NULL;

	json_decref(s);
	return none;
}

static long
org_int(struct ta *t, const char *org, const char *key)
{
	json_t *o = ta_org_status(t, org);
	long v = o ? (long)json_integer_value(json_object_get(o, key)) : -1;

	json_decref(o);
	return v;
}

static bool
read_in_flight(void *arg)
{
	return org_int(arg, "acme", "reads_in_flight") == 1;
}

struct get_wait {
	struct ta *t;
	long since;
	const char *prefix;
};

/* graphsim has answered a GET under prefix since seq */
static bool
get_answered(void *arg)
{
	struct get_wait *w = arg;
	json_t *r = ta_requests(w->t, w->since, NULL), *e;
	bool hit = false;
	size_t i;

	json_array_foreach (r, i, e)
		hit |= !strcmp(ta_str(e, "method"), "GET") &&
		       !strncmp(ta_str(e, "path"), w->prefix, strlen(w->prefix));
	json_decref(r);
	return hit;
}

struct new_line {
	struct ta *t;
	size_t seen; /* the log's length before */
	const char *what;
};

static bool
logged_since(void *arg)
{
	struct new_line *w = arg;
	char *log = th_read_file(w->t->log);
	bool hit = log && strlen(log) > w->seen && strstr(log + w->seen, w->what);

	free(log);
	return hit;
}

/* Edits the configuration, reloads, and waits for a new log line. */
static void
reload_and_wait(struct ta *t, const char *from, const char *to, const char *logged)
{
	char *before = th_read_file(t->log);
	struct new_line w = {t, before ? strlen(before) : 0, logged};

	free(before);
	ta_replace_in_file(t->conf, from, to);
	kill(t->pid, SIGHUP);
	if (!th_wait_until(logged_since, &w, 10))
		fail_msg("the reload did not log '%s'", logged);
}

static char *
match(struct ta *t, const char *text)
{
	char *dir = th_tmpdir("match"), *path, *out = NULL;
	FILE *f;

	if (asprintf(&path, "%s/m.json", dir) < 0)
		abort();
	f = fopen(path, "w");
	fprintf(f,
		"{\"id\":\"1\",\"chatId\":\"19:a@thread.v2\",\"messageType\":\"message\","
		"\"importance\":\"high\",\"body\":{\"contentType\":\"text\",\"content\":\"%s\"}}",
		text);
	fclose(f);
	const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, "test-match", path, "acme", NULL};
	th_run(argv, &out, NULL);
	th_rmtree(dir);
	free(dir);
	free(path);
	return out;
}

/* One reload path for everything of an org: an org that stays keeps its
 * sign-in and subscription and takes its new rules; an org removed while
 * a read of it is under way is freed safely (the answer finds no org);
 * added back, it is the same org, and processes what it had acknowledged;
 * a new tenant drops its tokens. */
static void
test_reload_org_parts(void **state)
{
	struct ta *t = *state;
	struct get_wait g = {t, 0, "/v1.0/chats/"};
	char *out, *sub_id, *tenant;
	json_t *sub;

	assert_int_equal(ta_start(t, NULL,
				  "rich_notifications = no\n"
				  "emergency_phrases = has placed an Emergency Call"),
			 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	sub = ta_sub_status(t);
	sub_id = strdup(ta_str(sub, "id"));
	json_decref(sub);

	/* new rules, same org: the subscription stays, the rules apply */
	out = match(t, "Code Blue in room 4");
	/* important, and no rule knows it */
	assert_non_null(strstr(out, "verdict: unrecognised"));
	free(out);
	reload_and_wait(t, "emergency_phrases = has placed an Emergency Call",
			"emergency_phrases = has placed an Emergency Call|Code Blue",
			"configuration reloaded");
	out = match(t, "Code Blue in room 4");
	assert_non_null(strstr(out, "verdict: emergency"));
	free(out);
	sub = ta_sub_status(t);
	assert_string_equal(ta_str(sub, "id"), sub_id);
	assert_string_equal(ta_str(sub, "state"), "active");
	json_decref(sub);

	/* the org goes while Graph is slow to answer a read of it */
	g.since = ta_last_request_seq(t);
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/chats/", "method", "GET",
			    "count", 1, "delay_ms", 6000));
	ta_emergency(t);
	assert_true(th_wait_until(read_in_flight, t, 20));
	reload_and_wait(t, "[org acme]", "[org zulu]", "org acme: removed from the configuration");
	assert_false(get_answered(&g)); /* the read is still under way */
	/* the answer finds its org gone: the agent is whole, and the
	 * notification waits in the inbox */
	struct new_line gone = {t, 0, "its org left the configuration while Graph answered"};
	assert_true(th_wait_until(logged_since, &gone, 20));
	assert_int_equal(org_int(t, "zulu", "index") > 0, 1);
	assert_null(ta_org_status(t, "acme"));

	/* back under its own name: its index, tokens and subscription */
	reload_and_wait(t, "[org zulu]", "[org acme]", "configuration reloaded");
	assert_int_equal(org_int(t, "acme", "index"), 1);
	assert_true(ta_wait_auth(t, "acme", "valid", 10));
	assert_true(th_wait_until(ta_sub_active, t, 20));
	/* the notice it had acknowledged waited in the inbox: not lost, and
	 * raised once */
	struct ta_ev_wait ew = {t, 1};
	assert_true(th_wait_until(ta_enough_events, &ew, 20));
	json_t *ev = ta_events(t);
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);

	/* another tenant: the old one's tokens are of no use */
	if (asprintf(&tenant, "tenant_id = %s", TA_TENANT) < 0)
		abort();
	reload_and_wait(t, tenant, "tenant_id = 00000000-0000-4000-8000-000000000001",
			"tenant_id, client_id or service_user changed");
	assert_true(ta_wait_auth(t, "acme", "not_signed_in", 10));
	assert_int_equal(org_int(t, "acme", "index"), 1);
	/* the old tenant's subscription was deleted at Graph */
	assert_true(th_wait_until(no_sim_sub, t, 10));
	assert_int_equal(ta_stop(t), 0);
	free(tenant);
	free(sub_id);
}

static bool
all_not_signed_in(void *t)
{
	json_t *j = ta_ctl(t, "alarms", NULL);
	bool ok = json_array_size(json_object_get(j, "alarms")) >= 1001;

	json_decref(j);
	return ok;
}

/* A thousand orgs, none signed in, the inbox empty: the agent sleeps
 * between its timers. It spun at a whole core when one turn of the
 * processing over every org took longer than a turn may (the speed itself
 * is measured by scripts/bench-idle; this is the spin). */
static void
test_many_idle_orgs(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("orgs"), *secret, *orgs = calloc(1000, 400), *at = orgs;
	double cpu0, cpu1, t0;

	if (asprintf(&secret, "%s/secret", dir) < 0)
		abort();
	assert_int_equal(th_write_file(secret, TA_SECRET "\n"), 0);
	chmod(secret, 0600);
	for (int i = 1; i <= 1000; i++)
		at +=
		    sprintf(at,
			    "\n[org o%d]\ntenant_id = 8f0d3f8e-1c4e-4a51-9a2f-%012d\n"
			    "client_id = %s\nclient_secret_file = %s\n"
			    "client_secret_expires = 2099-01-01\nservice_user = svc@o%d.example\n",
			    i, i, TA_CLIENT, secret, i);
	assert_int_equal(ta_start(t, "log_level = warning", orgs), 0);
	assert_true(th_wait_until(all_not_signed_in, t, 180));
	cpu0 = ta_cpu_seconds(t->pid);
	t0 = th_now();
	while (th_now() - t0 < 3)
		usleep(100000);
	cpu1 = ta_cpu_seconds(t->pid);
	print_message("1,000 idle orgs: %.2f s of CPU in 3 s\n", cpu1 - cpu0);
	assert_true(cpu1 - cpu0 < 0.5);
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
	free(secret);
	free(orgs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_tls_listener_refuses_old_versions, ta_test_teardown),
	    cmocka_unit_test_teardown(test_orgs_are_independent, ta_test_teardown),
	    cmocka_unit_test_teardown(test_reload, ta_test_teardown),
	    cmocka_unit_test_teardown(test_many_idle_orgs, ta_test_teardown),
	    cmocka_unit_test_teardown(test_reload_org_parts, ta_test_teardown),
	};

	return cmocka_run_group_tests_name("ctteamsd operation", tests, setup, ta_teardown);
}
