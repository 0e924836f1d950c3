/*
 * The safety net under the webhook, against graphsim's Graph semantics:
 * notices Graph never delivered are read back (old chats, second pages,
 * 1:1 chats, a delivery pause), within Microsoft's polling budget; the
 * inbox is worked so that one failure stalls nothing else; a failing store
 * backs off and raises an alarm; items that keep failing are set aside
 * visibly; every message shape goes through the rules.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static void
say(struct ta *t, const char *chat, const char *text)
{
	ta_sim_ok(t, "POST", "/messages",
		  json_pack("{s:s, s:s, s:s}", "chat", chat, "from", t->caller, "content", text));
}

/* A notice whose notification Graph drops without a word. */
static void
skipped_notice(struct ta *t, const char *chat)
{
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 1));
	ta_sim_ok(t, "POST", "/emergency",
		  json_pack("{s:s, s:[s], s:s, s:s, s:s}", "caller", t->caller, "members", t->svc,
			    "number", "911", "location", "1 Main St", "chat", chat));
}

/* poll.KEY of the org's status (a reference of the caller's). */
static json_t *
poll_get(struct ta *t, const char *key)
{
	json_t *o = ta_org_status(t, "acme");
	json_t *v = json_incref(json_object_get(json_object_get(o, "poll"), key));

	json_decref(o);
	return v;
}

static bool
swept(void *arg)
{
	json_t *v = poll_get(arg, "last_pass");
	bool ok = json_is_string(v);

	json_decref(v);
	return ok;
}

static bool
event_in_chat(struct ta *t, const char *chat, const char *source)
{
	json_t *all = ta_ctl(t, "events", NULL), *e = json_object_get(all, "events"), *v;
	size_t i;
	bool hit = false;

	json_array_foreach (e, i, v)
		hit |= !strcmp(ta_str(v, "chat_id"), chat) && !strcmp(ta_str(v, "source"), source);
	json_decref(all);
	return hit;
}

struct chat_wait {
	struct ta *t;
	const char *chat;
	const char *source;
};

static bool
chat_event(void *arg)
{
	struct chat_wait *w = arg;

	return event_in_chat(w->t, w->chat, w->source);
}

static size_t
violations(struct ta *t, const char *rule)
{
	json_t *st = th_sim(&t->gs, "GET", "/stats", NULL, NULL), *v;
	size_t i, n = 0;

	json_array_foreach (json_object_get(st, "violations"), i, v)
		if (!strcmp(ta_str(v, "rule"), rule))
			n++;
	json_decref(st);
	return n;
}

/* A chat made long before, delivery skipped: the next sweep raises the
 * notice once; likewise behind 60 newer messages, and in a 1:1 chat. */
static void
test_sweep_finds_notices_in_old_chats(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	char *group = ta_chat_new(t, "group"), *one = ta_chat_new(t, "oneOnOne");
	json_t *e;
	size_t i;

	say(t, group, "the standing notification-group chat");
	say(t, one, "hello");
	ta_ready(t, "reconcile_interval = 3s\nbackfill_delay = 1s");
	assert_true(th_wait_until(swept, t, 20));
	skipped_notice(t, group);
	assert_true(th_wait_until(ta_enough_events, &w, 30));
	/* behind 60 newer messages: on the second page */
	skipped_notice(t, group);
	for (i = 0; i < 60; i++)
		say(t, group, "chatter");
	w.n = 2;
	assert_true(th_wait_until(ta_enough_events, &w, 40));
	skipped_notice(t, one);
	w.n = 3;
	assert_true(th_wait_until(ta_enough_events, &w, 30));
	e = ta_events(t);
	assert_int_equal(json_array_size(e), 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(ta_str(json_array_get(e, i), "source"), "poll");
	json_decref(e);
	assert_int_equal(ta_counter(t, "recovered_by_poll"), 3);
	assert_int_equal(ta_stop(t), 0);
	free(group);
	free(one);
}

static char *
last_pass(struct ta *t)
{
	json_t *v = poll_get(t, "last_pass");
	char *ret = strdup(json_is_string(v) ? json_string_value(v) : "");

	json_decref(v);
	return ret;
}

struct pass_wait {
	struct ta *t;
	const char *after;
};

static bool
passed_after(void *arg)
{
	struct pass_wait *w = arg;
	char *now = last_pass(w->t);
	bool ok = strcmp(now, w->after) > 0;

	free(now);
	return ok;
}

/* Posts a message; returns its id. */
static char *
said(struct ta *t, const char *chat, const char *text)
{
	long status = 0;
	json_t *m =
	    th_sim(&t->gs, "POST", "/messages",
		   json_pack("{s:s, s:s, s:s}", "chat", chat, "from", t->caller, "content", text),
		   &status);
	char *id;

	assert_int_equal(status, 201);
	id = strdup(ta_str(m, "id"));
	json_decref(m);
	return id;
}

/* $orderby as each cloud treats it: honoured (global), refused with a 400
 * (the US Government clouds and China on List chats, GCC on List
 * messages) or ignored (chats in no defined order, messages in the default
 * last-modified order). In each, notices Graph skipped are read back: in a
 * chat made before the last sweep behind 60 newer messages, and in one
 * whose old message got a reaction after the notice (so it comes first in
 * the default order, though made before the window). */
static void
test_sweep_in_every_cloud(void **state)
{
	static const char *const modes[] = {"honour", "refuse", "ignore"};
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 0};

	ta_ready(t, "reconcile_interval = 3s\nbackfill_delay = 1s");
	for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
		char *group = ta_chat_new(t, "group"), *react = ta_chat_new(t, "group");
		char *old, *path, *before;
		struct pass_wait pw = {t, NULL};
		json_t *o;

		print_message("$orderby: %s\n", modes[k]);
		ta_sim_ok(t, "POST", "/config",
			  json_pack("{s:s, s:s}", "orderby_chats", modes[k], "orderby_messages",
				    modes[k]));
		say(t, group, "the standing notification-group chat");
		old = said(t, react, "the shift starts at eight");
		/* both chats are older than the next sweep's window */
		before = last_pass(t);
		pw.after = before;
		assert_true(th_wait_until(passed_after, &pw, 30));
		free(before);
		/* held still, so that nothing is read between the notice and
		 * the reaction */
		assert_int_equal(kill(t->pid, SIGSTOP), 0);
		skipped_notice(t, group);
		for (int i = 0; i < 60; i++)
			say(t, group, "chatter");
		skipped_notice(t, react);
		if (asprintf(&path, "/chats/%s/messages/%s/reactions", react, old) < 0)
			abort();
		ta_sim_ok(t, "POST", path, json_pack("{s:s}", "user", t->caller));
		assert_int_equal(kill(t->pid, SIGCONT), 0);
		w.n += 2;
		assert_true(th_wait_until(ta_enough_events, &w, 60));
		assert_true(event_in_chat(t, group, "poll"));
		assert_true(event_in_chat(t, react, "poll"));
		o = ta_org_status(t, "acme");
		assert_true(
		    json_is_null(json_object_get(json_object_get(o, "poll"), "last_error")));
		json_decref(o);
		free(path);
		free(old);
		free(group);
		free(react);
	}
	assert_int_equal(ta_counter(t, "recovered_by_poll"), 6);
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:s}", "orderby_chats", "honour", "orderby_messages", "honour"));
}

/* The agent is killed; meanwhile Graph drops a notice (as it does when a
 * webhook is down long enough). At the next start the time it was away is
 * read back and the notice raised. */
static void
test_downtime_is_read_back(void **state)
{
	struct ta *t = *state;
	char *chat = ta_chat_new(t, "group");
	struct chat_wait w = {t, chat, "poll"};

	ta_ready(t, "backfill_delay = 1s");
	ta_kill(t);
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 1));
	say(t, chat, "Jane has placed an Emergency Call to 911");
	assert_int_equal(ta_restart(t), 0);
	assert_true(th_wait_until(chat_event, &w, 30));
	assert_int_equal(ta_stop(t), 0);
	free(chat);
}

/* A compressed day of normal operation stays within Microsoft's polling
 * rules as graphsim counts them. */
static void
test_day_within_polling_budget(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	size_t before = violations(t, "polling");

	/* a day is 20 s here: at most 2 reads of a collection per day; the
	 * reads of earlier tests do not count */
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:i}", "poll_period", "20s", "poll_budget", 2));
	ta_sim_ok(t, "DELETE", "/polls", NULL);
	ta_ready(t, "reconcile_interval = 20s\nbackfill_delay = 1s");
	ta_emergency(t);
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	assert_true(th_wait_until(swept, t, 30));
	assert_int_equal(violations(t, "polling"), before);
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:i}", "poll_period", "1d", "poll_budget", 2));
}

/* Every shape of notice goes through the rules: a system event, one sent
 * by an application, and one whose text is in an Adaptive Card (the body
 * only the card's placeholder), its location in a fact. */
static void
test_other_shapes_raise_events(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 3};
	char *chat = ta_chat_new(t, "group");
	const char *card = "{\"type\": \"AdaptiveCard\", \"version\": \"1.4\", \"body\": ["
			   "{\"type\": \"TextBlock\", \"text\": \"Zoë Ångström has placed an "
			   "Emergency Call to 911\"}, {\"type\": \"FactSet\", \"facts\": "
			   "[{\"title\": \"Location:\", \"value\": \"Kö 12, Düsseldorf\"}]}]}";
	json_t *e, *v;
	size_t i;
	bool carded = false;

	ta_ready(t, NULL);
	ta_sim_ok(t, "POST", "/messages",
		  json_pack("{s:s, s:s, s:s, s:s, s:s}", "chat", chat, "from", t->caller, "content",
			    "Jane has placed an Emergency Call to 911", "importance", "high",
			    "message_type", "systemEventMessage"));
	ta_sim_ok(t, "POST", "/messages",
		  json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "chat", chat, "from_app", "id",
			    "5a6b7c8d-0000-4000-8000-000000000001", "display_name",
			    "Emergency Alerts", "content",
			    "Jane has placed an Emergency Call to 911", "importance", "high"));
	ta_sim_ok(t, "POST", "/messages",
		  json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "chat", chat, "from",
			    t->caller, "content", "<attachment id=\"c1\"></attachment>",
			    "importance", "normal", "attachments", "id", "c1", "contentType",
			    "application/vnd.microsoft.card.adaptive", "content", card));
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	e = ta_events(t);
	json_array_foreach (e, i, v)
		carded |= json_is_string(json_object_get(v, "location")) &&
			  !strcmp(ta_str(v, "location"), "Kö 12, Düsseldorf") &&
			  !strcmp(ta_str(v, "number"), "911");
	json_decref(e);
	assert_true(carded);
	assert_int_equal(ta_stop(t), 0);
	free(chat);
}

/* validationTokens in the v2 form pass as the default v1 form does. */
static void
test_rich_v2_tokens(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};

	ta_sim_ok(t, "POST", "/config", json_pack("{s:i}", "validation_token_version", 2));
	ta_ready(t, NULL);
	ta_emergency(t);
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	assert_int_equal(ta_counter(t, "rejected_token_issuer"), 0);
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config", json_pack("{s:i}", "validation_token_version", 1));
}

/* Basic mode: one chat's reads answer 503; a notice in another chat is
 * raised at once, the failing one backs off on its own and arrives when
 * the fault clears. */
static void
test_failing_read_holds_nothing_else(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	char *bad = ta_chat_new(t, "group"), *good = ta_chat_new(t, "group"), *path;
	long since;
	json_t *e;

	assert_int_equal(ta_start(t, "backfill_delay = 1s", "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	if (asprintf(&path, "/v1.0/chats/%s/messages", bad) < 0)
		abort();
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", path, "method", "GET", "count", 1000,
			    "status", 503));
	since = ta_last_request_seq(t);
	say(t, bad, "Jane has placed an Emergency Call to 911");
	/* the failing read is tried, and backs off */
	assert_true(ta_wait_requests(t, since, NULL, 1, 20));
	say(t, good, "Joe has placed an Emergency Call to 911");
	assert_true(th_wait_until(ta_enough_events, &w, 5));
	e = ta_events(t);
	assert_string_equal(ta_str(json_array_get(e, 0), "chat_id"), good);
	json_decref(e);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	w.n = 2;
	assert_true(th_wait_until(ta_enough_events, &w, 60));
	assert_int_equal(ta_stop(t), 0);
	free(path);
	free(bad);
	free(good);
}

static bool
sim_sub_paused(void *arg)
{
	json_t *s = ta_sim_sub(arg);
	bool ok = s && json_is_true(json_object_get(s, "paused"));

	json_decref(s);
	return ok;
}

static bool
gap_shown(void *arg)
{
	json_t *v = poll_get(arg, "delivery_gap");
	bool ok = json_is_true(v);

	json_decref(v);
	return ok;
}

static bool
sim_sub_resumed(void *arg)
{
	return !sim_sub_paused(arg);
}

/* Graph pauses delivery once the token it holds expires; the agent's
 * reauthorization fails until after that. The notice posted during the
 * pause is never delivered (Graph does not hold it here), and the agent
 * reads it back: once the time Graph could still have delivered it is
 * over, that is a delivery gap. */
static void
test_paused_delivery_is_read_back(void **state)
{
	struct ta *t = *state;
	char *chat = ta_chat_new(t, "group");
	struct chat_wait w = {t, chat, "poll"};

	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:b, s:s, s:b}", "access_token_lifetime", "40s",
			    "access_lifetime_jitter", 0, "reauth_token_lead", "5s", "hold_paused",
			    0));
	ta_ready(t, "refresh_margin = 10s\nbackfill_delay = 1s\nreconcile_interval = 20s");
	/* the reauthorization (a PATCH) fails until Graph's token has
	 * expired and a notice has been posted in the pause: a fixed number
	 * of failures would race the agent's retries on a slow machine */
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/subscriptions/", "method",
			    "PATCH", "count", 1000, "status", 503));
	assert_true(th_wait_until(sim_sub_paused, t, 90));
	say(t, chat, "Jane has placed an Emergency Call to 911");
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	/* restored by a later PATCH, and the pause read back */
	assert_true(th_wait_until(chat_event, &w, 120));
	assert_true(th_wait_until(sim_sub_resumed, t, 120));
	assert_true(th_wait_until(gap_shown, t, 60));
	/* (with notices of earlier tests from that time: a new store) */
	assert_true(ta_counter(t, "recovered_by_poll") >= 1);
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:b, s:s, s:b}", "access_token_lifetime", "3599s",
			    "access_lifetime_jitter", 1, "reauth_token_lead", "10m", "hold_paused",
			    1));
	free(chat);
}

static long
late_expected(struct ta *t)
{
	json_t *v = poll_get(t, "late_expected");
	long n = (long)json_integer_value(v);

	json_decref(v);
	return n;
}

struct late_wait {
	struct ta *t;
	long n;
};

static bool
late_at_most(void *arg)
{
	struct late_wait *w = arg;

	return late_expected(w->t) <= w->n;
}

/* As the webhooks page says: Graph holds a notification made while its
 * token had expired, and delivers it once the subscription is
 * reauthorized, at its next retry (20 s after it was made, here). The
 * read-back raises the notice first; when Graph's late delivery comes, it
 * is a duplicate, and no delivery gap is raised: nothing was lost. */
static void
test_held_notice_is_late_not_lost(void **state)
{
	struct ta *t = *state;
	char *chat = ta_chat_new(t, "group");
	struct chat_wait w = {t, chat, "poll"};
	struct late_wait lw = {t, 0};
	json_t *e, *v;
	size_t i;
	long n = 0, others = 0;

	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:b, s:s, s:s}", "access_token_lifetime", "40s",
			    "access_lifetime_jitter", 0, "reauth_token_lead", "5s", "retry_initial",
			    "20s"));
	ta_ready(t, "refresh_margin = 10s\nbackfill_delay = 1s");
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/subscriptions/", "method",
			    "PATCH", "count", 1000, "status", 503));
	assert_true(th_wait_until(sim_sub_paused, t, 90));
	say(t, chat, "Jane has placed an Emergency Call to 911");
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	/* renewed now, well before Graph's next retry of what it held */
	json_decref(ta_ctl(t, "renew", "acme"));
	/* read back first, expected late (an earlier test's notice from the
	 * minute before the pause may be expected too: a new store) */
	assert_true(th_wait_until(chat_event, &w, 60));
	lw.n = late_expected(t);
	assert_true(lw.n >= 1);
	/* Graph's retry brings it: late, not lost, and one event */
	lw.n--;
	assert_true(th_wait_until(late_at_most, &lw, 90));
	assert_true(ta_counter(t, "duplicates") >= 1);
	/* the only gaps are notices of earlier tests from the minutes before
	 * the pause, which this agent's new store has not seen (those still
	 * expected are not gaps yet): never ours */
	e = ta_events(t);
	json_array_foreach (e, i, v) {
		bool ours = !strcmp(ta_str(v, "chat_id"), chat);
		n += ours;
		others += !ours && !strcmp(ta_str(v, "source"), "poll");
	}
	json_decref(e);
	assert_int_equal(n, 1);
	others -= late_expected(t);
	assert_int_equal(ta_counter(t, "recovered_by_poll"), others);
	assert_true(gap_shown(t) == (others > 0));
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:b, s:s, s:s}", "access_token_lifetime", "3599s",
			    "access_lifetime_jitter", 1, "reauth_token_lead", "10m",
			    "retry_initial", "60s"));
	free(chat);
}

static bool
chat_held(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	bool ok = json_integer_value(json_object_get(o, "chats_held_by_graph")) > 0;

	json_decref(o);
	return ok;
}

/* Twenty messages in one chat whose reads Graph throttles (429, 30 s)
 * hold only that chat: a notice in another chat is raised at once. */
static void
test_chatter_in_one_chat_never_delays_another(void **state)
{
	struct ta *t = *state;
	char *busy = ta_chat_new(t, "group"), *quiet = ta_chat_new(t, "group"), *path;
	struct chat_wait w = {t, quiet, "webhook"};
	double start, took;

	assert_int_equal(ta_start(t, NULL, "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	if (asprintf(&path, "/v1.0/chats/%s/messages/", busy) < 0)
		abort();
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i, s:i}", "path", path, "method", "GET", "count",
			    1000, "status", 429, "retry_after", 30));
	for (int i = 0; i < 20; i++) {
		char text[64];
		snprintf(text, sizeof(text), "lunch at %d?", i);
		say(t, busy, text);
	}
	assert_true(th_wait_until(chat_held, t, 20));
	start = th_now();
	say(t, quiet, "Jane has placed an Emergency Call to 911");
	assert_true(th_wait_until(chat_event, &w, 20));
	took = th_now() - start;
	print_message("notice raised %.3f s after it was posted\n", took);
	assert_true(took < 1.0);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	assert_int_equal(ta_stop(t), 0);
	free(path);
	free(busy);
	free(quiet);
}

static bool
org_held(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	bool ok = json_is_true(json_object_get(o, "held_by_graph"));

	json_decref(o);
	return ok;
}

static bool inbox_empty(void *t);

/* Graph's limit per app per tenant (20 message reads a second; 2 in 4 s
 * here): 429s on two chats within a second hold all of the org's reads for
 * the Retry-After, not one chat at a time; every message is read once the
 * hold is over. */
static void
test_tenant_throttling_holds_the_org(void **state)
{
	struct ta *t = *state;
	char *chats[6];

	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:i, s:s}", "tenant_message_limit", 2, "chat_get_period", "4s"));
	assert_int_equal(ta_start(t, NULL, "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	for (int i = 0; i < 6; i++) {
		chats[i] = ta_chat_new(t, "group");
		say(t, chats[i], "who has the keys to the van?");
	}
	assert_true(th_wait_until(org_held, t, 20));
	assert_true(th_wait_until(inbox_empty, t, 60));
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:i, s:s}", "tenant_message_limit", 0, "chat_get_period", "1s"));
	for (int i = 0; i < 6; i++)
		free(chats[i]);
}

static long
inbox_pending(struct ta *t)
{
	json_t *o = ta_org_status(t, "acme");
	long n = (long)json_integer_value(json_object_get(o, "inbox_pending"));

	json_decref(o);
	return n;
}

static bool
inbox_empty(void *t)
{
	return inbox_pending(t) == 0;
}

/* Basic mode: every message is a read of Graph, 20 a second. A 911 notice
 * in a new chat (as Teams makes one for each call) behind 200 messages in
 * 200 chats already known (one each: no chat's pacing holds any of them
 * back) is read before them, not 10 s later. */
static void
test_notice_overtakes_chatter_in_many_chats(void **state)
{
	struct ta *t = *state;
	char *chats[200], *notice;
	struct chat_wait w = {t, NULL, "webhook"};
	double start;
	long left;

	assert_int_equal(ta_start(t, NULL, "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	/* the chats the desk talks in: each read once, so known */
	for (int i = 0; i < 200; i++) {
		chats[i] = ta_chat_new(t, "group");
		say(t, chats[i], "morning");
	}
	assert_true(th_wait_until(inbox_empty, t, 60));
	for (int i = 0; i < 200; i++)
		say(t, chats[i], "who has the keys to the van?");
	notice = ta_chat_new(t, "group");
	w.chat = notice;
	start = th_now();
	say(t, notice, "Jane has placed an Emergency Call to 911");
	assert_true(th_wait_until(chat_event, &w, 30));
	left = inbox_pending(t);
	print_message("notice raised %.3f s after it was posted, %ld message(s) still to read\n",
		      th_now() - start, left);
	/* in arrival order it would have come after all of them */
	assert_true(left >= 100);
	assert_true(th_wait_until(inbox_empty, t, 60));
	assert_int_equal(ta_stop(t), 0);
	for (int i = 0; i < 200; i++)
		free(chats[i]);
	free(notice);
}

/* After a start (or a takeover in a pair) the agent knows no chat. A
 * backlog in a few busy chats, each read once a second, must not keep a
 * notice in a new chat behind it: behind 600 such messages it is still
 * read first. */
static void
test_notice_overtakes_backlog_after_restart(void **state)
{
	struct ta *t = *state;
	char *busy[3], *notice;
	struct chat_wait w = {t, NULL, "webhook"};
	double start;
	long left;

	assert_int_equal(ta_start(t, NULL, "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	for (int i = 0; i < 3; i++)
		busy[i] = ta_chat_new(t, "group");
	for (int i = 0; i < 600; i++)
		say(t, busy[i % 3], "Ladung für Halle 3 ist da 📦");
	/* killed with them in its inbox: started again, it knows no chat */
	ta_kill(t);
	assert_int_equal(ta_restart(t), 0);
	assert_true(inbox_pending(t) >= 500);
	notice = ta_chat_new(t, "group");
	w.chat = notice;
	start = th_now();
	say(t, notice, "Jane has placed an Emergency Call to 911");
	assert_true(th_wait_until(chat_event, &w, 30));
	left = inbox_pending(t);
	print_message("after a restart: notice raised %.3f s after it was posted, %ld message(s) "
		      "still to read\n",
		      th_now() - start, left);
	/* in arrival order it would have come after all of them (three
	 * chats, each read once a second: minutes) */
	assert_true(left >= 400);
	assert_int_equal(ta_stop(t), 0);
	for (int i = 0; i < 3; i++)
		free(busy[i]);
	free(notice);
}

#define BETA_TENANT "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define BETA_CLIENT "11112222-3333-4444-8555-666677778888"

/* A second org (tenant) beside acme: its own app, service user, caller. */
static char *
beta_org(struct ta *t, char **ret_svc, char **ret_caller)
{
	char *redirect, *secret, *extra;
	long status = 0;
	FILE *f;

	*ret_svc = th_sim_user(&t->gs, BETA_TENANT, "svc@beta.example", "Beta Desk");
	*ret_caller = th_sim_user(&t->gs, BETA_TENANT, "joe@beta.example", "Joe Bloggs");
	if (asprintf(&redirect, "%s/api/org/beta/ms-teams/callback", t->base) < 0 ||
	    asprintf(&secret, "%s/beta-secret", t->gs.dir) < 0)
		abort();
	json_decref(
	    th_sim(&t->gs, "POST", "/apps",
		   json_pack("{s:s, s:s, s:s, s:[s]}", "tenant", BETA_TENANT, "client_id",
			     BETA_CLIENT, "client_secret", TA_SECRET, "redirect_uris", redirect),
		   &status));
	assert_int_equal(status, 201);
	f = fopen(secret, "w");
	fprintf(f, "%s\n", TA_SECRET);
	fclose(f);
	chmod(secret, 0600);
	if (asprintf(&extra,
		     "rich_notifications = no\n[org beta]\ntenant_id = %s\nclient_id = %s\n"
		     "client_secret_file = %s\nservice_user = svc@beta.example\n"
		     "rich_notifications = no\n",
		     BETA_TENANT, BETA_CLIENT, secret) < 0)
		abort();
	free(redirect);
	free(secret);
	return extra;
}

struct delivery_wait {
	struct ta *t;
	long since;
	const char *url_part;
};

/* graphsim delivered a notification to a URL with url_part since seq */
static bool
delivered(void *arg)
{
	struct delivery_wait *w = arg;
	json_t *d = th_sim(&w->t->gs, "GET", "/deliveries?since=0", NULL, NULL), *v;
	bool hit = false;
	size_t i;

	json_array_foreach (json_object_get(d, "value"), i, v)
		hit |= json_integer_value(json_object_get(v, "seq")) > w->since &&
		       strstr(ta_str(v, "url"), w->url_part) &&
		       !strcmp(ta_str(v, "outcome"), "delivered");
	json_decref(d);
	return hit;
}

static bool
beta_active(void *arg)
{
	json_t *o = ta_org_status(arg, "beta");
	const char *st = ta_str(json_object_get(o, "subscription"), "state");
	bool ok = st && !strcmp(st, "active");

	json_decref(o);
	return ok;
}

static long
last_delivery_seq(struct ta *t)
{
	json_t *d = th_sim(&t->gs, "GET", "/deliveries?since=0", NULL, NULL), *v;
	long seq = 0;
	size_t i;

	json_array_foreach (json_object_get(d, "value"), i, v)
		seq = (long)json_integer_value(json_object_get(v, "seq"));
	json_decref(d);
	return seq;
}

static size_t
reads_of(struct ta *t, long since, const char *path)
{
	json_t *r = ta_requests(t, since, NULL), *v;
	size_t i, n = 0;

	json_array_foreach (r, i, v)
		if (!strcmp(ta_str(v, "method"), "GET") && strstr(ta_str(v, "path"), path))
			n++;
	json_decref(r);
	return n;
}

/* Two orgs in basic mode. Org acme's message reads answer 503 with a
 * Retry-After: beta's notice is raised within a second of its delivery,
 * acme's read waits as Graph asked, and acme's notice arrives after. */
static void
test_one_org_trouble_never_delays_another(void **state)
{
	struct ta *t = *state;
	char *bsvc, *bcaller, *extra = beta_org(t, &bsvc, &bcaller);
	char *achat = ta_chat_new(t, "group"), *bchat, *apath;
	struct chat_wait aw = {t, achat, "webhook"}, bw = {t, NULL, "webhook"};
	struct delivery_wait dw = {t, 0, "/api/org/beta/"};
	long status = 0, since;
	json_t *c;

	c = th_sim(&t->gs, "POST", "/chats",
		   json_pack("{s:s, s:s, s:[s, s]}", "tenant", BETA_TENANT, "chat_type", "group",
			     "members", bcaller, bsvc),
		   &status);
	bchat = strdup(ta_str(c, "id"));
	bw.chat = bchat;
	json_decref(c);
	assert_int_equal(ta_start(t, "backfill_delay = 1s", extra), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_int_equal(ta_signin(t, "beta", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	assert_true(th_wait_until(beta_active, t, 20));
	if (asprintf(&apath, "/v1.0/chats/%s/messages", achat) < 0)
		abort();
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i, s:i}", "path", apath, "method", "GET", "count", 2,
			    "status", 503, "retry_after", 10));
	since = ta_last_request_seq(t);
	say(t, achat, "Jane has placed an Emergency Call to 911");
	assert_true(ta_wait_requests(t, since, NULL, 1, 20));
	dw.since = last_delivery_seq(t);
	ta_sim_ok(t, "POST", "/messages",
		  json_pack("{s:s, s:s, s:s}", "chat", bchat, "from", bcaller, "content",
			    "Joe Bloggs has placed an Emergency Call to 911"));
	assert_true(th_wait_until(delivered, &dw, 20));
	assert_true(th_wait_until(chat_event, &bw, 1.0));
	assert_false(event_in_chat(t, achat, "webhook"));
	/* acme's notice once Graph's wait is over; its read was not hammered */
	assert_true(th_wait_until(chat_event, &aw, 60));
	assert_true(reads_of(t, since, achat) <= 4);
	assert_int_equal(ta_stop(t), 0);
	free(apath);
	free(achat);
	free(bchat);
	free(bsvc);
	free(bcaller);
	free(extra);
}

static json_t *
canary(struct ta *t)
{
	json_t *o = ta_org_status(t, "acme");
	json_t *c = json_incref(json_object_get(o, "canary"));

	json_decref(o);
	return c;
}

static bool
canary_back(void *arg)
{
	json_t *c = canary(arg);
	bool ok = json_is_string(json_object_get(c, "last_delivered")) &&
		  json_is_false(json_object_get(c, "missed"));

	json_decref(c);
	return ok;
}

static bool
canary_missed(void *arg)
{
	json_t *c = canary(arg);
	bool ok = json_is_true(json_object_get(c, "missed"));

	json_decref(c);
	return ok;
}

/* Graph goes silent: the canary's marker does not come back, the alarm is
 * raised at once, the silent time is read back (the notice in it raised),
 * and the alarm clears when a marker comes back. */
static void
test_canary_catches_a_silent_webhook(void **state)
{
	struct ta *t = *state;
	char *cchat = ta_chat_new(t, "group"), *chat = ta_chat_new(t, "group"), *org;
	struct chat_wait w = {t, chat, "poll"};
	json_t *st;

	if (asprintf(&org, "canary_chat = %s\ncanary_interval = 4s\ncanary_timeout = 2s", cchat) <
	    0)
		abort();
	assert_int_equal(ta_start(t, "backfill_delay = 1s", org), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	assert_true(th_wait_until(canary_back, t, 30));
	/* the notice and the next marker are dropped without a word */
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 2));
	say(t, chat, "Jane has placed an Emergency Call to 911");
	assert_true(th_wait_until(canary_missed, t, 30));
	st = ta_ctl(t, "status", NULL);
	assert_true(json_is_string(json_object_get(
	    json_object_get(json_array_get(json_object_get(st, "orgs"), 0), "canary"),
	    "missed_since")));
	json_decref(st);
	assert_true(th_wait_until(chat_event, &w, 30));
	/* the next marker comes back: the alarm clears */
	assert_true(th_wait_until(canary_back, t, 30));
	assert_int_equal(ta_stop(t), 0);
	free(org);
	free(chat);
	free(cchat);
}

/* The webhook goes silent for a whole compressed day with the canary on,
 * a marker every 2 s: the first miss reads back at once, later ones back
 * off to the daily sweep, the notice posted in the silence is raised, and
 * graphsim records no breach of Microsoft's polling rule. */
static void
test_silent_day_with_canary_within_budget(void **state)
{
	struct ta *t = *state;
	char *cchat = ta_chat_new(t, "group"), *chat = ta_chat_new(t, "group"), *org;
	struct chat_wait w = {t, chat, "poll"};
	size_t before = violations(t, "polling");

	if (asprintf(&org, "canary_chat = %s\ncanary_interval = 2s\ncanary_timeout = 1s", cchat) <
	    0)
		abort();
	/* a day is 12 s here: at most 2 reads of a collection per day; the
	 * reads of earlier tests do not count */
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:i}", "poll_period", "12s", "poll_budget", 2));
	ta_sim_ok(t, "DELETE", "/polls", NULL);
	assert_int_equal(ta_start(t, "reconcile_interval = 12s\nbackfill_delay = 1s", org), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	assert_true(th_wait_until(canary_back, t, 60));
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 100000));
	assert_true(th_wait_until(canary_missed, t, 30));
	say(t, chat, "Jane has placed an Emergency Call to 911");
	assert_true(th_wait_until(chat_event, &w, 45));
	/* two more sweeps, a day and more of markers missed */
	for (int i = 0; i < 2; i++) {
		char *at = last_pass(t);
		struct pass_wait pw = {t, at};
		assert_true(th_wait_until(passed_after, &pw, 45));
		free(at);
	}
	assert_true(canary_missed(t));
	assert_int_equal(violations(t, "polling"), before);
	assert_int_equal(ta_stop(t), 0);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	ta_sim_ok(t, "POST", "/config",
		  json_pack("{s:s, s:i}", "poll_period", "1d", "poll_budget", 2));
	free(org);
	free(chat);
	free(cchat);
}

static bool
dead_lettered(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	bool ok = json_integer_value(json_object_get(o, "dead_letters")) >= 1;

	json_decref(o);
	return ok;
}

/* An item that keeps failing is set aside, counted and shown, not lost. */
static void
test_dead_letters_are_visible(void **state)
{
	struct ta *t = *state;
	char *chat = ta_chat_new(t, "group"), *path;
	json_t *dl;

	assert_int_equal(
	    ta_start(t, "dead_letter_after = 2\nbackfill_delay = 1s", "rich_notifications = no"),
	    0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	if (asprintf(&path, "/v1.0/chats/%s/messages", chat) < 0)
		abort();
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", path, "method", "GET", "count", 1000,
			    "status", 500));
	say(t, chat, "Jane has placed an Emergency Call to 911");
	assert_true(th_wait_until(dead_lettered, t, 30));
	assert_int_equal(ta_counter(t, "dead_lettered"), 1);
	dl = ta_ctl(t, "dead-letters", "acme");
	assert_int_equal(json_array_size(json_object_get(dl, "dead_letters")), 1);
	assert_non_null(strstr(
	    ta_str(json_array_get(json_object_get(dl, "dead_letters"), 0), "reason"), "HTTP 500"));
	json_decref(dl);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	assert_int_equal(ta_stop(t), 0);
	free(path);
	free(chat);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Another process holds the database's write lock: writes fail. No spin,
 * the alarm shows, SIGTERM still works, and once the lock goes nothing
 * acknowledged is lost. */
static void
test_store_failure_backs_off(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 2};
	sqlite3 *db = NULL;
	char *path;
	double cpu0, cpu1, t0;
	int status;

	ta_ready(t, "backfill_delay = 1s");
	if (asprintf(&path, "%s/state/ctteams.db", t->dir) < 0)
		abort();
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* the agent may be writing this moment: wait for it, as a backup tool would */
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ta_emergency(t);
	assert_true(th_wait_until(ta_store_trouble_shown, t, 30));
	/* backing off, not spinning: well under half a core over 3 s, while
	 * answering the control socket (asked ten times a second: answering
	 * a client that asks without pause is work, not spinning) */
	cpu0 = ta_cpu_seconds(t->pid);
	t0 = mono();
	while (mono() - t0 < 3) {
		json_t *pong = ta_ctl(t, "ping", NULL);
		assert_true(json_is_true(json_object_get(pong, "ok")));
		json_decref(pong);
		usleep(100000);
	}
	cpu1 = ta_cpu_seconds(t->pid);
	assert_true(cpu1 - cpu0 < 1.5);
	/* the lock goes; what Graph was told 503 is retried by Graph, and the
	 * window is read back: the notice arrives */
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	w.n = 1;
	assert_true(th_wait_until(ta_enough_events, &w, 60));
	/* the trouble again, and SIGTERM is answered within 2 s */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* the agent may be writing this moment: wait for it, as a backup tool would */
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ta_emergency(t);
	assert_true(th_wait_until(ta_store_trouble_shown, t, 30));
	t0 = mono();
	kill(t->pid, SIGTERM);
	while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR)
		;
	t->pid = -1;
	assert_true(mono() - t0 < 2);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	/* back up: the second notice is not lost either */
	assert_int_equal(ta_restart(t), 0);
	w.n = 2;
	assert_true(th_wait_until(ta_enough_events, &w, 60));
	assert_int_equal(ta_stop(t), 0);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_sweep_finds_notices_in_old_chats, ta_test_teardown),
	    cmocka_unit_test_teardown(test_sweep_in_every_cloud, ta_test_teardown),
	    cmocka_unit_test_teardown(test_downtime_is_read_back, ta_test_teardown),
	    cmocka_unit_test_teardown(test_day_within_polling_budget, ta_test_teardown),
	    cmocka_unit_test_teardown(test_other_shapes_raise_events, ta_test_teardown),
	    cmocka_unit_test_teardown(test_rich_v2_tokens, ta_test_teardown),
	    cmocka_unit_test_teardown(test_failing_read_holds_nothing_else, ta_test_teardown),
	    cmocka_unit_test_teardown(test_dead_letters_are_visible, ta_test_teardown),
	    cmocka_unit_test_teardown(test_one_org_trouble_never_delays_another, ta_test_teardown),
	    cmocka_unit_test_teardown(test_paused_delivery_is_read_back, ta_test_teardown),
	    cmocka_unit_test_teardown(test_held_notice_is_late_not_lost, ta_test_teardown),
	    cmocka_unit_test_teardown(test_notice_overtakes_chatter_in_many_chats,
				      ta_test_teardown),
	    cmocka_unit_test_teardown(test_chatter_in_one_chat_never_delays_another,
				      ta_test_teardown),
	    cmocka_unit_test_teardown(test_tenant_throttling_holds_the_org, ta_test_teardown),
	    cmocka_unit_test_teardown(test_notice_overtakes_backlog_after_restart,
				      ta_test_teardown),
	    cmocka_unit_test_teardown(test_canary_catches_a_silent_webhook, ta_test_teardown),
	    cmocka_unit_test_teardown(test_silent_day_with_canary_within_budget, ta_test_teardown),
	    cmocka_unit_test_teardown(test_store_failure_backs_off, ta_test_teardown),
	};
	return cmocka_run_group_tests_name("agent_reconcile", tests, setup, ta_teardown);
}
