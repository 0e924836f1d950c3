/*
 * /v1.0/subscriptions: create (with Graph's rules on resources, lifetimes,
 * lifecycle URLs, clientState, quotas, duplicates, rich notifications and the
 * validation handshake on both URLs), list, get, renew (PATCH), delete and
 * reauthorize. Graph's advice against a reauthorize and a PATCH within ten
 * minutes of each other is recorded as a violation tests can assert on.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

#define REAUTH_PATCH_GAP 600.0

static struct gs_vec violations; /* json_t *, under the store lock */

void
gs_violation_add(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	gs_vec_push(&violations, o);
	gs_log(0, "client violation: %s", s);
	free(s);
}

static void
violation(const struct gs_sub *sub, const char *what)
{
	char *ts = gs_time_iso(gs_now(), 3);

	gs_violation_add(json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "rule", "reauthorize",
				   "subscriptionId", sub->id, "what", what));
	free(ts);
}

json_t *
gs_violations(void)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < violations.n; i++)
		json_array_append(arr, violations.v[i]);
	return arr;
}

static bool
change_type_ok(const char *ct)
{
	char *copy = gs_strdup(ct), *save = NULL;
	bool ok = *ct != '\0';

	for (char *t = strtok_r(copy, ",", &save); t && ok; t = strtok_r(NULL, ",", &save))
		ok = !strcmp(t, "created") || !strcmp(t, "updated") || !strcmp(t, "deleted");
	free(copy);
	return ok;
}

/* Resolves a resource path to what it watches; fills resp on failure. */
static int
resource_parse(struct gs_resp *resp, struct gs_token *t, const char *resource,
	       enum gs_sub_kind *ret_kind, char **ret_target)
{
	const char *r = resource[0] == '/' ? resource + 1 : resource;
	char a[256], b[256];
	int n = 0;

	if (strchr(r, '?') || strlen(r) >= sizeof(a))
		goto unsupported;
	if (!strcasecmp(r, "chats/getAllMessages")) {
		gs_resp_graph_error(resp, 403, "Forbidden",
				    "Operation: Create; Exception: [Status Code: Forbidden; "
				    "Reason: chats/getAllMessages is supported with application "
				    "permissions only]");
		return -1;
	}
	if (!strcasecmp(r, "me/chats/getAllMessages")) {
		*ret_kind = GS_SUB_USER_CHATS;
		*ret_target = gs_strdup(t->user->id);
		return 0;
	}
	if (sscanf(r, "users/%255[^/]/chats/getAllMessages%n", a, &n) == 1 && r[n] == '\0') {
		struct gs_user *u = gs_user_find(t->user->tenant, a);
		if (u != t->user) {
			gs_resp_graph_error(resp, 403, "Forbidden",
					    "Operation: Create; Exception: [Status Code: "
					    "Forbidden; Reason: delegated permissions allow only "
					    "the signed-in user's chats]");
			return -1;
		}
		*ret_kind = GS_SUB_USER_CHATS;
		*ret_target = gs_strdup(u->id);
		return 0;
	}
	if (sscanf(r, "chats/%255[^/]/%255s", a, b) == 2 && !strcmp(b, "messages")) {
		struct gs_chat *c = gs_chat_find(a);
		if (!c || !gs_chat_has_member(c, t->user)) {
			gs_resp_graph_error(resp, 403, "Forbidden",
					    "Operation: Create; Exception: [Status Code: "
					    "Forbidden; Reason: the signed-in user is not a member "
					    "of chat %s]",
					    a);
			return -1;
		}
		*ret_kind = GS_SUB_CHAT;
		*ret_target = gs_strdup(c->id);
		return 0;
	}
unsupported:
	gs_resp_graph_error(resp, 400, "InvalidRequest",
			    "Resource '%s' is not supported for subscriptions by graphsim.",
			    resource);
	return -1;
}

static bool
url_ok(struct gs_resp *resp, const char *name, const char *url)
{
	if (!strncmp(url, "https://", 8))
		return true;
	if (!strncmp(url, "http://", 7) && gs_cfg.allow_http_notify && gs_is_loopback_host(url))
		return true;
	gs_resp_graph_error(resp, 400, "ValidationError",
			    "The %s '%s' is not valid: it must be an HTTPS URL.", name, url);
	return false;
}

/* Checks a requested expiry; raises short ones to the minimum. */
static bool
expiry_ok(struct gs_resp *resp, const char *s, bool has_lifecycle, double *ret)
{
	double now = gs_now(), t;

	if (!s || gs_time_parse(s, &t) < 0) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "expirationDateTime must be a DateTimeOffset, e.g. "
				    "2026-11-28T12:00:00.0000000Z.");
		return false;
	}
	if (t <= now) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "Subscription expiration must be in the future.");
		return false;
	}
	if (t - now > gs_cfg.sub_max) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "Subscription expiration can only be %.0f minutes in the "
				    "future.",
				    gs_cfg.sub_max / 60);
		return false;
	}
	if (t - now < gs_cfg.sub_min)
		t = now + gs_cfg.sub_min;
	/* a grant shorter than asked, said only in the answer's expiry */
	if (gs_cfg.sub_grant_cap > 0 && t - now > gs_cfg.sub_grant_cap)
		t = now + gs_cfg.sub_grant_cap;
	if (!has_lifecycle && t - now > gs_cfg.lifecycle_required_above) {
		gs_resp_graph_error(resp, 400, "ValidationError",
				    "lifecycleNotificationUrl is a required property for "
				    "subscription creation on this resource when the "
				    "expirationDateTime value is set to greater than 1 hour");
		return false;
	}
	*ret = t;
	return true;
}

static int
quota_check(struct gs_resp *resp, struct gs_token *t, enum gs_sub_kind kind, const char *target,
	    const char *change_type)
{
	long per_user = 0;

	for (size_t i = 0; i < gs_subs()->n; i++) {
		struct gs_sub *s = gs_subs()->v[i];
		if (!gs_sub_find(s->id))
			continue;
		if (s->kind == kind && !strcmp(s->target, target) && s->app == t->app) {
			if (!strcmp(s->change_type, change_type)) {
				gs_resp_graph_error(resp, 409, "Conflict",
						    "Subscription Id %s already exists for the "
						    "requested combination",
						    s->id);
				return -1;
			}
			if (kind == GS_SUB_CHAT) {
				gs_resp_graph_error(resp, 403, "Forbidden",
						    "Subscription quota exceeded: one subscription "
						    "per app per chat.");
				return -1;
			}
		}
		if (kind == GS_SUB_USER_CHATS && s->kind == GS_SUB_USER_CHATS &&
		    !strcmp(s->target, target))
			per_user++;
	}
	if (kind == GS_SUB_USER_CHATS && per_user >= gs_cfg.subs_per_user) {
		gs_resp_graph_error(resp, 403, "Forbidden",
				    "Subscription quota exceeded: at most %ld subscriptions per "
				    "user for this resource.",
				    gs_cfg.subs_per_user);
		return -1;
	}
	return 0;
}

static bool
has_chat_read(struct gs_resp *resp, struct gs_token *t)
{
	if (gs_scope_has(t->scopes, "Chat.Read") || gs_scope_has(t->scopes, "Chat.ReadWrite"))
		return true;
	gs_resp_graph_error(resp, 403, "Forbidden",
			    "Operation: Create; Exception: [Status Code: Forbidden; Reason: "
			    "The caller lacks Chat.Read]");
	return false;
}

/* Runs both handshakes, unlocked; fills resp and returns -1 on failure. */
static int
handshakes(struct gs_resp *resp, const char *notify, const char *lifecycle)
{
	char *why = gs_handshake(notify, "notificationUrl");

	if (!why && lifecycle)
		why = gs_handshake(lifecycle, "lifecycleNotificationUrl");
	if (why) {
		gs_resp_graph_error(resp, 400, "ValidationError", "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

void
gs_subs_create(struct gs_req *req, struct gs_resp *resp)
{
	json_t *body = gs_req_json(req, resp);
	const char *change_type, *notify, *lifecycle, *resource, *exp_s, *state, *cert, *cert_id;
	bool rich;
	struct gs_token *t;
	struct gs_app *app;
	struct gs_user *user;
	enum gs_sub_kind kind;
	char *target = NULL, *thumb = NULL, *err = NULL;
	EVP_PKEY *key = NULL;
	double exp;
	struct gs_sub *s;

	if (!body)
		return;
	change_type = json_string_value(json_object_get(body, "changeType"));
	notify = json_string_value(json_object_get(body, "notificationUrl"));
	lifecycle = json_string_value(json_object_get(body, "lifecycleNotificationUrl"));
	resource = json_string_value(json_object_get(body, "resource"));
	exp_s = json_string_value(json_object_get(body, "expirationDateTime"));
	state = json_string_value(json_object_get(body, "clientState"));
	rich = json_is_true(json_object_get(body, "includeResourceData"));
	cert = json_string_value(json_object_get(body, "encryptionCertificate"));
	cert_id = json_string_value(json_object_get(body, "encryptionCertificateId"));

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (!t)
		goto fail;
	for (const char **f = (const char *[]){"changeType", "notificationUrl", "resource",
					       "expirationDateTime", NULL};
	     *f; f++) {
		if (!json_is_string(json_object_get(body, *f))) {
			gs_resp_graph_error(resp, 400, "InvalidRequest",
					    "%s is a required property for subscription "
					    "creation.",
					    *f);
			goto fail;
		}
	}
	if (!change_type_ok(change_type)) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "Invalid 'changeType' attribute: '%s'.", change_type);
		goto fail;
	}
	if (!url_ok(resp, "notificationUrl", notify) ||
	    (lifecycle && !url_ok(resp, "lifecycleNotificationUrl", lifecycle)))
		goto fail;
	if (!has_chat_read(resp, t) || resource_parse(resp, t, resource, &kind, &target) < 0)
		goto fail;
	if (!expiry_ok(resp, exp_s, lifecycle != NULL, &exp))
		goto fail;
	if (state && strlen(state) > 128) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "clientState must be at most 128 characters.");
		goto fail;
	}
	if (rich && (!cert || !cert_id)) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "encryptionCertificate and encryptionCertificateId are "
				    "required when includeResourceData is true.");
		goto fail;
	}
	if (cert_id && strlen(cert_id) > 128) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "encryptionCertificateId must be at most 128 characters.");
		goto fail;
	}
	if (rich && !(key = gs_cert_parse(cert, &thumb, &err))) {
		gs_resp_graph_error(resp, 400, "InvalidRequest", "%s", err);
		goto fail;
	}
	if (quota_check(resp, t, kind, target, change_type) < 0)
		goto fail;
	app = t->app;
	user = t->user;
	gs_unlock();

	if (handshakes(resp, notify, lifecycle) < 0) {
		gs_lock();
		goto fail;
	}

	gs_lock();
	/* another create may have won while the handshakes ran */
	if (quota_check(resp, t, kind, target, change_type) < 0)
		goto fail;
	s = gs_sub_add();
	s->app = app;
	s->user = user;
	s->resource = gs_strdup(resource);
	s->kind = kind;
	/* Create subscription (learn.microsoft.com/graph/api/
	 * subscription-post-subscriptions, its Teams notes): the Prefer
	 * header is needed for systemEventMessage on /chats/{id}/messages
	 * (and channel messages); for getAllMessages the page says nothing,
	 * and graphsim does not assume it */
	s->unknown_enums = kind == GS_SUB_CHAT && gs_prefers_unknown_enums(req);
	s->target = target;
	target = NULL;
	s->change_type = gs_strdup(change_type);
	s->notification_url = gs_strdup(notify);
	s->lifecycle_url = gs_strdup(lifecycle);
	s->client_state = gs_strdup(state);
	s->expires = exp;
	s->rich = rich;
	s->cert_key = key;
	key = NULL;
	s->cert_b64 = gs_strdup(cert);
	s->cert_id = gs_strdup(cert_id);
	s->cert_thumb = thumb;
	thumb = NULL;
	/* the subscription runs on the access token it was made with
	 * (change-notifications lifecycle events) */
	s->token_expires = t->expires;
	s->last_cadence_notice = gs_now();
	{
		json_t *o = gs_sub_to_json(s, true);
		/* the create response echoes clientState; the certificate is not */
		json_object_set_new(o, "encryptionCertificate", json_null());
		json_object_set_new(o, "@odata.context",
				    json_string("https://graph.microsoft.com/v1.0/"
						"$metadata#subscriptions/$entity"));
		gs_resp_json(resp, 201, o);
		resp->location =
		    gs_printf("https://graph.microsoft.com/v1.0/subscriptions/%s", s->id);
	}
fail:
	gs_unlock();
	EVP_PKEY_free(key);
	free(thumb);
	free(target);
	free(err);
	json_decref(body);
}

/* The subscription the path names, if the caller's app and user own it. */
static struct gs_sub *
owned_sub(struct gs_req *req, struct gs_resp *resp, struct gs_token **ret_t)
{
	struct gs_token *t = gs_graph_auth(req, resp);
	struct gs_sub *s;

	if (!t)
		return NULL;
	s = gs_sub_find(req->params[0]);
	if (!s || s->app != t->app || s->user != t->user) {
		gs_resp_graph_error(resp, 404, "ResourceNotFound",
				    "The object was not found. Subscription '%s' does not exist "
				    "or has expired.",
				    req->params[0]);
		return NULL;
	}
	if (ret_t)
		*ret_t = t;
	return s;
}

void
gs_subs_list(struct gs_req *req, struct gs_resp *resp)
{
	struct gs_token *t;
	json_t *value;

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (t) {
		value = json_array();
		for (size_t i = 0; i < gs_subs()->n; i++) {
			struct gs_sub *s = gs_subs()->v[i];
			if (gs_sub_find(s->id) && s->app == t->app && s->user == t->user)
				json_array_append_new(value, gs_sub_to_json(s, false));
		}
		gs_resp_json(resp, 200,
			     json_pack("{s:s, s:o}", "@odata.context",
				       "https://graph.microsoft.com/v1.0/$metadata#subscriptions",
				       "value", value));
	}
	gs_unlock();
}

void
gs_subs_get(struct gs_req *req, struct gs_resp *resp)
{
	struct gs_sub *s;

	gs_lock();
	s = owned_sub(req, resp, NULL);
	if (s)
		gs_resp_json(resp, 200, gs_sub_to_json(s, false));
	gs_unlock();
}

void
gs_subs_patch(struct gs_req *req, struct gs_resp *resp)
{
	json_t *body = gs_req_json(req, resp);
	const char *exp_s, *notify, *cert, *cert_id;
	struct gs_sub *s;
	EVP_PKEY *key = NULL;
	char *thumb = NULL, *err = NULL, *sub_id = NULL;
	double exp = 0, token_expires = 0;
	struct gs_token *tok = NULL;

	if (!body)
		return;
	exp_s = json_string_value(json_object_get(body, "expirationDateTime"));
	notify = json_string_value(json_object_get(body, "notificationUrl"));
	cert = json_string_value(json_object_get(body, "encryptionCertificate"));
	cert_id = json_string_value(json_object_get(body, "encryptionCertificateId"));

	gs_lock();
	s = owned_sub(req, resp, &tok);
	if (!s)
		goto out;
	token_expires = tok->expires;
	if (json_object_get(body, "lifecycleNotificationUrl")) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "lifecycleNotificationUrl cannot be changed; delete the "
				    "subscription and create a new one.");
		goto out;
	}
	if (!exp_s && !notify) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "The request must contain expirationDateTime or "
				    "notificationUrl.");
		goto out;
	}
	if (exp_s && !expiry_ok(resp, exp_s, s->lifecycle_url != NULL, &exp))
		goto out;
	if (notify && !url_ok(resp, "notificationUrl", notify))
		goto out;
	if (cert && !(key = gs_cert_parse(cert, &thumb, &err))) {
		gs_resp_graph_error(resp, 400, "InvalidRequest", "%s", err);
		goto out;
	}
	if (cert && !cert_id) {
		gs_resp_graph_error(resp, 400, "InvalidRequest",
				    "encryptionCertificateId is required with "
				    "encryptionCertificate.");
		goto out;
	}
	if (notify && strcmp(notify, s->notification_url) != 0) {
		sub_id = gs_strdup(s->id);
		gs_unlock();
		char *why = gs_handshake(notify, "notificationUrl");
		gs_lock();
		if (why) {
			gs_resp_graph_error(resp, 400, "ValidationError", "%s", why);
			free(why);
			goto out;
		}
		s = gs_sub_find(sub_id);
		if (!s) {
			gs_resp_graph_error(resp, 404, "ResourceNotFound",
					    "Subscription '%s' was deleted meanwhile.", sub_id);
			goto out;
		}
		free(s->notification_url);
		s->notification_url = gs_strdup(notify);
	}
	if (gs_now() - s->last_reauthorize < REAUTH_PATCH_GAP)
		violation(s, "PATCH within 10 minutes of a reauthorize");
	if (exp_s)
		s->expires = exp;
	if (cert) {
		EVP_PKEY_free(s->cert_key);
		free(s->cert_b64);
		free(s->cert_id);
		free(s->cert_thumb);
		s->cert_key = key;
		s->cert_b64 = gs_strdup(cert);
		s->cert_id = gs_strdup(cert_id);
		s->cert_thumb = thumb;
		key = NULL;
		thumb = NULL;
	}
	/* a renewal also reauthorizes: the subscription now runs on this
	 * request's access token, and paused delivery resumes (for changes
	 * from now on) */
	s->last_patch = gs_now();
	s->last_reauth_notice = s->last_patch;
	/* whether the PATCH gave Graph a token it did not hold: tests count
	 * reauthorizations that changed nothing */
	resp->note = gs_printf("token %s", s->token_expires == token_expires ? "unchanged" : "new");
	s->token_expires = token_expires;
	s->last_token_notice = 0;
	gs_deliver_release(s->id);
	gs_resp_json(resp, 200, gs_sub_to_json(s, false));
out:
	gs_unlock();
	EVP_PKEY_free(key);
	free(thumb);
	free(err);
	free(sub_id);
	json_decref(body);
}

void
gs_subs_delete(struct gs_req *req, struct gs_resp *resp)
{
	struct gs_sub *s;

	gs_lock();
	s = owned_sub(req, resp, NULL);
	if (s) {
		gs_sub_delete(s, "deleted by client");
		resp->status = 204;
	}
	gs_unlock();
}

void
gs_subs_reauthorize(struct gs_req *req, struct gs_resp *resp)
{
	struct gs_sub *s;

	struct gs_token *tok = NULL;

	gs_lock();
	s = owned_sub(req, resp, &tok);
	if (s) {
		if (gs_now() - s->last_patch < REAUTH_PATCH_GAP)
			violation(s, "reauthorize within 10 minutes of a PATCH");
		s->last_reauthorize = gs_now();
		s->last_reauth_notice = s->last_reauthorize;
		s->token_expires = tok->expires;
		s->last_token_notice = 0;
		gs_deliver_release(s->id);
		resp->status = 204;
	}
	gs_unlock();
}
