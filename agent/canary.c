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
#include "ha.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "subs.h"
#include "util.h"

#define SLACK     300.0  /* clock skew between Graph and this host */
#define RETRY     300.0  /* a marker that could not be posted */
#define FIRST_GAP 30.0   /* the first marker after a start */
#define BACKOFF   3600.0 /* the second read-back of one outage, then doubling */

struct canary {
	struct org *owner; /* it lives and dies with its org */
	char *org;
	struct ev_timer *send_timer;
	struct ev_timer *wait_timer;
	char *nonce; /* of the marker on its way; NULL: none */
	bool posting;
	double sent_at;
	double delivered_at;   /* the last marker that came back */
	double read_back_to;   /* a miss has had the time up to here read back */
	double missed_at;      /* 0: not missed */
	double next_read_back; /* the next miss reads back from then on; 0: the sweep does */
	double read_back_gap;  /* the wait after the next read-back */
	char *last_error;
};

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
	struct org *o = org_deref(arg);
	struct canary *c = o ? o->canary : NULL;
	const struct conf_org *co = o ? o->conf : NULL;
	char *why;

	if (!c)
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
	struct org *o = c->owner;
	const struct conf_org *co = o->conf;
	const char *token;

	if (!ha_gate(c->send_timer))
		return;
	token = org_access_token(o, 0);
	char *ec, *url, *text, *content;
	json_t *body;

	if (!co->canary_chat || c->posting)
		return;
	if (!token || !subs_active(o)) {
		/* no sign-in or no subscription: their own alarms say so */
		ev_timer_arm(c->send_timer, fmin(RETRY, co->canary_interval));
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
	if (hc_graph("POST", url, token, text, posted, org_ref(c->owner)) < 0) {
		c->posting = false;
		ev_timer_arm(c->send_timer, RETRY);
	}
	free(content);
	free(text);
	free(ec);
	free(url);
	json_decref(body);
}

double
canary_backoff(double *gap, double sweep)
{
	*gap = *gap > 0 ? fmin(2 * *gap, sweep) : fmin(BACKOFF, sweep);
	return *gap < sweep ? *gap : 0;
}

/* Reads back what no read-back of this outage has read yet. */
static void
read_back(struct canary *c, double now)
{
	double from = fmax(c->delivered_at > 0 ? c->delivered_at : c->sent_at, c->read_back_to);

	poll_backfill(c->owner, from - SLACK, now, "the delivery canary did not come back");
	c->read_back_to = now;
}

/*
 * The marker did not come back in time: delivery is broken. The first miss
 * reads back at once; while the outage lasts, later misses read back after
 * 1 h, then 2 h, 4 h ... and once the wait reaches reconcile_interval the
 * daily sweep reads the rest. A marker every canary_interval must not
 * become a read of every chat every hour: Microsoft allows about one a day
 * (docs/reconcile.md).
 */
static void
missed(void *arg)
{
	struct canary *c = arg;
	double now = now_wall(), sweep = orgs_conf()->reconcile_interval;

	if (!ha_gate(c->wait_timer))
		return;
	if (!c->nonce)
		return;
	if (!c->missed_at) {
		c->missed_at = now;
		store_meta_put(orgs_store(), c->org, "canary_missed_at", now);
		log_err("canary",
			"org %s: DELIVERY GAP: the canary marker posted %.0f s ago has not come "
			"back through the webhook; Graph is not delivering",
			c->org, now - c->sent_at);
		c->next_read_back = now;
		c->read_back_gap = 0;
	}
	if (c->next_read_back > 0 && now >= c->next_read_back) {
		double wait = canary_backoff(&c->read_back_gap, sweep);
		read_back(c, now);
		c->next_read_back = wait > 0 ? now + wait : 0;
	}
	health_kick();
}

bool
canary_seen(struct org *o, const char *chat_id, const char *content)
{
	struct canary *c = o->canary;
	const struct conf_org *co = o->conf;
	const char *org = co->name;

	if (!c || !co->canary_chat || !c->nonce || !chat_id || !content ||
	    strcmp(chat_id, co->canary_chat) != 0 || !strstr(content, c->nonce))
		return false;
	/* what the backed-off read-backs of an outage left, once, unless the
	 * sweep has taken the outage over */
	if (c->missed_at && c->next_read_back > 0)
		read_back(c, now_wall());
	c->delivered_at = now_wall();
	store_meta_put(orgs_store(), org, "canary_delivered_at", c->delivered_at);
	free(c->nonce);
	c->nonce = NULL;
	ev_timer_stop(c->wait_timer);
	if (c->missed_at) {
		log_info("canary", "org %s: the canary came back: delivery works again", org);
		c->missed_at = 0;
		c->next_read_back = 0;
		store_meta_put(orgs_store(), org, "canary_missed_at", 0);
		health_kick();
	}
	return true;
}

void
canary_attach(struct org *o)
{
	struct canary *c = xcalloc(1, sizeof(*c));
	const char *org = o->conf->name;

	c->owner = o;
	c->org = xstrdup(org);
	c->send_timer = ev_timer_new(send_marker, c);
	c->wait_timer = ev_timer_new(missed, c);
	c->delivered_at = store_meta_get(orgs_store(), org, "canary_delivered_at", 0);
	c->missed_at = store_meta_get(orgs_store(), org, "canary_missed_at", 0);
	/* an outage that went on over a restart: its backoff starts again
	 * (the time the agent was away is read back anyway) */
	if (c->missed_at > 0)
		c->next_read_back = now_wall();
	o->canary = c;
	canary_configure(o);
}

/* With a canary_chat, the first marker goes out soon after it is set;
 * without, nothing is sent or waited for. */
void
canary_configure(struct org *o)
{
	struct canary *c = o->canary;
	const struct conf_org *co = o->conf;

	if (!co->canary_chat) {
		ev_timer_stop(c->send_timer);
		ev_timer_stop(c->wait_timer);
	} else if (!ev_timer_armed(c->send_timer) && !c->posting) {
		ev_timer_arm(c->send_timer,
			     FIRST_GAP < co->canary_interval ? FIRST_GAP : co->canary_interval);
	}
}

void
canary_detach(struct org *o)
{
	struct canary *c = o->canary;

	if (!c)
		return;
	o->canary = NULL;
	ev_timer_free(c->send_timer);
	ev_timer_free(c->wait_timer);
	free(c->org);
	free(c->nonce);
	free(c->last_error);
	free(c);
}

double
canary_missed_since(const struct org *o)
{
	return o->canary && o->conf->canary_chat ? o->canary->missed_at : 0;
}

json_t *
canary_status(const struct org *o)
{
	const struct canary *c = o->canary;
	json_t *j;

	if (!c || !o->conf->canary_chat)
		return json_null();
	j = json_pack("{s:b}", "missed", c->missed_at > 0);
	json_object_set_new(j, "last_sent", json_time(c->sent_at));
	json_object_set_new(j, "last_delivered", json_time(c->delivered_at));
	json_object_set_new(j, "missed_since", json_time(c->missed_at));
	json_object_set_new(j, "last_error",
			    c->last_error ? json_string(c->last_error) : json_null());
	return j;
}
