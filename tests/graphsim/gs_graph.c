/*
 * Microsoft Graph v1.0 endpoints a delegated chat client uses: /me,
 * /users/{id}, the user's chats, a chat's messages and one message, sending
 * a message in a chat, with bearer-token checks and the per-chat rate limits
 * Graph documents for Teams (429 with Retry-After).
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

static double
chat_last_created(const struct gs_chat *c)
{
	struct gs_message *m = gs_chat_last_message(c);

	return m ? m->created : -1;
}

/* lastMessagePreview/createdDateTime desc; chats without messages last */
static int
cmp_chat_recent(const void *a, const void *b)
{
	const struct gs_chat *x = *(struct gs_chat *const *)a, *y = *(struct gs_chat *const *)b;
	double vx = chat_last_created(x), vy = chat_last_created(y);

	return (vx < vy) - (vx > vy);
}

static bool tenant_limited(struct gs_resp *resp, const struct gs_token *t, bool messages);

static int
cmp_chat_old_first(const void *a, const void *b)
{
	return cmp_chat_recent(b, a);
}

/*
 * $orderby as the cloud treats it ("Teams API implementation differences in
 * national clouds", learn.microsoft.com/graph/teamwork-national-cloud-differences):
 * 1 honoured, 0 ignored (the request is answered as if it had none), -1
 * refused with Graph's 400.
 */
static int
orderby_in_cloud(const char *mode, const char *orderby, struct gs_resp *resp)
{
	const char *sp;

	if (!orderby || !strcmp(mode, "honour"))
		return orderby ? 1 : 0;
	if (!strcmp(mode, "ignore"))
		return 0;
	sp = strchr(orderby, ' ');
	gs_resp_graph_error(resp, 400, "BadRequest",
			    "QueryOptions to order by '%.*s' is not supported.",
			    (int)(sp ? sp - orderby : (long)strlen(orderby)), orderby);
	return -1;
}

bool
gs_prefers_unknown_enums(struct gs_req *req)
{
	const char *p = gs_req_header(req, "Prefer");

	return p && strstr(p, "include-unknown-enum-members") != NULL;
}

/* A path with each segment percent-encoded (chat ids hold ':' and '@'). */
static char *
path_encode(const char *path)
{
	char *out = gs_strdup(""), *copy = gs_strdup(path), *save = NULL;

	for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		char *e = gs_url_encode(seg), *n = gs_printf("%s/%s", out, e);
		free(out);
		free(e);
		out = n;
	}
	free(copy);
	return out;
}

/*
 * An @odata.nextLink: the original request's query options, every one of
 * them, and an opaque $skiptoken. Clients follow the link as it is
 * (learn.microsoft.com/graph/paging).
 */
static char *
next_link(struct gs_req *req, const char *const *opts, const char *skiptoken)
{
	char *base = gs_base_url(), *path = path_encode(req->path);
	char *url = gs_printf("%s%s?", base, path);

	for (const char *const *o = opts; *o; o++) {
		const char *v = gs_req_arg(req, *o);
		char *ev, *n;
		if (!v)
			continue;
		ev = gs_url_encode(v);
		n = gs_printf("%s%s=%s&", url, *o, ev);
		free(url);
		free(ev);
		url = n;
	}
	{
		char *et = gs_url_encode(skiptoken), *n = gs_printf("%s$skiptoken=%s", url, et);
		free(url);
		free(et);
		url = n;
	}
	free(base);
	free(path);
	return url;
}

/* Skip tokens are opaque to clients: base64url of "gs1:<kind>:<offset>". */
static char *
skiptoken_make(const char *kind, long offset)
{
	char *raw = gs_printf("gs1:%s:%ld", kind, offset);
	char *t = gs_b64url((const unsigned char *)raw, strlen(raw));

	free(raw);
	return t;
}

static long
skiptoken_parse(const char *tok, const char *kind)
{
	size_t n = 0;
	char *b64, *raw, *pre;
	long off = -1;

	if (!tok)
		return 0;
	/* gs_b64_decode takes standard base64; undo the URL alphabet */
	b64 = gs_strdup(tok);
	for (char *p = b64; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	{
		size_t len = strlen(b64);
		char *padded = gs_printf("%s%s", b64,
					 len % 4 == 2   ? "=="
					 : len % 4 == 3 ? "="
							: "");
		free(b64);
		b64 = padded;
	}
	raw = (char *)gs_b64_decode(b64, &n);
	free(b64);
	if (!raw)
		return -1;
	raw = realloc(raw, n + 1);
	if (!raw)
		abort();
	raw[n] = '\0';
	pre = gs_printf("gs1:%s:", kind);
	if (!strncmp(raw, pre, strlen(pre))) {
		char *end;
		off = strtol(raw + strlen(pre), &end, 10);
		if (*end || off < 0)
			off = -1;
	}
	free(pre);
	free(raw);
	return off;
}

/*
 * List chats (learn.microsoft.com/graph/api/chat-list): $expand members or
 * lastMessagePreview, $top at most 50, $filter, and $orderby only
 * lastMessagePreview/createdDateTime desc (ascending is not supported).
 * Chats without a message sort last. Pages carry @odata.nextLink with every
 * query option of the request.
 */
void
gs_graph_chats(struct gs_req *req, struct gs_resp *resp)
{
	static const char *const opts[] = {"$filter", "$expand", "$orderby", "$top", NULL};
	const char *filter = gs_req_arg(req, "$filter");
	const char *expand = gs_req_arg(req, "$expand");
	const char *orderby = gs_req_arg(req, "$orderby");
	const char *skip = gs_req_arg(req, "$skiptoken");
	bool unknown = gs_prefers_unknown_enums(req);
	struct gs_token *t;
	struct gs_user *u;
	struct gs_vec mine = {0};
	char op[4] = "";
	double ft = 0;
	long top, from = skiptoken_parse(skip, "chats");
	int ordered;
	json_t *value, *o;

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (!t || !need_chat_scope(resp, t, true))
		goto out;
	u = path_user(resp, t, req->params[0]);
	if (!u || (top = top_arg(req, resp, 50, 50)) < 0)
		goto out;
	if (from < 0) {
		gs_resp_graph_error(resp, 400, "BadRequest", "Invalid $skiptoken.");
		goto out;
	}
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
	ordered = orderby_in_cloud(gs_cfg.orderby_chats, orderby, resp);
	if (ordered < 0)
		goto out;
	if (ordered && strcmp(orderby, "lastMessagePreview/createdDateTime desc") != 0) {
		gs_resp_graph_error(resp, 400, "BadRequest",
				    "Only $orderby=lastMessagePreview/createdDateTime desc is "
				    "supported.");
		goto out;
	}
	if (tenant_limited(resp, t, false))
		goto out;
	if (!skip)
		gs_poll_record(t->app, "chats", u->id);
	for (size_t i = 0; i < gs_chats()->n; i++) {
		struct gs_chat *c = gs_chats()->v[i];
		if (!gs_chat_has_member(c, u))
			continue;
		if (filter && !time_pass(c->last_updated, op, ft))
			continue;
		gs_vec_push(&mine, c);
	}
	/* ignored, the order is not defined: graphsim answers the worst one
	 * for a reader that stops at the first old chat */
	if (mine.n > 1 && (ordered || orderby))
		qsort(mine.v, mine.n, sizeof(void *),
		      ordered ? cmp_chat_recent : cmp_chat_old_first);
	value = json_array();
	for (long i = from; i < (long)mine.n && i < from + top; i++)
		json_array_append_new(
		    value,
		    gs_chat_to_json(mine.v[i], expand && !strcmp(expand, "lastMessagePreview"),
				    unknown));
	o = json_pack("{s:s, s:I, s:o}", "@odata.context",
		      "https://graph.microsoft.com/v1.0/$metadata#chats", "@odata.count",
		      (json_int_t)json_array_size(value), "value", value);
	if (from + top < (long)mine.n) {
		char *tok = skiptoken_make("chats", from + top);
		char *next = next_link(req, opts, tok);
		json_object_set_new(o, "@odata.nextLink", json_string(next));
		free(tok);
		free(next);
	}
	gs_resp_json(resp, 200, o);
	free(mine.v);
out:
	gs_unlock();
}

/*
 * Teams polling requirements: an app that polls a resource to see whether
 * it changed may do so about once a day; polling in a loop violates the
 * Microsoft APIs Terms of Use (Microsoft Teams API overview, "Polling
 * requirements": learn.microsoft.com/graph/api/resources/teams-api-overview).
 * A read of a collection is a GET of its first page (no $skiptoken): a
 * user's chats, or one chat's messages. Reads beyond poll_budget per
 * poll_period per app and collection are served, and recorded as a
 * violation. Single-message GETs do not count.
 */
struct poll {
	char *key;
	struct gs_vec times; /* double * */
};

static struct gs_vec polls;

void
gs_polls_reset(void)
{
	for (size_t i = 0; i < polls.n; i++) {
		struct poll *p = polls.v[i];
		for (size_t k = 0; k < p->times.n; k++)
			free(p->times.v[k]);
		free(p->times.v);
		free(p->key);
		free(p);
	}
	free(polls.v);
	memset(&polls, 0, sizeof(polls));
}

void
gs_poll_record(const struct gs_app *app, const char *kind, const char *id)
{
	char *coll = !strcmp(kind, "chats") ? gs_printf("/users/%s/chats", id)
					    : gs_printf("/chats/%s/messages", id);
	char *key = gs_printf("%s|%s", app->client_id, coll);
	double now = gs_now(), *tp;
	struct poll *p = NULL;
	size_t n = 0;

	if (gs_cfg.poll_budget == 0) {
		/* the rule is off: nothing is counted */
		free(coll);
		free(key);
		return;
	}
	for (size_t i = 0; i < polls.n && !p; i++)
		if (!strcmp(((struct poll *)polls.v[i])->key, key))
			p = polls.v[i];
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			abort();
		p->key = key;
		gs_vec_push(&polls, p);
	} else {
		free(key);
	}
	tp = malloc(sizeof(*tp));
	if (!tp)
		abort();
	*tp = now;
	gs_vec_push(&p->times, tp);
	for (size_t i = 0; i < p->times.n;) {
		double *t = p->times.v[i];
		if (now - *t >= gs_cfg.poll_period) {
			free(t);
			gs_vec_remove_at(&p->times, i);
		} else {
			i++;
			n++;
		}
	}
	if (gs_cfg.poll_budget > 0 && (long)n > gs_cfg.poll_budget) {
		char *ts = gs_time_iso(now, 3);
		char *what = gs_printf("read %zu times within %.0f s (budget %ld): Teams allows "
				       "polling a resource for changes about once a day",
				       n, gs_cfg.poll_period, gs_cfg.poll_budget);
		gs_violation_add(json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", ts, "rule",
					   "polling", "collection", coll, "app", app->client_id,
					   "what", what));
		free(ts);
		free(what);
	}
	free(coll);
}

/*
 * Graph's Teams limits (Microsoft Graph service-specific throttling limits,
 * "Microsoft Teams service limits": learn.microsoft.com/graph/throttling-limits):
 * "a maximum of one request per second per app per tenant can be issued on
 * a given chat", and "one request per second per user ... when doing POST
 * message in a given chat". Both use chat_get_limit per chat_get_period.
 */
struct rate {
	char *key;
	double window_start;
	long count;
};

static struct gs_vec rates;

/* Counts one request under key (stolen); true, with a 429 saying why,
 * beyond limit requests (0: none) per chat-get-period. */
static bool
rate_check_limit(struct gs_resp *resp, char *key, long limit, const char *why)
{
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
	if (limit > 0 && ++r->count > limit) {
		double wait = r->window_start + gs_cfg.chat_get_period - now;
		gs_resp_graph_error(resp, 429, "TooManyRequests",
				    "Too many requests %s. Retry after the time given in the "
				    "Retry-After header.",
				    why);
		resp->retry_after = gs_printf("%ld", (long)ceil(wait > 0 ? wait : 1));
		return true;
	}
	return false;
}

static bool
rate_check(struct gs_resp *resp, char *key)
{
	return rate_check_limit(resp, key, gs_cfg.chat_get_limit, "for this chat");
}

/* Microsoft Graph service limits, Teams: GETs of chat messages are limited
 * per app per tenant (20 a second), other Teams GETs too (30 a second);
 * learn.microsoft.com/graph/throttling-limits */
static bool
tenant_limited(struct gs_resp *resp, const struct gs_token *t, bool messages)
{
	return rate_check_limit(resp,
				gs_printf("tenant|%s|%s|%s", t->app->client_id, t->user->tenant,
					  messages ? "messages" : "other"),
				messages ? gs_cfg.tenant_message_limit : gs_cfg.tenant_get_limit,
				"for this application in this tenant");
}

/* A read of a chat's messages: per app per tenant, then per app on the
 * chat. */
static bool
rate_limited(struct gs_resp *resp, const struct gs_token *t, const struct gs_chat *chat)
{
	return tenant_limited(resp, t, true) ||
	       rate_check(resp, gs_printf("app|%s|%s", t->app->client_id, chat->id));
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

/*
 * List messages in a chat (learn.microsoft.com/graph/api/chat-list-messages):
 * $top at most 50 (default 20 here); $orderby lastModifiedDateTime desc (the
 * default) or createdDateTime desc, ascending not supported; $filter on
 * lastModifiedDateTime (gt, lt) or createdDateTime (lt) takes effect only
 * when $orderby names the same property, otherwise it is ignored. More
 * results → @odata.nextLink carrying $orderby, $filter and $top.
 */
void
gs_graph_messages(struct gs_req *req, struct gs_resp *resp)
{
	/* routes: /chats/{c}/messages, /me/chats/{c}/messages,
	 * /users/{u}/chats/{c}/messages */
	static const char *const opts[] = {"$orderby", "$filter", "$top", NULL};
	const char *who = req->params[1] ? req->params[0] : NULL;
	const char *chat_id = req->params[1] ? req->params[1] : req->params[0];
	const char *filter = gs_req_arg(req, "$filter");
	const char *orderby = gs_req_arg(req, "$orderby");
	const char *skip = gs_req_arg(req, "$skiptoken");
	bool unknown = gs_prefers_unknown_enums(req);
	bool by_created = false, use_filter = false;
	int ordered;
	struct gs_vec sel = {0};
	struct gs_token *t;
	struct gs_chat *c;
	char op[4] = "";
	double ft = 0;
	long top, from = skiptoken_parse(skip, "messages");
	json_t *value, *o;

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
	if (from < 0) {
		gs_resp_graph_error(resp, 400, "BadRequest", "Invalid $skiptoken.");
		goto out;
	}
	ordered = orderby_in_cloud(gs_cfg.orderby_messages, orderby, resp);
	if (ordered < 0)
		goto out;
	if (!ordered)
		orderby = NULL; /* and with it the $filter: the default order */
	if (orderby) {
		if (!strcmp(orderby, "createdDateTime desc")) {
			by_created = true;
		} else if (strcmp(orderby, "lastModifiedDateTime desc") != 0) {
			gs_resp_graph_error(resp, 400, "BadRequest",
					    "$orderby supports lastModifiedDateTime desc or "
					    "createdDateTime desc only.");
			goto out;
		}
	}
	/* the filter counts only with an $orderby on its own property; a
	 * filter on that property with an operator Graph does not support
	 * for it is refused */
	if (filter && orderby) {
		const char *field = by_created ? "createdDateTime" : "lastModifiedDateTime";
		if (!strncmp(filter, field, strlen(field)) && filter[strlen(field)] == ' ') {
			if (time_filter(filter, field, op, &ft) < 0 ||
			    (by_created && strcmp(op, "lt") != 0) ||
			    (!by_created && strcmp(op, "gt") && strcmp(op, "lt"))) {
				gs_resp_graph_error(
				    resp, 400, "BadRequest",
				    "$filter supports lastModifiedDateTime gt|lt, or "
				    "createdDateTime lt.");
				goto out;
			}
			use_filter = true;
		}
	}
	if (rate_limited(resp, t, c))
		goto out;
	if (!skip)
		gs_poll_record(t->app, "messages", c->id);
	for (size_t i = 0; i < c->messages.n; i++) {
		struct gs_message *m = c->messages.v[i];
		if (use_filter && !time_pass(by_created ? m->created : m->modified, op, ft))
			continue;
		gs_vec_push(&sel, m);
	}
	if (sel.n > 1)
		qsort(sel.v, sel.n, sizeof(void *),
		      by_created ? cmp_created_desc : cmp_modified_desc);
	value = json_array();
	for (long i = from; i < (long)sel.n && i < from + top; i++)
		json_array_append_new(value, gs_message_render(sel.v[i], unknown));
	o = json_pack("{s:s, s:I, s:o}", "@odata.context",
		      "https://graph.microsoft.com/v1.0/$metadata#chats('...')/messages",
		      "@odata.count", (json_int_t)json_array_size(value), "value", value);
	if (from + top < (long)sel.n) {
		char *tok = skiptoken_make("messages", from + top);
		char *next = next_link(req, opts, tok);
		json_object_set_new(o, "@odata.nextLink", json_string(next));
		free(tok);
		free(next);
	}
	gs_resp_json(resp, 200, o);
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
	if (!c || rate_limited(resp, t, c))
		goto out;
	m = gs_message_find(c, msg_id);
	if (!m) {
		gs_resp_graph_error(resp, 404, "NotFound", "Message %s was not found.", msg_id);
		goto out;
	}
	gs_resp_json(resp, 200, gs_message_render(m, gs_prefers_unknown_enums(req)));
out:
	gs_unlock();
}

/* The scopes "Send message in a chat" accepts for a delegated token. */
static bool
need_send_scope(struct gs_resp *resp, struct gs_token *t)
{
	if (gs_scope_has(t->scopes, "ChatMessage.Send") ||
	    gs_scope_has(t->scopes, "Chat.ReadWrite") ||
	    gs_scope_has(t->scopes, "Group.ReadWrite.All"))
		return true;
	gs_resp_graph_error(resp, 403, "Forbidden",
			    "Missing scope permissions on the request. API requires one of "
			    "'ChatMessage.Send, Chat.ReadWrite, Group.ReadWrite.All'.");
	return false;
}

/* A string member that, when present, must be one of `allowed` (any case);
 * the canonical spelling in *ret. False with a 400 otherwise. */
static bool
enum_member(struct gs_resp *resp, json_t *obj, const char *name, const char *const *allowed,
	    const char *dflt, const char **ret)
{
	json_t *v = json_object_get(obj, name);

	*ret = dflt;
	if (!v || json_is_null(v))
		return true;
	for (const char *const *a = allowed; json_is_string(v) && *a; a++) {
		if (gs_streq_ci(json_string_value(v), *a)) {
			*ret = *a;
			return true;
		}
	}
	gs_resp_graph_error(resp, 400, "BadRequest", "Invalid value for '%s'.", name);
	return false;
}

/*
 * Send message in a chat (learn.microsoft.com/graph/api/chat-post-messages):
 * POST /chats/{chat-id}/messages, the only path that page gives (no /me or
 * /users/{id} form). Delegated permissions: ChatMessage.Send (least
 * privileged), Chat.ReadWrite or Group.ReadWrite.All; none of them → 403.
 * The request body is a chatMessage: `body` {content, contentType} is what
 * a message needs, contentType text or html (itemBody); the page's example
 * sends none and gets "text" back. `importance` (normal, high, urgent;
 * chatMessageImportance) is optional; other properties are ignored. The
 * answer is 201 Created with the new chatMessage, whose sender (from.user)
 * is the signed-in user. A chat the user is not in is not revealed (404),
 * as for reads. The message is stored and notified like any other, so the
 * sender's own subscriptions hear of it too. The per-chat limits of
 * rate_check apply (one request per app, and one POST per user, per chat
 * per second by default).
 */
void
gs_graph_send_message(struct gs_req *req, struct gs_resp *resp)
{
	static const char *const types[] = {"text", "html", NULL};
	static const char *const levels[] = {"normal", "high", "urgent", NULL};
	const char *chat_id = req->params[0], *ctype, *importance, *content;
	struct gs_token *t;
	struct gs_chat *c;
	struct gs_message *m;
	json_t *b = NULL, *body, *o, *spec;
	char *err = NULL, *ec, *ctx;
	int n;

	gs_lock();
	t = gs_graph_auth(req, resp);
	if (!t || !need_send_scope(resp, t))
		goto out;
	c = chat_for(resp, t, NULL, chat_id);
	if (!c || rate_check(resp, gs_printf("app|%s|%s", t->app->client_id, c->id)) ||
	    rate_check(resp, gs_printf("post|%s|%s", t->user->id, c->id)))
		goto out;
	b = gs_req_json(req, resp);
	if (!b)
		goto out;
	body = json_object_get(b, "body");
	content = json_string_value(json_object_get(body, "content"));
	if (!json_is_object(body) || !content || !*content) {
		gs_resp_graph_error(resp, 400, "BadRequest",
				    "Missing or empty message body: 'body' needs 'content'.");
		goto out;
	}
	if (!enum_member(resp, body, "contentType", types, "text", &ctype) ||
	    !enum_member(resp, b, "importance", levels, "normal", &importance))
		goto out;
	spec = json_pack("{s:s, s:s, s:s}", "content", content, "content_type", ctype, "importance",
			 importance);
	m = gs_message_add(c, t->user, spec, &err);
	json_decref(spec);
	if (!m) {
		gs_resp_graph_error(resp, 400, "BadRequest", "%s", err);
		free(err);
		goto out;
	}
	n = gs_notify_message(m, "created");
	o = gs_message_render(m, gs_prefers_unknown_enums(req));
	ec = gs_url_encode(c->id);
	ctx = gs_printf("https://graph.microsoft.com/v1.0/$metadata#chats('%s')/messages/$entity",
			ec);
	json_object_set_new(o, "@odata.context", json_string(ctx));
	gs_resp_json(resp, 201, o);
	resp->note = gs_printf("notified=%d", n);
	free(ec);
	free(ctx);
out:
	gs_unlock();
	json_decref(b);
	gs_deliver_kick();
}
