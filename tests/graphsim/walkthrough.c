/*
 * graphsim's walkthrough: what Microsoft's cloud does for ctteams, step by
 * step, against a real graphsim over HTTPS. It is the demo until the agent
 * exists, and a test: it exits non-zero when any step does not behave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "th.h"

#define TENANT   "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10"
#define CLIENT   "4b7c9d2e-6f1a-4e3b-8c5d-0a9b8c7d6e5f"
#define SECRET   "walkthrough-secret"
#define REDIRECT "https://ctteams.example.net/api/org/acme/ms-teams/callback"

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static json_t *
token_call(struct th_graphsim *gs, const char *form, long *ret_status)
{
	char *url;
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	struct th_resp r;
	json_t *j;

	if (asprintf(&url, "%s/%s/oauth2/v2.0/token", gs->base, TENANT) < 0)
		abort();
	th_check(th_http("POST", url, gs->ca, hdrs, form, &r) == 0, "token endpoint reachable");
	*ret_status = r.status;
	j = th_resp_json(&r);
	th_resp_free(&r);
	free(url);
	return j;
}

static json_t *
sign_in(struct th_graphsim *gs)
{
	char *verifier, *challenge, *url, *code, *ecode, *form;
	char *redir = th_urlenc(REDIRECT);
	char *scope = th_urlenc("offline_access openid profile User.Read Chat.Read Chat.ReadBasic");
	struct th_resp r;
	json_t *tok;
	long status;

	th_pkce(&verifier, &challenge);
	if (asprintf(&url,
		     "%s/%s/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=%s"
		     "&scope=%s&state=demo-state&code_challenge=%s&code_challenge_method=S256",
		     gs->base, TENANT, CLIENT, redir, scope, challenge) < 0)
		abort();
	th_check(th_http("GET", url, gs->ca, NULL, NULL, &r) == 0 && r.status == 302,
		 "authorize redirects");
	code = th_url_param(r.location, "code");
	th_check(code != NULL, "a code comes back");
	th_say("authorize -> 302 to the redirect URI with a code (%zu chars) and state",
	       strlen(code));
	ecode = th_urlenc(code);
	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=authorization_code&code=%s"
		     "&redirect_uri=%s&code_verifier=%s",
		     CLIENT, SECRET, ecode, redir, verifier) < 0)
		abort();
	tok = token_call(gs, form, &status);
	th_check(status == 200, "the code redeems with the PKCE verifier");
	th_say("token -> access token for %lld s, a refresh token, an id_token",
	       (long long)json_integer_value(json_object_get(tok, "expires_in")));
	json_t *claims = th_jwt_claims_unverified(str(tok, "id_token"));
	th_say("id_token: tid=%s preferred_username=%s", str(claims, "tid"),
	       str(claims, "preferred_username"));
	json_decref(claims);
	th_resp_free(&r);
	free(verifier);
	free(challenge);
	free(url);
	free(code);
	free(ecode);
	free(form);
	free(redir);
	free(scope);
	return tok;
}

int
main(int argc, char **argv)
{
	struct th_graphsim gs;
	struct th_hook *hook;
	const struct th_hook_cfg cfg = {.validation = TH_VALIDATE_ECHO, .notify_status = 202};
	char *svc, *caller, *desk, *cert, *notify, *life, *err, *res, *exp, *path;
	EVP_PKEY *key;
	json_t *tok, *sub, *body, *posts, *item, *msg, *keys, *vclaims;
	struct th_resp r;
	long status;

	printf("graphsim walkthrough: Microsoft's side of a Teams 911 notice, simulated\n");
	th_step("Start graphsim (HTTPS with its own CA) and a webhook receiver");
	/* an optional graphsim option, e.g. --validation-token-version=2 */
	th_check(th_graphsim_start(&gs, (const char *const[]){"--allow-http-notify",
							      argc > 1 ? argv[1] : NULL, NULL}) ==
		     0,
		 "graphsim starts");
	hook = th_hook_start(NULL, NULL);
	th_check(hook != NULL, "receiver starts");
	th_hook_configure(hook, &cfg);
	th_say("graphsim at %s, trusted through %s", gs.base, gs.ca);

	th_step("Set up the tenant: a service user in the notification group, a caller, a guard");
	svc = th_sim_user(&gs, TENANT, "svc-911@contoso.example", "Security Desk Service");
	caller = th_sim_user(&gs, TENANT, "jane@contoso.example", "Jane Doe");
	desk = th_sim_user(&gs, TENANT, "guard@contoso.example", "Night Guard");
	json_decref(th_sim(&gs, "POST", "/apps",
			   json_pack("{s:s, s:s, s:s, s:[s]}", "tenant", TENANT, "client_id",
				     CLIENT, "client_secret", SECRET, "redirect_uris", REDIRECT),
			   &status));
	th_check(svc && caller && desk && status == 201, "directory objects created");
	th_say("app registration %s with redirect URI %s", CLIENT, REDIRECT);

	th_step("Sign the service user in: authorization code flow with PKCE (S256)");
	tok = sign_in(&gs);

	th_step("Subscribe to the service user's chat messages, rich notifications on");
	key = th_rsa_cert(2048, &cert);
	notify = th_hook_url(hook, "/notify");
	life = th_hook_url(hook, "/lifecycle");
	exp = NULL;
	if (asprintf(&res, "/users/%s/chats/getAllMessages", svc) < 0)
		abort();
	{
		time_t when = time(NULL) + 4300 * 60;
		char buf[40];
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.0000000Z", gmtime(&when));
		exp = strdup(buf);
	}
	th_check(
	    th_graph_send(&gs, "POST", str(tok, "access_token"), "/v1.0/subscriptions",
			  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "changeType",
				    "created,updated", "notificationUrl", notify,
				    "lifecycleNotificationUrl", life, "resource", res,
				    "expirationDateTime", exp, "clientState", "walkthrough-state",
				    "includeResourceData", 1, "encryptionCertificate", cert,
				    "encryptionCertificateId", "demo-key-1"),
			  &r) == 0,
	    "Graph reachable");
	th_check(r.status == 201, "subscription created");
	sub = th_resp_json(&r);
	th_resp_free(&r);
	th_say("validation handshakes answered: notificationUrl %zu, lifecycleNotificationUrl %zu",
	       th_hook_validations(hook, "/notify"), th_hook_validations(hook, "/lifecycle"));
	th_say("subscription %s expires %s", str(sub, "id"), str(sub, "expirationDateTime"));

	th_step("Jane dials 911: Teams opens a group chat and posts an important notice");
	json_decref(th_sim(&gs, "POST", "/emergency",
			   json_pack("{s:s, s:[s,s], s:s, s:s}", "caller", caller, "members", svc,
				     desk, "number", "911", "location",
				     "Building 4, Floor 2, 1 Main St, Springfield, IL 62701"),
			   &status));
	th_check(status == 201, "notice posted");
	th_check(th_hook_wait(hook, "/notify", 1, 15), "the notification arrives");
	posts = th_hook_posts(hook);
	body = json_object_get(json_array_get(posts, 0), "body");
	item = json_array_get(json_object_get(body, "value"), 0);
	th_say("POST to the webhook: changeType=%s clientState=%s", str(item, "changeType"),
	       str(item, "clientState"));

	th_step("Decrypt and authenticate it as Microsoft documents");
	char *plain = th_rich_decrypt(key, json_object_get(item, "encryptedContent"), &err);
	th_check(plain != NULL, "the payload decrypts and its HMAC matches");
	msg = json_loads(plain, 0, NULL);
	th_check(th_graph_get(&gs, NULL, "/common/discovery/v2.0/keys", &r) == 0, "JWKS");
	keys = th_resp_json(&r);
	th_resp_free(&r);
	th_check(th_jwt_verify(json_string_value(
				   json_array_get(json_object_get(body, "validationTokens"), 0)),
			       keys, &vclaims, &err) == 0,
		 "the validation token verifies against the JWKS");
	/* v1 tokens (Microsoft's example) name the caller in appid, v2 in azp */
	{
		bool v1 = !strcmp(str(vclaims, "ver"), "1.0");
		const char *caller_app = str(vclaims, v1 ? "appid" : "azp");
		char *iss_v2;
		char *iss_v1;
		if (asprintf(&iss_v2, "%s/%s/v2.0", gs.base, TENANT) < 0 ||
		    asprintf(&iss_v1, "https://sts.windows.net/%s/", TENANT) < 0)
			abort();
		th_check(!strcmp(str(vclaims, "aud"), CLIENT) &&
			     !strcmp(caller_app, "0bf30f3b-4a52-48df-9a82-234910c4a086") &&
			     !strcmp(str(vclaims, "tid"), TENANT) &&
			     !strcmp(str(vclaims, "iss"), v1 ? iss_v1 : iss_v2),
			 "the validation token names this app, Graph change tracking and the "
			 "tenant");
		th_say("validationToken v%s: aud=%s %s=%s (Graph change tracking) iss=%s",
		       str(vclaims, "ver"), str(vclaims, "aud"), v1 ? "appid" : "azp", caller_app,
		       str(vclaims, "iss"));
		free(iss_v1);
		free(iss_v2);
	}
	th_say("message %s from %s, importance %s:", str(msg, "id"),
	       str(json_object_get(json_object_get(msg, "from"), "user"), "displayName"),
	       str(msg, "importance"));
	th_say("  %s", str(json_object_get(msg, "body"), "content"));

	th_step("Renew the subscription before Graph deletes it (PATCH expirationDateTime)");
	if (asprintf(&path, "/v1.0/subscriptions/%s", str(sub, "id")) < 0)
		abort();
	th_check(th_graph_send(&gs, "PATCH", str(tok, "access_token"), path,
			       json_pack("{s:s}", "expirationDateTime", exp), &r) == 0 &&
		     r.status == 200,
		 "renewal accepted");
	th_resp_free(&r);
	th_say("renewed");

	th_step(
	    "An admin revokes the service user's sessions: the quiet failure ctteams exists for");
	free(path);
	if (asprintf(&path, "/users/%s/revoke", svc) < 0)
		abort();
	json_decref(th_sim(&gs, "POST", path, NULL, &status));
	th_check(th_hook_wait(hook, "/lifecycle", 1, 15), "Graph asks for reauthorization");
	th_say("lifecycle notification: reauthorizationRequired");
	char *ert = th_urlenc(str(tok, "refresh_token")), *form;
	if (asprintf(&form,
		     "client_id=%s&client_secret=%s&grant_type=refresh_token&refresh_token=%s",
		     CLIENT, SECRET, ert) < 0)
		abort();
	json_t *fail = token_call(&gs, form, &status);
	th_check(status == 400 && !strcmp(str(fail, "error"), "invalid_grant"),
		 "the refresh token is refused");
	th_say("refresh -> %ld %s: %.60s...", status, str(fail, "error"),
	       str(fail, "error_description"));
	th_say("(ctteams turns this into an alarm; without one, 911 notices would stop silently)");

	printf("\nwalkthrough complete\n");
	json_decref(fail);
	free(form);
	free(ert);
	free(path);
	json_decref(vclaims);
	json_decref(keys);
	json_decref(msg);
	free(plain);
	json_decref(posts);
	json_decref(sub);
	json_decref(tok);
	free(res);
	free(exp);
	free(notify);
	free(life);
	free(cert);
	EVP_PKEY_free(key);
	free(svc);
	free(caller);
	free(desk);
	th_hook_stop(hook);
	return th_graphsim_stop(&gs) == 0 ? 0 : 1;
}
