/*
 * One pass per org at a time. A pass reads one window [from, to]: every
 * page of the service user's chats, keeping those whose last message is in
 * or after the window; then, chat by chat, the messages in Graph's default
 * order (last modified first), page after page until one was last modified
 * before the window. No $orderby: not every cloud supports it, and where
 * it is ignored an ordered read would stop early (docs/reconcile.md). At
 * most one request a second for one chat, and Graph's Retry-After holds
 * the pass. A window is read only once it has settled (backfill_delay), so
 * a notice still on its way through the webhook is not taken for a missed
 * one. Pending windows are kept in the store: a restart does not lose one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "event.h"
#include "gpage.h"
#include "ha.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "proc.h"
#include "subs.h"
#include "util.h"

#define PAGES_MAX  1000  /* chats pages in one pass: 50,000 chats */
#define SLACK      300.0 /* clock skew between Graph and this host */
#define GOOD_TICK  300.0 /* how often "delivery is good" is noted */
#define CHAT_GAP   1.0   /* seconds between two reads of one chat */
#define TRIES      4     /* tries of one request before it counts as failed */
#define RETRY_MIN  60.0
#define RETRY_MAX  3600.0
#define HELD_RETRY (4 * 3600.0) /* Graph retries held notifications this long */
#define HELD_SKEW  60.0         /* Graph's clock and ours, at a pause's start */

struct poller {
	struct org *owner; /* it lives and dies with its org */
	char *org;
	struct ev_timer *timer;
	struct ev_timer *good_timer;
	/* waiting to be read (want_from 0: nothing) */
	double want_from, want_to;
	char *want_why;
	double sweep_at;  /* the next sweep */
	double watermark; /* the sweeps have read up to here */
	double lost_at;   /* the sign-in stopped being usable (0: it is) */
	/* the pass under way */
	bool busy;
	bool sweep;
	double from, to;
	char *why;
	char *url; /* the request to make (again, after a Retry-After) */
	bool listing_chats;
	json_t *chats; /* ids to read in this pass */
	size_t next_chat;
	size_t pages;
	double last_chat_read;
	double hold_until;
	long found;
	long failures;
	long tries;       /* of the current request */
	long skipped;     /* chats that could not be read in this pass */
	char *skip_error; /* the last of them */
	/* a token pause ended by a renewal: Graph delivers what it held, late;
	 * what the read-back raised from it is expected, not yet a gap */
	double held_from, held_to;
	json_t *late;         /* "chat message" of each expected */
	double late_deadline; /* 0: nothing expected */
	struct ev_timer *late_timer;
	/* for status */
	double last_pass;
	double last_recovery;
	long recovered;
	char *last_error;
};

static void issue(struct poller *p);
static void next_chat(struct poller *p);

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

static void
want_save(struct poller *p)
{
	store_meta_put(orgs_store(), p->org, "backfill_from", p->want_from);
	store_meta_put(orgs_store(), p->org, "backfill_to", p->want_to);
}

/* When the pass should run: a settled window, or the sweep. */
static void
schedule(struct poller *p)
{
	double now = now_wall(), due = p->sweep_at;

	if (p->busy)
		return;
	if (p->want_from > 0)
		due = fmin(due, p->want_to + orgs_conf()->backfill_delay);
	ev_timer_arm(p->timer, fmax(due - now, fmax(p->hold_until - now, 0)));
}

static void
merge(struct poller *p, double from, double to, const char *why)
{
	if (p->want_from == 0) {
		p->want_from = from;
		p->want_to = to;
		set_str(&p->want_why, why);
	} else {
		char *both = xprintf("%s; %s", p->want_why ? p->want_why : "", why);
		p->want_from = fmin(p->want_from, from);
		p->want_to = fmax(p->want_to, to);
		/* keep the reasons readable, not endless */
		if (strlen(both) < 300)
			set_str(&p->want_why, both);
		free(both);
	}
}

void
poll_backfill(struct org *o, double from, double to, const char *why)
{
	struct poller *p = o->poll;
	const char *org = o->conf->name;
	char *f, *t;

	if (!p || to <= from)
		return;
	merge(p, from, to, why);
	want_save(p);
	f = time_iso(from);
	t = time_iso(to);
	log_info("poll", "org %s: will read back %s to %s: %s", org, f, t, why);
	free(f);
	free(t);
	schedule(p);
}

void
poll_backfill_all(double from, double to, const char *why)
{
	for (size_t i = 0; i < orgs_count(); i++)
		poll_backfill(org_at(i), from, to, why);
}

void
poll_now(struct org *o)
{
	struct poller *p = o->poll;

	if (p)
		poll_backfill(o, p->watermark - SLACK, now_wall(),
			      "Graph reported missed notifications");
}

void
poll_auth_changed(struct org *o, bool usable)
{
	const char *org = o->conf->name;
	struct poller *p = o->poll;

	if (!p)
		return;
	if (!usable && p->lost_at == 0) {
		p->lost_at = now_wall();
		store_meta_put(orgs_store(), org, "auth_lost_at", p->lost_at);
	} else if (usable && p->lost_at > 0) {
		/* Graph pauses delivery while the subscription's token is dead */
		poll_backfill(o, p->lost_at - SLACK, now_wall(), "sign-in restored");
		p->lost_at = 0;
		store_meta_put(orgs_store(), org, "auth_lost_at", 0);
	}
	/* usable now (a first sign-in, too): a pass waiting for it is due
	 * when it was, not a RETRY_MIN later */
	if (usable)
		schedule(p);
}

static void
pass_end(struct poller *p, const char *error)
{
	double now = now_wall();

	p->busy = false;
	json_decref(p->chats);
	p->chats = NULL;
	set_str(&p->url, NULL);
	set_str(&p->last_error, error ? error : p->skipped ? p->skip_error : NULL);
	if (error) {
		/* the window goes back, to be read again later */
		/* never sooner than a sweep would come: a short
		 * reconcile_interval (tests) retries as often */
		double base = fmin(RETRY_MIN, orgs_conf()->reconcile_interval);
		double wait = backoff_delay(base, RETRY_MAX, p->failures, false);
		p->failures++;
		merge(p, p->from, p->to, p->why ? p->why : "retry");
		want_save(p);
		log_warnx("poll", "org %s: reading back failed (%s); again in %.0f s", p->org,
			  error, wait);
		p->hold_until = fmax(p->hold_until, now + wait);
	} else {
		p->failures = 0;
		p->last_pass = now;
		if (p->sweep) {
			p->watermark = p->to;
			store_meta_put(orgs_store(), p->org, "reconcile_watermark", p->watermark);
		}
		log_info("poll", "org %s: read back %s: %ld message(s) looked at", p->org,
			 p->sweep ? "the sweep" : p->why, p->found);
	}
	if (p->sweep && !error)
		p->sweep_at = now + orgs_conf()->reconcile_interval;
	else if (p->sweep)
		p->sweep_at = p->hold_until;
	schedule(p);
	/* the reconcile and delivery-gap alarms follow the pass's end */
	health_kick();
}

static struct poller *
reply_poller(void *arg, struct org **ret_org)
{
	struct org *o = org_deref(arg);
	struct poller *p = o ? o->poll : NULL;

	*ret_org = o;
	return p && p->busy ? p : NULL;
}

/* A request of the pass failed. Throttling and passing trouble are tried
 * again (as Graph asks, or after a few seconds) up to TRIES times. Then
 * the chat list failing ends the pass (the window goes back); one chat
 * failing is skipped, and said so, so that one bad chat cannot hold the
 * whole reconcile back for good. */
static void
answer_failed(struct poller *p, struct org *o, const struct hc_resp *resp, const char *junk)
{
	double now = now_wall(), wait = resp->retry_after;
	char *why;

	if (resp->status == 401)
		org_token_rejected(o);
	if (!junk && resp->status != 400 && resp->status != 403 && ++p->tries < TRIES) {
		wait = wait > 0 ? fmin(wait, RETRY_MAX) : 5.0 * p->tries;
		p->hold_until = now + wait;
		ev_timer_arm(p->timer, wait);
		return;
	}
	why = junk           ? xprintf("%s", junk)
	      : resp->status ? xprintf("HTTP %ld", resp->status)
			     : xprintf("%s", resp->error ? resp->error : "no answer");
	if (p->listing_chats) {
		pass_end(p, why);
	} else {
		const char *chat = json_string_value(json_array_get(p->chats, p->next_chat - 1));
		char *full = xprintf("chat %s could not be read back: %s", chat, why);
		p->skipped++;
		cnt_add(p->org, CNT_RECONCILE_SKIPPED_CHATS, 1);
		log_err("poll", "org %s: %s; going on with the others", p->org, full);
		set_str(&p->skip_error, full);
		free(full);
		next_chat(p);
	}
	free(why);
}

/* The webhook never brought an event: a delivery gap. */
static void
recovered(struct poller *p)
{
	p->recovered++;
	p->last_recovery = now_wall();
	store_meta_put(orgs_store(), p->org, "last_recovery", p->last_recovery);
	cnt_add(p->org, CNT_RECOVERED_BY_POLL, 1);
	log_err("poll",
		"org %s: an event was found by reading back, not by a notification: "
		"Graph is not delivering reliably",
		p->org);
	health_kick();
}

/* Graph's retry window for what it held, as far as the agent waits. */
static double
late_window(void)
{
	return fmin(HELD_RETRY, orgs_conf()->reconcile_interval);
}

static void
late_save(struct poller *p)
{
	store_meta_put(orgs_store(), p->org, "late_pending", (double)json_array_size(p->late));
	store_meta_put(orgs_store(), p->org, "late_deadline", p->late_deadline);
}

/* Raised by the read-back from a time Graph held: expected from Graph,
 * late, within its retry window counted from when the notice was made. The
 * held time is taken as it is (a minute's skew allowed before it): a notice
 * from before the pause was not held, and its loss is a gap now. */
static bool
expect_late(struct poller *p, const char *chat, const char *id, double created)
{
	double now = now_wall(), by = created + late_window();
	char *at;

	if (p->held_to > 0 && now >= p->held_to + late_window())
		p->held_from = p->held_to = 0; /* nothing from it can come any more */
	if (p->held_to <= 0 || created < p->held_from - HELD_SKEW || created > p->held_to ||
	    now >= by)
		return false;
	json_array_append_new(p->late, json_sprintf("%s %s", chat, id));
	p->late_deadline = fmax(p->late_deadline, by);
	late_save(p);
	ev_timer_arm(p->late_timer, p->late_deadline - now);
	at = time_iso(p->late_deadline);
	log_info("poll",
		 "org %s: read back chat %s message %s from Graph's token pause; Graph should "
		 "deliver it late, by %s",
		 p->org, chat, id, at);
	free(at);
	return true;
}

/* The wait is over: what Graph still has not delivered is a gap. */
static void
late_due(void *arg)
{
	struct poller *p = arg;
	size_t n = json_array_size(p->late);

	if (!ha_gate(p->late_timer))
		return;
	if (n > 0) {
		log_err(
		    "poll",
		    "org %s: Graph did not deliver %zu notice(s) it held during its token pause "
		    "(read back already)",
		    p->org, n);
		for (size_t i = 0; i < n; i++)
			recovered(p);
	}
	json_array_clear(p->late);
	p->late_deadline = 0;
	late_save(p);
}

void
poll_held(struct org *o, double from, double to)
{
	struct poller *p = o->poll;

	if (!p)
		return;
	p->held_from = from;
	p->held_to = to;
}

void
poll_delivered(struct org *o, const char *chat_id, const char *message_id)
{
	struct poller *p = o->poll;
	char *key;
	json_t *k;
	size_t i;

	if (!p || json_array_size(p->late) == 0 || !chat_id || !message_id)
		return;
	key = xprintf("%s %s", chat_id, message_id);
	json_array_foreach (p->late, i, k) {
		if (!strcmp(json_string_value(k), key)) {
			json_array_remove(p->late, i);
			log_info("poll",
				 "org %s: Graph delivered late chat %s message %s, as it held it",
				 p->org, chat_id, message_id);
			break;
		}
	}
	free(key);
	if (json_array_size(p->late) == 0) {
		p->late_deadline = 0;
		ev_timer_stop(p->late_timer);
	}
	late_save(p);
}

/* One message of the window: raised if a rule matches. The webhook may
 * have it waiting in the inbox already: then it is not the poll's find. */
static int
look_at(struct poller *p, struct org *o, const char *chat, json_t *m)
{
	const char *id = json_string_value(json_object_get(m, "id"));
	int rc;

	if (!id || store_inbox_has(orgs_store(), p->org, chat, id))
		return 0;
	if (!json_object_get(m, "chatId"))
		json_object_set_new(m, "chatId", json_string(chat));
	p->found++;
	rc = proc_message(o, m, "poll", 0);
	/* the webhook never brought this one (or Graph holds it still) */
	if (rc == 1 && !expect_late(p, chat, id, gpage_time(m, "createdDateTime")))
		recovered(p);
	return rc;
}

/* A nextLink that is not Graph's own is never followed (it would carry
 * the org's token elsewhere): what it would have listed is not read, and
 * that is said, never passed off as read. */
static void
link_refused(struct poller *p)
{
	const char *why = "Graph's answer named a next page that is not on graph_endpoint: not "
			  "followed";

	p->skipped++;
	log_err("poll", "org %s: %s", p->org, why);
	set_str(&p->skip_error, why);
}

static void
messages_read(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct poller *p = reply_poller(arg, &o);
	const char *chat;
	bool older = false;
	struct gpage g;
	json_t *m;
	size_t i;

	if (!p)
		return;
	if (resp->status == 404 || resp->status == 403) {
		next_chat(p); /* a chat the user left meanwhile */
		return;
	}
	if (resp->status != 200) {
		answer_failed(p, o, resp, NULL);
		return;
	}
	chat = json_string_value(json_array_get(p->chats, p->next_chat - 1));
	if (gpage_parse(resp->body, resp->len, o->conf->graph_endpoint, &g) < 0) {
		answer_failed(p, o, resp, "Graph answered a message list that is not one");
		return;
	}
	p->tries = 0;
	/* Graph's default order, last modified first: once one was last
	 * touched before the window, every later one was made before it. A
	 * reaction to an old message brings it to the front: it is passed
	 * over, not taken for the end. */
	json_array_foreach (g.value, i, m) {
		double created = gpage_time(m, "createdDateTime");
		if (gpage_message_before(m, p->from)) {
			older = true;
			break;
		}
		if (created >= p->from && created <= p->to && look_at(p, o, chat, m) < 0) {
			gpage_clear(&g);
			pass_end(p, "the store failed");
			return;
		}
	}
	if (!older && g.bad_next)
		link_refused(p);
	if (!older && g.next) {
		set_str(&p->url, g.next);
		issue(p);
	} else {
		next_chat(p);
	}
	gpage_clear(&g);
}

static void
next_chat(struct poller *p)
{
	struct org *o = p->owner;
	json_t *chat = json_array_get(p->chats, p->next_chat);
	char *ec;

	if (!chat) {
		pass_end(p, NULL);
		return;
	}
	p->next_chat++;
	p->tries = 0;
	p->listing_chats = false;
	ec = url_encode(json_string_value(chat));
	/* no $orderby and so no $filter: GCC does not support it on a chat's
	 * messages (docs/reconcile.md); the default order is enough */
	free(p->url);
	p->url = xprintf("%s/v1.0/chats/%s/messages?$top=50", o->conf->graph_endpoint, ec);
	p->last_chat_read = 0; /* another chat: no need to wait */
	free(ec);
	issue(p);
}

static void
chats_listed(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct poller *p = reply_poller(arg, &o);
	const char *next;
	struct gpage g;

	if (!p)
		return;
	if (resp->status != 200) {
		answer_failed(p, o, resp, NULL);
		return;
	}
	if (gpage_parse(resp->body, resp->len, o->conf->graph_endpoint, &g) < 0) {
		answer_failed(p, o, resp, "Graph answered a chat list that is not one");
		return;
	}
	p->tries = 0;
	/* every page: where $orderby is not supported the chats come in no
	 * defined order, so a chat older than the window ends nothing */
	gpage_chats(&g, p->from, p->chats);
	next = g.next;
	if (g.bad_next)
		link_refused(p);
	if (next && ++p->pages >= PAGES_MAX) {
		/* the rest is not read: say so, never pass it off as read */
		char *why =
		    xprintf("more than %d pages of chats: the oldest were not read", PAGES_MAX);
		p->skipped++;
		log_err("poll", "org %s: %s", p->org, why);
		set_str(&p->skip_error, why);
		free(why);
		next = NULL;
	}
	if (next) {
		set_str(&p->url, next);
		issue(p);
	} else {
		next_chat(p);
	}
	gpage_clear(&g);
}

/* Makes p->url's request, when Graph's limits allow. */
static void
issue(struct poller *p)
{
	const char *token = org_access_token(p->owner, 0);
	double now = now_wall(), wait = p->hold_until - now;

	if (!p->listing_chats && p->last_chat_read > 0)
		wait = fmax(wait, p->last_chat_read + CHAT_GAP - now);
	if (wait > 0) {
		ev_timer_arm(p->timer, wait);
		return;
	}
	if (!token) {
		pass_end(p, "no usable access token");
		return;
	}
	if (!p->listing_chats)
		p->last_chat_read = now;
	if (hc_graph("GET", p->url, token, NULL, p->listing_chats ? chats_listed : messages_read,
		     org_ref(p->owner)) < 0)
		pass_end(p, "cannot start a request");
}

static void
pass_start(struct poller *p, struct org *o)
{
	double now = now_wall(), settled = now - orgs_conf()->backfill_delay;
	bool take = p->want_from > 0 && p->want_to <= settled;

	p->busy = true;
	p->sweep = now >= p->sweep_at;
	p->from = take ? p->want_from : 0;
	p->to = take ? p->want_to : 0;
	set_str(&p->why, take ? p->want_why : NULL);
	if (take) {
		p->want_from = p->want_to = 0;
		want_save(p);
	}
	if (p->sweep) {
		p->from = p->from > 0 ? fmin(p->from, p->watermark) : p->watermark;
		p->to = fmax(p->to, settled);
		if (!p->why)
			p->why = xstrdup("the daily sweep");
	}
	p->chats = json_array();
	p->next_chat = 0;
	p->pages = 0;
	p->found = 0;
	p->tries = 0;
	p->skipped = 0;
	p->listing_chats = true;
	free(p->url);
	/* no $orderby: the US Government clouds and China do not support it
	 * on List chats, and where it is ignored rather than refused an
	 * ordered read would stop early without a word (docs/reconcile.md) */
	p->url = xprintf("%s/v1.0/users/%s/chats?$expand=lastMessagePreview&$top=50",
			 o->conf->graph_endpoint, o->user_id);
	issue(p);
}

static void
on_timer(void *arg)
{
	struct poller *p = arg;
	struct org *o = p->owner;
	double now = now_wall();

	if (!ha_gate(p->timer))
		return;
	if (p->busy) {
		issue(p); /* a hold or the per-chat pause is over */
		return;
	}
	if (now < p->hold_until) {
		schedule(p);
		return;
	}
	if (!o->user_id || !org_access_token(o, 0) ||
	    (o->auth != ORG_VALID && o->auth != ORG_DEGRADED)) {
		/* nothing to read with; sign-in tells us when it is back */
		ev_timer_arm(p->timer, RETRY_MIN);
		return;
	}
	if (now >= p->sweep_at ||
	    (p->want_from > 0 && p->want_to + orgs_conf()->backfill_delay <= now))
		pass_start(p, o);
	else
		schedule(p);
}

/* Delivery is good while the subscription is active and the sign-in
 * usable; the last time that was so is where a backfill after downtime
 * starts. */
static void
good_tick(void *arg)
{
	struct poller *p = arg;
	struct org *o = p->owner;

	if (!ha_gate(p->good_timer))
		return;
	if ((o->auth == ORG_VALID || o->auth == ORG_DEGRADED) && subs_active(o))
		store_meta_put(orgs_store(), p->org, "delivery_good_until", now_wall());
	ev_timer_arm(p->good_timer, GOOD_TICK);
}

void
poll_delivery_good(struct org *o)
{
	store_meta_put(orgs_store(), o->conf->name, "delivery_good_until", now_wall());
}

void
poll_attach(struct org *o)
{
	struct poller *p = xcalloc(1, sizeof(*p));
	const char *org = o->conf->name;
	double now = now_wall(), good;

	p->owner = o;
	p->org = xstrdup(org);
	p->timer = ev_timer_new(on_timer, p);
	p->good_timer = ev_timer_new(good_tick, p);
	p->late_timer = ev_timer_new(late_due, p);
	p->late = json_array();
	/* expected late before a restart: which ones is not kept, so they
	 * cannot be matched; at the deadline they are a gap, never forgotten */
	p->late_deadline = store_meta_get(orgs_store(), org, "late_deadline", 0);
	for (long n = (long)store_meta_get(orgs_store(), org, "late_pending", 0); n > 0; n--)
		json_array_append_new(p->late, json_string(""));
	if (json_array_size(p->late) > 0)
		ev_timer_arm(p->late_timer, fmax(0, p->late_deadline - now));
	/* a first start: nothing before it was ever expected of this agent */
	p->watermark = store_meta_get(orgs_store(), org, "reconcile_watermark", -1);
	if (p->watermark < 0) {
		p->watermark = now;
		store_meta_put(orgs_store(), org, "reconcile_watermark", now);
	}
	p->want_from = store_meta_get(orgs_store(), org, "backfill_from", 0);
	p->want_to = store_meta_get(orgs_store(), org, "backfill_to", 0);
	if (p->want_from > 0)
		p->want_why = xstrdup("a window left from before the restart");
	p->lost_at = store_meta_get(orgs_store(), org, "auth_lost_at", 0);
	p->last_recovery = store_meta_get(orgs_store(), org, "last_recovery", 0);
	p->sweep_at = now + orgs_conf()->reconcile_interval;
	good = store_meta_get(orgs_store(), org, "delivery_good_until", 0);
	if (good > 0) {
		merge(p, good - SLACK, now, "the agent was not running");
		want_save(p);
		log_info("poll", "org %s: will read back the time the agent was not running", org);
	}
	ev_timer_arm(p->good_timer, GOOD_TICK);
	schedule(p);
	o->poll = p;
}

void
poll_detach(struct org *o)
{
	struct poller *p = o->poll;

	if (!p)
		return;
	/* delivery was good until now, if it was: a restart reads back from
	 * here, not from the last tick */
	good_tick(p);
	o->poll = NULL;
	ev_timer_free(p->timer);
	ev_timer_free(p->good_timer);
	ev_timer_free(p->late_timer);
	json_decref(p->late);
	json_decref(p->chats);
	free(p->org);
	free(p->url);
	free(p->why);
	free(p->want_why);
	free(p->last_error);
	free(p->skip_error);
	free(p);
}

void
poll_health(const struct org *o, struct poll_health *ret)
{
	const struct poller *p = o->poll;

	*ret = (struct poll_health){0};
	if (!p)
		return;
	ret->last_recovery = p->last_recovery;
	ret->delivery_gap =
	    p->last_recovery > 0 && now_wall() - p->last_recovery < orgs_conf()->event_alarm_hold;
	ret->known = p->last_error || p->last_pass > 0;
	ret->last_error = p->last_error;
}

json_t *
poll_status(const struct org *o)
{
	const struct poller *p = o->poll;
	struct poll_health h;
	json_t *j;

	if (!p)
		return json_null();
	poll_health(o, &h);
	j = json_pack("{s:b, s:I, s:b, s:I}", "delivery_gap", h.delivery_gap,
		      "recovered_since_start", (json_int_t)p->recovered, "busy", p->busy,
		      "skipped_chats", (json_int_t)p->skipped);
	json_object_set_new(j, "last_recovery", json_time(p->last_recovery));
	json_object_set_new(j, "last_pass", json_time(p->last_pass));
	json_object_set_new(j, "next_sweep", json_time(p->sweep_at));
	json_object_set_new(j, "swept_to", json_time(p->watermark));
	json_object_set_new(j, "pending_from", json_time(p->want_from));
	json_object_set_new(j, "pending_to", json_time(p->want_from > 0 ? p->want_to : 0));
	json_object_set_new(j, "pending_why",
			    p->want_from > 0 && p->want_why ? json_string(p->want_why)
							    : json_null());
	json_object_set_new(j, "last_error",
			    p->last_error ? json_string(p->last_error) : json_null());
	json_object_set_new(j, "late_expected", json_integer((json_int_t)json_array_size(p->late)));
	json_object_set_new(j, "late_deadline", json_time(p->late_deadline));
	return j;
}
