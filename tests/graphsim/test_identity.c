/*
 * graphsim conformance: the identity platform's authorization code flow with
 * PKCE, the token endpoint's grants and errors, token lifetimes, revocation,
 * the JWKS, and injected transient faults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gt.h"

static int
setup(void **state)
{
	return gt_setup(state, NULL);
}

static char *
auth_query(const char *challenge, const char *method, const char *extra)
{
	char *redir = th_urlenc(GT_REDIRECT), *scope = th_urlenc(GT_SCOPES), *q;

	if (asprintf(
		&q,
		"client_id=%s&response_type=code&redirect_uri=%s&scope=%s&state=st-42%s%s%s%s%s",
		GT_CLIENT, redir, scope, challenge ? "&code_challenge=" : "",
		challenge ? challenge : "", method ? "&code_challenge_method=" : "",
		method ? method : "", extra ? extra : "") < 0)
		abort();
	free(redir);
	free(scope);
	return q;
}

/* Authorizes and returns the code (free it). */
static char *
get_code(struct gt *t, const char *challenge, const char *method)
{
	char *q = auth_query(challenge, method, NULL), *loc, *code, *state;

	assert_int_equal(gt_authorize(t, q, &loc), 302);
	assert_true(!strncmp(loc, GT_REDIRECT "?", strlen(GT_REDIRECT) + 1));
	state = th_url_param(loc, "state");
	assert_string_equal(state, "st-42");
	code = th_url_param(loc, "code");
	assert_non_null(code);
	free(state);
	free(q);
	free(loc);
	return code;
}

static long
redeem(struct gt *t, const char *code, const char *verifier, const char *redirect, json_t **ret)
{
	char *ecode = th_urlenc(code), *redir = th_urlenc(redirect), *form;
	long status;

	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=authorization_code&code=%s"
		     "&redirect_uri=%s%s%s",
		     GT_CLIENT, GT_SECRET, ecode, redir, verifier ? "&code_verifier=" : "",
		     verifier ? verifier : "") < 0)
		abort();
	status = gt_token(t, form, ret);
	free(ecode);
	free(redir);
	free(form);
	return status;
}

static long
refresh(struct gt *t, const char *rt, json_t **ret)
{
	char *ert = th_urlenc(rt), *form;
	long status;

	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=refresh_token&refresh_token=%s",
		     GT_CLIENT, GT_SECRET, ert) < 0)
		abort();
	status = gt_token(t, form, ret);
	free(ert);
	free(form);
	return status;
}

static json_t *
jwks(struct gt *t)
{
	struct th_resp r;
	json_t *j;

	assert_int_equal(th_graph_get(&t->gs, NULL, "/common/discovery/v2.0/keys", &r), 0);
	assert_int_equal(r.status, 200);
	j = th_resp_json(&r);
	th_resp_free(&r);
	return j;
}

static void
test_signin_s256(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *keys = jwks(t), *claims;
	char *err, *iss;

	assert_string_equal(gt_str(tok, "token_type"), "Bearer");
	/* Entra's access tokens live 60-90 minutes: 3599 s x 1.0..1.5 */
	assert_in_range(json_integer_value(json_object_get(tok, "expires_in")), 3599, 5399);
	assert_non_null(gt_str(tok, "access_token"));
	assert_non_null(gt_str(tok, "refresh_token"));
	assert_int_equal(th_jwt_verify(gt_str(tok, "id_token"), keys, &claims, &err), 0);
	assert_string_equal(gt_str(claims, "tid"), GT_TENANT);
	assert_string_equal(gt_str(claims, "oid"), t->svc);
	assert_string_equal(gt_str(claims, "preferred_username"), "svc-911@contoso.example");
	assert_string_equal(gt_str(claims, "aud"), GT_CLIENT);
	if (asprintf(&iss, "%s/%s/v2.0", t->gs.base, GT_TENANT) < 0)
		abort();
	assert_string_equal(gt_str(claims, "iss"), iss);

	/* the access token works on Graph */
	struct th_resp r;
	assert_int_equal(th_graph_get(&t->gs, gt_str(tok, "access_token"), "/v1.0/me", &r), 0);
	assert_int_equal(r.status, 200);
	json_t *me = th_resp_json(&r);
	assert_string_equal(gt_str(me, "id"), t->svc);
	json_decref(me);
	th_resp_free(&r);
	free(iss);
	json_decref(claims);
	json_decref(keys);
	json_decref(tok);
}

static void
test_pkce_plain(void **state)
{
	struct gt *t = *state;
	const char *v = "plain-verifier-0123456789-0123456789-0123456789";
	char *code = get_code(t, v, "plain");
	json_t *body;

	assert_int_equal(redeem(t, code, v, GT_REDIRECT, &body), 200);
	json_decref(body);
	free(code);
}

static void
test_pkce_wrong_or_missing_verifier(void **state)
{
	struct gt *t = *state;
	char *verifier, *challenge, *other, *other_c, *code;
	json_t *body;

	th_pkce(&verifier, &challenge);
	th_pkce(&other, &other_c);
	code = get_code(t, challenge, "S256");
	assert_int_equal(redeem(t, code, other, GT_REDIRECT, &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 50148);
	json_decref(body);
	assert_int_equal(redeem(t, code, NULL, GT_REDIRECT, &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 501481);
	json_decref(body);
	/* failures did not consume the code: the right verifier still works */
	assert_int_equal(redeem(t, code, verifier, GT_REDIRECT, &body), 200);
	json_decref(body);
	free(verifier);
	free(challenge);
	free(other);
	free(other_c);
	free(code);
}

static void
test_code_single_use(void **state)
{
	struct gt *t = *state;
	char *verifier, *challenge, *code;
	json_t *body;

	th_pkce(&verifier, &challenge);
	code = get_code(t, challenge, "S256");
	assert_int_equal(redeem(t, code, verifier, GT_REDIRECT, &body), 200);
	json_decref(body);
	assert_int_equal(redeem(t, code, verifier, GT_REDIRECT, &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 54005);
	json_decref(body);
	free(verifier);
	free(challenge);
	free(code);
}

static void
test_code_expired(void **state)
{
	struct gt *t = *state;
	char *verifier, *challenge, *code;
	json_t *body;

	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:s}", "code_lifetime", "0s")));
	th_pkce(&verifier, &challenge);
	code = get_code(t, challenge, "S256");
	assert_int_equal(redeem(t, code, verifier, GT_REDIRECT, &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 70008);
	json_decref(body);
	json_decref(gt_sim_ok(t, "POST", "/config", json_pack("{s:s}", "code_lifetime", "10m")));
	free(verifier);
	free(challenge);
	free(code);
}

static void
test_redirect_uri_must_match(void **state)
{
	struct gt *t = *state;
	char *loc, *q, *verifier, *challenge, *code;
	json_t *body;

	/* authorize: an unregistered URI gets an error page, never a redirect */
	if (asprintf(&q, "client_id=%s&response_type=code&redirect_uri=%s&scope=openid&state=x",
		     GT_CLIENT, "https%3A%2F%2Fevil.example%2Fcb") < 0)
		abort();
	assert_int_equal(gt_authorize(t, q, &loc), 400);
	assert_null(loc);
	free(q);
	/* token: the redirect_uri must equal the one authorized */
	th_pkce(&verifier, &challenge);
	code = get_code(t, challenge, "S256");
	assert_int_equal(redeem(t, code, verifier, "https://agent.example.net/other", &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 500112);
	json_decref(body);
	free(verifier);
	free(challenge);
	free(code);
}

static void
test_unknown_client_and_tenant(void **state)
{
	struct gt *t = *state;
	char *url, *loc;
	struct th_resp r;

	assert_int_equal(
	    gt_authorize(t, "client_id=nobody&response_type=code&redirect_uri=x&scope=openid",
			 &loc),
	    400);
	assert_null(loc);
	if (asprintf(&url, "%s/no-such-tenant/oauth2/v2.0/authorize?client_id=%s", t->gs.base,
		     GT_CLIENT) < 0)
		abort();
	assert_int_equal(th_http("GET", url, t->gs.ca, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "AADSTS90002"));
	th_resp_free(&r);
	free(url);
}

static void
test_authorize_errors_redirect_with_state(void **state)
{
	struct gt *t = *state;
	char *q, *loc, *err, *st;

	q = auth_query(NULL, NULL, NULL);
	/* response_type=token instead of code */
	char *bad = strstr(q, "response_type=code");
	memcpy(bad, "response_type=cod3", 18);
	assert_int_equal(gt_authorize(t, q, &loc), 302);
	err = th_url_param(loc, "error");
	st = th_url_param(loc, "state");
	assert_string_equal(err, "unsupported_response_type");
	assert_string_equal(st, "st-42");
	free(err);
	free(st);
	free(loc);
	free(q);

	/* a scope the identity platform does not know */
	q = auth_query(NULL, NULL, "");
	char *s = strstr(q, "scope="), *amp = strchr(s, '&'), *q2;
	if (asprintf(&q2, "%.*sscope=Mail.Send%s", (int)(s - q), q, amp) < 0)
		abort();
	assert_int_equal(gt_authorize(t, q2, &loc), 302);
	err = th_url_param(loc, "error");
	assert_string_equal(err, "invalid_scope");
	free(err);
	free(loc);
	free(q);
	free(q2);
}

static void
test_signin_overrides(void **state)
{
	struct gt *t = *state;
	char *q = auth_query(NULL, NULL, NULL), *loc, *err, *desc, *verifier, *challenge, *code;
	json_t *body, *claims;

	json_decref(
	    gt_sim_ok(t, "POST", "/signin",
		      json_pack("{s:s, s:s, s:s}", "tenant", GT_TENANT, "error", "access_denied",
				"error_description", "The user declined to consent.")));
	assert_int_equal(gt_authorize(t, q, &loc), 302);
	err = th_url_param(loc, "error");
	desc = th_url_param(loc, "error_description");
	assert_string_equal(err, "access_denied");
	assert_non_null(strstr(desc, "declined"));
	free(err);
	free(desc);
	free(loc);

	/* the next sign-in is someone else's account */
	json_decref(gt_sim_ok(
	    t, "POST", "/signin",
	    json_pack("{s:s, s:s}", "tenant", GT_TENANT, "user", "jane@contoso.example")));
	th_pkce(&verifier, &challenge);
	code = get_code(t, challenge, "S256");
	assert_int_equal(redeem(t, code, verifier, GT_REDIRECT, &body), 200);
	claims = th_jwt_claims_unverified(gt_str(body, "id_token"));
	assert_string_equal(gt_str(claims, "preferred_username"), "jane@contoso.example");
	/* and after that, the default user again */
	free(code);
	json_decref(body);
	json_decref(claims);
	code = get_code(t, challenge, "S256");
	assert_int_equal(redeem(t, code, verifier, GT_REDIRECT, &body), 200);
	claims = th_jwt_claims_unverified(gt_str(body, "id_token"));
	assert_string_equal(gt_str(claims, "preferred_username"), "svc-911@contoso.example");
	json_decref(body);
	json_decref(claims);
	free(code);
	free(verifier);
	free(challenge);
	free(q);
}

static void
test_client_authentication(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *body;
	char *ert = th_urlenc(gt_str(tok, "refresh_token")), *form;

	if (asprintf(&form,
		     "client_id=%s&client_secret=wrong&grant_type=refresh_token&refresh_token=%s",
		     GT_CLIENT, ert) < 0)
		abort();
	assert_int_equal(gt_token(t, form, &body), 401);
	assert_int_equal(gt_entra_error(body, "invalid_client"), 7000215);
	json_decref(body);
	free(form);

	if (asprintf(&form, "client_id=%s&grant_type=refresh_token&refresh_token=%s", GT_CLIENT,
		     ert) < 0)
		abort();
	assert_int_equal(gt_token(t, form, &body), 401);
	assert_int_equal(gt_entra_error(body, "invalid_client"), 7000218);
	json_decref(body);
	free(form);

	/* HTTP Basic carries the credentials just as well */
	char *url, *basic, raw[256], b64[400];
	snprintf(raw, sizeof(raw), "%s:%s", GT_CLIENT, GT_SECRET);
	EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)raw, (int)strlen(raw));
	if (asprintf(&basic, "Authorization: Basic %s", b64) < 0 ||
	    asprintf(&url, "%s/%s/oauth2/v2.0/token", t->gs.base, GT_TENANT) < 0 ||
	    asprintf(&form, "grant_type=refresh_token&refresh_token=%s", ert) < 0)
		abort();
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", basic, NULL};
	struct th_resp r;
	assert_int_equal(th_http("POST", url, t->gs.ca, hdrs, form, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	free(form);
	free(url);
	free(basic);

	/* an expired secret: Azure caps them at 24 months, many at 6 */
	json_decref(
	    gt_sim_ok(t, "PATCH", "/apps/" GT_CLIENT, json_pack("{s:b}", "secret_expired", 1)));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 401);
	assert_int_equal(gt_entra_error(body, "invalid_client"), 7000222);
	json_decref(body);
	json_decref(
	    gt_sim_ok(t, "PATCH", "/apps/" GT_CLIENT, json_pack("{s:b}", "secret_expired", 0)));
	free(ert);
	json_decref(tok);
}

static void
test_refresh_rotates(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *next, *again;

	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &next), 200);
	assert_non_null(gt_str(next, "refresh_token"));
	assert_string_not_equal(gt_str(next, "refresh_token"), gt_str(tok, "refresh_token"));
	assert_string_not_equal(gt_str(next, "access_token"), gt_str(tok, "access_token"));
	/* Entra does not revoke the old refresh token when it issues a new one */
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &again), 200);
	json_decref(again);
	json_decref(next);
	json_decref(tok);
}

static void
test_refresh_revoked(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *body;
	char *path;
	struct th_resp r;

	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	json_decref(gt_sim_ok(t, "POST", path, NULL));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 50173);
	json_decref(body);
	/* access tokens already issued live until they expire */
	assert_int_equal(th_graph_get(&t->gs, gt_str(tok, "access_token"), "/v1.0/me", &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	/* a new sign-in works again */
	json_t *fresh = gt_signin(t);
	assert_int_equal(refresh(t, gt_str(fresh, "refresh_token"), &body), 200);
	json_decref(body);
	json_decref(fresh);
	free(path);
	json_decref(tok);
}

static void
test_refresh_inactive_and_access_expired(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *body;
	char *path;
	struct th_resp r;

	if (asprintf(&path, "/users/%s/expire-tokens", t->svc) < 0)
		abort();
	json_decref(gt_sim_ok(t, "POST", path, json_pack("{s:b, s:b}", "access", 1, "refresh", 1)));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 700082);
	json_decref(body);
	assert_int_equal(th_graph_get(&t->gs, gt_str(tok, "access_token"), "/v1.0/me", &r), 0);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body, "Lifetime validation failed"));
	assert_non_null(r.www_authenticate);
	th_resp_free(&r);
	free(path);
	json_decref(tok);
}

static void
test_lifetimes_configurable(void **state)
{
	struct gt *t = *state;
	json_t *tok;

	json_decref(
	    gt_sim_ok(t, "POST", "/config", json_pack("{s:s}", "access_token_lifetime", "120s")));
	/* lifetimes vary (x1.0..1.5), and expires_in reports each one */
	json_t *seen = json_object();
	for (int i = 0; i < 6; i++) {
		char k[32];
		tok = gt_signin(t);
		json_int_t e = json_integer_value(json_object_get(tok, "expires_in"));
		assert_in_range(e, 120, 180);
		snprintf(k, sizeof(k), "%lld", (long long)e);
		json_object_set_new(seen, k, json_true());
		json_decref(tok);
	}
	assert_true(json_object_size(seen) > 1);
	json_decref(seen);
	/* the jitter can be turned off */
	json_decref(
	    gt_sim_ok(t, "POST", "/config", json_pack("{s:b}", "access_lifetime_jitter", 0)));
	tok = gt_signin(t);
	assert_int_equal(json_integer_value(json_object_get(tok, "expires_in")), 120);
	json_decref(
	    gt_sim_ok(t, "POST", "/config", json_pack("{s:b}", "access_lifetime_jitter", 1)));
	json_decref(tok);
	json_decref(
	    gt_sim_ok(t, "POST", "/config", json_pack("{s:s}", "access_token_lifetime", "3599s")));
	/* a bad value is refused and changes nothing */
	long status;
	json_decref(
	    th_sim(&t->gs, "POST", "/config", json_pack("{s:s}", "sub_max", "soon"), &status));
	assert_int_equal(status, 400);
	json_decref(th_sim(&t->gs, "POST", "/config", json_pack("{s:s}", "port", "1"), &status));
	assert_int_equal(status, 400);
}

static void
test_jwks_rotation(void **state)
{
	struct gt *t = *state;
	json_t *before = jwks(t), *after, *tok, *claims;
	const char *old_kid = gt_str(json_array_get(json_object_get(before, "keys"), 0), "kid");
	char *err;
	bool old_present = false;
	size_t i;
	json_t *k;

	json_decref(gt_sim_ok(t, "POST", "/keys/rotate", NULL));
	after = jwks(t);
	assert_string_not_equal(gt_str(json_array_get(json_object_get(after, "keys"), 0), "kid"),
				old_kid);
	json_array_foreach (json_object_get(after, "keys"), i, k)
		old_present |= !strcmp(gt_str(k, "kid"), old_kid);
	assert_true(old_present);
	/* new tokens are signed by the new key, and verify; not with the old set */
	tok = gt_signin(t);
	assert_int_equal(th_jwt_verify(gt_str(tok, "id_token"), after, &claims, &err), 0);
	json_decref(claims);
	assert_int_equal(th_jwt_verify(gt_str(tok, "id_token"), before, &claims, &err), -1);
	assert_string_equal(err, "kid not in the JWKS");
	free(err);
	json_decref(tok);
	json_decref(before);
	json_decref(after);
}

static void
test_injected_faults(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *body, *log;
	char *ert = th_urlenc(gt_str(tok, "refresh_token")), *form, *url;
	long status;
	json_t *seqs = th_sim(&t->gs, "GET", "/requests", NULL, &status);
	json_int_t since = json_integer_value(
	    json_object_get(json_array_get(json_object_get(seqs, "value"),
					   json_array_size(json_object_get(seqs, "value")) - 1),
			    "seq"));

	json_decref(
	    gt_sim_ok(t, "POST", "/faults",
		      json_pack("{s:s, s:i, s:i, s:i}", "path", "/" GT_TENANT "/oauth2/v2.0/token",
				"status", 429, "retry_after", 7, "count", 1)));
	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=refresh_token&refresh_token=%s",
		     GT_CLIENT, GT_SECRET, ert) < 0 ||
	    asprintf(&url, "%s/%s/oauth2/v2.0/token", t->gs.base, GT_TENANT) < 0)
		abort();
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	struct th_resp r;
	assert_int_equal(th_http("POST", url, t->gs.ca, hdrs, form, &r), 0);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.retry_after, "7");
	body = th_resp_json(&r);
	assert_string_equal(gt_str(body, "error"), "temporarily_unavailable");
	json_decref(body);
	th_resp_free(&r);
	assert_int_equal(gt_token(t, form, &body), 200);
	json_decref(body);

	/* a reset: the connection closes with no answer */
	json_decref(gt_sim_ok(t, "POST", "/faults",
			      json_pack("{s:s, s:b}", "path", "/v1.0/me", "reset", 1)));
	assert_int_equal(th_graph_get(&t->gs, gt_str(tok, "access_token"), "/v1.0/me", &r), -1);
	th_resp_free(&r);
	/* junk: an HTML error page where JSON was expected */
	json_decref(gt_sim_ok(t, "POST", "/faults",
			      json_pack("{s:s, s:i, s:s}", "path", "/v1.0/me", "status", 502,
					"body", "<html><body>Bad gateway</body></html>")));
	assert_int_equal(th_graph_get(&t->gs, gt_str(tok, "access_token"), "/v1.0/me", &r), 0);
	assert_int_equal(r.status, 502);
	assert_non_null(strstr(r.content_type, "text/html"));
	th_resp_free(&r);

	/* the request log records what the client did, with times */
	char *path;
	if (asprintf(&path, "/requests?since=%lld", (long long)since) < 0)
		abort();
	log = gt_sim_ok(t, "GET", path, NULL);
	json_t *v = json_object_get(log, "value");
	assert_true(json_array_size(v) >= 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "status")), 429);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 1), "status")), 200);
	assert_true(json_real_value(json_object_get(json_array_get(v, 1), "time")) >=
		    json_real_value(json_object_get(json_array_get(v, 0), "time")));
	json_decref(log);
	free(path);
	json_decref(seqs);
	free(form);
	free(url);
	free(ert);
	json_decref(tok);
}

static void
test_unsupported_grant_and_content_type(void **state)
{
	struct gt *t = *state;
	json_t *body;
	char *form;

	if (asprintf(&form, "client_id=%s&client_secret=%s&grant_type=password", GT_CLIENT,
		     GT_SECRET) < 0)
		abort();
	assert_int_equal(gt_token(t, form, &body), 400);
	assert_int_equal(gt_entra_error(body, "unsupported_grant_type"), 70003);
	json_decref(body);
	free(form);
}

static void
test_plain_http_mode(void **state)
{
	struct th_graphsim plain;
	struct th_resp r;
	char *url;

	(void)state;
	assert_int_equal(th_graphsim_start(&plain, (const char *const[]){"--no-tls", NULL}), 0);
	assert_null(plain.ca);
	assert_true(!strncmp(plain.base, "http://", 7));
	if (asprintf(&url, "%s/common/discovery/v2.0/keys", plain.base) < 0)
		abort();
	assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	free(url);
	assert_int_equal(th_graphsim_stop(&plain), 0);
}

/* A sign-in with the given scopes; the token response. */
static json_t *
signin_scopes(struct gt *t, const char *scopes)
{
	char *verifier, *challenge, *q, *loc, *code, *ecode, *form;
	char *redir = th_urlenc(GT_REDIRECT), *scope = th_urlenc(scopes);
	json_t *body;

	th_pkce(&verifier, &challenge);
	if (asprintf(&q,
		     "client_id=%s&response_type=code&redirect_uri=%s&scope=%s"
		     "&code_challenge=%s&code_challenge_method=S256",
		     GT_CLIENT, redir, scope, challenge) < 0)
		abort();
	assert_int_equal(gt_authorize(t, q, &loc), 302);
	code = th_url_param(loc, "code");
	ecode = th_urlenc(code);
	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=authorization_code&code=%s"
		     "&redirect_uri=%s&code_verifier=%s",
		     GT_CLIENT, GT_SECRET, ecode, redir, verifier) < 0)
		abort();
	assert_int_equal(gt_token(t, form, &body), 200);
	free(verifier);
	free(challenge);
	free(q);
	free(loc);
	free(code);
	free(ecode);
	free(form);
	free(redir);
	free(scope);
	return body;
}

/* id_token claims follow the scopes: profile → name, preferred_username;
 * email → email; openid alone → the subject claims only */
static void
test_id_token_claims_by_scope(void **state)
{
	struct gt *t = *state;
	json_t *keys = jwks(t), *claims, *tok;
	char *err;

	tok = signin_scopes(t, "openid offline_access Chat.Read");
	assert_int_equal(th_jwt_verify(gt_str(tok, "id_token"), keys, &claims, &err), 0);
	assert_string_equal(gt_str(claims, "oid"), t->svc);
	assert_string_equal(gt_str(claims, "tid"), GT_TENANT);
	assert_string_equal(gt_str(claims, "aud"), GT_CLIENT);
	assert_non_null(gt_str(claims, "sub"));
	assert_non_null(gt_str(claims, "iss"));
	assert_null(json_object_get(claims, "name"));
	assert_null(json_object_get(claims, "preferred_username"));
	assert_null(json_object_get(claims, "email"));
	json_decref(claims);
	json_decref(tok);

	tok = signin_scopes(t, "openid email Chat.Read");
	assert_int_equal(th_jwt_verify(gt_str(tok, "id_token"), keys, &claims, &err), 0);
	assert_string_equal(gt_str(claims, "email"), "svc-911@contoso.example");
	assert_null(json_object_get(claims, "preferred_username"));
	json_decref(claims);
	json_decref(tok);

	tok = signin_scopes(t, "openid profile Chat.Read");
	assert_int_equal(th_jwt_verify(gt_str(tok, "id_token"), keys, &claims, &err), 0);
	assert_string_equal(gt_str(claims, "name"), "Security Desk Service");
	assert_string_equal(gt_str(claims, "preferred_username"), "svc-911@contoso.example");
	assert_null(json_object_get(claims, "email"));
	json_decref(claims);
	json_decref(tok);

	/* no openid: no id_token */
	tok = signin_scopes(t, "offline_access Chat.Read");
	assert_null(json_object_get(tok, "id_token"));
	json_decref(tok);
	json_decref(keys);
}

/* A refresh asking for fewer scopes than were consented still gets every
 * consented one back, as Entra does; asking for one never consented is
 * refused with AADSTS65001. */
static void
test_refresh_scopes(void **state)
{
	struct gt *t = *state;
	json_t *tok =
	    signin_scopes(t, "openid offline_access User.Read Chat.Read ChatMessage.Send");
	json_t *body;
	char *ert = th_urlenc(gt_str(tok, "refresh_token")), *form;

	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=refresh_token&refresh_token=%s"
		     "&scope=offline_access%%20Chat.Read",
		     GT_CLIENT, GT_SECRET, ert) < 0)
		abort();
	assert_int_equal(gt_token(t, form, &body), 200);
	assert_non_null(strstr(gt_str(body, "scope"), "ChatMessage.Send"));
	assert_non_null(strstr(gt_str(body, "scope"), "User.Read"));
	json_decref(body);
	free(form);
	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=refresh_token&refresh_token=%s"
		     "&scope=Chat.ReadWrite",
		     GT_CLIENT, GT_SECRET, ert) < 0)
		abort();
	assert_int_equal(gt_token(t, form, &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 65001);
	json_decref(body);
	free(form);
	free(ert);
	json_decref(tok);
}

/* MFA or Conditional Access: refreshes are refused with the AADSTS code
 * and a suberror until a new interactive sign-in: invalid_grant for MFA
 * required or expired and a Conditional Access block (50076, 50078,
 * 53003), interaction_required for MFA enrolment (50079) */
static void
test_require_interaction(void **state)
{
	struct gt *t = *state;
	json_t *tok = gt_signin(t), *body, *r;
	char *path;
	long st;

	if (asprintf(&path, "/users/%s/require-interaction", t->svc) < 0)
		abort();
	json_decref(gt_sim_ok(t, "POST", path, json_pack("{s:s}", "code", "AADSTS50076")));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 50076);
	assert_string_equal(gt_str(body, "suberror"), "basic_action");
	assert_non_null(strstr(gt_str(body, "error_description"), "AADSTS50076"));
	json_decref(body);
	/* it stays so: another refresh fails the same way */
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 50076);
	json_decref(body);
	/* MFA expired: the same shape; enrolment: interaction_required */
	json_decref(gt_sim_ok(t, "POST", path, json_pack("{s:s}", "code", "AADSTS50078")));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 50078);
	assert_string_equal(gt_str(body, "suberror"), "basic_action");
	json_decref(body);
	json_decref(gt_sim_ok(t, "POST", path, json_pack("{s:s}", "code", "AADSTS50079")));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "interaction_required"), 50079);
	json_decref(body);
	/* a new sign-in clears it; refreshes work again */
	json_decref(tok);
	tok = gt_signin(t);
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 200);
	json_decref(body);

	/* Conditional Access, with a chosen suberror */
	json_decref(gt_sim_ok(
	    t, "POST", path,
	    json_pack("{s:s, s:s}", "code", "AADSTS53003", "suberror", "additional_action")));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_int_equal(gt_entra_error(body, "invalid_grant"), 53003);
	assert_string_equal(gt_str(body, "suberror"), "additional_action");
	json_decref(body);
	json_decref(gt_sim_ok(t, "POST", path, json_pack("{s:s}", "code", "53003")));
	assert_int_equal(refresh(t, gt_str(tok, "refresh_token"), &body), 400);
	assert_string_equal(gt_str(body, "suberror"), "message_only");
	json_decref(body);
	/* unknown codes are refused */
	r = th_sim(&t->gs, "POST", path, json_pack("{s:s}", "code", "AADSTS12345"), &st);
	assert_int_equal(st, 400);
	json_decref(r);
	json_decref(tok);
	tok = gt_signin(t);
	json_decref(tok);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_token_claims_by_scope),
	    cmocka_unit_test(test_refresh_scopes),
	    cmocka_unit_test(test_require_interaction),
	    cmocka_unit_test(test_signin_s256),
	    cmocka_unit_test(test_pkce_plain),
	    cmocka_unit_test(test_pkce_wrong_or_missing_verifier),
	    cmocka_unit_test(test_code_single_use),
	    cmocka_unit_test(test_code_expired),
	    cmocka_unit_test(test_redirect_uri_must_match),
	    cmocka_unit_test(test_unknown_client_and_tenant),
	    cmocka_unit_test(test_authorize_errors_redirect_with_state),
	    cmocka_unit_test(test_signin_overrides),
	    cmocka_unit_test(test_client_authentication),
	    cmocka_unit_test(test_refresh_rotates),
	    cmocka_unit_test(test_refresh_revoked),
	    cmocka_unit_test(test_refresh_inactive_and_access_expired),
	    cmocka_unit_test(test_lifetimes_configurable),
	    cmocka_unit_test(test_jwks_rotation),
	    cmocka_unit_test(test_injected_faults),
	    cmocka_unit_test(test_unsupported_grant_and_content_type),
	    cmocka_unit_test(test_plain_http_mode),
	};

	return cmocka_run_group_tests_name("graphsim identity", tests, setup, gt_teardown);
}
