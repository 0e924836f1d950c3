/*
 * ctteamsd's sign-in and token lifecycle, end to end against graphsim over
 * HTTPS: the real daemon, its control socket, its listener, a browser's
 * redirects.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static void
sim_config(struct ta *t, json_t *cfg)
{
	long status;

	json_decref(th_sim(&t->gs, "POST", "/config", cfg, &status));
	assert_int_equal(status, 200);
}

static void
test_full_signin(void **state)
{
	struct ta *t = *state;
	char *page = NULL;
	json_t *o;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	o = ta_org_status(t, "acme");
	assert_string_equal(ta_str(o, "auth_state"), "not_signed_in");
	json_decref(o);

	assert_int_equal(ta_signin(t, "acme", &page), 200);
	assert_non_null(strstr(page, "Signed in"));
	free(page);
	o = ta_org_status(t, "acme");
	assert_string_equal(ta_str(o, "auth_state"), "valid");
	assert_string_equal(ta_str(o, "signed_in_user"), TA_UPN);
	assert_string_equal(ta_str(o, "user_id"), t->svc);
	assert_true(json_integer_value(json_object_get(o, "access_token_expires_in")) > 3000);
	assert_true(json_is_true(json_object_get(o, "has_refresh_token")));
	assert_non_null(ta_str(o, "last_refresh"));
	json_decref(o);

	/* what went to Entra: PKCE S256 and the exact redirect URI */
	json_t *reqs = ta_requests(t, 0, "authorization_code");
	assert_int_equal(json_array_size(reqs), 1);
	json_decref(reqs);

	/* ctteamsctl prints it for a person */
	const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, "status", NULL};
	char *out;
	assert_int_equal(th_run(argv, &out, NULL), 0);
	assert_non_null(strstr(out, "acme"));
	assert_non_null(strstr(out, "valid"));
	assert_non_null(strstr(out, "days left"));
	free(out);
	assert_int_equal(ta_stop(t), 0);
}

static int
note_num(json_t *req, const char *key)
{
	const char *p = strstr(ta_str(req, "note"), key);

	return p ? atoi(p + strlen(key)) : -1;
}

static bool
no_refresh_in_flight(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	bool idle = o && !json_is_true(json_object_get(o, "refresh_in_flight"));

	json_decref(o);
	return idle;
}

static void
test_refresh_chain_survives_sigkill(void **state)
{
	struct ta *t = *state;
	long since;
	json_t *r;
	int newest;

	/* an hour compressed into two seconds; refresh a second early */
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "2s"));
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	since = ta_last_request_seq(t);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(ta_wait_requests(t, since, "refresh_token", 6, 30));

	/* every refresh used the token the previous one issued */
	r = ta_requests(t, since, "refresh_token");
	for (size_t i = 0; i < json_array_size(r); i++) {
		json_t *e = json_array_get(r, i);
		assert_int_equal(json_integer_value(json_object_get(e, "status")), 200);
		assert_int_equal(note_num(e, "used="), (int)i + 1);
	}
	json_decref(r);

	/* kill it between refreshes; the newest refresh token is on disk */
	assert_true(th_wait_until(no_refresh_in_flight, t, 10));
	r = ta_requests(t, since, "refresh_token");
	newest = note_num(json_array_get(r, json_array_size(r) - 1), "issued=");
	json_decref(r);
	ta_kill(t);
	since = ta_last_request_seq(t);
	assert_int_equal(ta_restart(t), 0);
	assert_true(ta_wait_requests(t, since, "refresh_token", 1, 30));
	r = ta_requests(t, since, "refresh_token");
	json_t *first = json_array_get(r, 0);
	/* the kill may land while a refresh is answered and not yet stored;
	 * then the one before is used, which Entra still honours */
	assert_in_range(note_num(first, "used="), newest, newest + 1);
	assert_int_equal(json_integer_value(json_object_get(first, "status")), 200);
	json_decref(r);
	assert_true(ta_wait_auth(t, "acme", "valid", 10));
	assert_int_equal(ta_stop(t), 0);
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3599s"));
}

static void
test_revoked_refresh_token_needs_signin(void **state)
{
	struct ta *t = *state;
	char *path;
	long since;
	json_t *o, *r;

	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3s"));
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	since = ta_last_request_seq(t);
	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	json_decref(th_sim(&t->gs, "POST", path, NULL, NULL));
	free(path);
	assert_true(ta_wait_auth(t, "acme", "reauth_required", 20));
	o = ta_org_status(t, "acme");
	assert_non_null(strstr(ta_str(o, "last_error"), "AADSTS50173"));
	assert_non_null(strstr(ta_str(o, "last_error"), "ctteamsctl login acme"));
	assert_true(json_is_null(json_object_get(o, "next_refresh_in")));
	json_decref(o);
	/* one attempt, no retries: the grant is gone */
	r = ta_requests(t, since, "invalid_grant");
	assert_int_equal(json_array_size(r), 1);
	json_decref(r);

	/* survives a restart as reauth_required */
	assert_int_equal(ta_stop(t), 0);
	assert_int_equal(ta_restart(t), 0);
	o = ta_org_status(t, "acme");
	assert_string_equal(ta_str(o, "auth_state"), "reauth_required");
	json_decref(o);
	/* a new sign-in mends it */
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(ta_wait_auth(t, "acme", "valid", 5));
	assert_int_equal(ta_stop(t), 0);
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3599s"));
}

struct refresh_age {
	struct ta *t;
	double age;
};

/* The org's last refresh is at least w->age seconds old. */
static bool
refreshed_before(void *arg)
{
	struct refresh_age *w = arg;
	json_t *o = ta_org_status(w->t, "acme");
	const char *at = ta_str(o, "last_refresh");
	struct tm tm = {0};
	bool ok = at && strptime(at, "%Y-%m-%dT%H:%M:%S", &tm) &&
		  difftime(time(NULL), timegm(&tm)) >= w->age;

	json_decref(o);
	return ok;
}

/* An administrator revokes the service user's sessions while the access
 * token has most of an hour left: Graph says reauthorizationRequired, the
 * agent sends no PATCH (Graph's token is not near its end) but refreshes,
 * which fails, and the sign-in is lost at once, not an hour later. */
static void
test_revocation_notice_checks_signin(void **state)
{
	struct ta *t = *state;
	struct refresh_age w = {t, 31};
	char *path;
	long since;
	json_t *r;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	/* a refresh on the notice is made at most every 30 s */
	assert_true(th_wait_until(refreshed_before, &w, 60));
	since = ta_last_request_seq(t);
	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	json_decref(th_sim(&t->gs, "POST", path, NULL, NULL));
	free(path);
	assert_true(ta_wait_auth(t, "acme", "reauth_required", 15));
	r = ta_requests(t, since, "invalid_grant");
	assert_int_equal(json_array_size(r), 1);
	json_decref(r);
	assert_int_equal(ta_stop(t), 0);
}

/* MFA or Conditional Access demands a person: the refresh is refused
 * (invalid_grant for MFA required or expired and for a Conditional Access
 * block, interaction_required for MFA enrolment), which needs a new
 * sign-in, and the operator sees the error, the AADSTS code and the
 * suberror. */
static void
test_interaction_required_needs_signin(void **state)
{
	static const struct {
		const char *code;
		const char *suberror;
		const char *error;
	} cases[] = {{"AADSTS50076", "basic_action", "invalid_grant"},
		     {"AADSTS50078", "basic_action", "invalid_grant"},
		     {"AADSTS50079", "basic_action", "interaction_required"},
		     {"AADSTS53003", "message_only", "invalid_grant"}};
	struct ta *t = *state;
	char *path;
	json_t *o;

	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3s"));
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	if (asprintf(&path, "/users/%s/require-interaction", t->svc) < 0)
		abort();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ta_signin(t, "acme", NULL), 200);
		assert_true(ta_wait_auth(t, "acme", "valid", 5));
		json_decref(
		    th_sim(&t->gs, "POST", path, json_pack("{s:s}", "code", cases[i].code), NULL));
		assert_true(ta_wait_auth(t, "acme", "reauth_required", 20));
		o = ta_org_status(t, "acme");
		assert_non_null(strstr(ta_str(o, "last_error"), cases[i].error));
		assert_non_null(strstr(ta_str(o, "last_error"), cases[i].code));
		assert_non_null(strstr(ta_str(o, "last_error"), cases[i].suberror));
		json_decref(o);
	}
	/* a person signs in again (an authorization code): mended */
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(ta_wait_auth(t, "acme", "valid", 5));
	free(path);
	assert_int_equal(ta_stop(t), 0);
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3599s"));
}

static void
test_retry_after_is_honoured(void **state)
{
	struct ta *t = *state;
	long since;
	json_t *r, *o;

	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3s"));
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	since = ta_last_request_seq(t);
	json_decref(th_sim(&t->gs, "POST", "/faults",
			   json_pack("{s:s, s:s, s:i, s:i, s:i}", "path",
				     "/" TA_TENANT "/oauth2/v2.0/token", "method", "POST", "status",
				     503, "retry_after", 4, "count", 1),
			   NULL));
	assert_true(ta_wait_auth(t, "acme", "degraded", 20));
	o = ta_org_status(t, "acme");
	assert_non_null(strstr(ta_str(o, "last_error"), "temporarily_unavailable"));
	json_decref(o);
	assert_true(ta_wait_auth(t, "acme", "valid", 20));
	r = ta_requests(t, since, NULL);
	double fault_at = -1, retry_at = -1;
	for (size_t i = 0; i < json_array_size(r); i++) {
		json_t *e = json_array_get(r, i);
		if (strstr(ta_str(e, "path"), "/token") == NULL)
			continue;
		if (json_integer_value(json_object_get(e, "status")) == 503)
			fault_at = json_real_value(json_object_get(e, "time"));
		else if (fault_at > 0 && retry_at < 0)
			retry_at = json_real_value(json_object_get(e, "time"));
	}
	json_decref(r);
	assert_true(fault_at > 0 && retry_at > 0);
	/* no retry before the time Entra gave */
	assert_true(retry_at - fault_at >= 4.0);

	/* 429 Too Many Requests with Retry-After: the same patience */
	since = ta_last_request_seq(t);
	json_decref(th_sim(&t->gs, "POST", "/faults",
			   json_pack("{s:s, s:s, s:i, s:i, s:i}", "path",
				     "/" TA_TENANT "/oauth2/v2.0/token", "method", "POST", "status",
				     429, "retry_after", 3, "count", 1),
			   NULL));
	assert_true(ta_wait_auth(t, "acme", "degraded", 20));
	assert_true(ta_wait_auth(t, "acme", "valid", 20));
	r = ta_requests(t, since, NULL);
	fault_at = retry_at = -1;
	for (size_t i = 0; i < json_array_size(r); i++) {
		json_t *e = json_array_get(r, i);
		if (strstr(ta_str(e, "path"), "/token") == NULL)
			continue;
		if (json_integer_value(json_object_get(e, "status")) == 429)
			fault_at = json_real_value(json_object_get(e, "time"));
		else if (fault_at > 0 && retry_at < 0)
			retry_at = json_real_value(json_object_get(e, "time"));
	}
	json_decref(r);
	assert_true(fault_at > 0 && retry_at - fault_at >= 3.0);

	/* down for a while, no Retry-After: degraded, then valid, unattended */
	json_decref(
	    th_sim(&t->gs, "POST", "/faults",
		   json_pack("{s:s, s:s, s:i, s:i}", "path", "/" TA_TENANT "/oauth2/v2.0/token",
			     "method", "POST", "status", 504, "count", 2),
		   NULL));
	assert_true(ta_wait_auth(t, "acme", "degraded", 20));
	assert_true(ta_wait_auth(t, "acme", "valid", 40));
	assert_int_equal(ta_stop(t), 0);
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3599s"));
}

static void
test_token_endpoint_junk(void **state)
{
	struct ta *t = *state;
	char *page = NULL, *big;
	json_t *o;
	static const struct {
		int status;
		long delay_ms;
		size_t body_len;
		const char *body;
		const char *says;
	} cases[] = {
	    {200, 0, 0, "<html><body>Welcome to the captive portal</body></html>", "malformed"},
	    {502, 0, 0, "<html><body>Bad gateway</body></html>", "HTTP 502"},
	    {200, 0, 2 * 1024 * 1024, NULL, "larger than 1 MiB"},
	    {200, 4000, 0, "{}", "imed out"},
	};

	assert_int_equal(ta_start(t, "http_timeout = 2s", NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *fault =
		    json_pack("{s:s, s:s, s:i}", "path", "/" TA_TENANT "/oauth2/v2.0/token",
			      "method", "POST", "status", cases[i].status);
		if (cases[i].delay_ms)
			json_object_set_new(fault, "delay_ms", json_integer(cases[i].delay_ms));
		if (cases[i].body_len) {
			big = malloc(cases[i].body_len + 1);
			memset(big, 'x', cases[i].body_len);
			big[cases[i].body_len] = '\0';
			json_object_set_new(fault, "body", json_string(big));
			free(big);
		} else {
			json_object_set_new(fault, "body", json_string(cases[i].body));
		}
		json_decref(th_sim(&t->gs, "POST", "/faults", fault, NULL));
		assert_int_equal(ta_signin(t, "acme", &page), 502);
		if (!strstr(page, cases[i].says)) {
			fprintf(stderr, "case %zu: page lacks '%s':\n%s\n", i, cases[i].says, page);
			fail();
		}
		free(page);
		o = ta_org_status(t, "acme");
		assert_string_equal(ta_str(o, "auth_state"), "not_signed_in");
		assert_false(json_is_true(json_object_get(o, "has_refresh_token")));
		json_decref(o);
	}
	/* and the daemon is fine: a clean sign-in works */
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_int_equal(ta_stop(t), 0);
}

static void
test_wrong_account_is_refused(void **state)
{
	struct ta *t = *state;
	char *page = NULL;
	json_t *o;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	json_decref(th_sim(
	    &t->gs, "POST", "/signin",
	    json_pack("{s:s, s:s}", "tenant", TA_TENANT, "user", "jane@contoso.example"), NULL));
	assert_int_equal(ta_signin(t, "acme", &page), 403);
	assert_non_null(strstr(page, "jane@contoso.example signed in"));
	free(page);
	o = ta_org_status(t, "acme");
	assert_string_equal(ta_str(o, "auth_state"), "not_signed_in");
	assert_non_null(strstr(ta_str(o, "last_signin_error"), "jane@contoso.example"));
	json_decref(o);
	assert_int_equal(ta_stop(t), 0);
}

static void
test_links_and_state(void **state)
{
	struct ta *t = *state;
	char *link, *bad, *url;
	struct th_resp r, a;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	/* a link works once */
	link = ta_link(t, "acme");
	assert_non_null(link);
	assert_int_equal(th_browse(link, t->gs.ca, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	assert_int_equal(th_browse(link, t->gs.ca, &r), 0);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "already used"));
	th_resp_free(&r);
	free(link);
	/* a made-up link */
	if (asprintf(&bad, "%s/api/org/acme/ms-teams/login?link=guessed", t->base) < 0)
		abort();
	assert_int_equal(th_browse(bad, t->gs.ca, &r), 0);
	assert_int_equal(r.status, 403);
	th_resp_free(&r);
	free(bad);

	/* a tampered state never reaches the token endpoint */
	link = ta_link(t, "acme");
	assert_int_equal(th_http("GET", link, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 302);
	assert_int_equal(th_http("GET", r.location, t->gs.ca, NULL, NULL, &a), 0);
	assert_int_equal(a.status, 302);
	char *st = th_url_param(a.location, "state");
	assert_non_null(st);
	url = strdup(a.location);
	char *p = strstr(url, "state=") + 6;
	*p = *p == 'A' ? 'B' : 'A';
	th_resp_free(&r);
	long since = ta_last_request_seq(t);
	assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "state is unknown"));
	th_resp_free(&r);
	json_t *redeemed = ta_requests(t, since, "authorization_code");
	assert_int_equal(json_array_size(redeemed), 0);
	json_decref(redeemed);
	/* the genuine callback still works once, then is a replay */
	assert_int_equal(th_http("GET", a.location, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	assert_int_equal(th_http("GET", a.location, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	th_resp_free(&r);
	th_resp_free(&a);
	free(st);
	free(url);
	free(link);

	/* Entra's error comes back escaped, never as markup */
	char *cb;
	if (asprintf(&cb,
		     "%s/api/org/acme/ms-teams/callback?error=access_denied"
		     "&error_description=%%3Cscript%%3Ealert(1)%%3C%%2Fscript%%3E&state=x",
		     t->base) < 0)
		abort();
	assert_int_equal(th_http("GET", cb, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.body, "<script>"));
	th_resp_free(&r);
	free(cb);
	/* a user declining consent at Entra */
	json_decref(th_sim(&t->gs, "POST", "/signin",
			   json_pack("{s:s, s:s, s:s}", "tenant", TA_TENANT, "error",
				     "access_denied", "error_description", "The user said <no>."),
			   NULL));
	char *page = NULL;
	assert_int_equal(ta_signin(t, "acme", &page), 400);
	assert_non_null(strstr(page, "access_denied"));
	assert_non_null(strstr(page, "&lt;no&gt;"));
	free(page);
	assert_int_equal(ta_stop(t), 0);
}

static void
test_expired_client_secret(void **state)
{
	struct ta *t = *state;
	char *page = NULL;
	json_t *o;

	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3s"));
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	json_decref(th_sim(&t->gs, "PATCH", "/apps/" TA_CLIENT,
			   json_pack("{s:b}", "secret_expired", 1), NULL));
	/* the next refresh turns the org to secret_invalid */
	assert_true(ta_wait_auth(t, "acme", "secret_invalid", 20));
	/* and a new sign-in is refused with the reason */
	assert_int_equal(ta_signin(t, "acme", &page), 400);
	assert_non_null(strstr(page, "invalid_client"));
	free(page);
	o = ta_org_status(t, "acme");
	assert_non_null(strstr(ta_str(o, "last_error"), "AADSTS7000222"));
	json_decref(o);
	json_decref(th_sim(&t->gs, "PATCH", "/apps/" TA_CLIENT,
			   json_pack("{s:b}", "secret_expired", 0), NULL));
	assert_int_equal(ta_stop(t), 0);
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3599s"));
}

static bool
file_holds(const char *path, const char *needle)
{
	char *text = th_read_file(path);
	bool hit = false;

	/* files may hold NUL bytes: search the whole length */
	if (text) {
		FILE *f = fopen(path, "rb");
		char buf[1 << 16];
		size_t n, nl = strlen(needle);
		while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
			if (memmem(buf, n, needle, nl))
				hit = true;
		if (f)
			fclose(f);
	}
	free(text);
	return hit;
}

static bool
tree_holds(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool hit = false;

	while (d && (e = readdir(d))) {
		char *p;
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			abort();
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			hit |= tree_holds(p, needle);
		else if (S_ISREG(st.st_mode) && !strstr(e->d_name, "client-secret"))
			hit |= file_holds(p, needle);
		free(p);
	}
	if (d)
		closedir(d);
	return hit;
}

static void
test_no_secret_in_clear(void **state)
{
	struct ta *t = *state;
	char *cmdline, *state_dir, *link;
	json_t *st;

	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "2s"));
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(ta_wait_requests(t, ta_last_request_seq(t), "refresh_token", 2, 20));
	link = ta_link(t, "acme");

	/* graphsim's tokens start gsat. / gsrt., its codes 1.gs */
	static const char *const marks[] = {"gsat.", "gsrt.", "1.gs", TA_SECRET, "code_verifier"};
	if (asprintf(&cmdline, "/proc/%d/cmdline", (int)t->pid) < 0 ||
	    asprintf(&state_dir, "%s/state", t->dir) < 0)
		abort();
	st = ta_ctl(t, "status", NULL);
	char *status_text = json_dumps(st, 0);
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		assert_false(tree_holds(state_dir, marks[i]));
		assert_false(file_holds(t->log, marks[i]));
		assert_false(file_holds(cmdline, marks[i]));
		assert_null(strstr(status_text, marks[i]));
	}
	/* nor the one-time link's secret in the log */
	assert_false(file_holds(t->log, strstr(link, "link=") + 5));
	/* the key file and database are the daemon's alone */
	char *key;
	struct stat kst;
	if (asprintf(&key, "%s/seal.key", state_dir) < 0)
		abort();
	assert_int_equal(stat(key, &kst), 0);
	assert_int_equal(kst.st_mode & 0777, 0600);
	assert_int_equal(ta_stop(t), 0);
	free(key);
	free(status_text);
	json_decref(st);
	free(cmdline);
	free(state_dir);
	free(link);
	sim_config(t, json_pack("{s:s}", "access_token_lifetime", "3599s"));
}

static void
test_listener_answers_only_its_paths(void **state)
{
	struct ta *t = *state;
	struct th_resp r;
	char *url;
	static const char *const paths[] = {"/", "/api/org/acme/ms-teams/other",
					    "/api/org/nobody/ms-teams/login", "/etc/passwd"};

	assert_int_equal(ta_start(t, "max_body = 16384", NULL), 0);
	for (size_t i = 0; i < 4; i++) {
		if (asprintf(&url, "%s%s", t->base, paths[i]) < 0)
			abort();
		assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
		assert_int_equal(r.status, 404);
		th_resp_free(&r);
		free(url);
	}
	if (asprintf(&url, "%s/api/org/acme/ms-teams/login", t->base) < 0)
		abort();
	assert_int_equal(th_http("POST", url, NULL, NULL, "x=1", &r), 0);
	assert_int_equal(r.status, 405);
	th_resp_free(&r);
	/* a body over max_body is refused before anything looks at it */
	char *big = malloc(64 * 1024 + 1);
	memset(big, 'x', 64 * 1024);
	big[64 * 1024] = '\0';
	assert_int_equal(th_http("POST", url, NULL, NULL, big, &r), 0);
	assert_int_equal(r.status, 413);
	th_resp_free(&r);
	free(big);
	free(url);
	assert_int_equal(ta_stop(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_full_signin, ta_test_teardown),
	    cmocka_unit_test_teardown(test_refresh_chain_survives_sigkill, ta_test_teardown),
	    cmocka_unit_test_teardown(test_revoked_refresh_token_needs_signin, ta_test_teardown),
	    cmocka_unit_test_teardown(test_revocation_notice_checks_signin, ta_test_teardown),
	    cmocka_unit_test_teardown(test_interaction_required_needs_signin, ta_test_teardown),
	    cmocka_unit_test_teardown(test_retry_after_is_honoured, ta_test_teardown),
	    cmocka_unit_test_teardown(test_token_endpoint_junk, ta_test_teardown),
	    cmocka_unit_test_teardown(test_wrong_account_is_refused, ta_test_teardown),
	    cmocka_unit_test_teardown(test_links_and_state, ta_test_teardown),
	    cmocka_unit_test_teardown(test_expired_client_secret, ta_test_teardown),
	    cmocka_unit_test_teardown(test_no_secret_in_clear, ta_test_teardown),
	    cmocka_unit_test_teardown(test_listener_answers_only_its_paths, ta_test_teardown),
	};

	return cmocka_run_group_tests_name("ctteamsd sign-in", tests, setup, ta_teardown);
}
