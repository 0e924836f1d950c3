/*
 * graphsim conformance: change notification delivery (basic and rich),
 * Graph's acknowledgement and retry rules, batching, expiry, lifecycle
 * events, throttling, injected delivery faults, TLS to the receiver, and
 * the chat reads a client makes after a notification.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gt.h"

static const char *const opts[] = {"--retry-initial=200ms", "--chat-get-limit=0", "--poll-budget=0",
				   NULL};
static const struct th_hook_cfg good = {.validation = TH_VALIDATE_ECHO, .notify_status = 202};

static int
setup(void **state)
{
	return gt_setup(state, opts);
}

struct ctx {
	struct gt *t;
	json_t *tok;
	const char *at;
	char *chat;
	char notify[32]; /* a path of its own: throttling is per endpoint */
	long dseq;       /* delivery log entries before this test */
};

/* Signs in, clears old subscriptions, and makes a chat of svc and caller. */
static void
begin(struct gt *t, struct ctx *c)
{
	json_t *chat;

	static int n;
	json_t *d;

	c->t = t;
	snprintf(c->notify, sizeof(c->notify), "/notify-%d", ++n);
	d = gt_sim_ok(t, "GET", "/deliveries", NULL);
	c->dseq = (long)json_integer_value(
	    json_object_get(json_array_get(json_object_get(d, "value"),
					   json_array_size(json_object_get(d, "value")) - 1),
			    "seq"));
	json_decref(d);
	c->tok = gt_signin(t);
	c->at = gt_str(c->tok, "access_token");
	gt_delete_subs(t, c->at);
	/* an endpoint a slow earlier test marked slow would delay this one's
	 * deliveries by throttle_delay */
	json_decref(gt_sim_ok(t, "DELETE", "/endpoints", NULL));
	th_hook_configure(t->hook, &good);
	th_hook_clear(t->hook);
	chat = gt_sim_ok(t, "POST", "/chats",
			 json_pack("{s:s, s:[s,s], s:s}", "tenant", GT_TENANT, "members", t->svc,
				   t->caller, "topic", "Front desk"));
	c->chat = strdup(gt_str(chat, "id"));
	json_decref(chat);
}

static void
end(struct ctx *c)
{
	gt_delete_subs(c->t, c->at);
	/* let nothing queued for this test leak into the next */
	json_decref(
	    gt_sim_ok(c->t, "POST", "/config",
		      json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "delivery_timeout", "3s",
				"retry_window", "4h", "batch_window", "50ms", "reauth_lead", "1h",
				"throttle_min_samples", 10, "validation_token_version", 1)));
	th_hook_configure(c->t->hook, &good);
	json_decref(c->tok);
	free(c->chat);
}

/* Creates a subscription; cert may be NULL (basic). Returns its id. */
static char *
subscribe(struct ctx *c, const char *notify_path, const char *cert, const char *change_type)
{
	/* longer than the reauthorization lead, so no lifecycle notices come */
	json_t *b = gt_sub_body(c->t, 180, "cs-delivery"), *sub;
	char *url = th_hook_url(c->t->hook, notify_path), *id;

	json_object_set_new(b, "notificationUrl", json_string(url));
	if (change_type)
		json_object_set_new(b, "changeType", json_string(change_type));
	if (cert) {
		json_object_set_new(b, "includeResourceData", json_true());
		json_object_set_new(b, "encryptionCertificate", json_string(cert));
		json_object_set_new(b, "encryptionCertificateId", json_string("key-2026-11"));
	}
	assert_int_equal(gt_subscribe(c->t, c->at, b, &sub), 201);
	id = strdup(gt_str(sub, "id"));
	json_decref(sub);
	free(url);
	return id;
}

static json_t *
post_msg(struct ctx *c, const char *content, const char *importance)
{
	return gt_sim_ok(c->t, "POST", "/messages",
			 json_pack("{s:s, s:s, s:s, s:s}", "chat", c->chat, "from", c->t->caller,
				   "content", content, "importance", importance));
}

/* The items of the i-th notification POST received. */
static json_t *
post_body(struct gt *t, size_t i)
{
	json_t *posts = th_hook_posts(t->hook);
	json_t *b = json_incref(json_object_get(json_array_get(posts, i), "body"));

	json_decref(posts);
	return b;
}

static json_t *
deliveries(struct ctx *c)
{
	char *path;
	json_t *d, *v;

	if (asprintf(&path, "/deliveries?since=%ld", c->dseq) < 0)
		abort();
	d = gt_sim_ok(c->t, "GET", path, NULL);
	free(path);

	v = json_incref(json_object_get(d, "value"));
	json_decref(d);
	return v;
}

struct outcome_wait {
	struct ctx *c;
	const char *outcome;
	size_t n;
};

static bool
has_outcomes(void *arg)
{
	struct outcome_wait *w = arg;
	json_t *d = deliveries(w->c), *e;
	size_t i, n = 0;

	json_array_foreach (d, i, e)
		n += !strcmp(gt_str(e, "outcome"), w->outcome);
	json_decref(d);
	return n >= w->n;
}

static bool
wait_outcome(struct ctx *c, const char *outcome, size_t n)
{
	struct outcome_wait w = {c, outcome, n};

	return th_wait_until(has_outcomes, &w, 20);
}

static size_t
count_outcome(struct ctx *c, const char *outcome)
{
	json_t *d = deliveries(c), *e;
	size_t i, n = 0;

	json_array_foreach (d, i, e)
		n += !strcmp(gt_str(e, "outcome"), outcome);
	json_decref(d);
	return n;
}

static void
test_basic_notification_and_get(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *sub = subscribe(&c, c.notify, NULL, NULL);
	json_t *m = post_msg(&c, "<p>Coffee is ready</p>", "normal"), *body, *item;
	const char *mid = gt_str(m, "id");

	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 1);
	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	body = post_body(c.t, 0);
	assert_null(json_object_get(body, "validationTokens"));
	item = json_array_get(json_object_get(body, "value"), 0);
	assert_string_equal(gt_str(item, "subscriptionId"), sub);
	assert_string_equal(gt_str(item, "clientState"), "cs-delivery");
	assert_string_equal(gt_str(item, "changeType"), "created");
	assert_string_equal(gt_str(item, "tenantId"), GT_TENANT);
	assert_true(json_is_null(json_object_get(item, "encryptedContent")));
	json_t *rd = json_object_get(item, "resourceData");
	assert_string_equal(gt_str(rd, "id"), mid);
	assert_string_equal(gt_str(rd, "@odata.type"), "#Microsoft.Graph.chatMessage");
	char *res;
	if (asprintf(&res, "chats('%s')/messages('%s')", c.chat, mid) < 0)
		abort();
	assert_string_equal(gt_str(item, "resource"), res);

	/* a basic notification is followed by a GET of the message; the chat
	 * id holds ':' and '@', which the client encodes */
	char *echat = th_urlenc(c.chat), *path;
	struct th_resp r;
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", echat, mid) < 0)
		abort();
	assert_int_equal(th_graph_get(&c.t->gs, c.at, path, &r), 0);
	assert_int_equal(r.status, 200);
	json_t *msg = th_resp_json(&r);
	assert_string_equal(gt_str(msg, "id"), mid);
	assert_string_equal(gt_str(msg, "chatId"), c.chat);
	assert_string_equal(gt_str(msg, "messageType"), "message");
	assert_string_equal(gt_str(msg, "importance"), "normal");
	assert_string_equal(gt_str(json_object_get(json_object_get(msg, "from"), "user"), "id"),
			    c.t->caller);
	assert_string_equal(gt_str(json_object_get(msg, "body"), "content"),
			    "<p>Coffee is ready</p>");
	json_decref(msg);
	th_resp_free(&r);
	free(path);
	free(echat);
	free(res);
	json_decref(body);
	json_decref(m);
	free(sub);
	end(&c);
}

static void
test_only_covered_chats(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *sub = subscribe(&c, c.notify, NULL, NULL);
	json_t *other = gt_sim_ok(
	    c.t, "POST", "/chats",
	    json_pack("{s:s, s:[s,s]}", "tenant", GT_TENANT, "members", c.t->caller, c.t->desk));
	json_t *m = gt_sim_ok(c.t, "POST", "/messages",
			      json_pack("{s:s, s:s, s:s}", "chat", gt_str(other, "id"), "from",
					c.t->caller, "content", "not for the desk service"));

	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 0);
	json_decref(m);
	json_decref(other);
	free(sub);
	end(&c);
}

/* The i-th POST the hook received on path (NULL: none), as {path, body}. */
static json_t *
post_on(struct gt *t, const char *path, size_t i)
{
	json_t *posts = th_hook_posts(t->hook), *p, *hit = NULL;
	size_t k;

	json_array_foreach (posts, k, p)
		if (!strcmp(gt_str(p, "path"), path) && i-- == 0) {
			hit = json_incref(p);
			break;
		}
	json_decref(posts);
	return hit;
}

struct lifecycle_wait {
	struct gt *t;
	const char *sub;
	json_t *post; /* the lifecycle POST for sub, once there */
};

static bool
lifecycle_for(void *arg)
{
	struct lifecycle_wait *w = arg;
	json_t *p;

	for (size_t i = 0; (p = post_on(w->t, "/lifecycle", i)); i++) {
		json_t *it =
		    json_array_get(json_object_get(json_object_get(p, "body"), "value"), 0);
		if (!strcmp(gt_str(it, "subscriptionId"), w->sub)) {
			w->post = p;
			return true;
		}
		json_decref(p);
	}
	return false;
}

/* The chat message notifications page: "Prefer: include-unknown-enum-members"
 * on the creation of a subscription to a chat's messages opts its payloads
 * in to systemEventMessage. Lifecycle POSTs carry value[] only, no
 * validationTokens, though the subscription is rich. */
static void
test_chat_subscription_opt_in_and_lifecycle(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *cert, *err = NULL, *plain, *url, *auth, *text, *id, *path;
	EVP_PKEY *key = th_rsa_cert(2048, &cert);
	json_t *b = gt_sub_body(c.t, 180, "cs-optin"), *sub, *p, *m, *item;
	const char *hdrs[4] = {NULL, "Content-Type: application/json",
			       "Prefer: include-unknown-enum-members", NULL};
	struct th_resp r;

	if (asprintf(&path, "/chats/%s/messages", c.chat) < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", c.at) < 0 ||
	    asprintf(&url, "%s/v1.0/subscriptions", c.t->gs.base) < 0)
		abort();
	hdrs[0] = auth;
	json_object_set_new(b, "resource", json_string(path));
	text = th_hook_url(c.t->hook, "/notify-optin");
	json_object_set_new(b, "notificationUrl", json_string(text));
	free(text);
	json_object_set_new(b, "includeResourceData", json_true());
	json_object_set_new(b, "encryptionCertificate", json_string(cert));
	json_object_set_new(b, "encryptionCertificateId", json_string("key-optin"));
	text = json_dumps(b, JSON_COMPACT);
	assert_int_equal(th_http("POST", url, c.t->gs.ca, hdrs, text, &r), 0);
	assert_int_equal(r.status, 201);
	sub = th_resp_json(&r);
	th_resp_free(&r);
	id = strdup(gt_str(sub, "id"));

	json_decref(gt_sim_ok(c.t, "POST", "/messages",
			      json_pack("{s:s, s:s, s:s, s:s}", "chat", c.chat, "from", c.t->caller,
					"content", "<systemEventMessage/>", "message_type",
					"systemEventMessage")));
	assert_true(th_hook_wait(c.t->hook, "/notify-optin", 1, 10));
	p = post_on(c.t, "/notify-optin", 0);
	item = json_array_get(json_object_get(json_object_get(p, "body"), "value"), 0);
	plain = th_rich_decrypt(key, json_object_get(item, "encryptedContent"), &err);
	assert_non_null(plain);
	m = json_loads(plain, 0, NULL);
	assert_string_equal(gt_str(m, "messageType"), "systemEventMessage");
	json_decref(m);
	free(plain);
	json_decref(p);

	free(path);
	if (asprintf(&path, "/subscriptions/%s/lifecycle", id) < 0)
		abort();
	json_decref(
	    gt_sim_ok(c.t, "POST", path, json_pack("{s:s}", "event", "reauthorizationRequired")));
	struct lifecycle_wait lw = {c.t, id, NULL};
	assert_true(th_wait_until(lifecycle_for, &lw, 10));
	assert_null(json_object_get(json_object_get(lw.post, "body"), "validationTokens"));
	json_decref(lw.post);
	free(path);
	free(url);
	free(auth);
	free(text);
	free(id);
	free(cert);
	EVP_PKEY_free(key);
	json_decref(sub);
	json_decref(b);
	end(&c);
}

static void
set_vt_version(struct ctx *c, int v)
{
	json_decref(
	    gt_sim_ok(c->t, "POST", "/config", json_pack("{s:i}", "validation_token_version", v)));
}

/* the claim that names the caller: appid in v1 tokens, azp in v2 */
static const char *
caller_claim(json_t *claims)
{
	return !strcmp(gt_str(claims, "ver"), "1.0") ? gt_str(claims, "appid")
						     : gt_str(claims, "azp");
}

static void
rich_emergency(void **state, int version)
{
	struct ctx c;
	begin(*state, &c);
	set_vt_version(&c, version);
	char *cert, *err, *plain, *iss;
	EVP_PKEY *key = th_rsa_cert(2048, &cert);
	char *sub = subscribe(&c, c.notify, cert, NULL);
	json_t *e = gt_sim_ok(c.t, "POST", "/emergency",
			      json_pack("{s:s, s:[s,s], s:s, s:s}", "caller", c.t->caller,
					"members", c.t->svc, c.t->desk, "number", "911", "location",
					"Building 4, 1 Main St, Springfield, IL 62701"));
	json_t *body, *item, *msg, *claims, *keys;
	struct th_resp r;

	assert_int_equal(json_integer_value(json_object_get(e, "notified")), 1);
	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	body = post_body(c.t, 0);
	item = json_array_get(json_object_get(body, "value"), 0);
	json_t *enc = json_object_get(item, "encryptedContent");
	assert_string_equal(gt_str(enc, "encryptionCertificateId"), "key-2026-11");
	assert_non_null(gt_str(enc, "encryptionCertificateThumbprint"));
	plain = th_rich_decrypt(key, enc, &err);
	if (!plain)
		fprintf(stderr, "decrypt: %s\n", err);
	assert_non_null(plain);
	msg = json_loads(plain, 0, NULL);
	assert_non_null(strstr(gt_str(json_object_get(msg, "body"), "content"),
			       "has placed an Emergency Call"));
	assert_string_equal(gt_str(msg, "importance"), "high");
	assert_string_equal(gt_str(msg, "id"), gt_str(e, "id"));
	assert_string_equal(
	    gt_str(json_object_get(json_object_get(msg, "from"), "user"), "displayName"),
	    "Jane Doe");

	/* a system event message in a rich payload reads unknownFutureValue:
	 * no Prefer header can opt a notification in */
	json_t *se = gt_sim_ok(c.t, "POST", "/messages",
			       json_pack("{s:s, s:s, s:s, s:s}", "chat", gt_str(e, "chat_id"),
					 "from", c.t->caller, "content", "<systemEventMessage/>",
					 "message_type", "systemEventMessage"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 2, 10));
	{
		json_t *b2 = post_body(c.t, 1), *m2;
		char *p2 =
		    th_rich_decrypt(key,
				    json_object_get(json_array_get(json_object_get(b2, "value"), 0),
						    "encryptedContent"),
				    &err);
		assert_non_null(p2);
		m2 = json_loads(p2, 0, NULL);
		assert_string_equal(gt_str(m2, "id"), gt_str(se, "id"));
		assert_string_equal(gt_str(m2, "messageType"), "unknownFutureValue");
		json_decref(m2);
		free(p2);
		json_decref(b2);
	}
	json_decref(se);

	/* one validation token per app and tenant, signed by a JWKS key */
	json_t *vts = json_object_get(body, "validationTokens");
	assert_int_equal(json_array_size(vts), 1);
	assert_int_equal(th_graph_get(&c.t->gs, NULL, "/common/discovery/v2.0/keys", &r), 0);
	keys = th_resp_json(&r);
	th_resp_free(&r);
	assert_int_equal(
	    th_jwt_verify(json_string_value(json_array_get(vts, 0)), keys, &claims, &err), 0);
	assert_string_equal(gt_str(claims, "aud"), GT_CLIENT);
	assert_string_equal(gt_str(claims, "tid"), GT_TENANT);
	if (version == 1) {
		/* Microsoft's example: a v1 token */
		assert_string_equal(gt_str(claims, "ver"), "1.0");
		assert_string_equal(gt_str(claims, "appid"),
				    "0bf30f3b-4a52-48df-9a82-234910c4a086");
		assert_null(json_object_get(claims, "azp"));
		if (asprintf(&iss, "https://sts.windows.net/%s/", GT_TENANT) < 0)
			abort();
	} else {
		assert_string_equal(gt_str(claims, "ver"), "2.0");
		assert_string_equal(gt_str(claims, "azp"), "0bf30f3b-4a52-48df-9a82-234910c4a086");
		assert_null(json_object_get(claims, "appid"));
		if (asprintf(&iss, "%s/%s/v2.0", c.t->gs.base, GT_TENANT) < 0)
			abort();
	}
	assert_string_equal(gt_str(claims, "iss"), iss);
	assert_true(json_integer_value(json_object_get(claims, "exp")) > (json_int_t)time(NULL));
	free(iss);
	json_decref(claims);
	json_decref(keys);
	json_decref(msg);
	free(plain);
	json_decref(body);
	json_decref(e);
	free(sub);
	free(cert);
	EVP_PKEY_free(key);
	end(&c);
}

static void
test_rich_emergency_v1(void **state)
{
	rich_emergency(state, 1);
}

static void
test_rich_emergency_v2(void **state)
{
	rich_emergency(state, 2);
}

static void
test_tampered_payloads_fail_decryption(void **state)
{
	static const char *const what[] = {"data", "signature", "key"};
	struct ctx c;
	begin(*state, &c);
	char *cert, *err;
	EVP_PKEY *key = th_rsa_cert(2048, &cert);
	char *sub = subscribe(&c, c.notify, cert, NULL);

	for (size_t i = 0; i < 3; i++) {
		json_decref(gt_sim_ok(c.t, "POST", "/delivery-faults",
				      json_pack("{s:s, s:s}", "kind", "tamper", "what", what[i])));
		json_decref(post_msg(&c, "tamper me", "normal"));
		assert_true(th_hook_wait(c.t->hook, c.notify, i + 1, 10));
		json_t *body = post_body(c.t, i);
		json_t *enc = json_object_get(json_array_get(json_object_get(body, "value"), 0),
					      "encryptedContent");
		char *plain = th_rich_decrypt(key, enc, &err);
		assert_null(plain);
		assert_non_null(err);
		free(err);
		json_decref(body);
	}
	/* and the next one is sound again */
	json_decref(post_msg(&c, "intact", "normal"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 4, 10));
	json_t *body = post_body(c.t, 3);
	char *plain = th_rich_decrypt(
	    key,
	    json_object_get(json_array_get(json_object_get(body, "value"), 0), "encryptedContent"),
	    &err);
	assert_non_null(plain);
	free(plain);
	json_decref(body);
	free(sub);
	free(cert);
	EVP_PKEY_free(key);
	end(&c);
}

static void
forged_validation_tokens(void **state, int version)
{
	struct ctx c;
	begin(*state, &c);
	set_vt_version(&c, version);
	char *cert, *err;
	EVP_PKEY *key = th_rsa_cert(2048, &cert);
	char *sub = subscribe(&c, c.notify, cert, NULL);
	struct th_resp r;
	json_t *keys, *claims;
	static const char *const forge[] = {"signature", "aud",    "azp",
					    "expired",   "tenant", "missing"};

	assert_int_equal(th_graph_get(&c.t->gs, NULL, "/common/discovery/v2.0/keys", &r), 0);
	keys = th_resp_json(&r);
	th_resp_free(&r);
	for (size_t i = 0; i < 6; i++) {
		json_decref(gt_sim_ok(c.t, "POST", "/delivery-faults",
				      json_pack("{s:s, s:s}", "kind", "token", "what", forge[i])));
		json_decref(post_msg(&c, "forged", "normal"));
		assert_true(th_hook_wait(c.t->hook, c.notify, i + 1, 10));
		json_t *body = post_body(c.t, i);
		json_t *vts = json_object_get(body, "validationTokens");
		if (!strcmp(forge[i], "missing")) {
			assert_int_equal(json_array_size(vts), 0);
			json_decref(body);
			continue;
		}
		int rc =
		    th_jwt_verify(json_string_value(json_array_get(vts, 0)), keys, &claims, &err);
		if (!strcmp(forge[i], "signature")) {
			assert_int_equal(rc, -1);
			free(err);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(gt_str(claims, "ver"), version == 1 ? "1.0" : "2.0");
			bool bad = strcmp(gt_str(claims, "aud"), GT_CLIENT) != 0 ||
				   strcmp(caller_claim(claims),
					  "0bf30f3b-4a52-48df-9a82-234910c4a086") != 0 ||
				   strcmp(gt_str(claims, "tid"), GT_TENANT) != 0 ||
				   json_integer_value(json_object_get(claims, "exp")) <
				       (json_int_t)time(NULL);
			assert_true(bad);
			json_decref(claims);
		}
		json_decref(body);
	}
	json_decref(keys);
	free(sub);
	free(cert);
	EVP_PKEY_free(key);
	end(&c);
}

static void
test_forged_validation_tokens_v1(void **state)
{
	forged_validation_tokens(state, 1);
}

static void
test_forged_validation_tokens_v2(void **state)
{
	forged_validation_tokens(state, 2);
}

static void
test_batching(void **state)
{
	struct ctx c;
	begin(*state, &c);
	json_decref(gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "batch_window", "400ms")));
	char *sub = subscribe(&c, c.notify, NULL, NULL);

	for (int i = 0; i < 3; i++)
		json_decref(post_msg(&c, "burst", "normal"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	json_t *body = post_body(c.t, 0);
	assert_int_equal(json_array_size(json_object_get(body, "value")), 3);
	json_decref(body);
	free(sub);
	end(&c);
}

static void
test_retry_until_acknowledged(void **state)
{
	struct ctx c;
	begin(*state, &c);
	struct th_hook_cfg cfg = good;
	char *sub = subscribe(&c, c.notify, NULL, NULL);
	json_t *d, *e;
	size_t i;
	int attempts_seen = 0;

	cfg.notify_fail_first = 2;
	th_hook_configure(c.t->hook, &cfg);
	json_decref(post_msg(&c, "retry me", "normal"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 3, 20));
	assert_true(wait_outcome(&c, "delivered", 1));
	d = deliveries(&c);
	double last = 0;
	json_array_foreach (d, i, e) {
		if (strcmp(gt_str(e, "kind"), "notification") != 0)
			continue;
		int attempt = (int)json_integer_value(json_object_get(e, "attempt"));
		assert_int_equal(attempt, attempts_seen);
		assert_string_equal(gt_str(e, "outcome"), attempt < 2 ? "failed" : "delivered");
		/* exponential backoff: 200 ms, then 400 ms */
		double tm = json_real_value(json_object_get(e, "time"));
		if (attempt > 0)
			assert_true(tm - last >= 0.2 * (1 << (attempt - 1)) - 0.01);
		last = tm;
		attempts_seen++;
	}
	assert_int_equal(attempts_seen, 3);
	json_decref(d);
	free(sub);
	end(&c);
}

static void
test_slow_answer_is_a_failure(void **state)
{
	struct ctx c;
	begin(*state, &c);
	struct th_hook_cfg cfg = good;
	char *sub = subscribe(&c, c.notify, NULL, NULL);

	json_decref(
	    gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "delivery_timeout", "300ms")));
	cfg.notify_delay_ms = 600;
	th_hook_configure(c.t->hook, &cfg);
	json_decref(post_msg(&c, "slow", "normal"));
	/* the first attempt times out; the retry has 10 s and succeeds */
	assert_true(wait_outcome(&c, "timeout", 1));
	assert_true(wait_outcome(&c, "delivered", 1));
	free(sub);
	end(&c);
}

static void
test_retry_window_and_expiry(void **state)
{
	struct ctx c;
	begin(*state, &c);
	struct th_hook_cfg cfg = good;
	char *sub = subscribe(&c, c.notify, NULL, NULL), *path;

	cfg.notify_fail_first = 1000;
	th_hook_configure(c.t->hook, &cfg);
	json_decref(gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "retry_window", "500ms")));
	json_decref(post_msg(&c, "never acknowledged", "normal"));
	assert_true(wait_outcome(&c, "dropped-window", 1));
	json_decref(gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "retry_window", "4h")));

	/* pending at expiry: dropped, never delivered late */
	json_decref(post_msg(&c, "pending at expiry", "normal"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 2, 10));
	if (asprintf(&path, "/subscriptions/%s/expire", sub) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", path, NULL));
	assert_true(wait_outcome(&c, "dropped-expired", 1));
	/* and after expiry nothing is even queued */
	json_t *m = post_msg(&c, "after expiry", "normal");
	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 0);
	json_decref(m);
	free(path);
	free(sub);
	end(&c);
}

static void
test_skipped_delivery(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *sub = subscribe(&c, c.notify, NULL, NULL);
	size_t before = count_outcome(&c, "skipped");

	json_decref(gt_sim_ok(c.t, "POST", "/delivery-faults", json_pack("{s:s}", "kind", "skip")));
	json_t *m = post_msg(&c, "lost in the cloud", "high");
	/* the message exists and can be read, but no notification is queued */
	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 0);
	assert_int_equal(count_outcome(&c, "skipped"), before + 1);
	json_decref(post_msg(&c, "this one arrives", "normal"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	json_t *body = post_body(c.t, 0);
	assert_int_equal(json_array_size(json_object_get(body, "value")), 1);
	json_decref(body);
	json_decref(m);
	free(sub);
	end(&c);
}

static json_t *
lifecycle_item(struct gt *t, size_t nth)
{
	json_t *posts = th_hook_posts(t->hook), *p, *out = NULL;
	size_t i, k = 0;

	json_array_foreach (posts, i, p) {
		if (strcmp(gt_str(p, "path"), "/lifecycle") != 0)
			continue;
		if (k++ == nth)
			out = json_incref(json_array_get(
			    json_object_get(json_object_get(p, "body"), "value"), 0));
	}
	json_decref(posts);
	return out;
}

static void
test_lifecycle_events(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *sub = subscribe(&c, c.notify, NULL, NULL), *path;
	json_t *item;

	if (asprintf(&path, "/subscriptions/%s/lifecycle", sub) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", path, json_pack("{s:s}", "event", "missed")));
	assert_true(th_hook_wait(c.t->hook, "/lifecycle", 1, 10));
	item = lifecycle_item(c.t, 0);
	assert_string_equal(gt_str(item, "lifecycleEvent"), "missed");
	assert_string_equal(gt_str(item, "subscriptionId"), sub);
	assert_string_equal(gt_str(item, "clientState"), "cs-delivery");
	assert_string_equal(gt_str(item, "tenantId"), GT_TENANT);
	json_decref(item);
	free(path);

	/* revoking the user's sessions asks for reauthorization */
	if (asprintf(&path, "/users/%s/revoke", c.t->svc) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", path, NULL));
	assert_true(th_hook_wait(c.t->hook, "/lifecycle", 2, 10));
	item = lifecycle_item(c.t, 1);
	assert_string_equal(gt_str(item, "lifecycleEvent"), "reauthorizationRequired");
	json_decref(item);
	free(path);

	/* the service removes the subscription: it says so, and it is gone */
	if (asprintf(&path, "/subscriptions/%s/remove", sub) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", path, NULL));
	assert_true(th_hook_wait(c.t->hook, "/lifecycle", 3, 10));
	item = lifecycle_item(c.t, 2);
	assert_string_equal(gt_str(item, "lifecycleEvent"), "subscriptionRemoved");
	json_decref(item);
	free(path);
	struct th_resp r;
	if (asprintf(&path, "/v1.0/subscriptions/%s", sub) < 0)
		abort();
	json_decref(c.tok);
	c.tok = gt_signin(c.t); /* the old refresh chain was revoked */
	c.at = gt_str(c.tok, "access_token");
	assert_int_equal(th_graph_get(&c.t->gs, c.at, path, &r), 0);
	assert_int_equal(r.status, 404);
	th_resp_free(&r);
	free(path);
	free(sub);
	end(&c);
}

static void
test_reauthorization_before_expiry(void **state)
{
	struct ctx c;
	begin(*state, &c);
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config",
		      json_pack("{s:s, s:s}", "reauth_lead", "4h", "reauth_interval", "300ms")));
	char *sub = subscribe(&c, c.notify, NULL, NULL);
	json_t *item;

	/* within the lead time: repeated until renewed */
	assert_true(th_hook_wait(c.t->hook, "/lifecycle", 2, 10));
	item = lifecycle_item(c.t, 1);
	assert_string_equal(gt_str(item, "lifecycleEvent"), "reauthorizationRequired");
	json_decref(item);
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config",
		      json_pack("{s:s, s:s}", "reauth_lead", "1h", "reauth_interval", "15m")));
	free(sub);
	end(&c);
}

struct token_wait {
	struct gt *t;
	const char *at;
};

/* the access token no longer works: Graph answers 401 */
static bool
token_expired(void *arg)
{
	struct token_wait *w = arg;
	struct th_resp r;
	bool gone;

	assert_int_equal(th_graph_get(&w->t->gs, w->at, "/v1.0/me", &r), 0);
	gone = r.status == 401;
	th_resp_free(&r);
	return gone;
}

static size_t
lifecycle_count(struct gt *t, const char *event)
{
	json_t *posts = th_hook_posts(t->hook), *p;
	size_t i, n = 0;

	json_array_foreach (posts, i, p) {
		if (!strcmp(gt_str(p, "path"), "/lifecycle") &&
		    !strcmp(gt_str(json_array_get(
				       json_object_get(json_object_get(p, "body"), "value"), 0),
				   "lifecycleEvent"),
			    event))
			n++;
	}
	json_decref(posts);
	return n;
}

/* the message ids of every notification received on path */
static json_t *
notified_ids(struct gt *t, const char *path)
{
	json_t *posts = th_hook_posts(t->hook), *p, *it, *ids = json_array();
	size_t i, k;

	json_array_foreach (posts, i, p) {
		if (strcmp(gt_str(p, "path"), path) != 0)
			continue;
		json_array_foreach (json_object_get(json_object_get(p, "body"), "value"), k, it)
			json_array_append(
			    ids, json_object_get(json_object_get(it, "resourceData"), "id"));
	}
	json_decref(posts);
	return ids;
}

static bool
has_id(json_t *ids, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach (ids, i, v)
		if (!strcmp(json_string_value(v), id))
			return true;
	return false;
}

/* Lifecycle events page: reauthorizationRequired ahead of the access
 * token's expiry; after it, delivery pauses until a reauthorize or PATCH
 * with a valid token. With holding off, what changed meanwhile is never
 * delivered (the lifecycle page's reading). */
static void
test_access_token_clock(void **state)
{
	struct ctx c;
	begin(*state, &c);
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s, s:s, s:s, s:b, s:b}", "access_token_lifetime", "2s",
					"reauth_token_lead", "1s", "reauth_interval", "300ms",
					"access_lifetime_jitter", 0, "hold_paused", 0)));
	json_t *tok = gt_signin(c.t), *m, *ids, *subs;
	const char *at = gt_str(tok, "access_token");
	char *sub, *path, *url;
	struct token_wait w = {c.t, at};
	struct th_resp r;

	/* subscribe with the short-lived token */
	{
		json_t *b = gt_sub_body(c.t, 180, "cs-clock"), *o;
		url = th_hook_url(c.t->hook, c.notify);
		json_object_set_new(b, "notificationUrl", json_string(url));
		assert_int_equal(gt_subscribe(c.t, at, b, &o), 201);
		sub = strdup(gt_str(o, "id"));
		json_decref(o);
		free(url);
	}
	json_decref(post_msg(&c, "before expiry", "normal"));
	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	/* warned before the token runs out */
	assert_true(th_hook_wait(c.t->hook, "/lifecycle", 1, 10));
	assert_true(lifecycle_count(c.t, "reauthorizationRequired") >= 1);
	assert_true(th_wait_until(token_expired, &w, 10));

	/* paused: not queued, logged, never delivered */
	m = post_msg(&c, "during the pause", "high");
	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 0);
	assert_true(wait_outcome(&c, "paused", 1));
	subs = gt_sim_ok(c.t, "GET", "/subscriptions", NULL);
	{
		size_t i;
		json_t *v;
		bool seen = false;
		json_array_foreach (json_object_get(subs, "value"), i, v) {
			if (!strcmp(gt_str(v, "id"), sub)) {
				assert_true(json_is_true(json_object_get(v, "paused")));
				seen = true;
			}
		}
		assert_true(seen);
	}
	json_decref(subs);

	/* an expired token cannot reauthorize */
	if (asprintf(&path, "/v1.0/subscriptions/%s/reauthorize", sub) < 0)
		abort();
	assert_int_equal(th_graph_send(&c.t->gs, "POST", at, path, NULL, &r), 0);
	assert_int_equal(r.status, 401);
	th_resp_free(&r);
	/* a fresh one does; delivery resumes for later changes only */
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s}", "access_token_lifetime", "3599s")));
	json_t *tok2 = gt_signin(c.t);
	assert_int_equal(
	    th_graph_send(&c.t->gs, "POST", gt_str(tok2, "access_token"), path, NULL, &r), 0);
	assert_int_equal(r.status, 204);
	th_resp_free(&r);
	json_t *m2 = post_msg(&c, "after reauthorize", "normal");
	assert_int_equal(json_integer_value(json_object_get(m2, "notified")), 1);
	assert_true(th_hook_wait(c.t->hook, c.notify, 2, 10));
	ids = notified_ids(c.t, c.notify);
	assert_true(has_id(ids, gt_str(m2, "id")));
	assert_false(has_id(ids, gt_str(m, "id")));
	json_decref(ids);
	free(path);

	/* PATCH with a valid token resumes a paused subscription as well */
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "access_token_lifetime", "1s")));
	json_t *tok3 = gt_signin(c.t);
	char *later = gt_iso_in(170 * 60);
	if (asprintf(&path, "/v1.0/subscriptions/%s", sub) < 0)
		abort();
	assert_int_equal(th_graph_send(&c.t->gs, "PATCH", gt_str(tok3, "access_token"), path,
				       json_pack("{s:s}", "expirationDateTime", later), &r),
			 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	struct token_wait w3 = {c.t, gt_str(tok3, "access_token")};
	assert_true(th_wait_until(token_expired, &w3, 10));
	json_decref(post_msg(&c, "paused again", "normal"));
	assert_true(wait_outcome(&c, "paused", 2));
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s}", "access_token_lifetime", "3599s")));
	json_t *tok4 = gt_signin(c.t);
	assert_int_equal(th_graph_send(&c.t->gs, "PATCH", gt_str(tok4, "access_token"), path,
				       json_pack("{s:s}", "expirationDateTime", later), &r),
			 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	json_t *m3 = post_msg(&c, "after renewal", "normal");
	assert_int_equal(json_integer_value(json_object_get(m3, "notified")), 1);

	/* token_clock off: an expired token does not pause delivery */
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config",
		      json_pack("{s:b, s:s}", "token_clock", 0, "access_token_lifetime", "1s")));
	json_t *tok5 = gt_signin(c.t);
	assert_int_equal(th_graph_send(&c.t->gs, "POST", gt_str(tok5, "access_token"),
				       "/v1.0/subscriptions", NULL, &r),
			 0);
	th_resp_free(&r);
	{
		char *rp;
		if (asprintf(&rp, "%s/reauthorize", path) < 0)
			abort();
		assert_int_equal(
		    th_graph_send(&c.t->gs, "POST", gt_str(tok5, "access_token"), rp, NULL, &r), 0);
		assert_int_equal(r.status, 204);
		th_resp_free(&r);
		free(rp);
	}
	struct token_wait w5 = {c.t, gt_str(tok5, "access_token")};
	assert_true(th_wait_until(token_expired, &w5, 10));
	json_t *m4 = post_msg(&c, "clock off", "normal");
	assert_int_equal(json_integer_value(json_object_get(m4, "notified")), 1);
	json_decref(m4);
	json_decref(tok5);
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config",
		      json_pack("{s:s, s:s, s:s, s:b, s:b, s:b}", "access_token_lifetime", "3599s",
				"reauth_token_lead", "10m", "reauth_interval", "15m", "token_clock",
				1, "access_lifetime_jitter", 1, "hold_paused", 1)));
	free(later);
	free(path);
	json_decref(m);
	json_decref(m2);
	json_decref(m3);
	json_decref(tok);
	json_decref(tok2);
	json_decref(tok3);
	c.at = gt_str(tok4, "access_token");
	json_decref(c.tok);
	c.tok = tok4;
	free(sub);
	end(&c);
}

/* The webhooks page: while Graph holds an expired token, it retries each
 * notification for up to 4 hours and delivers them once the token is
 * refreshed. A notice held in a pause goes out at its next retry after a
 * reauthorization; one held past the retry window is dropped; so is one
 * whose subscription is gone. */
static void
test_held_during_pause(void **state)
{
	struct ctx c;
	begin(*state, &c);
	json_t *before = gt_sim_ok(c.t, "GET", "/config", NULL);
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s, s:s, s:s, s:b, s:s, s:s}", "access_token_lifetime",
					"2s", "reauth_token_lead", "1s", "reauth_interval", "300ms",
					"access_lifetime_jitter", 0, "retry_initial", "1s",
					"retry_window", "3s")));
	json_t *tok = gt_signin(c.t), *m, *tok2, *ids;
	const char *at = gt_str(tok, "access_token");
	char *sub, *url, *path;
	struct token_wait w = {c.t, at};
	struct th_resp r;
	size_t dropped;
	json_t *m2;

	{
		json_t *b = gt_sub_body(c.t, 180, "cs-held"), *o;
		url = th_hook_url(c.t->hook, c.notify);
		json_object_set_new(b, "notificationUrl", json_string(url));
		assert_int_equal(gt_subscribe(c.t, at, b, &o), 201);
		sub = strdup(gt_str(o, "id"));
		json_decref(o);
		free(url);
	}
	if (asprintf(&path, "/v1.0/subscriptions/%s/reauthorize", sub) < 0)
		abort();
	assert_true(th_wait_until(token_expired, &w, 10));
	/* held, not delivered, while the pause lasts */
	m = post_msg(&c, "held in the pause", "high");
	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 1);
	assert_true(wait_outcome(&c, "held", 1));
	ids = notified_ids(c.t, c.notify);
	assert_false(has_id(ids, gt_str(m, "id")));
	json_decref(ids);
	/* a reauthorization within the window: delivered at its retry */
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s}", "access_token_lifetime", "3599s")));
	tok2 = gt_signin(c.t);
	assert_int_equal(
	    th_graph_send(&c.t->gs, "POST", gt_str(tok2, "access_token"), path, NULL, &r), 0);
	assert_int_equal(r.status, 204);
	th_resp_free(&r);
	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	ids = notified_ids(c.t, c.notify);
	assert_true(has_id(ids, gt_str(m, "id")));
	json_decref(ids);
	json_decref(m);

	/* paused again and held past the retry window: dropped */
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "access_token_lifetime", "1s")));
	json_decref(tok);
	tok = gt_signin(c.t);
	assert_int_equal(
	    th_graph_send(&c.t->gs, "POST", gt_str(tok, "access_token"), path, NULL, &r), 0);
	th_resp_free(&r);
	struct token_wait w2 = {c.t, gt_str(tok, "access_token")};
	assert_true(th_wait_until(token_expired, &w2, 10));
	dropped = count_outcome(&c, "dropped-window");
	m = post_msg(&c, "held too long", "high");
	assert_true(wait_outcome(&c, "dropped-window", dropped + 1));
	/* and one whose subscription is deleted, well within the window */
	json_decref(gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "retry_window", "1h")));
	m2 = post_msg(&c, "held, then its subscription deleted", "high");
	if (asprintf(&url, "/subscriptions/%s/expire", sub) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", url, NULL));
	free(url);
	assert_true(wait_outcome(&c, "dropped-window", dropped + 2));
	ids = notified_ids(c.t, c.notify);
	assert_false(has_id(ids, gt_str(m, "id")));
	assert_false(has_id(ids, gt_str(m2, "id")));
	json_decref(ids);
	json_decref(m);
	json_decref(m2);
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s, s:s, s:s, s:b, s:f, s:f}", "access_token_lifetime",
					"3599s", "reauth_token_lead", "10m", "reauth_interval",
					"15m", "access_lifetime_jitter", 1, "retry_initial",
					json_real_value(json_object_get(before, "retry-initial")),
					"retry_window",
					json_real_value(json_object_get(before, "retry-window")))));
	json_decref(before);
	json_decref(tok);
	json_decref(tok2);
	free(path);
	free(sub);
	end(&c);
}

struct removal_wait {
	struct gt *t;
	const char *sub;
};

/* A lifecycle POST carried subscriptionRemoved for the subscription. */
static bool
removal_seen(void *arg)
{
	struct removal_wait *w = arg;
	json_t *posts = th_hook_posts(w->t->hook), *p, *item;
	size_t i, k;
	bool seen = false;

	json_array_foreach (posts, i, p) {
		if (strcmp(gt_str(p, "path"), "/lifecycle") != 0)
			continue;
		json_array_foreach (json_object_get(json_object_get(p, "body"), "value"), k, item)
			seen |= !strcmp(gt_str(item, "lifecycleEvent"), "subscriptionRemoved") &&
				!strcmp(gt_str(item, "subscriptionId"), w->sub);
	}
	json_decref(posts);
	return seen;
}

/* revoke with "remove": the subscription ends in subscriptionRemoved */
static void
test_revoke_remove(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *sub = subscribe(&c, c.notify, NULL, NULL), *path;
	json_t *subs, *v;
	bool removed = false;
	size_t i;

	if (asprintf(&path, "/users/%s/revoke", c.t->svc) < 0)
		abort();
	json_decref(gt_sim_ok(c.t, "POST", path, json_pack("{s:b}", "remove", 1)));
	/* other events may come first, or in the same POST (Graph batches: an
	 * earlier test's subscription's reauthorizationRequired shared one with
	 * the removal): look at every item of every lifecycle POST */
	struct removal_wait rw = {c.t, sub};
	removed = th_wait_until(removal_seen, &rw, 30);
	if (!removed) {
		json_t *d = deliveries(&c);
		char *text = json_dumps(d, JSON_INDENT(1));
		fprintf(stderr, "no subscriptionRemoved for %s; graphsim's deliveries:\n%s\n", sub,
			text);
		free(text);
		json_decref(d);
	}
	assert_true(removed);
	subs = gt_sim_ok(c.t, "GET", "/subscriptions", NULL);
	json_array_foreach (json_object_get(subs, "value"), i, v)
		if (!strcmp(gt_str(v, "id"), sub))
			assert_true(json_is_false(json_object_get(v, "live")));
	json_decref(subs);
	json_t *m = post_msg(&c, "nobody listens", "normal");
	assert_int_equal(json_integer_value(json_object_get(m, "notified")), 0);
	json_decref(m);
	free(path);
	free(sub);
	json_decref(c.tok);
	c.tok = gt_signin(c.t); /* the refresh chain was revoked */
	c.at = gt_str(c.tok, "access_token");
	end(&c);
}

static void
test_slow_endpoint_is_throttled(void **state)
{
	struct ctx c;
	begin(*state, &c);
	struct th_hook_cfg cfg = good;
	char *sub = subscribe(&c, "/slow-notify", NULL, NULL), *url;
	json_t *stats, *e;
	size_t i;
	const char *st = NULL;

	json_decref(gt_sim_ok(
	    c.t, "POST", "/config",
	    json_pack("{s:s, s:i}", "delivery_timeout", "200ms", "throttle_min_samples", 3)));
	cfg.notify_delay_ms = 300;
	th_hook_configure(c.t->hook, &cfg);
	for (int k = 0; k < 3; k++) {
		json_decref(post_msg(&c, "slow", "normal"));
		assert_true(wait_outcome(&c, "timeout", (size_t)k + 1));
	}
	stats = gt_sim_ok(c.t, "GET", "/stats", NULL);
	url = th_hook_url(c.t->hook, "/slow-notify");
	json_array_foreach (json_object_get(stats, "endpoints"), i, e) {
		if (!strcmp(gt_str(e, "url"), url))
			st = gt_str(e, "state");
	}
	assert_non_null(st);
	assert_string_equal(st, "slow");
	json_decref(stats);
	free(url);
	free(sub);
	end(&c);
}

static void
test_tardy_endpoint_is_dropped(void **state)
{
	struct ctx c;
	begin(*state, &c);
	struct th_hook_cfg cfg = good;
	char *sub = subscribe(&c, c.notify, NULL, NULL);

	/* first attempts and retries both run over time: Graph drops
	 * notifications for such an endpoint for a while */
	json_decref(gt_sim_ok(c.t, "POST", "/config",
			      json_pack("{s:s, s:s, s:s, s:i}", "delivery_timeout", "100ms",
					"retry_timeout", "150ms", "retry_window", "800ms",
					"throttle_min_samples", 3)));
	cfg.notify_delay_ms = 400;
	th_hook_configure(c.t->hook, &cfg);
	json_decref(post_msg(&c, "tardy", "normal"));
	assert_true(wait_outcome(&c, "dropped-window", 1));
	json_t *m = post_msg(&c, "into the void", "high");
	assert_true(wait_outcome(&c, "dropped-throttle", 1));
	json_decref(m);
	json_decref(gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "retry_timeout", "10s")));
	free(sub);
	end(&c);
}

static void
test_https_receiver_verified(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *dir = th_tmpdir("hook"), *cert, *key, *url;
	th_selfsigned(dir, &cert, &key);
	struct th_hook *secure = th_hook_start(cert, key);
	json_t *b = gt_sub_body(c.t, 50, NULL), *sub;

	assert_non_null(secure);
	th_hook_configure(secure, &good);
	url = th_hook_url(secure, "/notify");
	json_object_set_new(b, "notificationUrl", json_string(url));
	json_object_del(b, "lifecycleNotificationUrl");
	/* graphsim does not trust this receiver's certificate yet */
	assert_int_equal(gt_subscribe(c.t, c.at, json_deep_copy(b), &sub), 400);
	json_decref(sub);
	json_decref(gt_sim_ok(c.t, "POST", "/config", json_pack("{s:s}", "notify_ca", cert)));
	assert_int_equal(gt_subscribe(c.t, c.at, b, &sub), 201);
	json_decref(sub);
	json_decref(post_msg(&c, "over TLS", "normal"));
	assert_true(th_hook_wait(secure, "/notify", 1, 10));
	th_hook_stop(secure);
	th_rmtree(dir);
	free(dir);
	free(cert);
	free(key);
	free(url);
	end(&c);
}

static void
test_updates_and_deletes(void **state)
{
	struct ctx c;
	begin(*state, &c);
	char *sub = subscribe(&c, c.notify, NULL, "created,updated"), *path;
	json_t *m = post_msg(&c, "first draft", "normal"), *body, *r;

	assert_true(th_hook_wait(c.t->hook, c.notify, 1, 10));
	if (asprintf(&path, "/chats/%s/messages/%s", c.chat, gt_str(m, "id")) < 0)
		abort();
	r = gt_sim_ok(c.t, "PATCH", path, json_pack("{s:s}", "content", "edited"));
	assert_int_equal(json_integer_value(json_object_get(r, "notified")), 1);
	json_decref(r);
	assert_true(th_hook_wait(c.t->hook, c.notify, 2, 10));
	body = post_body(c.t, 1);
	assert_string_equal(gt_str(json_array_get(json_object_get(body, "value"), 0), "changeType"),
			    "updated");
	json_decref(body);
	/* a reaction is an update too (chatMessage: reactions move
	 * lastModifiedDateTime) */
	char *rpath;
	if (asprintf(&rpath, "/chats/%s/messages/%s/reactions", c.chat, gt_str(m, "id")) < 0)
		abort();
	r = gt_sim_ok(c.t, "POST", rpath, json_pack("{s:s}", "user", c.t->svc));
	assert_int_equal(json_integer_value(json_object_get(r, "notified")), 1);
	json_decref(r);
	free(rpath);
	assert_true(th_hook_wait(c.t->hook, c.notify, 3, 10));
	body = post_body(c.t, 2);
	assert_string_equal(gt_str(json_array_get(json_object_get(body, "value"), 0), "changeType"),
			    "updated");
	json_decref(body);
	/* this subscription did not ask for deletions */
	r = gt_sim_ok(c.t, "DELETE", path, NULL);
	assert_int_equal(json_integer_value(json_object_get(r, "notified")), 0);
	json_decref(r);
	free(path);
	json_decref(m);
	free(sub);
	end(&c);
}

static void
test_chat_reads_and_rate_limit(void **state)
{
	struct ctx c;
	begin(*state, &c);
	json_t *m1 = post_msg(&c, "one", "normal"), *m2 = post_msg(&c, "two", "urgent"), *j;
	char *echat = th_urlenc(c.chat), *path, *since;
	struct th_resp r;

	/* chats with activity, newest first, paged */
	assert_int_equal(th_graph_get(&c.t->gs, c.at,
				      "/v1.0/me/chats?$expand=lastMessagePreview&$top=1"
				      "&$orderby=lastMessagePreview/createdDateTime%20desc",
				      &r),
			 0);
	assert_int_equal(r.status, 200);
	j = th_resp_json(&r);
	json_t *first = json_array_get(json_object_get(j, "value"), 0);
	assert_string_equal(gt_str(first, "id"), c.chat);
	assert_string_equal(gt_str(json_object_get(first, "lastMessagePreview"), "id"),
			    gt_str(m2, "id"));
	assert_non_null(gt_str(j, "@odata.nextLink"));
	json_decref(j);
	th_resp_free(&r);

	/* messages modified after a watermark */
	since = th_urlenc(gt_str(json_object_get(m1, "message"), "lastModifiedDateTime"));
	if (asprintf(&path,
		     "/v1.0/chats/%s/messages?$orderby=lastModifiedDateTime%%20desc"
		     "&$filter=lastModifiedDateTime%%20gt%%20%s&$top=50",
		     echat, since) < 0)
		abort();
	assert_int_equal(th_graph_get(&c.t->gs, c.at, path, &r), 0);
	assert_int_equal(r.status, 200);
	j = th_resp_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "value")), 1);
	assert_string_equal(gt_str(json_array_get(json_object_get(j, "value"), 0), "id"),
			    gt_str(m2, "id"));
	json_decref(j);
	th_resp_free(&r);
	free(path);

	/* a filter without the matching $orderby is ignored (List messages in
	 * a chat), not refused */
	if (asprintf(&path, "/v1.0/chats/%s/messages?$filter=lastModifiedDateTime%%20gt%%20%s",
		     echat, since) < 0)
		abort();
	assert_int_equal(th_graph_get(&c.t->gs, c.at, path, &r), 0);
	assert_int_equal(r.status, 200);
	j = th_resp_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "value")), 2);
	json_decref(j);
	th_resp_free(&r);
	free(path);

	/* Graph's Teams limit: one GET per second per chat here */
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config",
		      json_pack("{s:i, s:s}", "chat_get_limit", 1, "chat_get_period", "5s")));
	if (asprintf(&path, "/v1.0/chats/%s/messages/%s", echat, gt_str(m1, "id")) < 0)
		abort();
	assert_int_equal(th_graph_get(&c.t->gs, c.at, path, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	assert_int_equal(th_graph_get(&c.t->gs, c.at, path, &r), 0);
	assert_int_equal(r.status, 429);
	assert_non_null(r.retry_after);
	assert_in_range(atoi(r.retry_after), 1, 5);
	th_resp_free(&r);
	json_decref(
	    gt_sim_ok(c.t, "POST", "/config",
		      json_pack("{s:i, s:s}", "chat_get_limit", 0, "chat_get_period", "1s")));
	/* another user's chat is invisible */
	json_t *other = gt_sim_ok(
	    c.t, "POST", "/chats",
	    json_pack("{s:s, s:[s,s]}", "tenant", GT_TENANT, "members", c.t->caller, c.t->desk));
	char *eo = th_urlenc(gt_str(other, "id")), *p2;
	if (asprintf(&p2, "/v1.0/chats/%s/messages", eo) < 0)
		abort();
	assert_int_equal(th_graph_get(&c.t->gs, c.at, p2, &r), 0);
	assert_int_equal(r.status, 404);
	th_resp_free(&r);
	free(p2);
	free(eo);
	json_decref(other);
	free(path);
	free(since);
	free(echat);
	json_decref(m1);
	json_decref(m2);
	end(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_notification_and_get),
	    cmocka_unit_test(test_only_covered_chats),
	    cmocka_unit_test(test_rich_emergency_v1),
	    cmocka_unit_test(test_rich_emergency_v2),
	    cmocka_unit_test(test_tampered_payloads_fail_decryption),
	    cmocka_unit_test(test_forged_validation_tokens_v1),
	    cmocka_unit_test(test_forged_validation_tokens_v2),
	    cmocka_unit_test(test_batching),
	    cmocka_unit_test(test_retry_until_acknowledged),
	    cmocka_unit_test(test_slow_answer_is_a_failure),
	    cmocka_unit_test(test_retry_window_and_expiry),
	    cmocka_unit_test(test_skipped_delivery),
	    cmocka_unit_test(test_lifecycle_events),
	    cmocka_unit_test(test_reauthorization_before_expiry),
	    cmocka_unit_test(test_access_token_clock),
	    cmocka_unit_test(test_held_during_pause),
	    cmocka_unit_test(test_chat_subscription_opt_in_and_lifecycle),
	    cmocka_unit_test(test_revoke_remove),
	    cmocka_unit_test(test_slow_endpoint_is_throttled),
	    cmocka_unit_test(test_tardy_endpoint_is_dropped),
	    cmocka_unit_test(test_https_receiver_verified),
	    cmocka_unit_test(test_updates_and_deletes),
	    cmocka_unit_test(test_chat_reads_and_rate_limit),
	};

	return cmocka_run_group_tests_name("graphsim delivery", tests, setup, gt_teardown);
}
