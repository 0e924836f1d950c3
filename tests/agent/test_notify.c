/*
 * ctteamsd's subscription, webhook and emergency events, end to end against
 * graphsim: the real daemon creates and keeps a subscription, answers the
 * handshakes, takes notifications into its inbox and turns 911 notices into
 * events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static void
emergency(struct ta *t, const char *number)
{
	long status;

	json_decref(th_sim(&t->gs, "POST", "/emergency",
			   json_pack("{s:s, s:[s], s:s, s:s}", "caller", t->caller, "members",
				     t->svc, "number", number, "location",
				     "Building 4, 1 Main St, Springfield, IL 62701"),
			   &status));
	assert_int_equal(status, 201);
}

static void
test_notice_becomes_one_event(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *e, *ev, *s;

	ta_ready(t, NULL);
	/* Graph ran both handshakes against the agent's webhook paths */
	s = ta_sim_sub(t);
	assert_non_null(s);
	assert_non_null(strstr(ta_str(s, "resource"), t->svc));
	assert_int_equal(strlen(ta_str(s, "clientState")), 43);
	json_decref(s);

	emergency(t, "911");
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	assert_int_equal(json_array_size(e), 1);
	ev = json_array_get(e, 0);
	assert_string_equal(ta_str(ev, "kind"), "emergency");
	assert_string_equal(ta_str(ev, "caller"), "Jane Doe");
	assert_string_equal(ta_str(ev, "caller_id"), t->caller);
	assert_string_equal(ta_str(ev, "number"), "911");
	assert_false(json_is_true(json_object_get(ev, "test_call")));
	assert_string_equal(ta_str(ev, "location"), "Building 4, 1 Main St, Springfield, IL 62701");
	assert_string_equal(ta_str(ev, "source"), "webhook");
	json_decref(e);
	assert_int_equal(ta_counter(t, "received"), 1);
	assert_int_equal(ta_counter(t, "emergencies"), 1);

	/* an ordinary message is no event; an important one nobody knows is */
	json_t *chat = th_sim(
	    &t->gs, "POST", "/chats",
	    json_pack("{s:s, s:[s,s]}", "tenant", TA_TENANT, "members", t->svc, t->caller), NULL);
	json_decref(th_sim(&t->gs, "POST", "/messages",
			   json_pack("{s:s, s:s, s:s}", "chat", ta_str(chat, "id"), "from",
				     t->caller, "content", "Is the coffee machine fixed?"),
			   NULL));
	json_decref(
	    th_sim(&t->gs, "POST", "/messages",
		   json_pack("{s:s, s:s, s:s, s:s}", "chat", ta_str(chat, "id"), "from", t->caller,
			     "content", "Notruf abgesetzt von Jane Doe", "importance", "urgent"),
		   NULL));
	w.n = 2;
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(ta_str(json_array_get(e, 0), "kind"), "unrecognised");
	assert_non_null(strstr(ta_str(json_array_get(e, 0), "text"), "Notruf"));
	json_decref(e);
	assert_int_equal(ta_counter(t, "processed"), 3);
	json_decref(chat);

	/* a test call to 933 is marked so */
	emergency(t, "933");
	w.n = 3;
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	assert_true(json_is_true(json_object_get(json_array_get(e, 0), "test_call")));
	json_decref(e);
	assert_int_equal(ta_stop(t), 0);
}

/* POSTs a notification to the agent as Graph would. A body over 1 MiB
 * goes as curl sends one, with "Expect: 100-continue": the agent's 413
 * then comes before the body. Without it the 413 races the upload, and
 * the agent's close can reset the connection before curl reads it. */
static long
deliver(struct ta *t, const char *path, const char *ctype, const char *body)
{
	char *url, *hdr;
	struct th_resp r;
	long status;

	if (asprintf(&url, "%s/api/org/acme/ms-teams/%s", t->base, path) < 0 ||
	    asprintf(&hdr, "Content-Type: %s", ctype) < 0)
		abort();
	const char *hdrs[] = {hdr, strlen(body) > 1024 * 1024 ? "Expect: 100-continue" : NULL,
			      NULL};
	if (th_http("POST", url, NULL, hdrs, body, &r) != 0) {
		fprintf(stderr, "POST %s: %s\n", url, r.error ? r.error : "failed");
		fail();
	}
	status = r.status;
	th_resp_free(&r);
	free(url);
	free(hdr);
	return status;
}

static char *
notification(json_t *sub, const char *client_state, const char *tenant, const char *chat,
	     const char *msg)
{
	char *res, *out;
	json_t *j;

	if (asprintf(&res, "chats('%s')/messages('%s')", chat, msg) < 0)
		abort();
	j = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}]}", "value", "id", "n1",
		      "subscriptionId", ta_str(sub, "id"), "changeType", "created", "clientState",
		      client_state, "tenantId", tenant, "resource", res, "resourceData", "id", msg,
		      "@odata.type", "#Microsoft.Graph.chatMessage");
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(res);
	return out;
}

static bool
all_processed(void *arg)
{
	return ta_counter(arg, "processed") >= 3;
}

static void
test_redelivery_and_forgeries(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *sub, *e;
	char *good, *body;

	ta_ready(t, NULL);
	/* silence graphsim's own delivery, so only ours count */
	json_decref(th_sim(&t->gs, "POST", "/delivery-faults",
			   json_pack("{s:s, s:i}", "kind", "skip", "count", 1), NULL));
	json_t *m = th_sim(
	    &t->gs, "POST", "/emergency",
	    json_pack("{s:s, s:[s], s:s}", "caller", t->caller, "members", t->svc, "number", "911"),
	    NULL);
	sub = ta_sim_sub(t);
	good = notification(sub, ta_str(sub, "clientState"), TA_TENANT, ta_str(m, "chat_id"),
			    ta_str(m, "id"));

	/* the same notice three times: one event, two duplicates */
	for (int i = 0; i < 3; i++)
		assert_int_equal(deliver(t, "notify", "application/json", good), 202);
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	assert_true(th_wait_until(all_processed, t, 20));
	assert_int_equal(ta_counter(t, "received"), 3);
	assert_int_equal(ta_counter(t, "duplicates"), 2);

	/* forgeries: never an event, always counted */
	body = notification(sub, "not-the-client-state", TA_TENANT, ta_str(m, "chat_id"),
			    ta_str(m, "id"));
	assert_int_equal(deliver(t, "notify", "application/json", body), 202);
	free(body);
	body = notification(sub, ta_str(sub, "clientState"), "99999999-9999-4999-8999-999999999999",
			    ta_str(m, "chat_id"), ta_str(m, "id"));
	assert_int_equal(deliver(t, "notify", "application/json", body), 202);
	free(body);
	json_object_set_new(sub, "id", json_string("00000000-0000-0000-0000-000000000000"));
	body = notification(sub, "whatever", TA_TENANT, ta_str(m, "chat_id"), ta_str(m, "id"));
	assert_int_equal(deliver(t, "notify", "application/json", body), 202);
	free(body);
	assert_int_equal(deliver(t, "notify", "application/json", "{\"value\": [trunc"), 400);
	assert_int_equal(deliver(t, "notify", "application/json", "[1,2,3]"), 400);
	assert_int_equal(deliver(t, "notify", "text/plain", good), 415);
	char *huge = malloc(2 * 1024 * 1024);
	memset(huge, ' ', 2 * 1024 * 1024 - 1);
	huge[2 * 1024 * 1024 - 1] = '\0';
	assert_int_equal(deliver(t, "notify", "application/json", huge), 413);
	free(huge);
	assert_int_equal(ta_counter(t, "rejected_client_state"), 1);
	assert_int_equal(ta_counter(t, "rejected_tenant"), 1);
	assert_int_equal(ta_counter(t, "rejected_unknown_subscription"), 1);
	assert_int_equal(ta_counter(t, "rejected_malformed"), 2);
	assert_int_equal(ta_counter(t, "rejected_content_type"), 1);
	e = ta_events(t);
	assert_int_equal(json_array_size(e), 1);
	json_decref(e);

	/* the handshake: the decoded token, as text/plain, at once */
	char *url;
	struct th_resp r;
	if (asprintf(&url,
		     "%s/api/org/acme/ms-teams/lifecycle?validationToken=Validation%%3A%%20a%%20b",
		     t->base) < 0)
		abort();
	assert_int_equal(th_http("POST", url, NULL, NULL, "", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "Validation: a b");
	assert_non_null(strstr(r.content_type, "text/plain"));
	th_resp_free(&r);
	free(url);
	free(good);
	json_decref(sub);
	json_decref(m);
	assert_int_equal(ta_stop(t), 0);
}

static bool
inbox_pending(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	bool ok = json_integer_value(json_object_get(o, "inbox_pending")) > 0;

	json_decref(o);
	return ok;
}

static void
test_acknowledged_survives_sigkill(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *e;

	ta_ready(t, NULL);
	/* the cloud cannot help for now: message reads (basic) and the signing
	 * keys (rich) fail, so the acknowledged notice waits in the inbox */
	json_decref(th_sim(&t->gs, "POST", "/faults",
			   json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/chats/", "method",
				     "GET", "status", 503, "count", 1000),
			   NULL));
	json_decref(th_sim(&t->gs, "POST", "/faults",
			   json_pack("{s:s, s:s, s:i, s:i}", "path", "/common/discovery/", "method",
				     "GET", "status", 503, "count", 1000),
			   NULL));
	emergency(t, "911");
	assert_true(th_wait_until(inbox_pending, t, 20));
	/* acknowledged to Graph, not processed, and it stays so */
	assert_int_equal(ta_counter(t, "received"), 1);
	json_t *none = ta_events(t);
	assert_int_equal(json_array_size(none), 0);
	json_decref(none);
	ta_kill(t);
	/* the cloud recovers; the agent comes back and finishes the job */
	json_decref(th_sim(&t->gs, "DELETE", "/faults", NULL, NULL));
	assert_int_equal(ta_restart(t), 0);
	assert_true(th_wait_until(ta_enough_events, &w, 60));
	e = ta_events(t);
	assert_string_equal(ta_str(json_array_get(e, 0), "kind"), "emergency");
	json_decref(e);
	assert_int_equal(ta_stop(t), 0);
}

static int
count_subs_with_url(struct ta *t, bool live_only)
{
	json_t *all = th_sim(&t->gs, "GET", "/subscriptions", NULL, NULL), *v;
	char *url;
	size_t i;
	int n = 0;

	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", t->base) < 0)
		abort();
	json_array_foreach (json_object_get(all, "value"), i, v) {
		if (!strcmp(ta_str(v, "notificationUrl"), url) &&
		    (!live_only || json_is_true(json_object_get(v, "live"))))
			n++;
	}
	json_decref(all);
	free(url);
	return n;
}

struct patch_wait {
	struct ta *t;
	long since;
	size_t n;
	const char *method;
};

static bool
enough_calls(void *arg)
{
	struct patch_wait *w = arg;
	json_t *r = ta_requests(w->t, w->since, NULL), *e;
	size_t i, n = 0;

	json_array_foreach (r, i, e) {
		if (!strcmp(ta_str(e, "method"), w->method) &&
		    strstr(ta_str(e, "path"), "/v1.0/subscriptions") &&
		    json_integer_value(json_object_get(e, "status")) < 300)
			n++;
	}
	json_decref(r);
	return n >= w->n;
}

/* The times of successful subscription calls of a method since a seq. */
static size_t
call_times(struct ta *t, long since, const char *method, double *at, size_t max)
{
	json_t *r = ta_requests(t, since, NULL), *e;
	size_t i, n = 0;

	json_array_foreach (r, i, e) {
		if (n < max && !strcmp(ta_str(e, "method"), method) &&
		    strstr(ta_str(e, "path"), "/v1.0/subscriptions") &&
		    json_integer_value(json_object_get(e, "status")) < 300)
			at[n++] = json_number_value(json_object_get(e, "time"));
	}
	json_decref(r);
	return n;
}

/* Graph grants less than asked without saying so, or refuses a lifetime
 * with "can only be N minutes": the agent renews at half of what it was
 * granted (a margin longer than the grant had the renewal due at once,
 * again and again), and asks for what Graph takes. */
static void
test_short_grants(void **state)
{
	struct ta *t = *state;
	double at[8];
	long since;

	/* days compressed to seconds: asked 60 s with a 50 s margin, granted 20 */
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s, s:s}", "sub_min", "5s", "sub_max", "120s",
				     "lifecycle_required_above", "10s", "sub_grant_cap", "20s"),
			   NULL));
	ta_ready(t, "subscription_lifetime = 60s\nrenew_margin = 50s");
	since = ta_last_request_seq(t);
	struct patch_wait w = {t, since, 2, "PATCH"};
	assert_true(th_wait_until(enough_calls, &w, 40));
	assert_int_equal(call_times(t, since, "PATCH", at, 8) >= 2, 1);
	/* half the grant apart (10 s, less its small spread), not at once */
	assert_true(at[1] - at[0] > 7);
	assert_true(ta_sub_active(t));
	assert_int_equal(ta_stop(t), 0);

	/* a limit said in a 400: adopted, and the next request is taken */
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s}", "sub_grant_cap", "0s", "sub_max", "120s"),
			   NULL));
	since = ta_last_request_seq(t);
	ta_ready(t, "subscription_lifetime = 180s\nrenew_margin = 50s");
	assert_true(ta_sub_active(t));
	json_t *sub = ta_sim_sub(t);
	double exp = 0;
	struct tm tm = {0};
	const char *e = ta_str(sub, "expirationDateTime");
	const char *frac = e ? strptime(e, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	assert_non_null(frac);
	exp = (double)timegm(&tm);
	/* asked 2 minutes less a tenth (108 s), not 180 */
	assert_true(exp - (double)time(NULL) <= 120);
	json_decref(sub);
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "45m", "sub_max", "4320m",
				     "lifecycle_required_above", "1h"),
			   NULL));
	assert_int_equal(ta_stop(t), 0);
}

static bool
new_sub(void *arg)
{
	struct ta *t = arg;
	json_t *s = ta_sim_sub(t);
	json_t *mine = ta_sub_status(t);
	bool ok = s && ta_str(mine, "id") && !strcmp(ta_str(s, "id"), ta_str(mine, "id")) &&
		  !strcmp(ta_str(mine, "state"), "active");

	json_decref(s);
	json_decref(mine);
	return ok;
}

static void
test_renewal_and_recreation(void **state)
{
	struct ta *t = *state;
	json_t *s;
	char *path, *old;

	/* three days compressed to a minute: Graph's limits shrink, and so does
	 * what the agent asks for */
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "5s", "sub_max", "60s",
				     "lifecycle_required_above", "10s"),
			   NULL));
	ta_ready(t, "subscription_lifetime = 12s\nrenew_margin = 8s");
	/* four renewals: more than ten days of three-day subscriptions */
	struct patch_wait w = {t, ta_last_request_seq(t), 4, "PATCH"};
	assert_true(th_wait_until(enough_calls, &w, 60));
	/* coverage never broke: the one subscription is still live, none expired */
	assert_int_equal(count_subs_with_url(t, true), 1);
	s = ta_sim_sub(t);
	assert_true(json_is_true(json_object_get(s, "live")));

	/* deleted behind our back: the next renewal finds out and recreates */
	old = strdup(ta_str(s, "id"));
	if (asprintf(&path, "/subscriptions/%s/expire", old) < 0)
		abort();
	json_decref(th_sim(&t->gs, "POST", path, NULL, NULL));
	free(path);
	json_decref(s);
	assert_true(th_wait_until(new_sub, t, 30));
	s = ta_sim_sub(t);
	assert_string_not_equal(ta_str(s, "id"), old);
	free(old);

	/* Graph removes it and says so: recreated */
	old = strdup(ta_str(s, "id"));
	if (asprintf(&path, "/subscriptions/%s/remove", old) < 0)
		abort();
	json_decref(th_sim(&t->gs, "POST", path, NULL, NULL));
	free(path);
	json_decref(s);
	struct patch_wait c = {t, ta_last_request_seq(t), 1, "POST"};
	assert_true(th_wait_until(enough_calls, &c, 20));
	assert_true(th_wait_until(new_sub, t, 20));
	s = ta_sim_sub(t);
	assert_string_not_equal(ta_str(s, "id"), old);
	free(old);

	/* reauthorizationRequired while Graph holds our freshest token: no
	 * reauthorize call, no violation; the renewals go on */
	if (asprintf(&path, "/subscriptions/%s/lifecycle", ta_str(s, "id")) < 0)
		abort();
	struct patch_wait p = {t, ta_last_request_seq(t), 1, "PATCH"};
	json_decref(th_sim(&t->gs, "POST", path,
			   json_pack("{s:s}", "event", "reauthorizationRequired"), NULL));
	free(path);
	assert_true(th_wait_until(enough_calls, &p, 20));
	json_t *reqs = ta_requests(t, p.since, NULL), *rq;
	size_t k;
	json_array_foreach (reqs, k, rq)
		assert_null(strstr(ta_str(rq, "path"), "/reauthorize"));
	json_decref(reqs);
	json_t *stats = th_sim(&t->gs, "GET", "/stats", NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(stats, "violations")), 0);
	json_decref(stats);
	json_decref(s);

	/* logout deletes it */
	json_t *j = ta_ctl(t, "logout", "acme");
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	struct patch_wait d = {t, p.since, 1, "DELETE"};
	assert_true(th_wait_until(enough_calls, &d, 20));
	assert_int_equal(count_subs_with_url(t, true), 0);
	assert_int_equal(ta_stop(t), 0);
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "45m", "sub_max", "4320m",
				     "lifecycle_required_above", "1h"),
			   NULL));
}

static void
test_poll_recovers_skipped_delivery(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *e, *o;

	ta_ready(t, "reconcile_interval = 3s\nbackfill_delay = 4s");
	/* delivered: one event from the webhook, and the sweep adds nothing */
	emergency(t, "911");
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	/* Graph drops the next notification without a word */
	json_decref(th_sim(&t->gs, "POST", "/delivery-faults",
			   json_pack("{s:s, s:i}", "kind", "skip", "count", 1), NULL));
	emergency(t, "911");
	w.n = 2;
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	assert_string_equal(ta_str(json_array_get(e, 0), "source"), "poll");
	assert_string_equal(ta_str(json_array_get(e, 1), "source"), "webhook");
	json_decref(e);
	assert_int_equal(ta_counter(t, "recovered_by_poll"), 1);
	o = ta_org_status(t, "acme");
	assert_true(json_is_true(json_object_get(json_object_get(o, "poll"), "delivery_gap")));
	json_decref(o);
	assert_int_equal(ta_stop(t), 0);
}

static bool
sub_failed(void *arg)
{
	json_t *s = ta_sub_status(arg);
	bool ok = s && ta_str(s, "state") && !strcmp(ta_str(s, "state"), "failed");

	json_decref(s);
	return ok;
}

static void
test_allow_from(void **state)
{
	struct ta *t = *state;
	char *url;
	struct th_resp r;
	json_t *s;

	/* only Graph's (here: documentation) ranges may call the webhooks */
	assert_int_equal(ta_start(t, "allow_from = 192.0.2.0/24\ntrust_proxy = 127.0.0.1", NULL),
			 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	/* graphsim calls from 127.0.0.1: its handshake is refused, the
	 * subscription fails, and says why */
	assert_true(th_wait_until(sub_failed, t, 20));
	s = ta_sub_status(t);
	assert_non_null(strstr(ta_str(s, "last_error"), "HTTP 400"));
	json_decref(s);
	assert_true(ta_counter(t, "rejected_source") >= 1);
	/* through a trusted proxy, a client in the range is let in */
	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify?validationToken=ok", t->base) < 0)
		abort();
	const char *via[] = {"X-Forwarded-For: 192.0.2.10", NULL};
	assert_int_equal(th_http("POST", url, NULL, via, "", &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	const char *other[] = {"X-Forwarded-For: 198.51.100.1", NULL};
	assert_int_equal(th_http("POST", url, NULL, other, "", &r), 0);
	assert_int_equal(r.status, 403);
	th_resp_free(&r);
	free(url);
	assert_int_equal(ta_stop(t), 0);
}

struct counter_wait {
	struct ta *t;
	const char *name;
	long n;
};

static bool
counter_reaches(void *arg)
{
	struct counter_wait *w = arg;

	return ta_counter(w->t, w->name) >= w->n;
}

static void
test_rich_forgeries_rejected(void **state)
{
	struct ta *t = *state;
	static const struct {
		const char *kind, *what, *counter;
	} cases[] = {
	    {"tamper", "data", "rejected_signature"},
	    {"tamper", "signature", "rejected_signature"},
	    {"tamper", "key", "rejected_payload"},
	    {"tamper", "certificate_id", "rejected_certificate"},
	    {"token", "signature", "rejected_token_signature"},
	    {"token", "aud", "rejected_token_audience"},
	    {"token", "azp", "rejected_token_caller"},
	    {"token", "expired", "rejected_token_expired"},
	    {"token", "tenant", "rejected_token_tenant"},
	    {"token", "issuer", "rejected_token_issuer"},
	    {"token", "missing", "rejected_token_missing"},
	};
	json_t *e;

	ta_ready(t, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct counter_wait w = {t, cases[i].counter, ta_counter(t, cases[i].counter) + 1};
		json_decref(th_sim(
		    &t->gs, "POST", "/delivery-faults",
		    json_pack("{s:s, s:s}", "kind", cases[i].kind, "what", cases[i].what), NULL));
		emergency(t, "911");
		if (!th_wait_until(counter_reaches, &w, 20)) {
			fprintf(stderr, "%s %s: %s not counted\n", cases[i].kind, cases[i].what,
				cases[i].counter);
			fail();
		}
	}
	e = ta_events(t);
	assert_int_equal(json_array_size(e), 0);
	json_decref(e);
	/* and a sound one after all that is an event */
	struct ta_ev_wait ew = {t, 1};
	emergency(t, "911");
	assert_true(th_wait_until(ta_enough_events, &ew, 20));
	assert_int_equal(ta_stop(t), 0);
}

static void
test_basic_mode(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	long since;
	json_t *s, *r;

	assert_int_equal(ta_start(t, NULL, "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	s = ta_sim_sub(t);
	assert_false(json_is_true(json_object_get(s, "includeResourceData")));
	json_decref(s);
	since = ta_last_request_seq(t);
	emergency(t, "911");
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	/* the notice was fetched from Graph */
	r = ta_requests(t, since, NULL);
	bool fetched = false;
	for (size_t i = 0; i < json_array_size(r); i++)
		fetched |= strstr(ta_str(json_array_get(r, i), "path"), "/messages/") != NULL;
	assert_true(fetched);
	json_decref(r);

	/* Graph answers the read 404 (not readable yet) and 403 once each: the
	 * notice is asked for again, never dropped as gone */
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/chats/", "method", "GET",
			    "count", 1, "status", 404));
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/chats/", "method", "GET",
			    "count", 1, "status", 403));
	emergency(t, "911");
	w.n = 2;
	assert_true(th_wait_until(ta_enough_events, &w, 30));
	assert_int_equal(ta_counter(t, "message_gone"), 0);
	assert_int_equal(ta_stop(t), 0);
}

static bool
cert_rotated(void *arg)
{
	void **a = arg;
	json_t *s = ta_sim_sub(a[0]);
	bool ok = s && ta_str(s, "encryptionCertificateId") &&
		  strcmp(ta_str(s, "encryptionCertificateId"), a[1]) != 0;

	json_decref(s);
	return ok;
}

static void
test_certificate_rotation(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *s;
	char *first;

	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "5s", "sub_max", "60s",
				     "lifecycle_required_above", "10s"),
			   NULL));
	ta_ready(t,
		 "subscription_lifetime = 12s\nrenew_margin = 8s\nencryption_cert_rotation = 3s");
	s = ta_sim_sub(t);
	first = strdup(ta_str(s, "encryptionCertificateId"));
	json_decref(s);
	/* a renewal after the rotation period hands Graph the new certificate */
	void *arg[] = {t, first};
	assert_true(th_wait_until(cert_rotated, arg, 30));
	/* and what Graph encrypts to it opens */
	emergency(t, "911");
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	assert_int_equal(ta_stop(t), 0);
	free(first);
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "45m", "sub_max", "4320m",
				     "lifecycle_required_above", "1h"),
			   NULL));
}

static void
test_missed_lifecycle_resyncs(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *s, *e;
	char *path;

	/* the default daily sweep: only the lifecycle event can be quick */
	ta_ready(t, "backfill_delay = 1s");
	json_decref(th_sim(&t->gs, "POST", "/delivery-faults",
			   json_pack("{s:s, s:i}", "kind", "skip", "count", 1), NULL));
	emergency(t, "911");
	s = ta_sim_sub(t);
	if (asprintf(&path, "/subscriptions/%s/lifecycle", ta_str(s, "id")) < 0)
		abort();
	json_decref(th_sim(&t->gs, "POST", path, json_pack("{s:s}", "event", "missed"), NULL));
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	assert_string_equal(ta_str(json_array_get(e, 0), "source"), "poll");
	json_decref(e);
	json_decref(s);
	free(path);
	assert_int_equal(ta_stop(t), 0);
}

static void
test_match_cli(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("match"), *yes, *no, *out = NULL;
	FILE *f;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	if (asprintf(&yes, "%s/notice.json", dir) < 0 || asprintf(&no, "%s/chat.json", dir) < 0)
		abort();
	f = fopen(yes, "w");
	fputs("{\"id\":\"1\",\"chatId\":\"19:a@thread.v2\",\"messageType\":\"message\","
	      "\"importance\":\"high\",\"from\":{\"user\":{\"id\":\"u\",\"displayName\":\"Jane\"}},"
	      "\"body\":{\"contentType\":\"html\",\"content\":\"<p>Jane has placed an Emergency "
	      "Call to 933.</p><p>Location: Floor 2</p>\"}}",
	      f);
	fclose(f);
	f = fopen(no, "w");
	fputs("{\"id\":\"2\",\"messageType\":\"message\",\"importance\":\"normal\","
	      "\"body\":{\"contentType\":\"text\",\"content\":\"lunch?\"}}",
	      f);
	fclose(f);
	const char *a1[] = {TA_CTTEAMSCTL, "-S", t->sock, "test-match", yes, "acme", NULL};
	const char *a2[] = {TA_CTTEAMSCTL, "-S", t->sock, "test-match", no, NULL};
	assert_int_equal(th_run(a1, &out, NULL), 0);
	assert_non_null(strstr(out, "verdict: emergency"));
	assert_non_null(strstr(out, "933 (test call)"));
	assert_non_null(strstr(out, "Floor 2"));
	free(out);
	assert_int_equal(th_run(a2, &out, NULL), 1);
	assert_non_null(strstr(out, "verdict: none"));
	free(out);
	const char *a3[] = {TA_CTTEAMSCTL, "-S", t->sock, "events", NULL};
	assert_int_equal(th_run(a3, &out, NULL), 0);
	free(out);
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
	free(yes);
	free(no);
}

static bool
sim_has_sub(void *arg)
{
	json_t *s = ta_sim_sub(arg);
	bool ok = s != NULL;

	json_decref(s);
	return ok;
}

/* Graph may deliver a notification before the client has read the 201 of
 * its subscription POST (here the answer is held back 4 s after the
 * subscription is made): a 911 posted meanwhile is taken on the
 * clientState sent with the POST, and raised from the webhook at once,
 * not dropped as an unknown subscription's. */
static void
test_notice_before_the_201(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	json_t *e;

	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/subscriptions", "method", "POST",
			    "count", 1, "delay_after_ms", 4000));
	assert_int_equal(ta_start(t, NULL, NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	/* made at Graph, its id not yet known to the agent */
	assert_true(th_wait_until(sim_has_sub, t, 20));
	assert_false(ta_sub_active(t));
	ta_emergency(t);
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	assert_string_equal(ta_str(json_array_get(e, 0), "source"), "webhook");
	json_decref(e);
	assert_int_equal(ta_counter(t, "rejected_unknown_subscription"), 0);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	assert_int_equal(ta_stop(t), 0);
}

static size_t
patches_noted(struct ta *t, long since, const char *note)
{
	json_t *r = ta_requests(t, since, NULL), *e;
	size_t i, n = 0;

	json_array_foreach (r, i, e)
		if (!strcmp(ta_str(e, "method"), "PATCH") &&
		    json_is_string(json_object_get(e, "note")) && !strcmp(ta_str(e, "note"), note))
			n++;
	json_decref(r);
	return n;
}

/* Graph sends reauthorizationRequired at the lifecycle page's cadence
 * (every 15 minutes through a delegated token's life; here every second of
 * a 20 s token) for three token lifetimes: every PATCH hands Graph a token it
 * did not hold, none changes nothing, and delivery never pauses. */
static void
test_reauth_cadence_without_needless_patch(void **state)
{
	struct ta *t = *state;
	long since;
	json_t *s;

	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:b, s:s}", "access_token_lifetime", "20s",
			    "access_lifetime_jitter", 0, "reauth_cadence", "1s"));
	ta_ready(t, "refresh_margin = 5s");
	since = ta_last_request_seq(t);
	/* three refreshes: three token lifetimes of notices every second */
	assert_true(ta_wait_requests(t, since, "refresh_token used", 3, 150));
	print_message("PATCHes: %zu with a new token, %zu with the one Graph held\n",
		      patches_noted(t, since, "token new"),
		      patches_noted(t, since, "token unchanged"));
	assert_int_equal(patches_noted(t, since, "token unchanged"), 0);
	assert_true(patches_noted(t, since, "token new") >= 2);
	s = ta_sim_sub(t);
	assert_false(json_is_true(json_object_get(s, "paused")));
	json_decref(s);
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:b, s:s}", "access_token_lifetime", "3599s",
			    "access_lifetime_jitter", 1, "reauth_cadence", "0s"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_notice_becomes_one_event, ta_test_teardown),
	    cmocka_unit_test_teardown(test_redelivery_and_forgeries, ta_test_teardown),
	    cmocka_unit_test_teardown(test_acknowledged_survives_sigkill, ta_test_teardown),
	    cmocka_unit_test_teardown(test_renewal_and_recreation, ta_test_teardown),
	    cmocka_unit_test_teardown(test_short_grants, ta_test_teardown),
	    cmocka_unit_test_teardown(test_poll_recovers_skipped_delivery, ta_test_teardown),
	    cmocka_unit_test_teardown(test_reauth_cadence_without_needless_patch, ta_test_teardown),
	    cmocka_unit_test_teardown(test_notice_before_the_201, ta_test_teardown),
	    cmocka_unit_test_teardown(test_allow_from, ta_test_teardown),
	    cmocka_unit_test_teardown(test_rich_forgeries_rejected, ta_test_teardown),
	    cmocka_unit_test_teardown(test_basic_mode, ta_test_teardown),
	    cmocka_unit_test_teardown(test_certificate_rotation, ta_test_teardown),
	    cmocka_unit_test_teardown(test_missed_lifecycle_resyncs, ta_test_teardown),
	    cmocka_unit_test_teardown(test_match_cli, ta_test_teardown),
	};

	return cmocka_run_group_tests_name("ctteamsd notifications", tests, setup, ta_teardown);
}
