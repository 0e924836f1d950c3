#include <jansson.h>
#include <string.h>

#include "conf.h"
#include "counter.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "server.h"
#include "store.h"
#include "subs.h"
#include "util.h"
#include "webhook.h"

static struct store *store;
static void (*kick_processing)(void);
static const struct conf *cfg;

void
wh_configure(const struct conf *c)
{
	cfg = c;
}

/* allow_from: Graph's published source ranges, say. Behind a proxy the
 * client comes from X-Forwarded-For, believed from trust_proxy only. */
static bool
source_allowed(struct srv_req *r, struct org *o)
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
		const char *expected = subs_client_state(o->conf->name, sub);

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

static void
intake(struct srv_req *r, struct org *o, const char *kind)
{
	json_t *items, *ok, *tokens = NULL;

	if (!source_allowed(r, o) || validation(r))
		return;
	items = items_of(r, o, &tokens);
	if (!items)
		return;
	ok = authentic(r, o, items, tokens);
	json_decref(tokens);
	if (json_array_size(ok) > 0) {
		if (store_inbox_add(store, o->conf->name, kind, ok) < 0) {
			/* not stored, so not acknowledged: Graph delivers again */
			log_err("webhook",
				"org %s: could not store %zu notification(s); answering "
				"503 so Graph retries",
				o->conf->name, json_array_size(ok));
			srv_text(r, 503, "text/plain", "try again\n");
			/* Graph retries, but may give up: read this time back */
			poll_backfill(o->conf->name, now_wall() - 300, now_wall(),
				      "a 503 was answered to Graph");
			goto out;
		}
		cnt_add(o->conf->name,
			!strcmp(kind, "lifecycle") ? CNT_LIFECYCLE_RECEIVED : CNT_RECEIVED,
			(long)json_array_size(ok));
		subs_notified(o->conf->name);
		kick_processing();
	}
	srv_text(r, 202, "text/plain", "");
out:
	json_decref(ok);
	json_decref(items);
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
