/*
 * The control API under /_sim/: what a test does that Microsoft's cloud
 * would do on its own or through an admin portal. Create apps, users and
 * chats; post messages (an emergency notice among them); revoke sessions;
 * expire tokens and subscriptions; send lifecycle events; rotate keys;
 * inject faults; read the request and delivery logs. It is served on the
 * same listener, for loopback tests only, and is not part of Graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

static void
bad(struct gs_resp *resp, unsigned int status, const char *msg)
{
	gs_resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

static void
bad_take(struct gs_resp *resp, unsigned int status, char *msg)
{
	bad(resp, status, msg);
	free(msg);
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void
ctl_apps(json_t *b, struct gs_resp *resp)
{
	char *err = NULL;
	struct gs_app *a =
	    gs_app_add(jstr(b, "tenant"), jstr(b, "client_id"), jstr(b, "client_secret"),
		       json_object_get(b, "redirect_uris"), &err);

	if (!a)
		return bad_take(resp, 400, err);
	a->secret_expired = json_is_true(json_object_get(b, "secret_expired"));
	gs_resp_json(resp, 201,
		     json_pack("{s:s, s:s, s:s}", "client_id", a->client_id, "client_secret",
			       a->secret, "tenant", a->tenant));
}

static void
ctl_app_patch(const char *id, json_t *b, struct gs_resp *resp)
{
	struct gs_app *a = gs_app_find(id);
	json_t *v;

	if (!a)
		return bad(resp, 404, "no such app");
	if ((v = json_object_get(b, "secret_expired")))
		a->secret_expired = json_is_true(v);
	if (jstr(b, "client_secret")) {
		free(a->secret);
		a->secret = gs_strdup(jstr(b, "client_secret"));
	}
	gs_resp_json(resp, 200,
		     json_pack("{s:s, s:b}", "client_id", a->client_id, "secret_expired",
			       a->secret_expired));
}

static void
ctl_users(json_t *b, struct gs_resp *resp)
{
	char *err = NULL;
	struct gs_user *u = gs_user_add(jstr(b, "tenant"), jstr(b, "id"), jstr(b, "upn"),
					jstr(b, "display_name"), &err);

	if (!u)
		return bad_take(resp, 400, err);
	gs_resp_json(resp, 201, gs_user_to_json(u));
}

static void
ctl_user_action(const char *id, const char *action, json_t *b, struct gs_resp *resp)
{
	struct gs_user *u = gs_user_find(NULL, id);

	if (!u)
		return bad(resp, 404, "no such user");
	if (!strcmp(action, "revoke")) {
		/* revokeSignInSessions: refresh tokens die, and Graph tells every
		 * subscription of the user that it needs reauthorizing, or (with
		 * "remove": true) removes it, the other outcome the lifecycle
		 * events page documents for lost access
		 * (learn.microsoft.com/graph/change-notifications-lifecycle-events) */
		bool remove = json_is_true(json_object_get(b, "remove"));
		gs_user_revoke(u);
		for (size_t i = 0; i < gs_subs()->n; i++) {
			struct gs_sub *s = gs_subs()->v[i];
			if (s->user != u || !gs_sub_find(s->id))
				continue;
			if (remove) {
				gs_sub_delete(s, "removed: access revoked");
				gs_notify_lifecycle(s, "subscriptionRemoved");
			} else {
				gs_notify_lifecycle(s, "reauthorizationRequired");
			}
		}
	} else if (!strcmp(action, "require-interaction")) {
		const char *code = jstr(b, "code"), *sub = jstr(b, "suberror");
		int n = 0;
		if (code && !strncmp(code, "AADSTS", 6))
			code += 6;
		if (code)
			n = atoi(code);
		if (n != 50076 && n != 50078 && n != 50079 && n != 53003)
			return bad(resp, 400,
				   "code must be AADSTS50076 (MFA), AADSTS50078 (MFA expired), "
				   "AADSTS50079 (MFA enrolment) or AADSTS53003 (Conditional "
				   "Access)");
		u->interaction_code = n;
		free(u->interaction_suberror);
		/* suberror tells the client what interaction helps: MFA is a
		 * basic action; a CA block only shows a message */
		u->interaction_suberror = gs_strdup(sub          ? sub
						    : n == 53003 ? "message_only"
								 : "basic_action");
	} else if (!strcmp(action, "expire-tokens")) {
		json_t *acc = json_object_get(b, "access"), *ref = json_object_get(b, "refresh");
		gs_user_expire_tokens(u, !acc || json_is_true(acc), json_is_true(ref));
	} else {
		return bad(resp, 404, "unknown user action");
	}
	gs_resp_json(resp, 200, json_pack("{s:s, s:s}", "id", u->id, "done", action));
}

static void
ctl_signin(json_t *b, struct gs_resp *resp)
{
	const char *tenant = jstr(b, "tenant"), *user = jstr(b, "user");
	struct gs_user *u = NULL;

	if (!tenant)
		return bad(resp, 400, "tenant is required");
	if (user && !(u = gs_user_find(tenant, user)))
		return bad(resp, 400, "no such user in that tenant");
	if (!user && !jstr(b, "error"))
		return bad(resp, 400, "give user (who signs in) or error (what Entra answers)");
	gs_signin_set(tenant, u, jstr(b, "error"), jstr(b, "error_description"),
		      (long)json_integer_value(json_object_get(b, "count")));
	gs_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

static void
ctl_chats(json_t *b, struct gs_resp *resp)
{
	char *err = NULL;
	struct gs_chat *c = gs_chat_add(jstr(b, "tenant"), jstr(b, "chat_type"), jstr(b, "topic"),
					json_object_get(b, "members"), &err);

	if (!c)
		return bad_take(resp, 400, err);
	gs_resp_json(resp, 201, gs_chat_to_json(c, false, true));
}

static void
post_message(struct gs_chat *c, struct gs_user *from, json_t *spec, struct gs_resp *resp)
{
	char *err = NULL;
	struct gs_message *m = gs_message_add(c, from, spec, &err);
	int n;

	if (!m)
		return bad_take(resp, 400, err);
	n = gs_notify_message(m, "created");
	gs_resp_json(resp, 201,
		     json_pack("{s:s, s:s, s:i, s:O}", "id", m->id, "chat_id", c->id, "notified", n,
			       "message", m->json));
}

static void
ctl_messages(json_t *b, struct gs_resp *resp)
{
	struct gs_chat *c = gs_chat_find(jstr(b, "chat"));
	struct gs_user *from = jstr(b, "from") ? gs_user_find(NULL, jstr(b, "from")) : NULL;

	if (!c)
		return bad(resp, 400, "chat: no such chat");
	if (jstr(b, "from") && !from)
		return bad(resp, 400, "from: no such user");
	/* an application sender: from.application set, from.user null
	 * (chatMessageFromIdentitySet, learn.microsoft.com/graph/api/resources/chatmessage) */
	if (from && json_object_get(b, "from_app"))
		return bad(resp, 400, "give from (a user) or from_app, not both");
	post_message(c, from, b, resp);
}

static void
members_apply(struct gs_chat *c, json_t *list, bool add, char **ret_err)
{
	size_t i;
	json_t *v;

	json_array_foreach (list, i, v) {
		struct gs_user *u =
		    json_is_string(v) ? gs_user_find(c->tenant, json_string_value(v)) : NULL;
		if (!u) {
			*ret_err = gs_printf("member %zu is not a user of tenant %s", i, c->tenant);
			return;
		}
	}
	json_array_foreach (list, i, v) {
		struct gs_user *u = gs_user_find(c->tenant, json_string_value(v));
		if (add && !gs_chat_has_member(c, u))
			gs_vec_push(&c->members, u);
		for (size_t k = 0; !add && k < c->members.n; k++)
			if (c->members.v[k] == u)
				gs_vec_remove_at(&c->members, k);
	}
}

/*
 * A rename or a membership change: the only things that move a chat's
 * lastUpdatedDateTime (chat resource type,
 * learn.microsoft.com/graph/api/resources/chat).
 */
static void
ctl_chat_patch(const char *id, json_t *b, struct gs_resp *resp)
{
	struct gs_chat *c = gs_chat_find(id);
	json_t *add = json_object_get(b, "add_members"), *rm = json_object_get(b, "remove_members");
	json_t *topic = json_object_get(b, "topic");
	char *err = NULL;

	if (!c)
		return bad(resp, 404, "no such chat");
	if ((add && !json_is_array(add)) || (rm && !json_is_array(rm)) ||
	    (topic && !json_is_string(topic) && !json_is_null(topic)))
		return bad(resp, 400, "topic is a string; add_members and remove_members arrays");
	if (!topic && !add && !rm)
		return bad(resp, 400, "give topic, add_members or remove_members");
	if (add)
		members_apply(c, add, true, &err);
	if (!err && rm)
		members_apply(c, rm, false, &err);
	if (err)
		return bad_take(resp, 400, err);
	if (topic) {
		free(c->topic);
		c->topic = gs_strdup(json_string_value(topic));
	}
	gs_chat_touch(c);
	gs_resp_json(resp, 200, gs_chat_to_json(c, false, true));
}

/*
 * A reaction: it is added to the message's reactions and moves its
 * lastModifiedDateTime, not lastEditedDateTime (chatMessage resource type,
 * learn.microsoft.com/graph/api/resources/chatmessage; chatMessageReaction),
 * and is notified as an update like an edit.
 */
static void
ctl_reaction(const char *chat_id, const char *msg_id, json_t *b, struct gs_resp *resp)
{
	struct gs_chat *c = gs_chat_find(chat_id);
	struct gs_message *m = c ? gs_message_find(c, msg_id) : NULL;
	struct gs_user *u = jstr(b, "user") ? gs_user_find(NULL, jstr(b, "user")) : NULL;
	const char *rt = jstr(b, "reaction_type") ? jstr(b, "reaction_type") : "like";
	double now = gs_now();
	char *ts;
	json_t *r;
	int n;

	if (!m)
		return bad(resp, 404, "no such message");
	if (!u || !gs_chat_has_member(c, u))
		return bad(resp, 400, "user: a member of the chat (id or UPN)");
	ts = gs_time_iso(now, 3);
	r = json_pack("{s:s, s:s, s:n, s:{s:n, s:n, s:{s:s, s:s, s:s, s:s}}}", "reactionType", rt,
		      "createdDateTime", ts, "displayName", "user", "application", "device", "user",
		      "id", u->id, "displayName", u->display_name, "userIdentityType", "aadUser",
		      "tenantId", u->tenant);
	json_array_append(json_object_get(m->json, "reactions"), r);
	json_array_append_new(json_object_get(m->json, "messageHistory"),
			      json_pack("{s:s, s:s, s:o}", "modifiedDateTime", ts, "actions",
					"reactionAdded", "reaction", r));
	m->modified = now;
	json_object_set_new(m->json, "lastModifiedDateTime", json_string(ts));
	free(ts);
	n = gs_notify_message(m, "updated");
	gs_resp_json(resp, 200, json_pack("{s:s, s:i}", "id", m->id, "notified", n));
}

/*
 * What Teams does at call time: a new group chat of the caller and the
 * notification group, and an important message from the caller. The wording
 * beyond "has placed an Emergency Call" is an assumption; tests that care
 * about wording post their own text through /_sim/messages.
 */
static void
ctl_emergency(json_t *b, struct gs_resp *resp)
{
	const char *caller_s = jstr(b, "caller"), *tenant;
	const char *number = jstr(b, "number") ? jstr(b, "number") : "911";
	const char *location = jstr(b, "location") ? jstr(b, "location") : "Unknown location";
	json_t *members = json_object_get(b, "members"), *all, *spec;
	struct gs_user *caller = caller_s ? gs_user_find(NULL, caller_s) : NULL;
	struct gs_chat *c;
	char *err = NULL, *html;
	size_t i;
	json_t *v;

	if (!caller)
		return bad(resp, 400, "caller: no such user");
	if (jstr(b, "chat")) {
		/* the notice in an existing chat, e.g. a standing group chat */
		c = gs_chat_find(jstr(b, "chat"));
		if (!c)
			return bad(resp, 400, "chat: no such chat");
		if (!gs_chat_has_member(c, caller))
			return bad(resp, 400, "chat: the caller is not a member");
	} else {
		if (!json_is_array(members) || json_array_size(members) == 0)
			return bad(resp, 400, "members: the notification group (user ids or UPNs)");
		tenant = caller->tenant;
		all = json_pack("[s]", caller->id);
		json_array_foreach (members, i, v)
			json_array_append(all, v);
		c = gs_chat_add(tenant, "group", "Emergency call", all, &err);
		json_decref(all);
		if (!c)
			return bad_take(resp, 400, err);
	}
	html = gs_printf("<p>%s has placed an Emergency Call to %s.</p>"
			 "<p>Location: %s</p>",
			 caller->display_name, number, location);
	spec = json_pack("{s:s, s:s, s:s}", "content", html, "content_type", "html", "importance",
			 "high");
	post_message(c, caller, spec, resp);
	json_decref(spec);
	free(html);
}

static void
ctl_message_change(const char *chat_id, const char *msg_id, bool del, json_t *b,
		   struct gs_resp *resp)
{
	struct gs_chat *c = gs_chat_find(chat_id);
	struct gs_message *m = c ? gs_message_find(c, msg_id) : NULL;
	double now = gs_now();
	char *ts;
	int n;

	if (!m)
		return bad(resp, 404, "no such message");
	ts = gs_time_iso(now, 3);
	m->modified = now;
	json_object_set_new(m->json, "lastModifiedDateTime", json_string(ts));
	if (del) {
		json_object_set_new(m->json, "deletedDateTime", json_string(ts));
	} else {
		json_object_set_new(m->json, "lastEditedDateTime", json_string(ts));
		if (jstr(b, "content"))
			json_object_set_new(json_object_get(m->json, "body"), "content",
					    json_string(jstr(b, "content")));
	}
	free(ts);
	n = gs_notify_message(m, del ? "deleted" : "updated");
	gs_resp_json(resp, 200, json_pack("{s:s, s:i}", "id", m->id, "notified", n));
}

static void
ctl_sub_action(const char *id, const char *action, json_t *b, struct gs_resp *resp)
{
	struct gs_sub *s = gs_sub_find(id);
	const char *event = jstr(b, "event");

	if (!s)
		return bad(resp, 404, "no live subscription with that id");
	if (!strcmp(action, "expire")) {
		/* Graph deletes expired subscriptions without a word */
		s->expires = gs_now();
		gs_sub_delete(s, "expired");
	} else if (!strcmp(action, "remove")) {
		gs_sub_delete(s, "removed by service");
		gs_notify_lifecycle(s, "subscriptionRemoved");
	} else if (!strcmp(action, "lifecycle")) {
		if (!event)
			return bad(resp, 400, "event is required");
		gs_notify_lifecycle(s, event);
	} else if (!strcmp(action, "set-expiry")) {
		double t;
		if (!jstr(b, "expirationDateTime") ||
		    gs_time_parse(jstr(b, "expirationDateTime"), &t) < 0)
			return bad(resp, 400, "expirationDateTime is required");
		s->expires = t;
	} else {
		return bad(resp, 404, "unknown subscription action");
	}
	gs_resp_json(resp, 200, json_pack("{s:s, s:s}", "id", id, "done", action));
}

static void
ctl_subscriptions(struct gs_resp *resp)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < gs_subs()->n; i++) {
		struct gs_sub *s = gs_subs()->v[i];
		bool live = gs_sub_find(s->id) != NULL;
		json_t *o = gs_sub_to_json(s, true);
		json_object_set_new(o, "live", json_boolean(live));
		{
			char *te = gs_time_iso(s->token_expires, 3);
			json_object_set_new(o, "accessTokenExpirationDateTime", json_string(te));
			json_object_set_new(o, "paused",
					    json_boolean(live && gs_sub_paused(s, gs_now())));
			free(te);
		}
		json_object_set_new(o, "deletedReason",
				    s->deleted_reason ? json_string(s->deleted_reason)
						      : json_null());
		json_array_append_new(arr, o);
	}
	gs_resp_json(resp, 200, json_pack("{s:o}", "value", arr));
}

static long
since_arg(const struct gs_req *req)
{
	const char *s = gs_req_arg(req, "since");

	return s ? atol(s) : 0;
}

/* Handlers that need no body and no store lock. */
static bool
control_lockless(struct gs_req *req, struct gs_resp *resp)
{
	const char *p = req->path + 5; /* after "/_sim" */
	bool get = !strcmp(req->method, "GET");

	if (get && !strcmp(p, "/requests"))
		gs_resp_json(resp, 200,
			     json_pack("{s:o}", "value", gs_requests_since(since_arg(req))));
	else if (get && !strcmp(p, "/deliveries"))
		gs_resp_json(resp, 200,
			     json_pack("{s:o}", "value", gs_deliveries_since(since_arg(req))));
	else if (get && !strcmp(p, "/health"))
		gs_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
	else if (!get && !strcmp(p, "/keys/rotate")) {
		gs_keys_rotate();
		gs_resp_json(resp, 200, gs_keys_jwks());
	} else
		return false;
	return true;
}

void
gs_control(struct gs_req *req, struct gs_resp *resp)
{
	const char *p = req->path + 5;
	bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
	json_t *b = NULL;
	char a[128], c[128], d[64];
	char *err = NULL;

	resp->note = gs_strdup("control");
	if (control_lockless(req, resp))
		return;
	if (!get && req->body_len > 0) {
		json_error_t jerr;
		b = json_loadb(req->body, req->body_len, 0, &jerr);
		if (!json_is_object(b)) {
			json_decref(b);
			return bad_take(resp, 400, gs_printf("body: %s", jerr.text));
		}
	}
	if (!b)
		b = json_object();

	gs_lock();
	if (get && !strcmp(p, "/config"))
		gs_resp_json(resp, 200, gs_config_to_json());
	else if (post && !strcmp(p, "/config")) {
		if (gs_config_apply_json(b, &err) < 0)
			bad_take(resp, 400, err);
		else
			gs_resp_json(resp, 200, gs_config_to_json());
	} else if (get && !strcmp(p, "/stats")) {
		json_t *o = gs_delivery_stats();
		json_object_set_new(o, "violations", gs_violations());
		gs_resp_json(resp, 200, o);
	} else if (post && !strcmp(p, "/apps"))
		ctl_apps(b, resp);
	else if (!strcmp(req->method, "PATCH") && sscanf(p, "/apps/%127[^/]", a) == 1)
		ctl_app_patch(a, b, resp);
	else if (post && !strcmp(p, "/users"))
		ctl_users(b, resp);
	else if (post && sscanf(p, "/users/%127[^/]/%63s", a, d) == 2)
		ctl_user_action(a, d, b, resp);
	else if (post && !strcmp(p, "/signin"))
		ctl_signin(b, resp);
	else if (post && !strcmp(p, "/chats"))
		ctl_chats(b, resp);
	else if (post && !strcmp(p, "/messages"))
		ctl_messages(b, resp);
	else if (post && !strcmp(p, "/emergency"))
		ctl_emergency(b, resp);
	else if (post && sscanf(p, "/chats/%127[^/]/messages/%127[^/]/%63s", a, c, d) == 3 &&
		 !strcmp(d, "reactions"))
		ctl_reaction(a, c, b, resp);
	else if (!strcmp(req->method, "PATCH") && sscanf(p, "/chats/%127[^/]", a) == 1 &&
		 !strchr(p + 7, '/'))
		ctl_chat_patch(a, b, resp);
	else if ((!strcmp(req->method, "PATCH") || !strcmp(req->method, "DELETE")) &&
		 sscanf(p, "/chats/%127[^/]/messages/%127s", a, c) == 2)
		ctl_message_change(a, c, !strcmp(req->method, "DELETE"), b, resp);
	else if (get && !strcmp(p, "/subscriptions"))
		ctl_subscriptions(resp);
	else if (post && sscanf(p, "/subscriptions/%127[^/]/%63s", a, d) == 2)
		ctl_sub_action(a, d, b, resp);
	else if (post && !strcmp(p, "/faults")) {
		if (gs_fault_add(b, &err) < 0)
			bad_take(resp, 400, err);
		else
			gs_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(req->method, "DELETE") && !strcmp(p, "/polls")) {
		/* a test of the polling budget starts with no reads counted by
		 * an earlier one */
		gs_polls_reset();
		gs_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(req->method, "DELETE") && !strcmp(p, "/endpoints")) {
		/* a test starts with no endpoint marked slow by an earlier one */
		gs_endpoints_reset();
		gs_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
	} else if (!strcmp(req->method, "DELETE") && !strcmp(p, "/faults")) {
		gs_faults_clear();
		gs_delivery_faults_clear();
		gs_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
	} else if (post && !strcmp(p, "/delivery-faults")) {
		if (gs_delivery_fault_add(b, &err) < 0)
			bad_take(resp, 400, err);
		else
			gs_resp_json(resp, 200, json_pack("{s:b}", "ok", 1));
	} else
		bad(resp, 404, "no such control endpoint; see docs/testing.md");
	gs_unlock();
	gs_deliver_kick();
	json_decref(b);
}
