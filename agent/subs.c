/*
 * One subscription per org. sub_step() decides what is due: reconcile at
 * start, create when there is none, renew within renew_margin of expiry.
 * One request per org at a time; failures are classified, kept for the
 * operator, and retried with backoff (honouring Retry-After).
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "ha.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "nkey.h"
#include "org.h"
#include "poll.h"
#include "subs.h"
#include "text.h"
#include "util.h"

enum sub_state { SUB_NONE, SUB_CREATING, SUB_ACTIVE, SUB_RENEWING, SUB_LAPSED, SUB_FAILED };

static const char *const state_names[] = {"none",     "creating", "active",
					  "renewing", "lapsed",   "failed"};

struct sub {
	struct org *owner; /* it lives and dies with its org */
	char *org;
	enum sub_state state;
	char *id;
	double expires;
	char *client_state;
	char *cert_id; /* the encryption certificate it was given (rich) */
	char *prev_id; /* the subscription just replaced: its late notifications */
	double reread; /* the standby read the store for a new one (monotonic) */
	char *prev_client_state;
	char *last_error;
	double last_error_at;
	double last_notification;
	double last_renewal;
	double granted;      /* the lifetime Graph gave at the last create or renewal */
	double max_lifetime; /* what a 400 said Graph takes at most; 0: none said */
	long failures;
	bool busy;
	bool reconciled;
	bool renew_now;       /* a lifecycle event asked for it */
	double refresh_asked; /* a fresher token was asked for this renewal */
	/* Graph pauses delivery once the access token it was last given
	 * expires; notices of the pause are lost unless read back */
	double token_expires;
	double token_given;           /* when Graph was given it */
	double sending_token_expires; /* of the request under way */
	double gap_from;              /* delivery may have stopped here (0: no) */
	struct ev_timer *timer;
};

#define SLACK        300.0     /* clock skew between Graph and this host */
#define REAUTH_TOKEN (15 * 60) /* a reauthorization hands Graph at least this */
#define REFRESH_WAIT 60.0      /* how long a renewal waits for that token */
#define TOKEN_LEAD   300.0     /* reauthorize this long before Graph's token ends */
#define REVOKE_CHECK 30.0      /* a refresh on reauthorizationRequired, at most this often */

static void sub_step(void *arg);

static void
set_state(struct sub *s, enum sub_state to, const char *why)
{
	enum sub_state from = s->state;

	s->state = to;
	if (why) {
		free(s->last_error);
		s->last_error = xstrdup(why);
		s->last_error_at = now_wall();
	}
	if (from == to)
		return;
	if ((to == SUB_LAPSED || to == SUB_FAILED) && !s->gap_from)
		s->gap_from = now_wall() - SLACK;
	if (to == SUB_LAPSED || to == SUB_FAILED)
		log_err("subs", "org %s: subscription %s -> %s: %s", s->org, state_names[from],
			state_names[to], why ? why : "");
	else
		log_info("subs", "org %s: subscription %s -> %s", s->org, state_names[from],
			 state_names[to]);
	/* the subscription alarm follows the edge now, not at the next tick */
	health_kick();
}

/* How long before Graph's token ends to reauthorize: TOKEN_LEAD, or a
 * quarter of the token's life when tokens are short. */
static double
lead_for(double expires, double given)
{
	return fmin(TOKEN_LEAD, (expires - given) / 4);
}

/* ... for the token Graph holds now */
static double
token_lead(const struct sub *s)
{
	return lead_for(s->token_expires, s->token_given);
}

bool
subs_reauth_needed(double held_expires, double held_given, double now)
{
	return held_expires <= 0 || held_expires - now <= lead_for(held_expires, held_given);
}

/* The life a token handed to Graph should have left: REAUTH_TOKEN, or half
 * a token's life when tokens are short (a refresh would not give more). */
static double
reauth_token(const struct org *o)
{
	return fmin(REAUTH_TOKEN, (o->access_expires - o->last_refresh) / 2);
}

static double
backoff(long failures)
{
	return backoff_delay(5, 600, failures, true);
}

static char *
graph_url(const struct org *o, const char *path)
{
	return xprintf("%s/v1.0%s", o->conf->graph_endpoint, path);
}

static char *
graph_message(const struct hc_resp *resp)
{
	json_t *j = json_loadb(resp->body, resp->len, 0, NULL);
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char *out;

	if (resp->status == 0)
		out = xprintf("Graph unreachable: %s", resp->error ? resp->error : "no answer");
	else if (code) {
		/* Graph's words, cut between characters */
		char *m = txt_clean(msg ? msg : "", 300), *c = txt_clean(code, 64);
		out = xprintf("HTTP %ld %s: %s", resp->status, c, m);
		free(m);
		free(c);
	} else
		out = xprintf("HTTP %ld", resp->status);
	json_decref(j);
	return out;
}

/* Graph's "Subscription expiration can only be N minutes in the future"
 * (a cloud's or a resource's limit below ours): kept, and the next
 * request asks a little less than it, for clock skew. true when adopted. */
static bool
adopt_limit(struct sub *s, const char *msg)
{
	const char *at = msg ? strstr(msg, "can only be ") : NULL;
	double minutes = at ? strtod(at + strlen("can only be "), NULL) : 0;

	if (minutes <= 0 || (s->max_lifetime > 0 && minutes * 60 >= s->max_lifetime))
		return false; /* none said, or nothing new: a loop otherwise */
	s->max_lifetime = minutes * 60;
	log_warnx("subs",
		  "org %s: Graph takes subscriptions of at most %.0f minutes here; asking that "
		  "(subscription_lifetime is %.0f minutes)",
		  s->org, minutes, orgs_conf()->subscription_lifetime / 60);
	return true;
}

/* The lifetime to ask for: subscription_lifetime, within a limit Graph
 * said (less a tenth of it, a minute at most, for clock skew). */
static double
lifetime(const struct sub *s)
{
	double life = orgs_conf()->subscription_lifetime;

	if (s->max_lifetime > 0)
		life = fmin(life, s->max_lifetime - fmin(60, s->max_lifetime / 10));
	return life;
}

/* A failed request: classify it, keep the reason, and retry when sensible. */
static void
failed(struct sub *s, struct org *o, const struct hc_resp *resp, const char *what)
{
	char *msg = graph_message(resp), *why = xprintf("%s: %s", what, msg);
	double wait;

	s->failures++;
	if (resp->status == 401) {
		/* the access token was refused: get a fresh one, then try again */
		org_token_rejected(o);
		wait = 30;
	} else if (resp->status == 400 && adopt_limit(s, msg)) {
		/* "can only be N minutes in the future": asked again at once,
		 * for what Graph takes */
		wait = 1;
	} else if (resp->status == 400) {
		/* Graph refused the request itself: most often the validation
		 * handshake on our public URL failed */
		set_state(s, SUB_FAILED, why);
		wait = 300;
	} else if (resp->status == 403) {
		set_state(s, SUB_FAILED, why);
		wait = 1800;
	} else if (resp->status == 409) {
		/* one exists already: reconcile deletes stale ones and adopts ours */
		s->reconciled = false;
		wait = 1;
	} else {
		wait = backoff(s->failures);
		if (resp->retry_after > wait)
			wait = resp->retry_after;
		if (s->state == SUB_CREATING || s->expires <= now_wall())
			set_state(s, SUB_FAILED, why);
		else
			log_warnx("subs", "org %s: %s (retry in %.0f s)", s->org, why, wait);
	}
	if (!s->last_error || strcmp(s->last_error, why) != 0) {
		free(s->last_error);
		s->last_error = xstrdup(why);
		s->last_error_at = now_wall();
	}
	ev_timer_arm(s->timer, wait);
	free(msg);
	free(why);
}

static void
forget(struct sub *s)
{
	if (s->id) {
		free(s->prev_id);
		free_secret(s->prev_client_state);
		s->prev_id = s->id;
		s->prev_client_state = s->client_state;
	}
	s->id = NULL;
	s->client_state = NULL;
	s->expires = 0;
	store_sub_delete(orgs_store(), s->org);
}

static void
save(struct sub *s)
{
	struct store_sub row = {s->id, s->expires, s->client_state, now_wall()};

	if (store_sub_put(orgs_store(), s->org, &row) < 0)
		log_err("subs", "org %s: could not save the subscription", s->org);
}

/* The subscription a reply is for: none if its org was removed or
 * replaced by a reload meanwhile (org_deref). */
static struct sub *
reply_target(void *arg, struct org **ret_org)
{
	struct org *o = org_deref(arg);
	struct sub *s = o ? o->sub : NULL;

	*ret_org = o;
	if (s)
		s->busy = false;
	return s;
}

static void
schedule(struct sub *s)
{
	/* renew_margin ahead, or half of what Graph granted when it granted
	 * less than that: a margin longer than the lifetime had the renewal
	 * due at once, again and again */
	double margin = s->granted > 0 ? fmin(orgs_conf()->renew_margin, s->granted / 2)
				       : orgs_conf()->renew_margin;
	double now = now_wall(), due = s->expires - margin - now;
	uint32_t r;

	if (s->state == SUB_ACTIVE && s->expires <= now) {
		set_state(s, SUB_LAPSED, "expired before it could be renewed");
		due = 0;
	}
	/* spread renewals of many orgs over a few minutes */
	random_bytes(&r, sizeof(r));
	due += fmin(margin * 0.05, 300) * ((double)r / (double)UINT32_MAX);
	/* do not wait for reauthorizationRequired (a lifecycle POST can be
	 * lost too): reauthorize before the token Graph holds expires */
	if (s->token_expires > 0 && s->token_expires - token_lead(s) > now)
		due = fmin(due, s->token_expires - token_lead(s) - now);
	ev_timer_arm(s->timer, due > 0 ? due : 0);
}

/* A create or renewal went through: if delivery may have stopped before it
 * (a lapse, a removal, a token Graph saw expire), read that window back. A
 * renewal that ends a token pause of the same subscription also tells the
 * reconcile that Graph held what came in the pause and delivers it late. */
static void
delivery_restored(struct sub *s, bool renewal)
{
	double now = now_wall();

	if (s->token_expires > 0 && s->token_expires < now && !s->gap_from) {
		s->gap_from = s->token_expires - SLACK;
		if (renewal)
			poll_held(s->owner, s->token_expires, now);
	}
	s->token_expires = s->sending_token_expires;
	s->token_given = now;
	store_meta_put(orgs_store(), s->org, "sub_token_expires", s->token_expires);
	store_meta_put(orgs_store(), s->org, "sub_token_given", s->token_given);
	poll_delivery_good(s->owner);
	if (s->gap_from) {
		poll_backfill(s->owner, s->gap_from, now, "the subscription was not delivering");
		s->gap_from = 0;
	}
}

static void
created(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct sub *s = reply_target(arg, &o);
	json_t *j;
	double exp;

	if (!s)
		return;
	j = json_loadb(resp->body, resp->len, 0, NULL);
	if (resp->status == 201 && json_string_value(json_object_get(j, "id")) &&
	    time_parse(json_string_value(json_object_get(j, "expirationDateTime")), &exp) == 0) {
		s->id = xstrdup(json_string_value(json_object_get(j, "id")));
		s->expires = exp;
		s->granted = exp - now_wall();
		s->failures = 0;
		s->last_renewal = now_wall();
		save(s);
		set_state(s, SUB_ACTIVE, NULL);
		delivery_restored(s, false);
		log_info("subs", "org %s: subscription %s created, expires %s", s->org, s->id,
			 json_string_value(json_object_get(j, "expirationDateTime")));
		schedule(s);
	} else {
		free_secret(s->client_state);
		s->client_state = NULL;
		failed(s, o, resp, "creating the subscription");
	}
	json_decref(j);
}

/* The service user's chat messages: every chat, including the group chat
 * Teams creates at call time for the emergency notice. */
static char *
resource_of(const struct org *o)
{
	return xprintf("/users/%s/chats/getAllMessages", o->user_id);
}

static void
create(struct sub *s, struct org *o, const char *token)
{
	char *exp = time_iso(now_wall() + lifetime(s));
	char *notify = xprintf("%s/api/org/%s/ms-teams/notify", orgs_conf()->public_url, s->org);
	char *life = xprintf("%s/api/org/%s/ms-teams/lifecycle", orgs_conf()->public_url, s->org);
	char *res = resource_of(o);
	char *url = graph_url(o, "/subscriptions"), *text;
	json_t *body;

	/* 256 bits; Graph allows 128 characters */
	free_secret(s->client_state);
	s->client_state = random_id(32);
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "changeType", "created",
			 "notificationUrl", notify, "lifecycleNotificationUrl", life, "resource",
			 res, "expirationDateTime", exp, "clientState", s->client_state,
			 "latestSupportedTlsVersion", "v1_2");
	if (o->conf->rich_notifications) {
		json_object_set_new(body, "includeResourceData", json_true());
		json_object_set_new(body, "encryptionCertificate",
				    json_string(nkey_current_cert()));
		json_object_set_new(body, "encryptionCertificateId",
				    json_string(nkey_current_id()));
		free(s->cert_id);
		s->cert_id = xstrdup(nkey_current_id());
	}
	text = json_dumps(body, JSON_COMPACT);
	s->sending_token_expires = o->access_expires;
	set_state(s, SUB_CREATING, NULL);
	s->busy = true;
	if (hc_graph("POST", url, token, text, created, org_ref(s->owner)) < 0) {
		s->busy = false;
		ev_timer_arm(s->timer, backoff(++s->failures));
	}
	/* the body held the clientState */
	free_secret(text);
	json_decref(body);
	free(exp);
	free(notify);
	free(life);
	free(res);
	free(url);
}

static void
renewed(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct sub *s = reply_target(arg, &o);
	json_t *j;
	double exp;

	if (!s)
		return;
	j = json_loadb(resp->body, resp->len, 0, NULL);
	if (resp->status == 200 &&
	    time_parse(json_string_value(json_object_get(j, "expirationDateTime")), &exp) == 0) {
		s->expires = exp;
		s->granted = exp - now_wall();
		s->failures = 0;
		s->renew_now = false;
		s->refresh_asked = 0;
		s->last_renewal = now_wall();
		save(s);
		set_state(s, SUB_ACTIVE, NULL);
		delivery_restored(s, true);
		log_debug("subs", "org %s: subscription renewed to %s", s->org,
			  json_string_value(json_object_get(j, "expirationDateTime")));
		schedule(s);
	} else if (resp->status == 404) {
		/* deleted behind our back, or expired: a new one, at once */
		log_warnx("subs", "org %s: subscription %s is gone at Graph; creating a new one",
			  s->org, s->id);
		forget(s);
		s->gap_from = (s->last_renewal > 0 ? s->last_renewal : now_wall()) - SLACK;
		set_state(s, SUB_LAPSED, "Graph no longer has the subscription (404 on renewal)");
		ev_timer_arm(s->timer, 0);
	} else {
		failed(s, o, resp, "renewing the subscription");
	}
	json_decref(j);
}

static void
renew(struct sub *s, struct org *o, const char *token)
{
	char *path = xprintf("/subscriptions/%s", s->id), *url = graph_url(o, path);
	char *exp = time_iso(now_wall() + lifetime(s));
	json_t *body = json_pack("{s:s}", "expirationDateTime", exp);
	char *text;

	/* a rotated encryption certificate rides along with a renewal */
	if (o->conf->rich_notifications &&
	    (!s->cert_id || strcmp(s->cert_id, nkey_current_id()) != 0)) {
		json_object_set_new(body, "encryptionCertificate",
				    json_string(nkey_current_cert()));
		json_object_set_new(body, "encryptionCertificateId",
				    json_string(nkey_current_id()));
		free(s->cert_id);
		s->cert_id = xstrdup(nkey_current_id());
		log_info("subs", "org %s: giving Graph the new encryption certificate %s", s->org,
			 s->cert_id);
	}
	text = json_dumps(body, JSON_COMPACT);

	/* a PATCH with a new expiry also reauthorizes: never both (Graph asks
	 * for ten minutes between a reauthorize and a PATCH) */
	if (s->state == SUB_ACTIVE)
		set_state(s, SUB_RENEWING, NULL);
	s->sending_token_expires = o->access_expires;
	s->busy = true;
	if (hc_graph("PATCH", url, token, text, renewed, org_ref(s->owner)) < 0) {
		s->busy = false;
		ev_timer_arm(s->timer, backoff(++s->failures));
	}
	free(text);
	json_decref(body);
	free(exp);
	free(path);
	free(url);
}

static void
deleted(const struct hc_resp *resp, void *arg)
{
	char *what = arg;

	if (resp->status != 204 && resp->status != 404)
		log_warnx("subs", "%s: delete answered HTTP %ld", what, resp->status);
	free(what);
}

/* DELETE of a subscription, answered by deleted(); what: for its log line */
static void
delete_sub(const char *url, const char *token, char *what)
{
	/* a subscription is the active agent's to delete: one that lost the
	 * duties' lease, or never held it, could delete the one in use */
	if (!ha_may_act(1)) {
		log_warnx("subs", "%s: not deleted: this agent does not hold the duties", what);
		free(what);
		return;
	}
	/* not started: no answer will come to free what */
	if (hc_graph("DELETE", url, token, NULL, deleted, what) < 0)
		free(what);
}

static void
listed(const struct hc_resp *resp, void *arg)
{
	struct org *o;
	struct sub *s = reply_target(arg, &o);
	json_t *j, *v;
	size_t i;
	bool found = false;
	char *ours;

	if (!s)
		return;
	if (resp->status == 401) {
		failed(s, o, resp, "listing subscriptions");
		return;
	}
	s->reconciled = true;
	if (resp->status != 200) {
		/* without the list, a renewal (404 if gone) or a create (409 if
		 * duplicate) still finds the truth */
		char *msg = graph_message(resp);
		log_warnx("subs", "org %s: cannot list subscriptions (%s); carrying on", s->org,
			  msg);
		free(msg);
		ev_timer_arm(s->timer, 0);
		return;
	}
	ours = xprintf("%s/api/org/%s/ms-teams/notify", orgs_conf()->public_url, s->org);
	j = json_loadb(resp->body, resp->len, 0, NULL);
	json_array_foreach (json_object_get(j, "value"), i, v) {
		const char *id = json_string_value(json_object_get(v, "id"));
		const char *url = json_string_value(json_object_get(v, "notificationUrl"));
		double exp;
		if (!id || !url || strcmp(url, ours) != 0)
			continue;
		/* one made for the other mode (rich or basic) is replaced */
		bool mode_ok = json_is_true(json_object_get(v, "includeResourceData")) ==
			       o->conf->rich_notifications;
		if (s->id && !strcmp(id, s->id) && mode_ok &&
		    time_parse(json_string_value(json_object_get(v, "expirationDateTime")), &exp) ==
			0) {
			found = true;
			s->expires = exp;
			free(s->cert_id);
			s->cert_id = xstrdup(
			    json_string_value(json_object_get(v, "encryptionCertificateId")));
			save(s);
			continue;
		}
		/* ours by URL, but not the one whose clientState we hold */
		if (!org_access_token(o, 0))
			continue;
		char *path = xprintf("/subscriptions/%s", id), *u = graph_url(o, path);
		log_info("subs", "org %s: deleting stale subscription %s", s->org, id);
		delete_sub(u, org_access_token(o, 0),
			   xprintf("org %s: subscription %s", s->org, id));
		free(path);
		free(u);
	}
	if (s->id && !found) {
		log_warnx("subs", "org %s: subscription %s is not at Graph any more", s->org,
			  s->id);
		forget(s);
	}
	if (s->id)
		set_state(s, SUB_ACTIVE, NULL);
	json_decref(j);
	free(ours);
	ev_timer_arm(s->timer, 0);
}

static void
reconcile(struct sub *s, struct org *o, const char *token)
{
	char *url = graph_url(o, "/subscriptions");

	s->busy = true;
	if (hc_graph("GET", url, token, NULL, listed, org_ref(s->owner)) < 0) {
		s->busy = false;
		ev_timer_arm(s->timer, backoff(++s->failures));
	}
	free(url);
}

static void
sub_step(void *arg)
{
	struct sub *s = arg;
	struct org *o = s->owner;
	const char *token;

	if (!ha_gate(s->timer))
		return;
	/* just taken over: what the last active asked of Graph is answered
	 * (or given up) first, so that two subscriptions are not made */
	if (!ha_settled()) {
		ev_timer_arm(s->timer, ha_settle_left());
		return;
	}
	if (s->busy)
		return;
	if (s->state == SUB_ACTIVE && s->expires <= now_wall())
		set_state(s, SUB_LAPSED, "expired before it could be renewed");
	if (!o->user_id || (o->auth != ORG_VALID && o->auth != ORG_DEGRADED)) {
		/* nothing to do until someone signs in; org.c tells us then */
		if (s->id && s->expires <= now_wall())
			set_state(s, SUB_LAPSED,
				  "the sign-in is not usable, so it cannot be renewed");
		return;
	}
	token = org_access_token(o, 0);
	if (!token) {
		/* a refresh is due or under way; org.c calls back when it lands */
		ev_timer_arm(s->timer, 30);
		return;
	}
	if (s->id && s->token_expires > 0 && s->token_expires - now_wall() <= token_lead(s))
		s->renew_now = true;
	if (s->renew_now && s->id && !org_access_token(o, reauth_token(o))) {
		/* reauthorizationRequired: hand Graph a token that lasts, or it
		 * pauses delivery again soon; refresh first, briefly */
		double now = now_wall();
		if (!s->refresh_asked) {
			s->refresh_asked = now;
			log_info("subs", "org %s: refreshing the token before reauthorizing",
				 s->org);
			org_refresh_now(o);
		}
		if (now - s->refresh_asked < REFRESH_WAIT) {
			ev_timer_arm(s->timer, REFRESH_WAIT - (now - s->refresh_asked));
			return;
		}
		/* no fresher token came: a PATCH with the one Graph already holds
		 * changes nothing; the next refresh brings us back here */
		if (s->token_expires > 0 && o->access_expires <= s->token_expires &&
		    s->expires - now > orgs_conf()->renew_margin) {
			s->renew_now = false;
			s->refresh_asked = 0;
			schedule(s);
			return;
		}
	}
	nkey_rotate_if_due();
	if (!s->reconciled)
		reconcile(s, o, token);
	else if (!s->id)
		create(s, o, token);
	else if (s->renew_now || s->expires - now_wall() <= orgs_conf()->renew_margin ||
		 (o->conf->rich_notifications && s->cert_id &&
		  strcmp(s->cert_id, nkey_current_id()) != 0))
		renew(s, o, token);
	else
		schedule(s);
}

void
subs_org_changed(struct org *o)
{
	struct sub *s = o->sub;

	if (s && !s->busy)
		ev_timer_arm(s->timer, 0);
}

void
subs_attach(struct org *o)
{
	struct sub *s = xcalloc(1, sizeof(*s));
	const char *org = o->conf->name;
	struct store_sub row;

	s->owner = o;
	s->org = xstrdup(org);
	s->timer = ev_timer_new(sub_step, s);
	if (store_sub_get(orgs_store(), org, &row) == 0) {
		s->id = row.id;
		s->expires = row.expires;
		s->client_state = row.client_state;
		s->state = row.expires > now_wall() ? SUB_ACTIVE : SUB_LAPSED;
		s->token_expires = store_meta_get(orgs_store(), org, "sub_token_expires", 0);
		s->token_given = store_meta_get(orgs_store(), org, "sub_token_given", 0);
	}
	ev_timer_arm(s->timer, 0);
	o->sub = s;
}

void
subs_configure(struct org *o, const struct conf_org *old)
{
	/* another mode, or another Graph: the subscriptions there are looked
	 * at again, and one of the wrong mode replaced (listed) */
	if (old->rich_notifications != o->conf->rich_notifications ||
	    strcmp(old->graph_endpoint, o->conf->graph_endpoint) != 0)
		o->sub->reconciled = false;
	if (!o->sub->busy)
		ev_timer_arm(o->sub->timer, 0);
}

void
subs_detach(struct org *o)
{
	struct sub *s = o->sub;

	o->sub = NULL;
	if (!s)
		return;
	ev_timer_free(s->timer);
	free(s->org);
	free(s->id);
	free_secret(s->client_state);
	free(s->prev_id);
	free_secret(s->prev_client_state);
	free(s->cert_id);
	free(s->last_error);
	free(s);
}

/* The standby: the active made a subscription this agent has not read
 * yet. Its notifications may reach either agent, so the store is asked,
 * at most every two seconds; the one replaced stays known as before. */
static void
standby_reread(struct sub *s)
{
	struct store_sub row;
	double now = now_mono();

	if (ha_active() || now - s->reread < 2)
		return;
	s->reread = now;
	if (store_sub_get(orgs_store(), s->org, &row) != 0 || (s->id && !strcmp(row.id, s->id))) {
		store_sub_clear(&row);
		return;
	}
	free(s->prev_id);
	free_secret(s->prev_client_state);
	s->prev_id = s->id;
	s->prev_client_state = s->client_state;
	s->id = row.id;
	s->client_state = row.client_state;
	s->expires = row.expires;
	s->state = row.expires > now_wall() ? SUB_ACTIVE : SUB_LAPSED;
}

void
subs_standby_sync(struct org *o, const char *id, double expires)
{
	struct sub *s = o->sub;

	if (!s || !id)
		return;
	if (!s->id || strcmp(s->id, id) != 0) {
		s->reread = 0;
		standby_reread(s);
		return;
	}
	s->expires = expires;
	s->state = expires > now_wall() ? SUB_ACTIVE : SUB_LAPSED;
}

const char *
subs_client_state(const struct org *o, const char *sub_id)
{
	struct sub *s = o->sub;

	if (!s || !sub_id)
		return NULL;
	if ((!s->id || strcmp(s->id, sub_id)) && (!s->prev_id || strcmp(s->prev_id, sub_id)))
		standby_reread(s);
	if (s->id && !strcmp(s->id, sub_id))
		return s->client_state;
	if (s->prev_id && !strcmp(s->prev_id, sub_id))
		return s->prev_client_state;
	/* Graph may deliver before its 201 to our POST is read: while one is
	 * being created, its id is not known yet, but the clientState we sent
	 * with it is, and vouches for the notification */
	if (!s->id && s->state == SUB_CREATING && s->client_state)
		return s->client_state;
	return NULL;
}

void
subs_notified(struct org *o)
{
	struct sub *s = o->sub;

	if (s)
		s->last_notification = now_wall();
}

void
subs_lifecycle(struct org *o, const char *sub_id, const char *event)
{
	const char *org = o->conf->name;
	struct sub *s = o->sub;

	if (!s || !s->id || strcmp(s->id, sub_id) != 0) {
		log_info("subs", "org %s: lifecycle %s for a subscription no longer ours", org,
			 event);
		return;
	}
	if (!strcmp(event, "reauthorizationRequired") && s->state == SUB_ACTIVE &&
	    !subs_reauth_needed(s->token_expires, s->token_given, now_wall())) {
		/* the token Graph holds is not near its end (a notice that
		 * crossed our PATCH, or the 15-minute cadence): no PATCH; the
		 * agent reauthorizes on its own before that token ends. The
		 * notice also comes when the user's access was revoked, and
		 * does not say which: a refresh tells (it fails), at most
		 * every REVOKE_CHECK, so that a revoked sign-in is an alarm
		 * now, not when the token runs out */
		log_debug("subs",
			  "org %s: reauthorizationRequired; Graph's token is not near its end: "
			  "no PATCH",
			  org);
		if (now_wall() - o->last_refresh >= REVOKE_CHECK)
			org_refresh_now(o);
	} else if (!strcmp(event, "reauthorizationRequired")) {
		/* a fresh token, then one PATCH with a new expiry */
		log_info("subs", "org %s: Graph asks to reauthorize; renewing", org);
		s->renew_now = true;
		ev_timer_arm(s->timer, 0);
	} else if (!strcmp(event, "subscriptionRemoved")) {
		log_warnx("subs", "org %s: Graph removed the subscription; creating a new one",
			  org);
		forget(s);
		/* read back from shortly before, once the new one is made */
		s->gap_from = now_wall() - SLACK;
		set_state(s, SUB_LAPSED, "removed by Graph (subscriptionRemoved)");
		ev_timer_arm(s->timer, 0);
	} else if (!strcmp(event, "missed")) {
		log_warnx("subs", "org %s: Graph reports missed notifications; resyncing", org);
		poll_now(o);
	} else {
		log_info("subs", "org %s: lifecycle event '%.40s' ignored", org, event);
	}
}

int
subs_renew_now(struct org *o)
{
	struct sub *s = o->sub;

	if (!s || !s->id)
		return -1;
	s->renew_now = true;
	if (!s->busy)
		ev_timer_arm(s->timer, 0);
	return 0;
}

bool
subs_active(const struct org *o)
{
	const struct sub *s = o->sub;

	return s && s->id && (s->state == SUB_ACTIVE || s->state == SUB_RENEWING) &&
	       s->expires > now_wall() && (s->token_expires == 0 || s->token_expires > now_wall());
}

void
subs_health(const struct org *o, struct subs_health *ret)
{
	const struct sub *s = o->sub;

	*ret = (struct subs_health){.active = subs_active(o), .state = "none"};
	if (!s)
		return;
	ret->broken = s->state == SUB_LAPSED || s->state == SUB_FAILED;
	ret->state = state_names[s->state];
	ret->id = s->id;
	ret->last_error = s->last_error;
}

void
subs_logout(struct org *o)
{
	const char *org = o->conf->name;
	struct sub *s = o->sub;
	const char *token = org_access_token(o, 0);

	if (!s)
		return;
	if (s->id && token) {
		char *path = xprintf("/subscriptions/%s", s->id), *url = graph_url(o, path);
		delete_sub(url, token, xprintf("org %s: subscription %s", org, s->id));
		free(path);
		free(url);
	}
	forget(s);
	free(s->prev_id);
	free_secret(s->prev_client_state);
	s->prev_id = s->prev_client_state = NULL;
	s->reconciled = true;
	ev_timer_stop(s->timer);
	set_state(s, SUB_NONE, NULL);
}

json_t *
subs_status(const struct org *o)
{
	const struct sub *s = o->sub;
	double now = now_wall();
	json_t *j;
	char *t;

	if (!s)
		return json_null();
	j = json_pack("{s:s, s:o, s:I}", "state", state_names[s->state], "id",
		      s->id ? json_string(s->id) : json_null(), "failures",
		      (json_int_t)s->failures);
	if (s->id) {
		t = time_iso(s->expires);
		json_object_set_new(j, "expires", json_string(t));
		json_object_set_new(j, "expires_in", json_integer((json_int_t)(s->expires - now)));
		free(t);
	}
	if (s->last_notification > 0) {
		t = time_iso(s->last_notification);
		json_object_set_new(j, "last_notification", json_string(t));
		free(t);
	} else {
		json_object_set_new(j, "last_notification", json_null());
	}
	json_object_set_new(j, "last_error",
			    s->last_error ? json_string(s->last_error) : json_null());
	json_object_set_new(j, "last_renewal", json_time(s->last_renewal));
	if (o->user_id) {
		t = resource_of(o);
		json_object_set_new(j, "resource", json_string(t));
		free(t);
	} else {
		json_object_set_new(j, "resource", json_null());
	}
	return j;
}
