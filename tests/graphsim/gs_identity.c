/*
 * The Microsoft identity platform's v2.0 endpoints for the authorization
 * code flow with PKCE: authorize (no UI: it signs in the tenant's test user,
 * or whoever or whatever error the control API asked for), token
 * (authorization_code and refresh_token grants, with Entra's error shapes
 * and AADSTS codes), and the JWKS that signs id_tokens and Graph's
 * validationTokens.
 */
#include <ctype.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

static const char *const known_scopes[] = {
    "openid",    "profile",        "email",          "offline_access",   "User.Read",
    "Chat.Read", "Chat.ReadBasic", "Chat.ReadWrite", "ChatMessage.Read", "ChatMessage.Send",
};

char *
gs_issuer(const char *tenant)
{
	char *base = gs_base_url(), *iss = gs_printf("%s/%s/v2.0", base, tenant);

	free(base);
	return iss;
}

static bool
tenant_known(const char *tenant)
{
	return gs_user_default(tenant) != NULL;
}

/* Normalises a scope list: the Graph resource prefix dropped, .default
 * expanded, duplicates removed. NULL with *ret_bad set on an unknown one. */
static char *
scopes_normalise(const char *in, char **ret_bad)
{
	char *copy = gs_strdup(in), *save = NULL, *out = gs_strdup("");

	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		const char *s = tok, *hit = NULL;
		if (!strncasecmp(s, "https://graph.microsoft.com/", 28))
			s += 28;
		if (!strcmp(s, ".default")) {
			char *n = gs_printf("%s%sUser.Read Chat.Read Chat.ReadBasic", out,
					    *out ? " " : "");
			free(out);
			out = n;
			continue;
		}
		for (size_t i = 0; i < sizeof(known_scopes) / sizeof(known_scopes[0]); i++)
			if (gs_streq_ci(s, known_scopes[i]))
				hit = known_scopes[i];
		if (!hit) {
			*ret_bad = gs_strdup(tok);
			free(copy);
			free(out);
			return NULL;
		}
		if (!gs_scope_has(out, hit)) {
			char *n = gs_printf("%s%s%s", out, *out ? " " : "", hit);
			free(out);
			out = n;
		}
	}
	free(copy);
	return out;
}

static char *
aadsts(int code, const char *msg, char **ret_trace, char **ret_corr, char **ret_ts)
{
	char trace[37], corr[37];
	char *iso = gs_time_iso(gs_now(), 0);

	gs_uuid(trace);
	gs_uuid(corr);
	/* Entra's timestamp: "2026-11-28 13:50:00Z" */
	iso[10] = ' ';
	*ret_trace = gs_strdup(trace);
	*ret_corr = gs_strdup(corr);
	*ret_ts = iso;
	return gs_printf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", code, msg,
			 trace, corr, iso);
}

/* Entra's token-endpoint error body; suberror (may be NULL) is added for
 * interaction_required (Microsoft identity platform and OAuth 2.0
 * authorization code flow, "Error codes for token endpoint errors":
 * learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow;
 * Microsoft Entra authentication and authorization error codes:
 * learn.microsoft.com/entra/identity-platform/reference-error-codes) */
static void
entra_error_sub(struct gs_resp *resp, unsigned int status, const char *error, int code,
		const char *msg, const char *suberror)
{
	char *trace, *corr, *ts;
	char *desc = aadsts(code, msg, &trace, &corr, &ts);
	char *uri = gs_printf("https://login.microsoftonline.com/error?code=%d", code);
	json_t *body = json_pack("{s:s, s:s, s:[i], s:s, s:s, s:s, s:s}", "error", error,
				 "error_description", desc, "error_codes", code, "timestamp", ts,
				 "trace_id", trace, "correlation_id", corr, "error_uri", uri);

	if (suberror)
		json_object_set_new(body, "suberror", json_string(suberror));
	gs_resp_json(resp, status, body);
	free(resp->note);
	resp->note = gs_printf("%s AADSTS%d", error, code);
	free(desc);
	free(trace);
	free(corr);
	free(ts);
	free(uri);
}

static void
entra_error(struct gs_resp *resp, unsigned int status, const char *error, int code, const char *msg)
{
	entra_error_sub(resp, status, error, code, msg, NULL);
}

/* Errors Entra cannot send back to an unverified redirect URI: a page. */
static void
error_page(struct gs_resp *resp, int code, const char *msg)
{
	char *trace, *corr, *ts;
	char *desc = aadsts(code, msg, &trace, &corr, &ts);
	char *html = gs_printf("<!DOCTYPE html><html><head><title>Sign in to your account"
			       "</title></head><body><h1>Sorry, but we're having trouble "
			       "signing you in.</h1><p>%s</p></body></html>",
			       desc);

	gs_resp_text(resp, 400, "text/html; charset=utf-8", html);
	free(resp->note);
	resp->note = gs_printf("page AADSTS%d", code);
	free(desc);
	free(trace);
	free(corr);
	free(ts);
	free(html);
}

static void
redirect_error(struct gs_resp *resp, const char *redirect_uri, const char *state, const char *error,
	       int code, const char *msg)
{
	char *trace, *corr, *ts;
	char *desc = aadsts(code, msg, &trace, &corr, &ts);
	char *edesc = gs_url_encode(desc), *estate = state ? gs_url_encode(state) : NULL;

	resp->status = 302;
	resp->location = gs_printf("%s%serror=%s&error_description=%s%s%s", redirect_uri,
				   strchr(redirect_uri, '?') ? "&" : "?", error, edesc,
				   estate ? "&state=" : "", estate ? estate : "");
	free(resp->note);
	resp->note = gs_printf("%s AADSTS%d", error, code);
	free(desc);
	free(edesc);
	free(estate);
	free(trace);
	free(corr);
	free(ts);
}

static bool
pkce_value_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 43 || n > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-._~", *s))
			return false;
	return true;
}

void
gs_identity_authorize(struct gs_req *req, struct gs_resp *resp)
{
	const char *tenant = req->params[0];
	const char *client_id = gs_req_arg(req, "client_id");
	const char *redirect_uri = gs_req_arg(req, "redirect_uri");
	const char *response_type = gs_req_arg(req, "response_type");
	const char *scope = gs_req_arg(req, "scope");
	const char *state = gs_req_arg(req, "state");
	const char *challenge = gs_req_arg(req, "code_challenge");
	const char *method = gs_req_arg(req, "code_challenge_method");
	const char *mode = gs_req_arg(req, "response_mode");
	const char *prompt = gs_req_arg(req, "prompt");
	const char *login_hint = gs_req_arg(req, "login_hint");
	bool multi = !strcmp(tenant, "common") || !strcmp(tenant, "organizations");
	struct gs_app *app;
	struct gs_user *user;
	const struct gs_signin *ov;
	char *scopes, *bad = NULL, *ecode, *estate, session[37];
	struct gs_code *code;

	gs_lock();
	if (!multi && !tenant_known(tenant)) {
		error_page(resp, 90002,
			   "Tenant not found. Check to make sure you have the "
			   "correct tenant ID and are signing into the correct cloud.");
		goto out;
	}
	app = gs_app_find(client_id);
	if (!client_id) {
		error_page(resp, 900144,
			   "The request body must contain the following parameter: 'client_id'.");
		goto out;
	}
	if (!app || (!multi && strcmp(app->tenant, tenant) != 0)) {
		error_page(resp, 700016,
			   "Application was not found in the directory. This can happen if the "
			   "application has not been installed by the administrator of the "
			   "tenant or consented to by any user in the tenant.");
		goto out;
	}
	if (!redirect_uri || !gs_app_has_redirect(app, redirect_uri)) {
		error_page(resp, 50011,
			   "The redirect URI specified in the request does not match the "
			   "redirect URIs configured for the application.");
		goto out;
	}
	if (!response_type || strcmp(response_type, "code") != 0) {
		redirect_error(resp, redirect_uri, state, "unsupported_response_type", 700054,
			       "response_type 'code' is expected for the authorization code "
			       "flow.");
		goto out;
	}
	if (mode && strcmp(mode, "query") != 0) {
		redirect_error(resp, redirect_uri, state, "invalid_request", 900144,
			       "graphsim supports response_mode=query only.");
		goto out;
	}
	if (!scope || !*scope) {
		redirect_error(resp, redirect_uri, state, "invalid_request", 900144,
			       "The request body must contain the following parameter: "
			       "'scope'.");
		goto out;
	}
	scopes = scopes_normalise(scope, &bad);
	if (!scopes) {
		char *m = gs_printf("The provided value for the input parameter 'scope' is "
				    "not valid. The scope %s is not valid.",
				    bad);
		redirect_error(resp, redirect_uri, state, "invalid_scope", 70011, m);
		free(m);
		free(bad);
		goto out;
	}
	if ((method && !challenge) ||
	    (method && strcmp(method, "S256") != 0 && strcmp(method, "plain") != 0) ||
	    (challenge && !pkce_value_ok(challenge))) {
		redirect_error(resp, redirect_uri, state, "invalid_request", 501491,
			       "Invalid code_challenge or code_challenge_method.");
		free(scopes);
		goto out;
	}
	if (prompt && strcmp(prompt, "login") && strcmp(prompt, "none") &&
	    strcmp(prompt, "consent") && strcmp(prompt, "select_account")) {
		redirect_error(resp, redirect_uri, state, "invalid_request", 90023,
			       "Invalid value for the prompt parameter.");
		free(scopes);
		goto out;
	}

	ov = gs_signin_take(app->tenant);
	if (ov && ov->error) {
		redirect_error(resp, redirect_uri, state, ov->error, 65004,
			       ov->error_description ? ov->error_description
						     : "The user declined the request.");
		free(scopes);
		goto out;
	}
	user = ov && ov->user ? ov->user
	       : login_hint   ? gs_user_find(app->tenant, login_hint)
			      : NULL;
	if (!user)
		user = gs_user_default(app->tenant);
	if (!user) {
		error_page(resp, 50034, "The user account does not exist in the directory.");
		free(scopes);
		goto out;
	}
	code = gs_code_add(app, user, redirect_uri, challenge,
			   challenge ? (method ? method : "plain") : NULL, scopes,
			   gs_req_arg(req, "nonce"));
	free(scopes);
	ecode = gs_url_encode(code->code);
	estate = state ? gs_url_encode(state) : NULL;
	gs_uuid(session);
	resp->status = 302;
	resp->location = gs_printf("%s%scode=%s%s%s&session_state=%s", redirect_uri,
				   strchr(redirect_uri, '?') ? "&" : "?", ecode,
				   estate ? "&state=" : "", estate ? estate : "", session);
	resp->note = gs_printf("signed in %s", user->upn);
	free(ecode);
	free(estate);
out:
	gs_unlock();
}

/* ---- token endpoint ---- */

static char *
id_token_for(struct gs_token *at, const char *nonce)
{
	double now = gs_now();
	char *iss = gs_issuer(at->user->tenant), *tok;
	unsigned char h[SHA256_DIGEST_LENGTH];
	char *sub, *seed = gs_printf("%s|%s", at->user->id, at->app->client_id);
	char uti[37];
	json_t *claims;

	/* sub is pairwise: stable per user and app */
	SHA256((unsigned char *)seed, strlen(seed), h);
	sub = gs_b64url(h, 24);
	gs_uuid(uti);
	/* openid gives the token and its subject claims; name and
	 * preferred_username need profile, email needs email (ID token claims
	 * reference: learn.microsoft.com/entra/identity-platform/id-token-claims-reference;
	 * OpenID Connect scopes:
	 * learn.microsoft.com/entra/identity-platform/scopes-oidc#openid-connect-scopes) */
	claims =
	    json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "aud",
		      at->app->client_id, "iss", iss, "iat", (json_int_t)now, "nbf",
		      (json_int_t)now, "exp", (json_int_t)(now + gs_cfg.id_token_lifetime), "oid",
		      at->user->id, "sub", sub, "tid", at->user->tenant, "uti", uti, "ver", "2.0");
	if (gs_scope_has(at->scopes, "profile")) {
		json_object_set_new(claims, "name", json_string(at->user->display_name));
		json_object_set_new(claims, "preferred_username", json_string(at->user->upn));
	}
	if (gs_scope_has(at->scopes, "email"))
		json_object_set_new(claims, "email", json_string(at->user->upn));
	if (nonce)
		json_object_set_new(claims, "nonce", json_string(nonce));
	tok = gs_jwt_sign(claims);
	json_decref(claims);
	free(iss);
	free(seed);
	free(sub);
	return tok;
}

/* Each code redeemed starts a chain of refresh tokens, numbered here so
 * that a test can tell which sign-in a client refreshes. */
static int chains;

static void
issue_tokens(struct gs_resp *resp, struct gs_app *app, struct gs_user *user, const char *scopes,
	     const char *nonce, int generation, int chain)
{
	struct gs_token *at = gs_token_add(GS_ACCESS, app, user, scopes);
	/* expires_in reports this token's real lifetime */
	json_int_t life = (json_int_t)(at->expires - at->issued);
	json_t *body =
	    json_pack("{s:s, s:s, s:I, s:I, s:s}", "token_type", "Bearer", "scope", scopes,
		      "expires_in", life, "ext_expires_in", life, "access_token", at->value);

	if (gs_scope_has(scopes, "offline_access")) {
		struct gs_token *rt = gs_token_add(GS_REFRESH, app, user, scopes);
		rt->generation = generation;
		rt->chain = chain;
		json_object_set_new(body, "refresh_token", json_string(rt->value));
	}
	if (gs_scope_has(scopes, "openid")) {
		char *idt = id_token_for(at, nonce);
		json_object_set_new(body, "id_token", json_string(idt));
		free(idt);
	}
	gs_resp_json(resp, 200, body);
}

static bool
verifier_matches(const struct gs_code *c, const char *verifier)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char *enc;
	bool ok;

	if (!strcmp(c->method, "plain"))
		return strcmp(c->challenge, verifier) == 0;
	SHA256((const unsigned char *)verifier, strlen(verifier), h);
	enc = gs_b64url(h, sizeof(h));
	ok = strcmp(enc, c->challenge) == 0;
	free(enc);
	return ok;
}

static void
grant_code(struct gs_resp *resp, struct gs_app *app, const struct gs_form *f)
{
	const char *code = gs_form_get(f, "code");
	const char *redirect_uri = gs_form_get(f, "redirect_uri");
	const char *verifier = gs_form_get(f, "code_verifier");
	struct gs_code *c = gs_code_find(code);

	if (!code) {
		entra_error(resp, 400, "invalid_request", 900144,
			    "The request body must contain the following parameter: 'code'.");
	} else if (!c || c->app != app) {
		entra_error(resp, 400, "invalid_grant", 70000,
			    "The provided value for the 'code' parameter is not valid.");
	} else if (c->used) {
		entra_error(resp, 400, "invalid_grant", 54005,
			    "OAuth2 Authorization code was already redeemed, please retry with "
			    "a new valid code or use an existing refresh token.");
	} else if (gs_now() > c->expires) {
		entra_error(resp, 400, "invalid_grant", 70008,
			    "The provided authorization code or refresh token has expired due "
			    "to inactivity. Send a new interactive authorization request for "
			    "this user and resource.");
	} else if (!redirect_uri || strcmp(redirect_uri, c->redirect_uri) != 0) {
		entra_error(resp, 400, "invalid_grant", 500112,
			    "The reply address does not match the reply address provided when "
			    "requesting Authorization code.");
	} else if (c->challenge && !verifier) {
		entra_error(resp, 400, "invalid_grant", 501481,
			    "The Code_Verifier does not match the code_challenge supplied in "
			    "the authorization request.");
	} else if (c->challenge && !verifier_matches(c, verifier)) {
		entra_error(resp, 400, "invalid_grant", 50148,
			    "The code_verifier does not match the code_challenge supplied in "
			    "the authorization request for PKCE.");
	} else {
		c->used = true;
		/* a sign-in satisfied MFA or Conditional Access */
		c->user->interaction_code = 0;
		free(c->user->interaction_suberror);
		c->user->interaction_suberror = NULL;
		issue_tokens(resp, app, c->user, c->scopes, c->nonce, 1, ++chains);
		resp->note = gs_printf("authorization_code chain=%d", chains);
	}
}

/* On a refresh, MFA required (AADSTS50076) or expired (AADSTS50078) and a
 * Conditional Access block (AADSTS53003) come back as invalid_grant with a
 * suberror, MFA enrolment (AADSTS50079) as interaction_required. The error
 * codes reference (learn.microsoft.com/entra/identity-platform/
 * reference-error-codes) gives the codes, not the error they come with:
 * this is what published token-endpoint answers show. */
static const char *
interaction_error(int code)
{
	return code == 50079 ? "interaction_required" : "invalid_grant";
}

static const char *
interaction_text(int code)
{
	switch (code) {
	case 50076:
		return "Due to a configuration change made by your administrator, or because you "
		       "moved to a new location, you must use multi-factor authentication to "
		       "access the resource.";
	case 50078:
		return "Presented multi-factor authentication has expired due to policies "
		       "configured by your administrator, you must refresh your multi-factor "
		       "authentication to access the resource.";
	case 50079:
		return "Due to a configuration change made by your administrator, or because you "
		       "moved to a new location, you must enroll in multi-factor authentication "
		       "to access the resource.";
	default:
		return "Access has been blocked by Conditional Access policies. The access policy "
		       "does not allow token issuance.";
	}
}

static void
grant_refresh(struct gs_resp *resp, struct gs_app *app, const struct gs_form *f)
{
	const char *value = gs_form_get(f, "refresh_token");
	const char *scope = gs_form_get(f, "scope");
	struct gs_token *rt = gs_token_find(value, GS_REFRESH);
	double now = gs_now();
	char *scopes = NULL, *bad = NULL;

	if (!value) {
		entra_error(resp, 400, "invalid_request", 900144,
			    "The request body must contain the following parameter: "
			    "'refresh_token'.");
		return;
	}
	if (!rt) {
		entra_error(resp, 400, "invalid_grant", 9002313,
			    "Invalid request. Request is malformed or invalid.");
		return;
	}
	if (rt->app != app) {
		entra_error(resp, 400, "invalid_grant", 70000,
			    "Provided grant is invalid or malformed.");
		return;
	}
	if (rt->revoked) {
		entra_error(resp, 400, "invalid_grant", 50173,
			    "The provided grant has expired due to it being revoked, a fresh "
			    "auth token is needed. The user might have changed or reset their "
			    "password.");
		return;
	}
	if (rt->user->interaction_code) {
		/* the refresh token cannot be used until the user signs in again */
		int code = rt->user->interaction_code;
		entra_error_sub(resp, 400, interaction_error(code), code, interaction_text(code),
				rt->user->interaction_suberror);
		return;
	}
	if (now - rt->last_used > gs_cfg.rt_inactivity) {
		char *issued = gs_time_iso(rt->issued, 0);
		char *m = gs_printf("The refresh token has expired due to inactivity. The token "
				    "was issued on %s and was inactive for %.2f days.",
				    issued, gs_cfg.rt_inactivity / 86400.0);
		entra_error(resp, 400, "invalid_grant", 700082, m);
		free(issued);
		free(m);
		return;
	}
	if (scope) {
		scopes = scopes_normalise(scope, &bad);
		if (!scopes) {
			char *m = gs_printf("The provided value for the input parameter 'scope' "
					    "is not valid. The scope %s is not valid.",
					    bad);
			entra_error(resp, 400, "invalid_scope", 70011, m);
			free(m);
			free(bad);
			return;
		}
		/* a refresh asking for more than was consented is refused;
		 * asking for less still gets every consented scope back, in
		 * the token and in `scope` (Entra: a token carries the
		 * consented permissions of its resource; Microsoft Q&A 43462,
		 * 78683) */
		char *copy = gs_strdup(scopes), *save = NULL;
		for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			if (!gs_scope_has(rt->scopes, t)) {
				entra_error(resp, 400, "invalid_grant", 65001,
					    "The user or administrator has not consented to use "
					    "the application.");
				free(copy);
				free(scopes);
				return;
			}
		}
		free(copy);
	}
	rt->last_used = now;
	issue_tokens(resp, app, rt->user, rt->scopes, NULL, rt->generation + 1, rt->chain);
	/* which link of the rotation chain the client used: tests check that
	 * a client keeps the newest refresh token */
	resp->note = gs_printf("refresh_token used=%d issued=%d chain=%d", rt->generation,
			       rt->generation + 1, rt->chain);
	free(scopes);
}

/* client_id and client_secret from the body or an HTTP Basic header */
static void
client_credentials(const struct gs_req *req, const struct gs_form *f, char **ret_id,
		   char **ret_secret)
{
	const char *auth = gs_req_header(req, "Authorization");

	*ret_id = gs_strdup(gs_form_get(f, "client_id"));
	*ret_secret = gs_strdup(gs_form_get(f, "client_secret"));
	if (auth && !strncasecmp(auth, "Basic ", 6)) {
		size_t len;
		unsigned char *raw = gs_b64_decode(auth + 6, &len);
		char *colon = raw ? memchr(raw, ':', len) : NULL;
		if (colon) {
			free(*ret_id);
			free(*ret_secret);
			*ret_id = gs_url_decode((char *)raw, (size_t)(colon - (char *)raw));
			*ret_secret =
			    gs_url_decode(colon + 1, len - (size_t)(colon + 1 - (char *)raw));
		}
		free(raw);
	}
}

void
gs_identity_token(struct gs_req *req, struct gs_resp *resp)
{
	const char *tenant = req->params[0];
	const char *ct = gs_req_header(req, "Content-Type");
	bool multi = !strcmp(tenant, "common") || !strcmp(tenant, "organizations");
	struct gs_form f = {0};
	const char *grant;
	char *client_id = NULL, *secret = NULL;
	struct gs_app *app;

	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
		entra_error(resp, 400, "invalid_request", 900144,
			    "The request body must be application/x-www-form-urlencoded.");
		return;
	}
	gs_form_parse(req->body ? req->body : "", req->body_len, &f);
	client_credentials(req, &f, &client_id, &secret);
	grant = gs_form_get(&f, "grant_type");

	gs_lock();
	app = gs_app_find(client_id);
	if (!multi && !tenant_known(tenant)) {
		entra_error(resp, 400, "invalid_request", 90002, "Tenant not found.");
	} else if (!client_id) {
		entra_error(resp, 400, "invalid_request", 900144,
			    "The request body must contain the following parameter: "
			    "'client_id'.");
	} else if (!app || (!multi && strcmp(app->tenant, tenant) != 0)) {
		entra_error(resp, 400, "unauthorized_client", 700016,
			    "Application was not found in the directory.");
	} else if (!grant) {
		entra_error(resp, 400, "invalid_request", 900144,
			    "The request body must contain the following parameter: "
			    "'grant_type'.");
	} else if (!secret) {
		entra_error(resp, 401, "invalid_client", 7000218,
			    "The request body must contain the following parameter: "
			    "'client_assertion' or 'client_secret'.");
	} else if (strcmp(secret, app->secret) != 0) {
		entra_error(resp, 401, "invalid_client", 7000215,
			    "Invalid client secret provided. Ensure the secret being sent in "
			    "the request is the client secret value, not the client secret ID.");
	} else if (app->secret_expired) {
		entra_error(resp, 401, "invalid_client", 7000222,
			    "The provided client secret keys for app are expired. Visit the "
			    "Azure portal to create new keys for your app.");
	} else if (!strcmp(grant, "authorization_code")) {
		grant_code(resp, app, &f);
	} else if (!strcmp(grant, "refresh_token")) {
		grant_refresh(resp, app, &f);
	} else {
		entra_error(resp, 400, "unsupported_grant_type", 70003,
			    "The app requested an unsupported grant type.");
	}
	gs_unlock();
	if (secret)
		memset(secret, 0, strlen(secret));
	free(client_id);
	free(secret);
	gs_form_free(&f);
}

void
gs_identity_jwks(struct gs_req *req, struct gs_resp *resp)
{
	(void)req;
	gs_resp_json(resp, 200, gs_keys_jwks());
}

void
gs_identity_openid(struct gs_req *req, struct gs_resp *resp)
{
	const char *tenant = req->params[0];
	char *base = gs_base_url(), *iss = gs_issuer(tenant);
	char *auth = gs_printf("%s/%s/oauth2/v2.0/authorize", base, tenant);
	char *tok = gs_printf("%s/%s/oauth2/v2.0/token", base, tenant);
	char *jwks = gs_printf("%s/%s/discovery/v2.0/keys", base, tenant);

	gs_resp_json(resp, 200,
		     json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s,s,s,s]}", "issuer",
			       iss, "authorization_endpoint", auth, "token_endpoint", tok,
			       "jwks_uri", jwks, "response_types_supported", "code",
			       "id_token_signing_alg_values_supported", "RS256",
			       "code_challenge_methods_supported", "S256", "scopes_supported",
			       "openid", "profile", "email", "offline_access"));
	free(base);
	free(iss);
	free(auth);
	free(tok);
	free(jwks);
}
