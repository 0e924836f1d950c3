/*
 * graphsim conformance: the chat reads a delegated client makes, as the
 * List chats, List messages in a chat, chat and chatMessage pages document
 * them: lastUpdatedDateTime (renames and membership only),
 * lastMessagePreview and its ordering, paging with @odata.nextLink, the
 * message filter rules, reactions, application senders, evolvable enums,
 * the Teams polling budget, and sending a message (Send message in a chat).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gt.h"

/* the polling budget is tested on its own; the other tests read freely */
static const char *const opts[] = {"--chat-get-limit=0", "--poll-budget=0", NULL};

static int
setup(void **state)
{
	return gt_setup(state, opts);
}

struct ctx {
	struct gt *t;
	json_t *tok;
	const char *at;
};

static void
begin(struct gt *t, struct ctx *c)
{
	c->t = t;
	c->tok = gt_signin(t);
	c->at = gt_str(c->tok, "access_token");
}

static void
end(struct ctx *c)
{
	json_decref(c->tok);
}

static char *
new_chat(struct ctx *c, const char *topic)
{
	json_t *chat = gt_sim_ok(c->t, "POST", "/chats",
				 json_pack("{s:s, s:[s,s], s:s}", "tenant", GT_TENANT, "members",
					   c->t->svc, c->t->caller, "topic", topic));
	char *id = strdup(gt_str(chat, "id"));

	json_decref(chat);
	return id;
}

static json_t *
post(struct ctx *c, const char *chat, const char *content)
{
	return gt_sim_ok(
	    c->t, "POST", "/messages",
	    json_pack("{s:s, s:s, s:s}", "chat", chat, "from", c->t->caller, "content", content));
}

/* GET with the service user's token; extra header may be NULL. */
static json_t *
get(struct ctx *c, const char *path, const char *extra, long *ret_status)
{
	char *url, *auth;
	const char *hdrs[3] = {NULL, NULL, NULL};
	struct th_resp r;
	json_t *j;

	if (!strncmp(path, "https://", 8))
		url = strdup(path);
	else if (asprintf(&url, "%s%s", c->t->gs.base, path) < 0)
		abort();
	if (asprintf(&auth, "Authorization: Bearer %s", c->at) < 0)
		abort();
	hdrs[0] = auth;
	hdrs[1] = extra;
	assert_int_equal(th_http("GET", url, c->t->gs.ca, hdrs, NULL, &r), 0);
	*ret_status = r.status;
	j = th_resp_json(&r);
	th_resp_free(&r);
	free(url);
	free(auth);
	return j;
}

static json_t *
get_ok(struct ctx *c, const char *path)
{
	long st;
	json_t *j = get(c, path, NULL, &st);

	if (st != 200) {
		char *s = j ? json_dumps(j, 0) : NULL;
		fprintf(stderr, "GET %s: %ld %s\n", path, st, s ? s : "");
		free(s);
	}
	assert_int_equal(st, 200);
	return j;
}

/* The chat with this id in a /me/chats answer, or NULL. */
static json_t *
find_chat(json_t *list, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach (json_object_get(list, "value"), i, v)
		if (!strcmp(gt_str(v, "id"), id))
			return v;
	return NULL;
}

static char *
last_updated(struct ctx *c, const char *id)
{
	json_t *l = get_ok(c, "/v1.0/me/chats?$top=50"), *ch = find_chat(l, id);
	char *v;

	assert_non_null(ch);
	v = strdup(gt_str(ch, "lastUpdatedDateTime"));
	json_decref(l);
	return v;
}

/* the clock has moved on a few milliseconds, so timestamps differ */
static bool
clock_moved(void *arg)
{
	return th_now() - *(double *)arg >= 0.01;
}

static void
let_clock_move(void)
{
	double start = th_now();

	assert_true(th_wait_until(clock_moved, &start, 2));
}

/* chat resource type: lastUpdatedDateTime is when the chat was renamed or
 * its members last changed; a message does not move it */
static void
test_last_updated_moves_only_on_rename_and_members(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "Standing desk chat"), *t0 = last_updated(&c, chat), *t1, *path;
	json_t *r;
	let_clock_move();
	json_decref(post(&c, chat, "hello"));
	json_decref(post(&c, chat, "again"));
	t1 = last_updated(&c, chat);
	assert_string_equal(t0, t1);
	free(t1);

	/* the filter on it therefore misses a chat that only got messages */
	char *q = th_urlenc(t0);
	if (asprintf(&path, "/v1.0/me/chats?$filter=lastUpdatedDateTime%%20gt%%20%s", q) < 0)
		abort();
	r = get_ok(&c, path);
	assert_null(find_chat(r, chat));
	json_decref(r);

	/* a rename moves it */
	char *cp;
	let_clock_move();
	if (asprintf(&cp, "/chats/%s", chat) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "PATCH", cp, json_pack("{s:s}", "topic", "Renamed")));
	t1 = last_updated(&c, chat);
	assert_true(strcmp(t1, t0) > 0);
	r = get_ok(&c, path);
	assert_non_null(find_chat(r, chat));
	assert_string_equal(gt_str(find_chat(r, chat), "topic"), "Renamed");
	json_decref(r);

	/* membership changes move it, and the member list follows */
	let_clock_move();
	json_decref(gt_sim_ok(c.t, "PATCH", cp, json_pack("{s:[s]}", "add_members", c.t->desk)));
	char *t2 = last_updated(&c, chat);
	assert_true(strcmp(t2, t1) > 0);
	json_decref(
	    gt_sim_ok(c.t, "PATCH", cp, json_pack("{s:[s]}", "remove_members", c.t->caller)));
	/* the caller is no longer a member: posting as them fails */
	long st;
	r = th_sim(&c.t->gs, "POST", "/messages",
		   json_pack("{s:s, s:s, s:s}", "chat", chat, "from", c.t->caller, "content", "x"),
		   &st);
	assert_int_equal(st, 400);
	json_decref(r);
	/* bad control calls change nothing */
	r = th_sim(&c.t->gs, "PATCH", cp, json_pack("{s:[s]}", "add_members", "nobody@x"), &st);
	assert_int_equal(st, 400);
	json_decref(r);
	r = th_sim(&c.t->gs, "PATCH", cp, json_object(), &st);
	assert_int_equal(st, 400);
	json_decref(r);
	r = th_sim(&c.t->gs, "PATCH", "/chats/19:nope@thread.v2", json_pack("{s:s}", "topic", "x"),
		   &st);
	assert_int_equal(st, 404);
	json_decref(r);
	free(t2);
	free(t1);
	free(cp);
	free(q);
	free(path);
	free(t0);
	free(chat);
	end(&c);
}

static void
test_last_message_preview_and_order(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *a = new_chat(&c, "older"), *b = new_chat(&c, "newer"), *none = new_chat(&c, "quiet");
	json_t *ma = post(&c, a, "<p>first</p>"), *mb = post(&c, b, "<p>second</p>"), *l, *v;
	size_t i;
	long pos_a = -1, pos_b = -1, pos_none = -1;

	l = get_ok(&c, "/v1.0/me/chats?$expand=lastMessagePreview"
		       "&$orderby=lastMessagePreview/createdDateTime%20desc");
	json_array_foreach (json_object_get(l, "value"), i, v) {
		if (!strcmp(gt_str(v, "id"), a))
			pos_a = (long)i;
		if (!strcmp(gt_str(v, "id"), b))
			pos_b = (long)i;
		if (!strcmp(gt_str(v, "id"), none))
			pos_none = (long)i;
		/* newest message first; chats without one last */
		if (i > 0) {
			json_t *p =
			    json_object_get(json_array_get(json_object_get(l, "value"), i - 1),
					    "lastMessagePreview");
			json_t *q = json_object_get(v, "lastMessagePreview");
			if (json_is_null(p))
				assert_true(json_is_null(q));
			else if (!json_is_null(q))
				assert_true(strcmp(gt_str(p, "createdDateTime"),
						   gt_str(q, "createdDateTime")) >= 0);
		}
	}
	assert_true(pos_b >= 0 && pos_a > pos_b && pos_none > pos_a);
	json_t *pv = json_object_get(find_chat(l, b), "lastMessagePreview");
	assert_string_equal(gt_str(pv, "id"), gt_str(mb, "id"));
	assert_string_equal(gt_str(pv, "createdDateTime"),
			    gt_str(json_object_get(mb, "message"), "createdDateTime"));
	assert_true(json_is_false(json_object_get(pv, "isDeleted")));
	assert_string_equal(gt_str(pv, "messageType"), "message");
	assert_string_equal(gt_str(json_object_get(pv, "body"), "contentType"), "html");
	assert_string_equal(gt_str(json_object_get(pv, "body"), "content"), "<p>second</p>");
	assert_string_equal(gt_str(json_object_get(json_object_get(pv, "from"), "user"), "id"),
			    c.t->caller);
	assert_true(json_is_null(json_object_get(find_chat(l, none), "lastMessagePreview")));
	json_decref(l);

	/* a deleted last message is still the preview, flagged */
	char *path;
	if (asprintf(&path, "/chats/%s/messages/%s", a, gt_str(ma, "id")) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "DELETE", path, NULL));
	l = get_ok(&c, "/v1.0/me/chats?$expand=lastMessagePreview");
	assert_true(json_is_true(
	    json_object_get(json_object_get(find_chat(l, a), "lastMessagePreview"), "isDeleted")));
	json_decref(l);

	/* without $expand there is no preview; other orderings are refused */
	l = get_ok(&c, "/v1.0/me/chats");
	assert_null(json_object_get(find_chat(l, a), "lastMessagePreview"));
	json_decref(l);
	long st;
	l = get(&c, "/v1.0/me/chats?$orderby=lastMessagePreview/createdDateTime%20asc", NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	l = get(&c, "/v1.0/me/chats?$orderby=lastUpdatedDateTime%20desc", NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	l = get(&c, "/v1.0/me/chats?$top=51", NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	free(path);
	json_decref(ma);
	json_decref(mb);
	free(a);
	free(b);
	free(none);
	end(&c);
}

/* the query option `name` in a URL, decoded */
static char *
opt(const char *url, const char *name)
{
	return th_url_param(url, name);
}

static void
test_chat_paging_keeps_every_option(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *ids[4];
	json_t *seen = json_object(), *l;
	const char *next;
	int pages = 0;

	for (int i = 0; i < 4; i++) {
		ids[i] = new_chat(&c, "paged");
		json_decref(post(&c, ids[i], "m"));
	}
	char *first;
	if (asprintf(&first, "/v1.0/me/chats?$filter=lastUpdatedDateTime%%20gt%%20"
			     "2000-01-01T00:00:00Z&$expand=lastMessagePreview"
			     "&$orderby=lastMessagePreview/createdDateTime%%20desc&$top=2") < 0)
		abort();
	l = get_ok(&c, first);
	while (l) {
		size_t i;
		json_t *v;
		pages++;
		json_array_foreach (json_object_get(l, "value"), i, v) {
			/* every page honours $expand */
			assert_non_null(json_object_get(v, "lastMessagePreview"));
			assert_null(json_object_get(seen, gt_str(v, "id")));
			json_object_set_new(seen, gt_str(v, "id"), json_true());
		}
		assert_true(json_array_size(json_object_get(l, "value")) <= 2);
		next = gt_str(l, "@odata.nextLink");
		json_t *nl = NULL;
		if (next) {
			char *f = opt(next, "$filter"), *e = opt(next, "$expand"),
			     *o = opt(next, "$orderby"), *tp = opt(next, "$top"),
			     *sk = opt(next, "$skiptoken");
			assert_string_equal(f, "lastUpdatedDateTime gt 2000-01-01T00:00:00Z");
			assert_string_equal(e, "lastMessagePreview");
			assert_string_equal(o, "lastMessagePreview/createdDateTime desc");
			assert_string_equal(tp, "2");
			assert_non_null(sk);
			/* opaque: not a bare offset */
			assert_true(strspn(sk, "0123456789") < strlen(sk));
			free(f);
			free(e);
			free(o);
			free(tp);
			free(sk);
			nl = get_ok(&c, next);
		}
		json_decref(l);
		l = nl;
	}
	assert_true(pages >= 2);
	for (int i = 0; i < 4; i++) {
		assert_non_null(json_object_get(seen, ids[i]));
		free(ids[i]);
	}
	long st;
	l = get(&c, "/v1.0/me/chats?$skiptoken=not-a-token", NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	json_decref(seen);
	free(first);
	end(&c);
}

static void
test_message_paging(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "busy"), *ec = th_urlenc(chat), *path;
	json_t *l, *seen = json_object();
	int pages = 0;
	char prev[64] = "9999";

	for (int i = 0; i < 5; i++)
		json_decref(post(&c, chat, "m"));
	if (asprintf(&path,
		     "/v1.0/chats/%s/messages?$orderby=createdDateTime%%20desc"
		     "&$filter=createdDateTime%%20lt%%202999-01-01T00:00:00Z&$top=2",
		     ec) < 0)
		abort();
	l = get_ok(&c, path);
	while (l) {
		size_t i;
		json_t *v, *nl = NULL;
		const char *next = gt_str(l, "@odata.nextLink");
		pages++;
		assert_true(json_array_size(json_object_get(l, "value")) <= 2);
		json_array_foreach (json_object_get(l, "value"), i, v) {
			assert_true(strcmp(gt_str(v, "createdDateTime"), prev) <= 0);
			snprintf(prev, sizeof(prev), "%s", gt_str(v, "createdDateTime"));
			json_object_set_new(seen, gt_str(v, "id"), json_true());
		}
		if (next) {
			char *o = opt(next, "$orderby"), *f = opt(next, "$filter"),
			     *tp = opt(next, "$top");
			assert_string_equal(o, "createdDateTime desc");
			assert_string_equal(f, "createdDateTime lt 2999-01-01T00:00:00Z");
			assert_string_equal(tp, "2");
			free(o);
			free(f);
			free(tp);
			nl = get_ok(&c, next);
		}
		json_decref(l);
		l = nl;
	}
	assert_int_equal(pages, 3);
	assert_int_equal(json_object_size(seen), 5);
	free(path);

	/* $top is at most 50; one page when everything fits */
	long st;
	if (asprintf(&path, "/v1.0/chats/%s/messages?$top=51", ec) < 0)
		abort();
	l = get(&c, path, NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	free(path);
	if (asprintf(&path, "/v1.0/me/chats/%s/messages?$top=50", ec) < 0)
		abort();
	l = get_ok(&c, path);
	assert_int_equal(json_array_size(json_object_get(l, "value")), 5);
	assert_null(json_object_get(l, "@odata.nextLink"));
	json_decref(l);
	free(path);
	json_decref(seen);
	free(ec);
	free(chat);
	end(&c);
}

static void
test_message_filter_rules(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "filters"), *ec = th_urlenc(chat), *path, *since;
	json_t *m1 = post(&c, chat, "one"), *m2 = post(&c, chat, "two"), *l;
	long st;

	since = th_urlenc(gt_str(json_object_get(m1, "message"), "lastModifiedDateTime"));
	/* with the matching $orderby the filter applies */
	if (asprintf(&path,
		     "/v1.0/chats/%s/messages?$orderby=lastModifiedDateTime%%20desc"
		     "&$filter=lastModifiedDateTime%%20gt%%20%s",
		     ec, since) < 0)
		abort();
	l = get_ok(&c, path);
	assert_int_equal(json_array_size(json_object_get(l, "value")), 1);
	assert_string_equal(gt_str(json_array_get(json_object_get(l, "value"), 0), "id"),
			    gt_str(m2, "id"));
	json_decref(l);
	free(path);
	/* without it the filter is ignored, not refused */
	if (asprintf(&path, "/v1.0/chats/%s/messages?$filter=lastModifiedDateTime%%20gt%%20%s", ec,
		     since) < 0)
		abort();
	l = get_ok(&c, path);
	assert_int_equal(json_array_size(json_object_get(l, "value")), 2);
	json_decref(l);
	free(path);
	/* with an $orderby on another property: ignored too */
	if (asprintf(&path,
		     "/v1.0/chats/%s/messages?$orderby=createdDateTime%%20desc"
		     "&$filter=lastModifiedDateTime%%20gt%%20%s",
		     ec, since) < 0)
		abort();
	l = get_ok(&c, path);
	assert_int_equal(json_array_size(json_object_get(l, "value")), 2);
	json_decref(l);
	free(path);
	/* createdDateTime takes lt only */
	if (asprintf(&path,
		     "/v1.0/chats/%s/messages?$orderby=createdDateTime%%20desc"
		     "&$filter=createdDateTime%%20gt%%20%s",
		     ec, since) < 0)
		abort();
	l = get(&c, path, NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	free(path);
	/* ascending order is not supported */
	if (asprintf(&path, "/v1.0/chats/%s/messages?$orderby=createdDateTime%%20asc", ec) < 0)
		abort();
	l = get(&c, path, NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	free(path);
	free(since);
	json_decref(m1);
	json_decref(m2);
	free(ec);
	free(chat);
	end(&c);
}

/* Microsoft Graph service limits, Teams: message GETs per app per tenant
 * (20 a second), other Teams GETs (30): beyond them 429 with Retry-After,
 * whichever chats are read. */
static void
test_tenant_limits(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chats[3], *path;
	json_t *l;
	long st;

	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:i, s:i, s:s}", "tenant_message_limit", 2,
					"tenant_get_limit", 1, "chat_get_period", "5s")));
	for (int i = 0; i < 3; i++) {
		char *ec;
		chats[i] = new_chat(&c, "limits");
		ec = th_urlenc(chats[i]);
		if (asprintf(&path, "/v1.0/chats/%s/messages", ec) < 0)
			abort();
		free(ec);
		l = get(&c, path, NULL, &st);
		assert_int_equal(st, i < 2 ? 200 : 429);
		if (i == 2)
			assert_non_null(strstr(gt_str(json_object_get(l, "error"), "message"),
					       "this application in this tenant"));
		json_decref(l);
		free(path);
	}
	l = get(&c, "/v1.0/me/chats", NULL, &st);
	assert_int_equal(st, 200);
	json_decref(l);
	l = get(&c, "/v1.0/me/chats", NULL, &st);
	assert_int_equal(st, 429);
	json_decref(l);
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:i, s:i, s:s}", "tenant_message_limit", 0,
					"tenant_get_limit", 0, "chat_get_period", "1s")));
	for (int i = 0; i < 3; i++)
		free(chats[i]);
	end(&c);
}

/*
 * $orderby per cloud ("Teams API implementation differences in national
 * clouds"): refused with a 400 or ignored on List chats (US Government
 * clouds, China) and List messages (GCC). Ignored, chats come in no defined
 * order (here the oldest last message first) and messages in the default
 * order, last modified first, with their $filter ignored as well.
 */
static void
test_orderby_per_cloud(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *a = new_chat(&c, "older"), *b = new_chat(&c, "newer"), *ec = th_urlenc(b), *path;
	char *since;
	json_t *ma = post(&c, a, "first"), *m1 = post(&c, b, "one"), *m2 = post(&c, b, "two");
	json_t *l, *v;
	long st, pos_a = -1, pos_b = -1;
	size_t i;
	const char *chats = "/v1.0/me/chats?$expand=lastMessagePreview"
			    "&$orderby=lastMessagePreview/createdDateTime%20desc";

	l = th_sim(&c.t->gs, "POST", "/config", json_pack("{s:s}", "orderby_chats", "sometimes"),
		   &st);
	assert_int_equal(st, 400);
	json_decref(l);
	json_decref(gt_sim_ok(
	    c.t, "POST", "/config",
	    json_pack("{s:s, s:s}", "orderby_chats", "refuse", "orderby_messages", "refuse")));
	l = get(&c, chats, NULL, &st);
	assert_int_equal(st, 400);
	assert_string_equal(gt_str(json_object_get(l, "error"), "message"),
			    "QueryOptions to order by 'lastMessagePreview/createdDateTime' is not "
			    "supported.");
	json_decref(l);
	json_decref(get_ok(&c, "/v1.0/me/chats?$expand=lastMessagePreview"));
	if (asprintf(&path, "/v1.0/chats/%s/messages?$orderby=createdDateTime%%20desc", ec) < 0)
		abort();
	l = get(&c, path, NULL, &st);
	assert_int_equal(st, 400);
	json_decref(l);
	free(path);

	json_decref(gt_sim_ok(
	    c.t, "POST", "/config",
	    json_pack("{s:s, s:s}", "orderby_chats", "ignore", "orderby_messages", "ignore")));
	l = get_ok(&c, chats);
	json_array_foreach (json_object_get(l, "value"), i, v) {
		if (!strcmp(gt_str(v, "id"), a))
			pos_a = (long)i;
		if (!strcmp(gt_str(v, "id"), b))
			pos_b = (long)i;
	}
	assert_true(pos_a >= 0 && pos_b > pos_a);
	json_decref(l);
	/* a reaction moves "one" to the front of the default order; the
	 * createdDateTime filter, which would leave only "one", is ignored */
	if (asprintf(&path, "/chats/%s/messages/%s/reactions", b, gt_str(m1, "id")) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", path, json_pack("{s:s}", "user", c.t->caller)));
	free(path);
	since = th_urlenc(gt_str(json_object_get(m2, "message"), "createdDateTime"));
	if (asprintf(&path,
		     "/v1.0/chats/%s/messages?$orderby=createdDateTime%%20desc"
		     "&$filter=createdDateTime%%20lt%%20%s",
		     ec, since) < 0)
		abort();
	free(since);
	l = get_ok(&c, path);
	assert_int_equal(json_array_size(json_object_get(l, "value")), 2);
	assert_string_equal(gt_str(json_array_get(json_object_get(l, "value"), 0), "id"),
			    gt_str(m1, "id"));
	json_decref(l);
	free(path);
	json_decref(gt_sim_ok(
	    c.t, "POST", "/config",
	    json_pack("{s:s, s:s}", "orderby_chats", "honour", "orderby_messages", "honour")));
	json_decref(ma);
	json_decref(m1);
	json_decref(m2);
	free(ec);
	free(a);
	free(b);
	end(&c);
}

static void
test_reactions_move_last_modified(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "reactions"), *ec = th_urlenc(chat), *path, *cpath;
	json_t *m = post(&c, chat, "react to me"), *msg, *r;
	const char *mid = gt_str(m, "id");
	const char *before = gt_str(json_object_get(m, "message"), "lastModifiedDateTime");
	long st;

	let_clock_move();
	if (asprintf(&cpath, "/chats/%s/messages/%s/reactions", chat, mid) < 0)
		abort();
	r = gt_sim_ok(
	    c.t, "POST", cpath,
	    json_pack("{s:s, s:s}", "user", "jane@contoso.example", "reaction_type", "like"));
	json_decref(r);
	/* the reacting user must be in the chat: the desk is not */
	r = th_sim(&c.t->gs, "POST", cpath, json_pack("{s:s}", "user", c.t->desk), &st);
	assert_int_equal(st, 400);
	json_decref(r);
	r = gt_sim_ok(c.t, "POST", cpath,
		      json_pack("{s:s, s:s}", "user", c.t->svc, "reaction_type", "heart"));
	json_decref(r);
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", ec, mid) < 0)
		abort();
	msg = get_ok(&c, path);
	assert_true(strcmp(gt_str(msg, "lastModifiedDateTime"), before) > 0);
	assert_true(json_is_null(json_object_get(msg, "lastEditedDateTime")));
	json_t *rs = json_object_get(msg, "reactions");
	assert_int_equal(json_array_size(rs), 2);
	assert_string_equal(gt_str(json_array_get(rs, 0), "reactionType"), "like");
	assert_string_equal(gt_str(json_array_get(rs, 1), "reactionType"), "heart");
	assert_string_equal(
	    gt_str(json_object_get(json_object_get(json_array_get(rs, 1), "user"), "user"), "id"),
	    c.t->svc);
	json_decref(msg);
	free(path);
	json_decref(m);
	free(cpath);
	free(ec);
	free(chat);
	end(&c);
}

static void
test_application_sender_and_emergency_in_existing_chat(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "Standing 911 group"), *ec = th_urlenc(chat), *path;
	json_t *m, *msg;
	long st;

	m = gt_sim_ok(c.t, "POST", "/messages",
		      json_pack("{s:s, s:s, s:{s:s, s:s}}", "chat", chat, "content", "bot says",
				"from_app", "id", "7e1c0f8a-0d9e-4b6a-9c1d-2f3e4a5b6c7d",
				"display_name", "Emergency Bot"));
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", ec, gt_str(m, "id")) < 0)
		abort();
	msg = get_ok(&c, path);
	json_t *from = json_object_get(msg, "from");
	assert_true(json_is_null(json_object_get(from, "user")));
	assert_string_equal(gt_str(json_object_get(from, "application"), "displayName"),
			    "Emergency Bot");
	assert_string_equal(gt_str(json_object_get(from, "application"), "id"),
			    "7e1c0f8a-0d9e-4b6a-9c1d-2f3e4a5b6c7d");
	json_decref(msg);
	json_decref(m);
	free(path);
	/* a user and an application at once is refused */
	m = th_sim(&c.t->gs, "POST", "/messages",
		   json_pack("{s:s, s:s, s:{s:s}}", "chat", chat, "from", c.t->caller, "from_app",
			     "id", "x"),
		   &st);
	assert_int_equal(st, 400);
	json_decref(m);

	/* the notice in an existing chat */
	m = gt_sim_ok(
	    c.t, "POST", "/emergency",
	    json_pack("{s:s, s:s, s:s}", "caller", c.t->caller, "chat", chat, "location", "Lobby"));
	assert_string_equal(gt_str(m, "chat_id"), chat);
	json_decref(m);
	/* the caller must be in it */
	m = th_sim(&c.t->gs, "POST", "/emergency",
		   json_pack("{s:s, s:s}", "caller", c.t->desk, "chat", chat), &st);
	assert_int_equal(st, 400);
	json_decref(m);
	m = th_sim(&c.t->gs, "POST", "/emergency",
		   json_pack("{s:s, s:s}", "caller", c.t->caller, "chat", "19:none@thread.v2"),
		   &st);
	assert_int_equal(st, 400);
	json_decref(m);
	free(ec);
	free(chat);
	end(&c);
}

static size_t
polling_violations(struct ctx *c, const char *collection)
{
	json_t *st = gt_sim_ok(c->t, "GET", "/stats", NULL), *v;
	size_t i, n = 0;

	json_array_foreach (json_object_get(st, "violations"), i, v) {
		if (strcmp(gt_str(v, "rule"), "polling") != 0 ||
		    strcmp(gt_str(v, "collection"), collection) != 0)
			continue;
		assert_string_equal(gt_str(v, "app"), GT_CLIENT);
		assert_non_null(gt_str(v, "time"));
		assert_non_null(gt_str(v, "what"));
		n++;
	}
	json_decref(st);
	return n;
}

/* Teams API overview, "Polling requirements": about once a day */
static void
test_polling_budget(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "polled"), *ec = th_urlenc(chat), *chats_coll, *msgs_coll, *path;
	json_t *l, *m = post(&c, chat, "x");

	json_decref(post(&c, chat, "y"));
	if (asprintf(&chats_coll, "/users/%s/chats", c.t->svc) < 0 ||
	    asprintf(&msgs_coll, "/chats/%s/messages", chat) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:i, s:s}", "poll_budget", 2, "poll_period", "1d")));
	/* two first-page reads are within the budget, next pages never count */
	l = get_ok(&c, "/v1.0/me/chats?$top=1");
	assert_non_null(gt_str(l, "@odata.nextLink"));
	json_decref(get_ok(&c, gt_str(l, "@odata.nextLink")));
	json_decref(l);
	json_decref(get_ok(&c, "/v1.0/users/svc-911@contoso.example/chats"));
	assert_int_equal(polling_violations(&c, chats_coll), 0);
	/* the third is served, and recorded; /me and /users/{id} are one collection */
	json_decref(get_ok(&c, "/v1.0/me/chats"));
	assert_int_equal(polling_violations(&c, chats_coll), 1);

	/* one chat's messages: the same rule; single-message GETs do not count */
	if (asprintf(&path, "/v1.0/chats/%s/messages?$top=1", ec) < 0)
		abort();
	l = get_ok(&c, path);
	json_decref(get_ok(&c, gt_str(l, "@odata.nextLink")));
	json_decref(l);
	free(path);
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", ec, gt_str(m, "id")) < 0)
		abort();
	for (int i = 0; i < 3; i++)
		json_decref(get_ok(&c, path));
	free(path);
	if (asprintf(&path, "/v1.0/me/chats/%s/messages", ec) < 0)
		abort();
	json_decref(get_ok(&c, path));
	assert_int_equal(polling_violations(&c, msgs_coll), 0);
	json_decref(get_ok(&c, path));
	assert_int_equal(polling_violations(&c, msgs_coll), 1);
	free(path);

	/* a short period forgets old reads */
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:i, s:s}", "poll_budget", 1, "poll_period", "50ms")));
	{
		double since = th_now() + 0.09; /* clock_moved: 100 ms from now */
		assert_true(th_wait_until(clock_moved, &since, 2));
	}
	json_decref(get_ok(&c, "/v1.0/me/chats"));
	assert_int_equal(polling_violations(&c, chats_coll), 1);

	/* 0 turns the rule off */
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:i, s:s}", "poll_budget", 0, "poll_period", "1d")));
	for (int i = 0; i < 3; i++)
		json_decref(get_ok(&c, "/v1.0/me/chats"));
	assert_int_equal(polling_violations(&c, chats_coll), 1);
	json_decref(m);
	free(chats_coll);
	free(msgs_coll);
	free(ec);
	free(chat);
	end(&c);
}

/* messageType is an evolvable enum: systemEventMessage only with
 * Prefer: include-unknown-enum-members, else unknownFutureValue */
static void
test_evolvable_message_type(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *chat = new_chat(&c, "events"), *ec = th_urlenc(chat), *path;
	const char *prefer = "Prefer: include-unknown-enum-members";
	json_t *m, *j;
	long st;

	m = gt_sim_ok(c.t, "POST", "/messages",
		      json_pack("{s:s, s:s, s:s, s:s}", "chat", chat, "from", c.t->caller,
				"content", "<systemEventMessage/>", "message_type",
				"systemEventMessage"));
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", ec, gt_str(m, "id")) < 0)
		abort();
	j = get_ok(&c, path);
	assert_string_equal(gt_str(j, "messageType"), "unknownFutureValue");
	json_decref(j);
	j = get(&c, path, prefer, &st);
	assert_int_equal(st, 200);
	assert_string_equal(gt_str(j, "messageType"), "systemEventMessage");
	json_decref(j);
	free(path);
	/* lists and previews follow the same rule */
	if (asprintf(&path, "/v1.0/chats/%s/messages", ec) < 0)
		abort();
	j = get_ok(&c, path);
	assert_string_equal(gt_str(json_array_get(json_object_get(j, "value"), 0), "messageType"),
			    "unknownFutureValue");
	json_decref(j);
	j = get(&c, path, prefer, &st);
	assert_string_equal(gt_str(json_array_get(json_object_get(j, "value"), 0), "messageType"),
			    "systemEventMessage");
	json_decref(j);
	free(path);
	j = get_ok(&c, "/v1.0/me/chats?$expand=lastMessagePreview");
	assert_string_equal(
	    gt_str(json_object_get(find_chat(j, chat), "lastMessagePreview"), "messageType"),
	    "unknownFutureValue");
	json_decref(j);
	j = get(&c, "/v1.0/me/chats?$expand=lastMessagePreview", prefer, &st);
	assert_string_equal(
	    gt_str(json_object_get(find_chat(j, chat), "lastMessagePreview"), "messageType"),
	    "systemEventMessage");
	json_decref(j);
	json_decref(m);

	/* members before the sentinel are returned as they are */
	m = gt_sim_ok(
	    c.t, "POST", "/messages",
	    json_pack("{s:s, s:s, s:s}", "chat", chat, "content", "", "message_type", "chatEvent"));
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", ec, gt_str(m, "id")) < 0)
		abort();
	j = get_ok(&c, path);
	assert_string_equal(gt_str(j, "messageType"), "chatEvent");
	json_decref(j);
	json_decref(m);
	free(path);
	/* not a messageType */
	m = th_sim(&c.t->gs, "POST", "/messages",
		   json_pack("{s:s, s:s, s:s}", "chat", chat, "content", "", "message_type",
			     "unknownFutureValue"),
		   &st);
	assert_int_equal(st, 400);
	json_decref(m);
	free(ec);
	free(chat);
	end(&c);
}

/* POST /v1.0/{prefix}chats/{chat}/messages as `token`; the answer in *ret */
static long
send_as(struct ctx *c, const char *token, const char *prefix, const char *chat, json_t *body,
	json_t **ret, char **ret_retry_after)
{
	char *ec = th_urlenc(chat), *path;
	struct th_resp r;
	long st;

	if (asprintf(&path, "/v1.0/%schats/%s/messages", prefix, ec) < 0)
		abort();
	assert_int_equal(th_graph_send(&c->t->gs, "POST", token, path, body, &r), 0);
	st = r.status;
	*ret = th_resp_json(&r);
	if (ret_retry_after)
		*ret_retry_after = r.retry_after ? strdup(r.retry_after) : NULL;
	th_resp_free(&r);
	free(path);
	free(ec);
	return st;
}

static long
send_msg(struct ctx *c, const char *token, const char *chat, json_t *body, json_t **ret)
{
	return send_as(c, token, "", chat, body, ret, NULL);
}

/* Graph's error shape with this code; consumes j */
static void
graph_error(json_t *j, const char *code)
{
	json_t *e = json_object_get(j, "error"), *ie = json_object_get(e, "innerError");

	assert_non_null(e);
	assert_string_equal(gt_str(e, "code"), code);
	assert_non_null(gt_str(e, "message"));
	assert_non_null(gt_str(ie, "date"));
	assert_non_null(gt_str(ie, "request-id"));
	assert_non_null(gt_str(ie, "client-request-id"));
	json_decref(j);
}

static size_t
message_count(struct ctx *c, const char *chat)
{
	char *ec = th_urlenc(chat), *path;
	json_t *l;
	size_t n;

	if (asprintf(&path, "/v1.0/chats/%s/messages?$top=50", ec) < 0)
		abort();
	l = get_ok(c, path);
	n = json_array_size(json_object_get(l, "value"));
	json_decref(l);
	free(path);
	free(ec);
	return n;
}

/* The notification item for message `id` received on `path`, or NULL. */
struct item_wait {
	struct gt *t;
	const char *path;
	const char *id;
	json_t *item;
};

static bool
item_arrived(void *arg)
{
	struct item_wait *w = arg;
	json_t *posts = th_hook_posts(w->t->hook), *p, *v;
	size_t i, k;

	json_array_foreach (posts, i, p) {
		if (strcmp(gt_str(p, "path"), w->path) != 0)
			continue;
		json_array_foreach (json_object_get(json_object_get(p, "body"), "value"), k, v) {
			json_t *rd = json_object_get(v, "resourceData");
			if (!w->item && !strcmp(gt_str(rd, "id"), w->id))
				w->item = json_incref(v);
		}
	}
	json_decref(posts);
	return w->item != NULL;
}

/*
 * Send message in a chat (learn.microsoft.com/graph/api/chat-post-messages):
 * ChatMessage.Send (or Chat.ReadWrite) → 201 with the chatMessage, the
 * signed-in user as the sender, stored and notified like any message;
 * without the permission 403; a chat the user is not in 404; no content 400.
 */
static void
test_send_message(void **state)
{
	struct gt *t = *state;
	struct ctx c = {t,
			gt_signin_scopes(t, "offline_access openid User.Read Chat.Read "
					    "ChatMessage.Send"),
			NULL};
	c.at = gt_str(c.tok, "access_token");
	char *chat = new_chat(&c, "Send here"), *ec = th_urlenc(chat), *path, *hook, *res, *ra;
	json_t *j, *m1, *m2, *sub, *b, *l, *from;
	long st;

	/* the identity platform grants the scope */
	assert_non_null(strstr(gt_str(c.tok, "scope"), "ChatMessage.Send"));

	/* the sender's own subscription on all their chats */
	b = gt_sub_body(t, 180, "cs-send");
	hook = th_hook_url(t->hook, "/sent");
	json_object_set_new(b, "notificationUrl", json_string(hook));
	assert_int_equal(gt_subscribe(t, c.at, b, &sub), 201);
	json_decref(sub);

	/* the page's own example: no contentType, read back as text */
	assert_int_equal(
	    send_msg(&c, c.at, chat, json_pack("{s:{s:s}}", "body", "content", "Hello world"), &m1),
	    201);
	assert_non_null(gt_str(m1, "id"));
	assert_non_null(strstr(gt_str(m1, "@odata.context"), "/messages/$entity"));
	assert_non_null(strstr(gt_str(m1, "@odata.context"), "$metadata#chats('19%3A"));
	assert_string_equal(gt_str(m1, "chatId"), chat);
	assert_string_equal(gt_str(m1, "messageType"), "message");
	assert_string_equal(gt_str(m1, "importance"), "normal");
	assert_non_null(gt_str(m1, "createdDateTime"));
	assert_string_equal(gt_str(json_object_get(m1, "body"), "contentType"), "text");
	assert_string_equal(gt_str(json_object_get(m1, "body"), "content"), "Hello world");
	from = json_object_get(m1, "from");
	assert_true(json_is_null(json_object_get(from, "application")));
	assert_string_equal(gt_str(json_object_get(from, "user"), "id"), t->svc);
	assert_string_equal(gt_str(json_object_get(from, "user"), "displayName"),
			    "Security Desk Service");
	assert_string_equal(gt_str(json_object_get(from, "user"), "userIdentityType"), "aadUser");

	/* html and importance as given */
	assert_int_equal(
	    send_msg(&c, c.at, chat,
		     json_pack("{s:{s:s, s:s}, s:s}", "body", "contentType", "html", "content",
			       "<p>Fire drill at 3</p>", "importance", "high"),
		     &m2),
	    201);
	assert_string_equal(gt_str(json_object_get(m2, "body"), "contentType"), "html");
	assert_string_equal(gt_str(m2, "importance"), "high");

	/* stored like any message: in the list, one GET, the preview */
	if (asprintf(&path, "/v1.0/chats/%s/messages", ec) < 0)
		abort();
	l = get_ok(&c, path);
	assert_int_equal(json_array_size(json_object_get(l, "value")), 2);
	json_decref(l);
	free(path);
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", ec, gt_str(m1, "id")) < 0)
		abort();
	j = get_ok(&c, path);
	assert_string_equal(gt_str(json_object_get(j, "body"), "content"), "Hello world");
	assert_string_equal(gt_str(json_object_get(json_object_get(j, "from"), "user"), "id"),
			    t->svc);
	json_decref(j);
	free(path);
	l = get_ok(&c, "/v1.0/me/chats?$expand=lastMessagePreview");
	j = json_object_get(find_chat(l, chat), "lastMessagePreview");
	assert_string_equal(gt_str(j, "id"), gt_str(m2, "id"));
	assert_string_equal(gt_str(json_object_get(json_object_get(j, "from"), "user"), "id"),
			    t->svc);
	json_decref(l);

	/* notified to the subscription, the sender's own included */
	struct item_wait w1 = {t, "/sent", gt_str(m1, "id"), NULL};
	struct item_wait w2 = {t, "/sent", gt_str(m2, "id"), NULL};
	assert_true(th_wait_until(item_arrived, &w1, 10));
	assert_true(th_wait_until(item_arrived, &w2, 10));
	assert_string_equal(gt_str(w1.item, "changeType"), "created");
	assert_string_equal(gt_str(w1.item, "clientState"), "cs-send");
	if (asprintf(&res, "chats('%s')/messages('%s')", chat, gt_str(m1, "id")) < 0)
		abort();
	assert_string_equal(gt_str(w1.item, "resource"), res);
	free(res);
	json_decref(w1.item);
	json_decref(w2.item);

	/* Chat.ReadWrite, the higher privilege, may send too */
	json_t *rw = gt_signin_scopes(t, "offline_access User.Read Chat.ReadWrite");
	assert_int_equal(send_msg(&c, gt_str(rw, "access_token"), chat,
				  json_pack("{s:{s:s}}", "body", "content", "rw"), &j),
			 201);
	json_decref(j);
	json_decref(rw);
	assert_int_equal(message_count(&c, chat), 3);

	/* Chat.Read only: 403 in Graph's shape, nothing stored */
	json_t *ro = gt_signin_scopes(t, "offline_access openid User.Read Chat.Read");
	assert_int_equal(send_msg(&c, gt_str(ro, "access_token"), chat,
				  json_pack("{s:{s:s}}", "body", "content", "no"), &j),
			 403);
	graph_error(j, "Forbidden");
	json_decref(ro);

	/* another user's chat, and one that does not exist: 404 */
	j = gt_sim_ok(
	    t, "POST", "/chats",
	    json_pack("{s:s, s:[s,s]}", "tenant", GT_TENANT, "members", t->caller, t->desk));
	char *theirs = strdup(gt_str(j, "id"));
	json_decref(j);
	assert_int_equal(
	    send_msg(&c, c.at, theirs, json_pack("{s:{s:s}}", "body", "content", "intruding"), &j),
	    404);
	graph_error(j, "NotFound");
	assert_int_equal(send_msg(&c, c.at, "19:0000@thread.v2",
				  json_pack("{s:{s:s}}", "body", "content", "x"), &j),
			 404);
	graph_error(j, "NotFound");

	/* no body, empty content, values outside the enums: 400 */
	assert_int_equal(send_msg(&c, c.at, chat, json_object(), &j), 400);
	graph_error(j, "BadRequest");
	assert_int_equal(
	    send_msg(&c, c.at, chat, json_pack("{s:{s:s}}", "body", "content", ""), &j), 400);
	graph_error(j, "BadRequest");
	assert_int_equal(send_msg(&c, c.at, chat, json_pack("{s:{}}", "body"), &j), 400);
	graph_error(j, "BadRequest");
	assert_int_equal(
	    send_msg(&c, c.at, chat,
		     json_pack("{s:{s:s, s:s}}", "body", "contentType", "markdown", "content", "x"),
		     &j),
	    400);
	graph_error(j, "BadRequest");
	assert_int_equal(
	    send_msg(&c, c.at, chat,
		     json_pack("{s:{s:s}, s:s}", "body", "content", "x", "importance", "critical"),
		     &j),
	    400);
	graph_error(j, "BadRequest");
	assert_int_equal(message_count(&c, chat), 3);

	/* the page gives only /chats/{chat-id}/messages */
	assert_int_equal(send_as(&c, c.at, "me/", chat,
				 json_pack("{s:{s:s}}", "body", "content", "x"), &j, NULL),
			 405);
	json_decref(j);

	/* one request per second per app on a chat, reads and sends together */
	json_decref(
	    gt_sim_ok(t, "POST", "/config",
		      json_pack("{s:i, s:s}", "chat_get_limit", 1, "chat_get_period", "5s")));
	char *busy = new_chat(&c, "rate"), *eb = th_urlenc(busy);
	assert_int_equal(
	    send_msg(&c, c.at, busy, json_pack("{s:{s:s}}", "body", "content", "1"), &j), 201);
	json_decref(j);
	assert_int_equal(
	    send_as(&c, c.at, "", busy, json_pack("{s:{s:s}}", "body", "content", "2"), &j, &ra),
	    429);
	graph_error(j, "TooManyRequests");
	assert_non_null(ra);
	assert_true(atoi(ra) >= 1);
	free(ra);
	if (asprintf(&path, "/v1.0/chats/%s/messages", eb) < 0)
		abort();
	j = get(&c, path, NULL, &st);
	assert_int_equal(st, 429);
	json_decref(j);
	free(path);
	json_decref(
	    gt_sim_ok(t, "POST", "/config",
		      json_pack("{s:i, s:s}", "chat_get_limit", 0, "chat_get_period", "1s")));
	assert_int_equal(message_count(&c, busy), 1);

	gt_delete_subs(t, c.at);
	free(eb);
	free(busy);
	free(theirs);
	free(hook);
	json_decref(m1);
	json_decref(m2);
	free(ec);
	free(chat);
	end(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_last_updated_moves_only_on_rename_and_members),
	    cmocka_unit_test(test_last_message_preview_and_order),
	    cmocka_unit_test(test_chat_paging_keeps_every_option),
	    cmocka_unit_test(test_message_paging),
	    cmocka_unit_test(test_message_filter_rules),
	    cmocka_unit_test(test_orderby_per_cloud),
	    cmocka_unit_test(test_tenant_limits),
	    cmocka_unit_test(test_reactions_move_last_modified),
	    cmocka_unit_test(test_application_sender_and_emergency_in_existing_chat),
	    cmocka_unit_test(test_polling_budget),
	    cmocka_unit_test(test_evolvable_message_type),
	    cmocka_unit_test(test_send_message),
	};

	return cmocka_run_group_tests_name("graphsim chats", tests, setup, gt_teardown);
}
