/*
 * One pass per org at a time: list chats, then each chat's messages, one
 * request after another (Graph allows about one GET per second per chat).
 * Messages newer than one interval are left to the webhook, so a notice
 * still on its way is not mistaken for a missed one; the watermark only
 * moves once a pass has finished.
 */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "proc.h"
#include "util.h"

#define PAGES_MAX  20
#define GAP_WINDOW (24 * 3600.0) /* a recovery keeps the delivery-gap flag this long */

struct poller {
	char *org;
	struct ev_timer *timer;
	bool busy;
	double watermark; /* messages modified after this are looked at */
	double pass_upto; /* this pass looks up to here */
	bool resync;      /* Graph said it missed some: look up to now */
	json_t *chats;    /* ids still to read in this pass */
	size_t next_chat;
	double last_pass;
	double last_recovery;
	long recovered;
	char *last_error;
};

static struct poller **pollers;
static size_t n_pollers;
static struct store *store;
static const struct conf *cfg;

static void pass_step(struct poller *p);

static struct poller *
find(const char *org)
{
	for (size_t i = 0; i < n_pollers; i++)
		if (pollers[i] && !strcmp(pollers[i]->org, org))
			return pollers[i];
	return NULL;
}

static void
pass_end(struct poller *p, const char *error)
{
	p->busy = false;
	json_decref(p->chats);
	p->chats = NULL;
	free(p->last_error);
	p->last_error = error ? xstrdup(error) : NULL;
	if (!error) {
		p->watermark = p->pass_upto;
		p->last_pass = now_wall();
		store_meta_put(store, p->org, "poll_watermark", p->watermark);
	} else {
		log_warnx("poll", "org %s: reconcile poll failed: %s", p->org, error);
	}
	ev_timer_arm(p->timer, cfg->poll_interval);
}

struct reply {
	char *org;
};

static struct poller *
reply_poller(void *arg, struct org **ret_org)
{
	char *name = arg;
	struct poller *p = find(name);

	free(name);
	*ret_org = p ? org_find(p->org) : NULL;
	return p && *ret_org && p->busy ? p : NULL;
}

static char *
http_problem(const struct hc_resp *resp)
{
	return resp->status ? xprintf("HTTP %ld", resp->status)
			    : xprintf("%s", resp->error ? resp->error : "no answer");
}

/* A request of the pass failed: the pass ends, and a refused token is
 * reported so the sign-in refreshes it. */
static void
pass_failed(struct poller *p, struct org *o, const struct hc_resp *resp)
{
	char *why = http_problem(resp);

	if (resp->status == 401)
		org_token_rejected(o);
	pass_end(p, why);
	free(why);
}

static void
messages_read(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct poller *p = reply_poller(arg, &o);
	json_t *j, *m;
	size_t i;

	if (!p)
		return;
	if (resp->status == 429) {
		/* the same chat again, after the time Graph gave */
		p->next_chat--;
		ev_timer_arm(p->timer, resp->retry_after > 0 ? resp->retry_after : 2);
		return;
	}
	if (resp->status != 200 && resp->status != 404 && resp->status != 403) {
		pass_failed(p, o, resp);
		return;
	}
	j = json_loadb(resp->body, resp->len, 0, NULL);
	json_array_foreach (json_object_get(j, "value"), i, m) {
		double mod;
		if (time_parse(json_string_value(json_object_get(m, "lastModifiedDateTime")),
			       &mod) < 0 ||
		    mod > p->pass_upto)
			continue;
		if (proc_message(o, m, "poll", 0) == 1) {
			/* the webhook never brought this one */
			p->recovered++;
			p->last_recovery = now_wall();
			store_count(store, p->org, "recovered_by_poll", 1);
			log_err("poll",
				"org %s: an event was found by the reconcile poll, not by "
				"a notification: Graph is not delivering reliably",
				p->org);
		}
	}
	json_decref(j);
	pass_step(p);
}

static void
pass_step(struct poller *p)
{
	struct org *o = org_find(p->org);
	const char *token = o ? org_access_token(o, 0) : NULL;
	json_t *chat = p->chats ? json_array_get(p->chats, p->next_chat) : NULL;
	char *since, *esince, *ec, *url;

	if (!token) {
		pass_end(p, "no usable access token");
		return;
	}
	if (!chat) {
		pass_end(p, NULL);
		return;
	}
	p->next_chat++;
	since = time_iso(p->watermark);
	esince = url_encode(since);
	ec = url_encode(json_string_value(chat));
	url = xprintf("%s/v1.0/chats/%s/messages?$top=50&$orderby=lastModifiedDateTime%%20desc"
		      "&$filter=lastModifiedDateTime%%20gt%%20%s",
		      o->conf->graph_endpoint, ec, esince);
	if (hc_graph("GET", url, token, NULL, messages_read, xstrdup(p->org)) < 0)
		pass_end(p, "cannot start a request");
	free(since);
	free(esince);
	free(ec);
	free(url);
}

static void chats_page(struct poller *p, struct org *o, const char *url);

static void
chats_listed(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct poller *p = reply_poller(arg, &o);
	json_t *j, *c;
	size_t i;
	const char *next;

	if (!p)
		return;
	if (resp->status != 200) {
		pass_failed(p, o, resp);
		return;
	}
	j = json_loadb(resp->body, resp->len, 0, NULL);
	json_array_foreach (json_object_get(j, "value"), i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		if (id)
			json_array_append_new(p->chats, json_string(id));
	}
	next = json_string_value(json_object_get(j, "@odata.nextLink"));
	if (next && json_array_size(p->chats) < PAGES_MAX * 50)
		chats_page(p, o, next);
	else
		pass_step(p);
	json_decref(j);
}

static void
chats_page(struct poller *p, struct org *o, const char *url)
{
	if (hc_graph("GET", url, org_access_token(o, 0), NULL, chats_listed, xstrdup(p->org)) < 0)
		pass_end(p, "cannot start a request");
}

static void
pass_start(void *arg)
{
	struct poller *p = arg;
	struct org *o = org_find(p->org);
	char *since, *esince, *url;

	if (p->busy)
		return;
	if (!o || !o->user_id || !org_access_token(o, 0) ||
	    (o->auth != ORG_VALID && o->auth != ORG_DEGRADED)) {
		ev_timer_arm(p->timer, cfg->poll_interval);
		return;
	}
	p->busy = true;
	p->chats = json_array();
	p->next_chat = 0;
	/* leave the newest to the webhook, unless Graph said it missed some */
	p->pass_upto = now_wall() - (p->resync ? 0 : cfg->poll_interval);
	p->resync = false;
	since = time_iso(p->watermark);
	esince = url_encode(since);
	url = xprintf("%s/v1.0/users/%s/chats?$top=50&$filter=lastUpdatedDateTime%%20gt%%20%s",
		      o->conf->graph_endpoint, o->user_id, esince);
	chats_page(p, o, url);
	free(since);
	free(esince);
	free(url);
}

static struct poller *
poller_new(const char *org)
{
	struct poller *p = xcalloc(1, sizeof(*p));

	p->org = xstrdup(org);
	p->timer = ev_timer_new(pass_start, p);
	/* first start: look back one interval more than the webhook covers */
	p->watermark =
	    store_meta_get(store, org, "poll_watermark", now_wall() - 2 * cfg->poll_interval);
	ev_timer_arm(p->timer, cfg->poll_interval);
	return p;
}

static void
poller_free(struct poller *p)
{
	ev_timer_free(p->timer);
	json_decref(p->chats);
	free(p->org);
	free(p->last_error);
	free(p);
}

void
poll_start(const struct conf *c, struct store *st)
{
	cfg = c;
	store = st;
	pollers = xcalloc(c->n_orgs, sizeof(*pollers));
	for (size_t i = 0; i < c->n_orgs; i++)
		pollers[n_pollers++] = poller_new(c->orgs[i]->name);
}

void
poll_reload(const struct conf *c)
{
	struct poller **next = xcalloc(c->n_orgs, sizeof(*next));

	cfg = c;
	for (size_t i = 0; i < c->n_orgs; i++) {
		struct poller *p = find(c->orgs[i]->name);
		for (size_t k = 0; p && k < n_pollers; k++)
			if (pollers[k] == p)
				pollers[k] = NULL;
		next[i] = p ? p : poller_new(c->orgs[i]->name);
	}
	for (size_t k = 0; k < n_pollers; k++)
		if (pollers[k])
			poller_free(pollers[k]);
	free(pollers);
	pollers = next;
	n_pollers = c->n_orgs;
}

void
poll_stop(void)
{
	for (size_t i = 0; i < n_pollers; i++)
		poller_free(pollers[i]);
	free(pollers);
	pollers = NULL;
	n_pollers = 0;
}

void
poll_now(const char *org)
{
	struct poller *p = find(org);

	if (!p)
		return;
	p->resync = true;
	if (!p->busy)
		ev_timer_arm(p->timer, 0);
}

json_t *
poll_status(const char *org)
{
	struct poller *p = find(org);
	json_t *j;
	char *t;

	if (!p)
		return json_null();
	j = json_pack("{s:b, s:I}", "delivery_gap",
		      p->last_recovery > 0 && now_wall() - p->last_recovery < GAP_WINDOW,
		      "recovered_since_start", (json_int_t)p->recovered);
	t = p->last_pass > 0 ? time_iso(p->last_pass) : NULL;
	json_object_set_new(j, "last_pass", t ? json_string(t) : json_null());
	free(t);
	json_object_set_new(j, "last_error",
			    p->last_error ? json_string(p->last_error) : json_null());
	return j;
}
