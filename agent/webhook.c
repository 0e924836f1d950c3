#include <jansson.h>
#include <string.h>

#include "conf.h"
#include "counter.h"
#include "event.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "server.h"
#include "store.h"
#include "subs.h"
#include "util.h"
#include "webhook.h"

static struct store *store;
static struct ev_timer *defer_timer; /* large bodies, decided a slice a turn */
static void deferred_run(void *arg);
static void (*kick_processing)(void);
static const struct conf *cfg;

void
wh_configure(const struct conf *c)
{
	cfg = c;
}

/* allow_from: Graph's published source ranges, say. Behind a proxy the
 * client comes from X-Forwarded-For, believed from trust_proxy only.
 * Checked once the header is in, before any body is read. */
bool
wh_check_source(struct srv_req *r, struct org *o)
{
	char client[128];

	if (!cfg || cfg->allow_from.n == 0)
		return true;
	cidr_client(&cfg->trust_proxy, srv_peer(r), srv_header(r, "X-Forwarded-For"), client,
		    sizeof(client));
	if (cidr_match(&cfg->allow_from, client))
		return true;
	/* anyone can cause these: counted in memory, said at a bounded rate */
	cnt_add(o->conf->name, CNT_REJECTED_SOURCE, 1);
	log_warn_limited("webhook", "source", 60,
			 "org %s: refused a webhook call from %s (not in allow_from)",
			 o->conf->name, client);
	srv_text(r, 403, "text/plain", "forbidden\n");
	return false;
}

void
wh_init(struct store *st, void (*kick)(void))
{
	store = st;
	kick_processing = kick;
	if (!defer_timer)
		defer_timer = ev_timer_new(deferred_run, NULL);
}

/* Graph validates both URLs with ?validationToken=...: echo it, decoded
 * (MHD has decoded the query), as text/plain within 10 s. */
static bool
validation(struct srv_req *r)
{
	const char *token = srv_arg(r, "validationToken");

	if (!token)
		return false;
	srv_text(r, 200, "text/plain; charset=utf-8", token);
	return true;
}

static void
reject(struct org *o, const char *reason, long n)
{
	cnt_add_name(o->conf->name, reason, n);
}

/* Parses the body; NULL after answering when it is not a notification. */
static json_t *
items_of(struct srv_req *r, struct org *o, json_t **ret_tokens)
{
	const char *ct = srv_header(r, "Content-Type");
	size_t len;
	const char *body = srv_body(r, &len);
	json_t *j, *value;

	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		reject(o, "rejected_content_type", 1);
		srv_text(r, 415, "text/plain", "expected application/json\n");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	value = json_object_get(j, "value");
	if (!json_is_array(value)) {
		reject(o, "rejected_malformed", 1);
		log_warn_limited("webhook", "malformed", 60,
				 "org %s: malformed notification from %s", o->conf->name,
				 srv_peer(r));
		srv_text(r, 400, "text/plain", "expected {\"value\": [...]}\n");
		json_decref(j);
		return NULL;
	}
	if (json_array_size(value) > WH_MAX_ITEMS) {
		reject(o, "rejected_too_many", 1);
		srv_text(r, 413, "text/plain", "too many items\n");
		json_decref(j);
		return NULL;
	}
	json_incref(value);
	/* rich notifications: the tokens vouch for the whole POST; each item
	 * keeps them, to be checked when it is processed */
	*ret_tokens = json_incref(json_object_get(j, "validationTokens"));
	json_decref(j);
	return value;
}

/* Keeps the items that are ours: subscription known, clientState equal,
 * tenant right. The clientState is dropped before anything is stored. */
static json_t *
authentic(struct srv_req *r, struct org *o, json_t *items, json_t *tokens)
{
	json_t *ok = json_array(), *it;
	size_t i, forged = 0;
	bool tenant_is_id = strchr(o->conf->tenant_id, '-') != NULL;

	json_array_foreach (items, i, it) {
		const char *sub = json_string_value(json_object_get(it, "subscriptionId"));
		const char *cs = json_string_value(json_object_get(it, "clientState"));
		const char *tid = json_string_value(json_object_get(it, "tenantId"));
		const char *expected = subs_client_state(o, sub);

		if (!json_is_object(it) || !expected) {
			reject(o, "rejected_unknown_subscription", 1);
			continue;
		}
		if (!secret_equal(cs, expected)) {
			reject(o, "rejected_client_state", 1);
			forged++;
			continue;
		}
		if (tenant_is_id && (!tid || strcasecmp(tid, o->conf->tenant_id) != 0)) {
			reject(o, "rejected_tenant", 1);
			continue;
		}
		json_t *copy = json_deep_copy(it);
		json_object_del(copy, "clientState");
		if (json_is_object(json_object_get(copy, "encryptedContent")))
			json_object_set(copy, "validationTokens", tokens ? tokens : json_null());
		json_array_append_new(ok, copy);
	}
	/* a POST full of forged items is one event, not one per item */
	if (forged)
		log_warn_limited("webhook", "client-state", 60,
				 "org %s: %zu notification(s) from %s carried the wrong "
				 "clientState; dropped as forged",
				 o->conf->name, forged, srv_peer(r));
	return ok;
}

/*
 * Group commit: the notifications one run of the listener takes in wait,
 * suspended, and are written in one transaction after the run; each 202
 * goes out once the transaction holding it is durable. A burst costs one
 * fsync per run of the listener, not one per POST.
 */
struct held {
	struct srv_req *req;
	char *org;
	const char *kind;
	json_t *items;
};

static struct held *held;
static size_t n_held, cap_held;

static void
hold(struct srv_req *r, struct org *o, const char *kind, json_t *items)
{
	if (n_held == cap_held) {
		cap_held = cap_held ? cap_held * 2 : 32;
		held = xrealloc(held, cap_held * sizeof(*held));
	}
	held[n_held++] = (struct held){r, xstrdup(o->conf->name), kind, items};
	srv_suspend(r);
}

/* The commit failed: nothing of the batch is acknowledged. */
static void
refuse_batch(void)
{
	log_err("webhook",
		"could not store %zu POST(s) of notifications; answering 503 so Graph retries",
		n_held);
	for (size_t i = 0; i < n_held; i++) {
		srv_text(held[i].req, 503, "text/plain", "try again\n");
		/* Graph retries, but may give up: read this time back */
		struct org *o = org_find(held[i].org);
		if (o && (i == 0 || strcmp(held[i - 1].org, held[i].org) != 0))
			poll_backfill(o, now_wall() - 300, now_wall(),
				      "a 503 was answered to Graph");
	}
}

bool
wh_flush(void)
{
	struct store_inbox_new *v;
	size_t n = n_held;

	if (!n)
		return false;
	v = xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct store_inbox_new){held[i].org, held[i].kind, held[i].items};
	if (store_inbox_add_batch(store, v, n) < 0) {
		refuse_batch();
	} else {
		for (size_t i = 0; i < n; i++) {
			cnt_add(held[i].org,
				!strcmp(held[i].kind, "lifecycle") ? CNT_LIFECYCLE_RECEIVED
								   : CNT_RECEIVED,
				(long)json_array_size(held[i].items));
			struct org *o = org_find(held[i].org);
			if (o)
				subs_notified(o);
			srv_text(held[i].req, 202, "text/plain", "");
		}
		kick_processing();
	}
	for (size_t i = 0; i < n; i++) {
		free(held[i].org);
		json_decref(held[i].items);
	}
	free(v);
	n_held = 0;
	return true;
}

/* Parse, check and hold (or answer) one POST. */
static void
decide(struct srv_req *r, struct org *o, const char *kind)
{
	json_t *items, *ok, *tokens = NULL;

	items = items_of(r, o, &tokens);
	if (!items)
		return;
	ok = authentic(r, o, items, tokens);
	json_decref(tokens);
	json_decref(items);
	if (json_array_size(ok) > 0) {
		hold(r, o, kind, ok);
		return;
	}
	json_decref(ok);
	srv_text(r, 202, "text/plain", "");
}

/*
 * Large bodies wait their turn. Parsing a POST of 1,000 items takes a few
 * milliseconds; thirty such POSTs (forged, say) parsed in one run of the
 * listener would hold a one-item notification from Graph behind them. So
 * a body over WH_SMALL is set aside, suspended, and decided a few
 * milliseconds' worth per loop turn, while small ones are decided at once.
 */
#define WH_SMALL      (16 * 1024)
#define WH_SLICE_TIME 0.005

struct deferred {
	struct srv_req *req;
	char *org;
	const char *kind;
};

static struct deferred *deferred;
static size_t n_deferred, cap_deferred;
static void
defer(struct srv_req *r, struct org *o, const char *kind)
{
	if (n_deferred == cap_deferred) {
		cap_deferred = cap_deferred ? cap_deferred * 2 : 32;
		deferred = xrealloc(deferred, cap_deferred * sizeof(*deferred));
	}
	deferred[n_deferred++] = (struct deferred){r, xstrdup(o->conf->name), kind};
	srv_suspend(r);
	ev_timer_arm(defer_timer, 0);
}

/* Decides deferred POSTs, oldest first, until the slice is used (all of
 * them when slice < 0); commits what was held. */
static void
decide_deferred(double slice)
{
	double end = now_mono() + slice;
	size_t done = 0;

	while (done < n_deferred && (slice < 0 || done == 0 || now_mono() < end)) {
		struct deferred *d = &deferred[done++];
		struct org *o = org_find(d->org);
		if (o)
			decide(d->req, o, d->kind);
		else /* removed by a reload meanwhile */
			srv_text(d->req, 404, "text/plain", "no such org\n");
		free(d->org);
	}
	if (done && done < n_deferred)
		memmove(deferred, deferred + done, (n_deferred - done) * sizeof(*deferred));
	n_deferred -= done;
	wh_flush();
	if (n_deferred)
		ev_timer_arm(defer_timer, 0);
}

static void
deferred_run(void *arg)
{
	(void)arg;
	decide_deferred(WH_SLICE_TIME);
}

static void
intake(struct srv_req *r, struct org *o, const char *kind)
{
	size_t len;

	if (validation(r))
		return;
	srv_body(r, &len);
	if (len > WH_SMALL)
		defer(r, o, kind);
	else
		decide(r, o, kind);
}

void
wh_finish(void)
{
	decide_deferred(-1);
}

void
wh_shutdown(void)
{
	/* srv_stop decided and flushed what the last runs took in */
	for (size_t i = 0; i < n_held; i++) {
		free(held[i].org);
		json_decref(held[i].items);
	}
	free(held);
	for (size_t i = 0; i < n_deferred; i++)
		free(deferred[i].org);
	free(deferred);
	deferred = NULL;
	n_deferred = cap_deferred = 0;
	ev_timer_free(defer_timer);
	defer_timer = NULL;
	held = NULL;
	n_held = cap_held = 0;
}

void
wh_notify(struct srv_req *r, struct org *o)
{
	intake(r, o, "notification");
}

void
wh_lifecycle(struct srv_req *r, struct org *o)
{
	intake(r, o, "lifecycle");
}
