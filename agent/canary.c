/*
 * One canary per org that sets canary_chat. The marker carries a random
 * nonce, so an old marker redelivered late, or someone quoting one, never
 * passes for the current one. A marker read back by the reconcile does not
 * count: only the webhook proves the webhook.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "canary.h"
#include "event.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "subs.h"
#include "util.h"

#define SLACK     300.0 /* clock skew between Graph and this host */
#define RETRY     300.0 /* a marker that could not be posted */
#define FIRST_GAP 30.0  /* the first marker after a start */

struct canary {
	char *org;
	struct ev_timer *send_timer;
	struct ev_timer *wait_timer;
	char *nonce; /* of the marker on its way; NULL: none */
	bool posting;
	double sent_at;
	double delivered_at; /* the last marker that came back */
	double read_back_to; /* a miss has had the time up to here read back */
	double missed_at;    /* 0: not missed */
	char *last_error;
};

static struct canary **canaries;
static size_t n_canaries;
static struct store *store;
static const struct conf *cfg;

static struct canary *
find(const char *org)
{
	for (size_t i = 0; i < n_canaries; i++)
		if (canaries[i] && !strcmp(canaries[i]->org, org))
			return canaries[i];
	return NULL;
}

static void
set_error(struct canary *c, const char *why)
{
	free(c->last_error);
	c->last_error = why ? xstrdup(why) : NULL;
	if (why)
		log_warnx("canary", "org %s: %s", c->org, why);
}

static void
posted(const struct hc_resp *resp, void *arg)
{
	char *name = arg;
	struct canary *c = find(name);
	struct conf_org *co = conf_org_find(cfg, name);
	char *why;

	free(name);
	if (!c || !co)
		return;
	c->posting = false;
	if (resp->status == 201) {
		c->sent_at = now_wall();
		set_error(c, NULL);
		ev_timer_arm(c->wait_timer, co->canary_timeout);
		ev_timer_arm(c->send_timer, co->canary_interval);
		return;
	}
	why = resp->status == 403
		  ? xstrdup("posting the marker was refused (HTTP 403): has ChatMessage.Send "
			    "been consented, and is the service user in canary_chat?")
	      : resp->status ? xprintf("posting the marker failed: HTTP %ld", resp->status)
			     : xprintf("posting the marker failed: %s",
				       resp->error ? resp->error : "no answer");
	set_error(c, why);
	free(why);
	free(c->nonce);
	c->nonce = NULL;
	/* Graph's word on when to come back, else the sooner of the two */
	ev_timer_arm(c->send_timer,
		     resp->retry_after > 0 ? resp->retry_after : fmin(RETRY, co->canary_interval));
}

static void
send_marker(void *arg)
{
	struct canary *c = arg;
	struct org *o = org_find(c->org);
	struct conf_org *co = conf_org_find(cfg, c->org);
	const char *token = o ? org_access_token(o, 0) : NULL;
	char *ec, *url, *text, *content;
	json_t *body;

	if (!co || !co->canary_chat || c->posting)
		return;
	if (!token || !subs_active(c->org)) {
		/* no sign-in or no subscription: their own alarms say so */
		ev_timer_arm(c->send_timer, RETRY);
		return;
	}
	free(c->nonce);
	c->nonce = random_id(16);
	content = xprintf("ctteams delivery check %s (automatic; please ignore)", c->nonce);
	body = json_pack("{s:{s:s, s:s}}", "body", "contentType", "text", "content", content);
	text = json_dumps(body, JSON_COMPACT);
	ec = url_encode(co->canary_chat);
	url = xprintf("%s/v1.0/chats/%s/messages", co->graph_endpoint, ec);
	c->posting = true;
	if (hc_graph("POST", url, token, text, posted, xstrdup(c->org)) < 0) {
		c->posting = false;
		ev_timer_arm(c->send_timer, RETRY);
	}
	free(content);
	free(text);
	free(ec);
	free(url);
	json_decref(body);
}

/* The marker did not come back in time: delivery is broken. */
static void
missed(void *arg)
{
	struct canary *c = arg;
	double now = now_wall();
	/* each miss reads back only what earlier misses did not: a long
	 * outage costs one read-back per marker, never the whole time again */
	double from = fmax(c->delivered_at > 0 ? c->delivered_at : c->sent_at, c->read_back_to);

	if (!c->nonce)
		return;
	if (!c->missed_at) {
		c->missed_at = now;
		store_meta_put(store, c->org, "canary_missed_at", now);
		log_err("canary",
			"org %s: DELIVERY GAP: the canary marker posted %.0f s ago has not come "
			"back through the webhook; Graph is not delivering",
			c->org, now - c->sent_at);
	}
	poll_backfill(c->org, from - SLACK, now, "the delivery canary did not come back");
	c->read_back_to = now;
}

bool
canary_seen(const char *org, const char *chat_id, const char *content)
{
	struct canary *c = find(org);
	struct conf_org *co = cfg ? conf_org_find(cfg, org) : NULL;

	if (!c || !co || !co->canary_chat || !c->nonce || !chat_id || !content ||
	    strcmp(chat_id, co->canary_chat) != 0 || !strstr(content, c->nonce))
		return false;
	c->delivered_at = now_wall();
	store_meta_put(store, org, "canary_delivered_at", c->delivered_at);
	free(c->nonce);
	c->nonce = NULL;
	ev_timer_stop(c->wait_timer);
	if (c->missed_at) {
		log_info("canary", "org %s: the canary came back: delivery works again", org);
		c->missed_at = 0;
		store_meta_put(store, org, "canary_missed_at", 0);
	}
	return true;
}

static struct canary *
canary_new(const char *org)
{
	struct canary *c = xcalloc(1, sizeof(*c));

	c->org = xstrdup(org);
	c->send_timer = ev_timer_new(send_marker, c);
	c->wait_timer = ev_timer_new(missed, c);
	c->delivered_at = store_meta_get(store, org, "canary_delivered_at", 0);
	c->missed_at = store_meta_get(store, org, "canary_missed_at", 0);
	return c;
}

static void
canary_free(struct canary *c)
{
	ev_timer_free(c->send_timer);
	ev_timer_free(c->wait_timer);
	free(c->org);
	free(c->nonce);
	free(c->last_error);
	free(c);
}

/* Orgs with a canary get one; the first marker goes out soon after. */
static void
build(const struct conf *c)
{
	struct canary **next = xcalloc(c->n_orgs, sizeof(*next));

	cfg = c;
	for (size_t i = 0; i < c->n_orgs; i++) {
		struct canary *k = find(c->orgs[i]->name);
		for (size_t j = 0; k && j < n_canaries; j++)
			if (canaries[j] == k)
				canaries[j] = NULL;
		next[i] = k ? k : canary_new(c->orgs[i]->name);
		if (!c->orgs[i]->canary_chat) {
			ev_timer_stop(next[i]->send_timer);
			ev_timer_stop(next[i]->wait_timer);
		} else if (!ev_timer_armed(next[i]->send_timer) && !next[i]->posting) {
			ev_timer_arm(next[i]->send_timer, FIRST_GAP < c->orgs[i]->canary_interval
							      ? FIRST_GAP
							      : c->orgs[i]->canary_interval);
		}
	}
	for (size_t j = 0; j < n_canaries; j++)
		if (canaries[j])
			canary_free(canaries[j]);
	free(canaries);
	canaries = next;
	n_canaries = c->n_orgs;
}

void
canary_start(const struct conf *c, struct store *st)
{
	store = st;
	build(c);
}

void
canary_reload(const struct conf *c)
{
	build(c);
}

void
canary_stop(void)
{
	for (size_t i = 0; i < n_canaries; i++)
		canary_free(canaries[i]);
	free(canaries);
	canaries = NULL;
	n_canaries = 0;
}

json_t *
canary_status(const char *org)
{
	struct canary *c = find(org);
	struct conf_org *co = cfg ? conf_org_find(cfg, org) : NULL;
	json_t *j;

	if (!c || !co || !co->canary_chat)
		return json_null();
	j = json_pack("{s:b}", "missed", c->missed_at > 0);
	json_object_set_new(j, "last_sent", json_time(c->sent_at));
	json_object_set_new(j, "last_delivered", json_time(c->delivered_at));
	json_object_set_new(j, "missed_since", json_time(c->missed_at));
	json_object_set_new(j, "last_error",
			    c->last_error ? json_string(c->last_error) : json_null());
	return j;
}
