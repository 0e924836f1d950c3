#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gt.h"

int
gt_setup(void **state, const char *const *extra)
{
	struct gt *t = calloc(1, sizeof(*t));
	const char *args[32] = {"--allow-http-notify", NULL};
	int n = 1;

	for (; extra && *extra && n < 31; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	if (!t || th_graphsim_start(&t->gs, args) < 0)
		return -1;
	t->hook = th_hook_start(NULL, NULL);
	t->svc = th_sim_user(&t->gs, GT_TENANT, "svc-911@contoso.example", "Security Desk Service");
	t->caller = th_sim_user(&t->gs, GT_TENANT, "jane@contoso.example", "Jane Doe");
	t->desk = th_sim_user(&t->gs, GT_TENANT, "guard@contoso.example", "Night Guard");
	json_decref(gt_sim_ok(t, "POST", "/apps",
			      json_pack("{s:s, s:s, s:s, s:[s]}", "tenant", GT_TENANT, "client_id",
					GT_CLIENT, "client_secret", GT_SECRET, "redirect_uris",
					GT_REDIRECT)));
	if (!t->hook || !t->svc || !t->caller || !t->desk)
		return -1;
	*state = t;
	return 0;
}

int
gt_teardown(void **state)
{
	struct gt *t = *state;
	int rc;

	th_hook_stop(t->hook);
	rc = th_graphsim_stop(&t->gs);
	free(t->svc);
	free(t->caller);
	free(t->desk);
	free(t);
	return rc;
}

const char *
gt_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

json_t *
gt_sim_ok(struct gt *t, const char *method, const char *path, json_t *body)
{
	long status = 0;
	json_t *r = th_sim(&t->gs, method, path, body, &status);

	if (status < 200 || status > 299) {
		char *s = r ? json_dumps(r, 0) : NULL;
		fprintf(stderr, "control %s %s: %ld %s\n", method, path, status, s ? s : "");
		free(s);
	}
	assert_in_range(status, 200, 299);
	return r;
}

long
gt_authorize(struct gt *t, const char *query, char **ret_location)
{
	char *url;
	struct th_resp r;
	long status;

	if (asprintf(&url, "%s/%s/oauth2/v2.0/authorize?%s", t->gs.base, GT_TENANT, query) < 0)
		abort();
	assert_int_equal(th_http("GET", url, t->gs.ca, NULL, NULL, &r), 0);
	status = r.status;
	*ret_location = r.location ? strdup(r.location) : NULL;
	th_resp_free(&r);
	free(url);
	return status;
}

long
gt_token(struct gt *t, const char *form, json_t **ret_body)
{
	char *url;
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
	struct th_resp r;
	long status;

	if (asprintf(&url, "%s/%s/oauth2/v2.0/token", t->gs.base, GT_TENANT) < 0)
		abort();
	assert_int_equal(th_http("POST", url, t->gs.ca, hdrs, form, &r), 0);
	status = r.status;
	*ret_body = th_resp_json(&r);
	assert_non_null(*ret_body);
	th_resp_free(&r);
	free(url);
	return status;
}

json_t *
gt_signin(struct gt *t)
{
	return gt_signin_scopes(t, GT_SCOPES);
}

json_t *
gt_signin_scopes(struct gt *t, const char *scopes)
{
	char *verifier, *challenge, *q, *loc, *code, *form;
	char *redir = th_urlenc(GT_REDIRECT), *scope = th_urlenc(scopes);
	json_t *body;

	th_pkce(&verifier, &challenge);
	if (asprintf(&q,
		     "client_id=%s&response_type=code&redirect_uri=%s&scope=%s&state=s1"
		     "&code_challenge=%s&code_challenge_method=S256",
		     GT_CLIENT, redir, scope, challenge) < 0)
		abort();
	assert_int_equal(gt_authorize(t, q, &loc), 302);
	code = th_url_param(loc, "code");
	assert_non_null(code);
	char *ecode = th_urlenc(code);
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

char *
gt_iso_in(double seconds)
{
	time_t when = time(NULL) + (time_t)seconds;
	struct tm tm;
	char buf[40];

	gmtime_r(&when, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
	return strdup(buf);
}

json_t *
gt_sub_body(struct gt *t, double minutes, const char *client_state)
{
	char *exp = gt_iso_in(minutes * 60), *notify = th_hook_url(t->hook, "/notify");
	char *life = th_hook_url(t->hook, "/lifecycle"), *res;
	json_t *b;

	if (asprintf(&res, "/users/%s/chats/getAllMessages", t->svc) < 0)
		abort();
	b = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "changeType", "created,updated",
		      "notificationUrl", notify, "lifecycleNotificationUrl", life, "resource", res,
		      "expirationDateTime", exp, "clientState",
		      client_state ? client_state : "a-secret-client-state");
	free(exp);
	free(notify);
	free(life);
	free(res);
	return b;
}

long
gt_subscribe(struct gt *t, const char *token, json_t *body, json_t **ret)
{
	struct th_resp r;
	long status;

	assert_int_equal(th_graph_send(&t->gs, "POST", token, "/v1.0/subscriptions", body, &r), 0);
	status = r.status;
	*ret = th_resp_json(&r);
	th_resp_free(&r);
	return status;
}

long
gt_entra_error(json_t *body, const char *error)
{
	assert_string_equal(gt_str(body, "error"), error);
	assert_non_null(gt_str(body, "error_description"));
	assert_true(json_is_array(json_object_get(body, "error_codes")));
	assert_non_null(gt_str(body, "timestamp"));
	assert_non_null(gt_str(body, "trace_id"));
	assert_non_null(gt_str(body, "correlation_id"));
	return (long)json_integer_value(json_array_get(json_object_get(body, "error_codes"), 0));
}

void
gt_delete_subs(struct gt *t, const char *token)
{
	struct th_resp r;
	json_t *list, *s;
	size_t i;

	assert_int_equal(th_graph_get(&t->gs, token, "/v1.0/subscriptions", &r), 0);
	list = th_resp_json(&r);
	th_resp_free(&r);
	json_array_foreach (json_object_get(list, "value"), i, s) {
		char *path;
		if (asprintf(&path, "/v1.0/subscriptions/%s", gt_str(s, "id")) < 0)
			abort();
		assert_int_equal(th_graph_send(&t->gs, "DELETE", token, path, NULL, &r), 0);
		assert_int_equal(r.status, 204);
		th_resp_free(&r);
		free(path);
	}
	json_decref(list);
}
