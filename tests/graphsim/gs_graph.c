/*
 * Microsoft Graph v1.0 read endpoints a delegated chat client uses: /me,
 * /users/{id}, the user's chats, a chat's messages and one message, with
 * bearer-token checks and the per-chat GET rate limit Graph documents for
 * Teams (429 with Retry-After).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs.h"

bool
gs_scope_has(const char *scopes, const char *scope)
{
	size_t n = strlen(scope);

	for (const char *p = scopes; p && *p;) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !strncasecmp(p, scope, n))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Called with the lock held. */
struct gs_token *
gs_graph_auth(struct gs_req *req, struct gs_resp *resp)
{
	const char *auth = gs_req_header(req, "Authorization");
	struct gs_token *t;

	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
		gs_resp_graph_error(resp, 401, "InvalidAuthenticationToken",
				    "Access token is empty.");
		resp->www_authenticate = gs_strdup("Bearer realm=\"\", error=\"invalid_token\"");
		return NULL;
	}
	t = gs_token_find(auth + 7, GS_ACCESS);
	if (!t) {
		gs_resp_graph_error(resp, 401, "InvalidAuthenticationToken",
				    "IDX14100: JWT is not well formed.");
		resp->www_authenticate = gs_strdup("Bearer realm=\"\", error=\"invalid_token\"");
		return NULL;
	}
	if (gs_now() >= t->expires) {
		gs_resp_graph_error(resp, 401, "InvalidAuthenticationToken",
				    "Lifetime validation failed, the token is expired.");
		resp->www_authenticate = gs_strdup(
		    "Bearer realm=\"\", error=\"invalid_token\", "
		    "error_description=\"Lifetime validation failed, the token is expired.\"");
		return NULL;
	}
	return t;
}

/* The user a path names: "me", or an id/UPN that must be the caller, since a
 * delegated token only reads its own user's chats. */
static struct gs_user *
path_user(struct gs_resp *resp, struct gs_token *t, const char *who)
{
	struct gs_user *u;

	if (!who || !strcmp(who, "me"))
		return t->user;
	u = gs_user_find(t->user->tenant, who);
	if (!u) {
		gs_resp_graph_error(resp, 404, "Request_ResourceNotFound",
				    "Resource '%s' does not exist or one of its queried reference-"
				    "property objects are not present.",
				    who);
		return NULL;
	}
	if (u != t->user) {
		gs_resp_graph_error(resp, 403, "Forbidden",
				    "Delegated access only reads the signed-in user's chats.");
		return NULL;
	}
	return u;
}

void
gs_graph_me(struct gs_req *req, struct gs_resp *resp)
{
	struct gs_token *t;

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (t) {
		json_t *o = gs_user_to_json(t->user);
		json_object_set_new(o, "@odata.context",
				    json_string("https://graph.microsoft.com/v1.0/"
						"$metadata#users/$entity"));
		gs_resp_json(resp, 200, o);
	}
	gs_unlock();
}

void
gs_graph_user(struct gs_req *req, struct gs_resp *resp)
{
	struct gs_token *t;
	struct gs_user *u;

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (t) {
		u = gs_user_find(t->user->tenant, req->params[0]);
		if (u)
			gs_resp_json(resp, 200, gs_user_to_json(u));
		else
			gs_resp_graph_error(resp, 404, "Request_ResourceNotFound",
					    "Resource '%s' does not exist or one of its queried "
					    "reference-property objects are not present.",
					    req->params[0]);
	}
	gs_unlock();
}

static bool
need_chat_scope(struct gs_resp *resp, struct gs_token *t, bool basic_ok)
{
	if (gs_scope_has(t->scopes, "Chat.Read") || gs_scope_has(t->scopes, "Chat.ReadWrite") ||
	    (basic_ok && gs_scope_has(t->scopes, "Chat.ReadBasic")))
		return true;
	gs_resp_graph_error(resp, 403, "Forbidden",
			    "Missing scope permissions on the request. API requires one of "
			    "'Chat.Read, Chat.ReadWrite'.");
	return false;
}

static long
top_arg(struct gs_req *req, struct gs_resp *resp, long dflt, long max)
{
	const char *s = gs_req_arg(req, "$top");
	char *end;
	long v;

	if (!s)
		return dflt;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > max) {
		gs_resp_graph_error(resp, 400, "BadRequest",
				    "Invalid page size specified: '%s'. Must be between 1 and %ld "
				    "inclusive.",
				    s, max);
		return -1;
	}
	return v;
}

/* "$filter=NAME gt 2026-11-28T12:00:00Z" (and lt/ge/le); one clause only */
static int
time_filter(const char *filter, const char *name, char *ret_op, double *ret_t)
{
	char field[64], op[4], val[64];

	if (sscanf(filter, "%63s %3s %63s", field, op, val) != 3 || strcmp(field, name) != 0)
		return -1;
	if (strcmp(op, "gt") && strcmp(op, "lt") && strcmp(op, "ge") && strcmp(op, "le"))
		return -1;
	if (gs_time_parse(val, ret_t) < 0)
		return -1;
	memcpy(ret_op, op, 3);
	return 0;
}

static bool
time_pass(double v, const char *op, double t)
{
	/* Graph keeps milliseconds; compare at that precision */
	v = floor(v * 1000);
	t = floor(t * 1000);
	return !strcmp(op, "gt")   ? v > t
	       : !strcmp(op, "lt") ? v < t
	       : !strcmp(op, "ge") ? v >= t
				   : v <= t;
}

static int
cmp_chat_recent(const void *a, const void *b)
{
	const struct gs_chat *x = *(struct gs_chat *const *)a, *y = *(struct gs_chat *const *)b;

	return (x->last_updated < y->last_updated) - (x->last_updated > y->last_updated);
}

void
gs_graph_chats(struct gs_req *req, struct gs_resp *resp)
{
	const char *filter = gs_req_arg(req, "$filter");
	const char *expand = gs_req_arg(req, "$expand");
	const char *orderby = gs_req_arg(req, "$orderby");
	const char *skip = gs_req_arg(req, "$skiptoken");
	struct gs_token *t;
	struct gs_user *u;
	struct gs_vec mine = {0};
	char op[4] = "";
	double ft = 0;
	long top, from = skip ? atol(skip) : 0;
	json_t *value;

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (!t || !need_chat_scope(resp, t, true))
		goto out;
	u = path_user(resp, t, req->params[0]);
	if (!u || (top = top_arg(req, resp, 50, 50)) < 0)
		goto out;
	if (filter && time_filter(filter, "lastUpdatedDateTime", op, &ft) < 0) {
		gs_resp_graph_error(resp, 400, "BadRequest",
				    "Invalid filter clause: only lastUpdatedDateTime gt|ge|lt|le "
				    "<DateTimeOffset> is supported.");
		goto out;
	}
	if (expand && strcmp(expand, "lastMessagePreview") && strcmp(expand, "members")) {
		gs_resp_graph_error(resp, 400, "BadRequest", "Invalid $expand: %s", expand);
		goto out;
	}
	if (orderby && strcmp(orderby, "lastMessagePreview/createdDateTime desc") != 0) {
		gs_resp_graph_error(resp, 400, "BadRequest",
				    "Only $orderby=lastMessagePreview/createdDateTime desc is "
				    "supported.");
		goto out;
	}
	for (size_t i = 0; i < gs_chats()->n; i++) {
		struct gs_chat *c = gs_chats()->v[i];
		if (!gs_chat_has_member(c, u))
			continue;
		if (filter && !time_pass(c->last_updated, op, ft))
			continue;
		gs_vec_push(&mine, c);
	}
	if (orderby && mine.n > 1)
		qsort(mine.v, mine.n, sizeof(void *), cmp_chat_recent);
	value = json_array();
	for (long i = from; i < (long)mine.n && i < from + top; i++)
		json_array_append_new(
		    value,
		    gs_chat_to_json(mine.v[i], expand && !strcmp(expand, "lastMessagePreview")));
	{
		json_t *o =
		    json_pack("{s:s, s:I, s:o}", "@odata.context",
			      "https://graph.microsoft.com/v1.0/$metadata#chats", "@odata.count",
			      (json_int_t)json_array_size(value), "value", value);
		if (from + top < (long)mine.n) {
			char *base = gs_base_url();
			char *next =
			    gs_printf("%s%s?$top=%ld&$skiptoken=%ld%s%s", base, req->path, top,
				      from + top, orderby ? "&$orderby=" : "",
				      orderby ? "lastMessagePreview%2FcreatedDateTime%20desc" : "");
			json_object_set_new(o, "@odata.nextLink", json_string(next));
			free(base);
			free(next);
		}
		gs_resp_json(resp, 200, o);
	}
	free(mine.v);
out:
	gs_unlock();
}

/* Graph's Teams limit: a few GETs per second per app per chat. */
struct rate {
	char *key;
	double window_start;
	long count;
};

static struct gs_vec rates;

static bool
rate_limited(struct gs_resp *resp, const struct gs_app *app, const struct gs_chat *chat)
{
	char *key = gs_printf("%s|%s", app->client_id, chat->id);
	double now = gs_now();
	struct rate *r = NULL;

	for (size_t i = 0; i < rates.n && !r; i++)
		if (!strcmp(((struct rate *)rates.v[i])->key, key))
			r = rates.v[i];
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			abort();
		r->key = key;
		gs_vec_push(&rates, r);
	} else {
		free(key);
	}
	if (now - r->window_start >= gs_cfg.chat_get_period) {
		r->window_start = now;
		r->count = 0;
	}
	if (gs_cfg.chat_get_limit > 0 && ++r->count > gs_cfg.chat_get_limit) {
		double wait = r->window_start + gs_cfg.chat_get_period - now;
		gs_resp_graph_error(resp, 429, "TooManyRequests",
				    "Too many requests for this chat. Retry after the time given "
				    "in the Retry-After header.");
		resp->retry_after = gs_printf("%ld", (long)ceil(wait > 0 ? wait : 1));
		return true;
	}
	return false;
}

static struct gs_chat *
chat_for(struct gs_resp *resp, struct gs_token *t, const char *who, const char *chat_id)
{
	struct gs_user *u = path_user(resp, t, who);
	struct gs_chat *c;

	if (!u)
		return NULL;
	c = gs_chat_find(chat_id);
	if (!c || !gs_chat_has_member(c, u)) {
		/* Graph does not reveal chats the user is not in */
		gs_resp_graph_error(resp, 404, "NotFound", "Chat %s was not found.", chat_id);
		return NULL;
	}
	return c;
}

static int
cmp_msg_desc(const void *a, const void *b, bool by_created)
{
	const struct gs_message *x = *(struct gs_message *const *)a;
	const struct gs_message *y = *(struct gs_message *const *)b;
	double vx = by_created ? x->created : x->modified,
	       vy = by_created ? y->created : y->modified;

	return (vx < vy) - (vx > vy);
}

static int
cmp_created_desc(const void *a, const void *b)
{
	return cmp_msg_desc(a, b, true);
}

static int
cmp_modified_desc(const void *a, const void *b)
{
	return cmp_msg_desc(a, b, false);
}

void
gs_graph_messages(struct gs_req *req, struct gs_resp *resp)
{
	/* routes: /chats/{c}/messages, /me/chats/{c}/messages,
	 * /users/{u}/chats/{c}/messages */
	const char *who = req->params[1] ? req->params[0] : NULL;
	const char *chat_id = req->params[1] ? req->params[1] : req->params[0];
	const char *filter = gs_req_arg(req, "$filter");
	const char *orderby = gs_req_arg(req, "$orderby");
	bool by_created = false;
	const char *field = NULL;
	struct gs_vec sel = {0};
	struct gs_token *t;
	struct gs_chat *c;
	char op[4] = "";
	double ft = 0;
	long top;
	json_t *value;

	if (!strncmp(req->path, "/v1.0/me/", 9)) {
		who = "me";
		chat_id = req->params[0];
	}
	gs_lock();
	t = gs_graph_auth(req, resp);
	if (!t || !need_chat_scope(resp, t, false))
		goto out;
	c = chat_for(resp, t, who, chat_id);
	if (!c || (top = top_arg(req, resp, 20, 50)) < 0)
		goto out;
	if (orderby) {
		if (!strcmp(orderby, "lastModifiedDateTime desc")) {
			field = "lastModifiedDateTime";
		} else if (!strcmp(orderby, "createdDateTime desc")) {
			field = "createdDateTime";
			by_created = true;
		} else {
			gs_resp_graph_error(resp, 400, "BadRequest",
					    "$orderby supports lastModifiedDateTime desc or "
					    "createdDateTime desc only.");
			goto out;
		}
	}
	/* Graph filters on the property the list is ordered by, and only with
	 * gt/lt for lastModifiedDateTime, lt for createdDateTime */
	if (filter && (!field || time_filter(filter, field, op, &ft) < 0 ||
		       (by_created && strcmp(op, "lt") != 0) ||
		       (!by_created && strcmp(op, "gt") && strcmp(op, "lt")))) {
		gs_resp_graph_error(resp, 400, "BadRequest",
				    "$filter is supported only on the $orderby property: "
				    "lastModifiedDateTime gt|lt, or createdDateTime lt.");
		goto out;
	}
	if (rate_limited(resp, t->app, c))
		goto out;
	for (size_t i = 0; i < c->messages.n; i++) {
		struct gs_message *m = c->messages.v[i];
		if (filter && !time_pass(by_created ? m->created : m->modified, op, ft))
			continue;
		gs_vec_push(&sel, m);
	}
	if (sel.n > 1)
		qsort(sel.v, sel.n, sizeof(void *),
		      by_created ? cmp_created_desc : cmp_modified_desc);
	value = json_array();
	for (size_t i = 0; i < sel.n && (long)i < top; i++)
		json_array_append(value, ((struct gs_message *)sel.v[i])->json);
	gs_resp_json(resp, 200,
		     json_pack("{s:s, s:I, s:o}", "@odata.context",
			       "https://graph.microsoft.com/v1.0/$metadata#chats('...')/messages",
			       "@odata.count", (json_int_t)json_array_size(value), "value", value));
	free(sel.v);
out:
	gs_unlock();
}

void
gs_graph_message(struct gs_req *req, struct gs_resp *resp)
{
	const char *who = req->params[2] ? req->params[0] : NULL;
	const char *chat_id = req->params[2] ? req->params[1] : req->params[0];
	const char *msg_id = req->params[2] ? req->params[2] : req->params[1];
	struct gs_token *t;
	struct gs_chat *c;
	struct gs_message *m;

	if (!strncmp(req->path, "/v1.0/me/", 9))
		who = "me";
	gs_lock();
	t = gs_graph_auth(req, resp);
	if (!t || !need_chat_scope(resp, t, false))
		goto out;
	c = chat_for(resp, t, who, chat_id);
	if (!c || rate_limited(resp, t->app, c))
		goto out;
	m = gs_message_find(c, msg_id);
	if (!m) {
		gs_resp_graph_error(resp, 404, "NotFound", "Message %s was not found.", msg_id);
		goto out;
	}
	gs_resp_json(resp, 200, json_deep_copy(m->json));
out:
	gs_unlock();
}
