#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "canary.h"
#include "event.h"
#include "ha.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "poll.h"
#include "proc.h"
#include "subs.h"
#include "util.h"

/* secret_invalid is retried this often: the file may have been replaced */
#define SECRET_RETRY 1800.0
#define BACKOFF_MIN  5.0
#define BACKOFF_MAX  600.0

static void (*listener)(struct org *);
static struct org **orgs;
static size_t n_orgs;
static unsigned long generation; /* orgs_generation() */
static struct store *store;
static const struct conf *cfg;
static unsigned long serials;

const char *
org_auth_name(enum org_auth a)
{
	static const char *const names[] = {"not_signed_in", "valid", "degraded", "reauth_required",
					    "secret_invalid"};

	return names[a];
}

static void refresh_start(void *arg);
static bool take_up(struct org *o);

static void
set_auth(struct org *o, enum org_auth to, const char *why)
{
	enum org_auth from = o->auth;

	o->auth = to;
	if (from == to)
		return;
	if (to == ORG_REAUTH_REQUIRED || to == ORG_SECRET_INVALID)
		log_err("auth", "org %s: %s -> %s: %s", o->conf->name, org_auth_name(from),
			org_auth_name(to), why ? why : "");
	else if (to == ORG_DEGRADED)
		log_warnx("auth", "org %s: %s -> %s: %s", o->conf->name, org_auth_name(from),
			  org_auth_name(to), why ? why : "");
	else
		log_info("auth", "org %s: %s -> %s", o->conf->name, org_auth_name(from),
			 org_auth_name(to));
}

void
org_set_listener(void (*fn)(struct org *o))
{
	listener = fn;
}

const char *
org_access_token(const struct org *o, double margin)
{
	if (!o->access_token || o->access_expires - now_wall() < margin)
		return NULL;
	return o->access_token;
}

/* Writes the org's sign-in state; 1 when a newer sign-in was stored
 * meanwhile (by the other agent) and taken up instead, its refresh armed:
 * the caller's own timer plans are moot then. */
static int
save(struct org *o)
{
	struct store_auth a = {
	    .state = (char *)org_auth_name(o->auth),
	    .access_token = o->access_token,
	    .refresh_token = o->refresh_token,
	    .access_expires = o->access_expires,
	    .last_refresh = o->last_refresh,
	    .user_id = o->user_id,
	    .user_upn = o->user_upn,
	    .failures = o->failures,
	    .last_error = o->last_error,
	    .gen = o->gen,
	};
	int rc = store_auth_put(store, o->conf->name, &a);

	/* a sign-in made on the other agent replaced these tokens: its own
	 * are taken up (when the store cannot give them now, this agent's go
	 * on, and the next write finds the newer sign-in again) */
	if (rc == 1 && take_up(o))
		return 1;
	if (rc < 0)
		log_err("auth",
			"org %s: could not save the sign-in state; it is kept in memory "
			"and saved again at the next change",
			o->conf->name);
	/* whoever depends on the sign-in (the subscription) hears of it */
	if (listener)
		listener(o);
	return 0;
}

static void
set_error(struct org *o, const char *text)
{
	free(o->last_error);
	o->last_error = xstrdup(text);
	o->last_error_at = now_wall();
}

/* When to refresh after a grant of `lifetime` seconds: refresh_margin
 * before its end, and up to half a margin earlier at random, so that orgs
 * signed in together (a thousand in a minute) drift apart instead of
 * refreshing together every hour. One that is overdue (the agent was
 * stopped) is refreshed at once: a 911 notice may be waiting on it. */
static double
refresh_delay(double lifetime)
{
	/* a margin longer than the lifetime would refresh in a tight loop */
	double latest = fmax(lifetime - cfg->refresh_margin, lifetime / 2);
	double spread = fmin(cfg->refresh_margin / 2, lifetime / 4);
	uint32_t r;

	random_bytes(&r, sizeof(r));
	return latest - spread * (double)r / (double)UINT32_MAX;
}

/* after the nth failure in a row (n from 1) */
static double
backoff(long failures)
{
	return backoff_delay(BACKOFF_MIN, BACKOFF_MAX, failures - 1, true);
}

char *
org_secret(struct org *o, char **ret_err)
{
	char *s = file_read(o->conf->client_secret_file, 1024);

	if (!s) {
		*ret_err =
		    xprintf("cannot read client_secret_file %s", o->conf->client_secret_file);
		return NULL;
	}
	if (!*s) {
		free(s);
		*ret_err = xprintf("client_secret_file %s is empty", o->conf->client_secret_file);
		return NULL;
	}
	return s;
}

/* The next refresh of tokens read from the store: when due; at once when
 * the access token ran out meanwhile, and after a secret problem, which a
 * restart may have mended. Its delay. */
static double
arm_refresh(struct org *o)
{
	double now = now_wall();
	double delay =
	    o->auth == ORG_SECRET_INVALID
		? 0
		: o->last_refresh + refresh_delay(o->access_expires - o->last_refresh) - now;

	if (!o->refresh_token)
		return 0;
	if (delay < 0)
		delay = 0;
	ev_timer_arm(o->timer, delay);
	return delay;
}

static void
refresh_done(const struct hc_resp *resp, void *arg)
{
	struct org *o = org_deref(arg);
	struct oauth_result r;
	char *why, *text;

	if (!o)
		return; /* removed or replaced by a reload meanwhile */
	o->in_flight = false;
	if (o->flight_serial != o->tokens_serial) {
		/* a sign-in or a logout replaced the tokens this refresh was
		 * made with: its answer belongs to a sign-in no longer kept */
		log_info("auth",
			 "org %s: a refresh answered after its tokens were replaced; its "
			 "answer is dropped",
			 o->conf->name);
		arm_refresh(o);
		return;
	}
	oauth_classify(resp->status, resp->body, resp->len, resp->retry_after, resp->error, &r);
	switch (r.outcome) {
	case OAUTH_OK:
		free_secret(o->access_token);
		o->access_token = r.access_token;
		r.access_token = NULL;
		if (r.refresh_token) {
			/* Entra rotates refresh tokens: keep the newest */
			free_secret(o->refresh_token);
			o->refresh_token = r.refresh_token;
			r.refresh_token = NULL;
		}
		o->access_expires = now_wall() + r.expires_in;
		o->last_refresh = now_wall();
		o->failures = 0;
		set_auth(o, ORG_VALID, NULL);
		if (save(o))
			break;
		log_debug("auth", "org %s: access token refreshed, valid for %.0f s", o->conf->name,
			  r.expires_in);
		ev_timer_arm(o->timer, refresh_delay(r.expires_in));
		break;
	case OAUTH_TRANSIENT: {
		double wait = backoff(++o->failures);
		if (r.retry_after > wait)
			wait = r.retry_after;
		text = oauth_error_text(&r);
		why = xprintf("%s (attempt %ld; next in %.0f s)", text, o->failures, wait);
		free(text);
		set_error(o, why);
		set_auth(o, ORG_DEGRADED, why);
		if (o->failures > 1)
			log_warnx("auth", "org %s: refresh failed again: %s", o->conf->name, why);
		free(why);
		if (!save(o))
			ev_timer_arm(o->timer, wait);
		break;
	}
	case OAUTH_REAUTH:
		o->failures++;
		text = oauth_error_text(&r);
		why = xprintf("%s; sign in again with: ctteamsctl login %s", text, o->conf->name);
		free(text);
		set_error(o, why);
		set_auth(o, ORG_REAUTH_REQUIRED, why);
		free(why);
		/* the refresh token is dead; the access token lives out its time */
		free_secret(o->refresh_token);
		o->refresh_token = NULL;
		if (!save(o))
			ev_timer_stop(o->timer);
		break;
	case OAUTH_CLIENT:
		o->failures++;
		text = oauth_error_text(&r);
		why = xprintf("%s; check client_secret_file and the app's certificates & "
			      "secrets in Entra",
			      text);
		free(text);
		set_error(o, why);
		set_auth(o, ORG_SECRET_INVALID, why);
		free(why);
		if (!save(o))
			ev_timer_arm(o->timer, SECRET_RETRY);
		break;
	}
	oauth_result_clear(&r);
}

static void
refresh_start(void *arg)
{
	struct org *o = arg;
	char *err = NULL, *secret, *form, *url;

	if (o->in_flight || !o->refresh_token || !ha_gate(o->timer))
		return;
	/* just taken over: a refresh the last active sent may be on its way
	 * with this very refresh token */
	if (!ha_settled()) {
		ev_timer_arm(o->timer, ha_settle_left());
		return;
	}
	secret = org_secret(o, &err);
	if (!secret) {
		set_error(o, err);
		set_auth(o, ORG_SECRET_INVALID, err);
		free(err);
		if (!save(o))
			ev_timer_arm(o->timer, SECRET_RETRY);
		return;
	}
	form = oauth_refresh_form(o->conf, secret, o->refresh_token);
	free_secret(secret);
	url = oauth_token_url(o->conf);
	o->in_flight = true;
	o->flight_serial = o->tokens_serial;
	if (hc_post_form(url, form, refresh_done, org_ref(o)) < 0) {
		o->in_flight = false;
		ev_timer_arm(o->timer, backoff(++o->failures));
	}
	free(url);
}

/* The tokens and state of a stored sign-in (a's strings taken over). */
static void
take_stored(struct org *o, struct store_auth *a)
{
	free_secret(o->access_token);
	free_secret(o->refresh_token);
	free(o->user_id);
	free(o->user_upn);
	free(o->last_error);
	o->access_token = a->access_token;
	o->refresh_token = a->refresh_token;
	o->access_expires = a->access_expires;
	o->last_refresh = a->last_refresh;
	o->user_id = a->user_id;
	o->user_upn = a->user_upn;
	o->failures = a->failures;
	o->last_error = a->last_error;
	o->gen = a->gen;
	o->tokens_serial++;
	for (int s = ORG_NOT_SIGNED_IN; s <= ORG_SECRET_INVALID; s++)
		if (a->state && !strcmp(a->state, org_auth_name((enum org_auth)s)))
			o->auth = (enum org_auth)s;
	free(a->state);
	memset(a, 0, sizeof(*a));
}

/* A sign-in stored by the other agent (or one this agent's write found
 * newer): its tokens replace this agent's, and the subscription hears.
 * False when the store could not give it. */
static bool
take_up(struct org *o)
{
	struct store_auth a;

	if (store_auth_get(store, o->conf->name, &a) != 0)
		return false;
	if (a.gen != o->gen) {
		take_stored(o, &a);
		free(o->last_signin_error);
		o->last_signin_error = NULL;
		log_info("auth", "org %s: takes up the sign-in of %s made on the other agent",
			 o->conf->name, o->user_upn ? o->user_upn : "?");
		if (o->refresh_token)
			arm_refresh(o);
		else
			ev_timer_stop(o->timer);
		if (listener)
			listener(o);
	}
	store_auth_clear(&a);
	store_auth_adopted(store, o->conf->name, o->gen);
	return true;
}

static void
adopt(void *arg, const char *name)
{
	struct org *o = org_find(name);

	(void)arg;
	/* an org no longer configured: nobody is to take it up */
	if (!o)
		store_auth_adopted(store, name, -1);
	else
		take_up(o);
}

void
orgs_adopt(void)
{
	store_auth_to_adopt(store, adopt, NULL);
}

static struct org *
org_new(struct conf_org *c)
{
	struct org *o = xcalloc(1, sizeof(*o));
	struct store_auth a;

	o->conf = c;
	o->index = store_org_index(store, c->name);
	o->serial = ++serials;
	o->timer = ev_timer_new(refresh_start, o);
	if (store_auth_get(store, c->name, &a) == 0)
		take_stored(o, &a);
	if (o->refresh_token) {
		double delay = arm_refresh(o);
		log_info("auth", "org %s: %s as %s; next refresh in %.0f s", c->name,
			 org_auth_name(o->auth), o->user_upn ? o->user_upn : "?", delay);
	} else if (o->auth == ORG_NOT_SIGNED_IN) {
		log_warnx("auth", "org %s: not signed in; run: ctteamsctl login %s", c->name,
			  c->name);
	}
	/* its parts, in the order they depend on each other */
	subs_attach(o);
	proc_attach(o);
	poll_attach(o);
	canary_attach(o);
	return o;
}

static void
org_free(struct org *o)
{
	canary_detach(o);
	poll_detach(o);
	proc_detach(o);
	subs_detach(o);
	ev_timer_free(o->timer);
	free_secret(o->access_token);
	free_secret(o->refresh_token);
	free(o->user_id);
	free(o->user_upn);
	free(o->last_error);
	free(o->last_signin_error);
	free(o);
}

int
orgs_start(struct conf *c, struct store *st)
{
	cfg = c;
	store = st;
	generation++;
	orgs = xcalloc(c->n_orgs, sizeof(*orgs));
	for (size_t i = 0; i < c->n_orgs; i++)
		orgs[n_orgs++] = org_new(c->orgs[i]);
	return 0;
}

/* The org's app, tenant or service user changed: what it held belongs to
 * the old ones. Its subscription is deleted at Graph while the old token
 * still works (the answer finds no org, by design), then the old org is
 * freed and its tokens, subscription and reconcile state dropped; the new
 * one signs in afresh. */
static void
org_forget(struct org *old)
{
	const char *name = old->conf->name;

	log_warnx("auth",
		  "org %s: tenant_id, client_id or service_user changed; its tokens and "
		  "subscription are dropped: run ctteamsctl login %s",
		  name, name);
	subs_logout(old);
	if (store_org_forget(store, name) < 0)
		log_err("auth", "org %s: could not drop the old sign-in from the store", name);
	org_free(old);
}

/* The same identity: the same app in the same tenant for the same user. */
static bool
same_identity(const struct conf_org *a, const struct conf_org *b)
{
	return !strcmp(a->tenant_id, b->tenant_id) && !strcmp(a->client_id, b->client_id) &&
	       !strcasecmp(a->service_user, b->service_user);
}

/* An org that stays: the new configuration, told to each part. */
static void
org_configure(struct org *o, struct conf_org *c)
{
	const struct conf_org *old = o->conf; /* the old configuration is freed after */

	o->conf = c;
	if (o->auth == ORG_SECRET_INVALID && o->refresh_token)
		ev_timer_arm(o->timer, 0);
	subs_configure(o, old);
	proc_configure(o);
	canary_configure(o);
}

/* The list of orgs is never seen half built, nor holding an org already
 * freed: whatever runs meanwhile (a store that recovers while an org
 * starts reads every org back, say) walks a list whose every entry is
 * whole. Replaced orgs leave it before they are forgotten, new ones join
 * once all are made, and removed ones are freed once off it. */
void
orgs_reload(struct conf *c)
{
	struct org **next = xcalloc(c->n_orgs, sizeof(*next));
	struct org **replaced = xcalloc(c->n_orgs ? c->n_orgs : 1, sizeof(*replaced));
	struct org **staying = xcalloc(n_orgs ? n_orgs : 1, sizeof(*staying));
	struct org **old = orgs;
	size_t n_old = n_orgs, n_replaced = 0, n_staying = 0;

	cfg = c;
	generation++;
	for (size_t i = 0; i < c->n_orgs; i++) {
		struct org *o = org_find(c->orgs[i]->name);
		if (o && same_identity(o->conf, c->orgs[i]))
			next[i] = o;
		else if (o)
			replaced[n_replaced++] = o; /* a new org under an old name */
	}
	/* the replaced off the list, then forgotten (and freed) */
	for (size_t k = 0; k < n_old; k++) {
		bool gone = false;
		for (size_t r = 0; r < n_replaced; r++)
			gone |= old[k] == replaced[r];
		if (!gone)
			staying[n_staying++] = old[k];
	}
	orgs = staying;
	n_orgs = n_staying;
	free(old);
	for (size_t r = 0; r < n_replaced; r++)
		org_forget(replaced[r]);
	free(replaced);
	for (size_t i = 0; i < c->n_orgs; i++)
		if (!next[i])
			next[i] = org_new(c->orgs[i]);
	orgs = next;
	n_orgs = c->n_orgs;
	/* the old configuration is still valid here: those leaving go first */
	for (size_t k = 0; k < n_staying; k++) {
		bool kept = false;
		for (size_t i = 0; i < n_orgs; i++)
			kept |= orgs[i] == staying[k];
		if (!kept) {
			log_info("auth", "org %s: removed from the configuration",
				 staying[k]->conf->name);
			org_free(staying[k]);
		}
	}
	free(staying);
	for (size_t i = 0; i < n_orgs; i++)
		if (orgs[i]->conf != c->orgs[i])
			org_configure(orgs[i], c->orgs[i]);
}

void
orgs_stop(void)
{
	for (size_t i = 0; i < n_orgs; i++)
		org_free(orgs[i]);
	free(orgs);
	orgs = NULL;
	n_orgs = 0;
}

const struct conf *
orgs_conf(void)
{
	return cfg;
}

struct store *
orgs_store(void)
{
	return store;
}

static void
set_text(char **field, const char *v)
{
	if (v && *field && !strcmp(*field, v))
		return;
	free(*field);
	*field = v ? xstrdup(v) : NULL;
}

static void
auth_synced(void *arg, const char *name, const struct store_auth *a)
{
	struct org *o = org_find(name);
	enum org_auth was;

	(void)arg;
	if (!o)
		return;
	was = o->auth;
	for (int s = ORG_NOT_SIGNED_IN; s <= ORG_SECRET_INVALID; s++)
		if (a->state && !strcmp(a->state, org_auth_name((enum org_auth)s)))
			o->auth = (enum org_auth)s;
	o->access_expires = a->access_expires;
	o->last_refresh = a->last_refresh;
	o->failures = a->failures;
	set_text(&o->user_id, a->user_id);
	set_text(&o->user_upn, a->user_upn);
	set_text(&o->last_error, a->last_error);
	if (o->auth != was && listener)
		listener(o);
}

static void
sub_synced(void *arg, const char *name, const char *id, double expires)
{
	struct org *o = org_find(name);

	(void)arg;
	if (o)
		subs_standby_sync(o, id, expires);
}

void
orgs_standby_sync(void)
{
	store_auth_each(store, auth_synced, NULL);
	store_sub_each(store, sub_synced, NULL);
}

struct org *
org_find(const char *name)
{
	for (size_t i = 0; i < n_orgs; i++)
		if (orgs[i] && !strcmp(orgs[i]->conf->name, name))
			return orgs[i];
	return NULL;
}

void *
org_ref(const struct org *o)
{
	return (void *)(uintptr_t)o->serial;
}

struct org *
org_deref(void *ref)
{
	for (size_t i = 0; i < n_orgs; i++)
		if (orgs[i] && orgs[i]->serial == (uintptr_t)ref)
			return orgs[i];
	return NULL;
}

unsigned long
orgs_generation(void)
{
	return generation;
}

size_t
orgs_count(void)
{
	return n_orgs;
}

struct org *
org_at(size_t i)
{
	return i < n_orgs ? orgs[i] : NULL;
}

int
org_signed_in(struct org *o, const struct oauth_result *r, const char *user_id, const char *upn)
{
	double now = now_wall();
	struct store_auth a = {.state = (char *)org_auth_name(ORG_VALID),
			       .access_token = r->access_token,
			       .refresh_token = r->refresh_token,
			       .access_expires = now + r->expires_in,
			       .last_refresh = now,
			       .user_id = (char *)user_id,
			       .user_upn = (char *)upn};
	long gen = 0;
	/* a new sign-in replaces whatever is stored; whichever agent stored
	 * it, the one doing the duties takes it up (orgs_adopt), at once if
	 * that is this one */
	bool stored = store_auth_signin(store, o->conf->name, &a, true, &gen) == 0;

	if (!stored && !ha_active()) {
		/* nothing changes here: the sign-in in force stays in force */
		log_err("auth", "org %s: the sign-in as %s could not be stored; sign in again",
			o->conf->name, upn);
		return -1;
	}
	if (!stored)
		log_err("auth",
			"org %s: could not save the sign-in; it is kept in memory and saved "
			"again at the next change",
			o->conf->name);
	free_secret(o->access_token);
	free_secret(o->refresh_token);
	o->access_token = xstrdup(r->access_token);
	o->refresh_token = xstrdup(r->refresh_token);
	o->tokens_serial++;
	o->access_expires = a.access_expires;
	o->last_refresh = now;
	free(o->user_id);
	free(o->user_upn);
	o->user_id = xstrdup(user_id);
	o->user_upn = xstrdup(upn);
	o->failures = 0;
	free(o->last_signin_error);
	o->last_signin_error = NULL;
	free(o->last_error);
	o->last_error = NULL;
	if (stored) {
		o->gen = gen;
		store_auth_adopted(store, o->conf->name, gen); /* fenced: the active only */
	}
	set_auth(o, ORG_VALID, NULL);
	log_info("auth", "org %s: signed in as %s%s", o->conf->name, upn,
		 ha_active() ? "" : " (the active agent takes it up)");
	if (listener)
		listener(o);
	if (o->refresh_token)
		ev_timer_arm(o->timer, refresh_delay(r->expires_in));
	else
		log_warnx("auth",
			  "org %s: no refresh token was granted (offline_access "
			  "missing?); the sign-in lasts %.0f s",
			  o->conf->name, r->expires_in);
	return 0;
}

void
org_signin_failed(struct org *o, const char *why)
{
	free(o->last_signin_error);
	o->last_signin_error = xstrdup(why);
	log_warnx("auth", "org %s: sign-in failed: %s", o->conf->name, why);
}

void
org_token_rejected(struct org *o)
{
	/* only a valid org refreshes at once; a degraded one keeps its backoff,
	 * or a 401 storm would defeat Retry-After */
	if (o->auth == ORG_VALID && o->refresh_token && !o->in_flight)
		ev_timer_arm(o->timer, 0);
}

void
org_refresh_now(struct org *o)
{
	org_token_rejected(o);
}

void
org_logout(struct org *o)
{
	free_secret(o->access_token);
	free_secret(o->refresh_token);
	o->access_token = o->refresh_token = NULL;
	o->tokens_serial++;
	o->gen = 0;
	o->access_expires = 0;
	ev_timer_stop(o->timer);
	set_auth(o, ORG_NOT_SIGNED_IN, NULL);
	store_auth_delete(store, o->conf->name);
	log_info("auth", "org %s: signed out; tokens deleted", o->conf->name);
}

/* The org's stable number, taken from the store when it could not be at
 * the org's start (the store failing then): -1 until it can. */
static long
index_of(struct org *o)
{
	if (o->index < 0)
		o->index = store_org_index(store, o->conf->name);
	return o->index;
}

json_t *
org_status(struct org *o)
{
	double now = now_wall();
	json_t *j =
	    json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:b}", "org", o->conf->name, "index",
		      (json_int_t)index_of(o), "auth_state", org_auth_name(o->auth), "tenant_id",
		      o->conf->tenant_id, "client_id", o->conf->client_id, "service_user",
		      o->conf->service_user, "consecutive_failures", (json_int_t)o->failures,
		      "refresh_in_flight", o->in_flight);

	json_object_set_new(j, "signed_in_user",
			    o->user_upn ? json_string(o->user_upn) : json_null());
	json_object_set_new(j, "user_id", o->user_id ? json_string(o->user_id) : json_null());
	json_object_set_new(j, "access_token_expires",
			    json_time(o->access_token ? o->access_expires : 0));
	json_object_set_new(j, "access_token_expires_in",
			    o->access_token ? json_integer((json_int_t)(o->access_expires - now))
					    : json_null());
	json_object_set_new(j, "has_refresh_token", json_boolean(o->refresh_token != NULL));
	json_object_set_new(j, "last_refresh", json_time(o->last_refresh));
	json_object_set_new(j, "next_refresh_in",
			    ev_timer_armed(o->timer)
				? json_integer((json_int_t)ev_timer_remaining(o->timer))
				: json_null());
	json_object_set_new(j, "last_error",
			    o->last_error ? json_string(o->last_error) : json_null());
	json_object_set_new(j, "last_error_at", json_time(o->last_error_at));
	json_object_set_new(j, "last_signin_error",
			    o->last_signin_error ? json_string(o->last_signin_error) : json_null());
	if (o->conf->client_secret_expires) {
		char day[16];
		struct tm tm;
		time_t t = o->conf->client_secret_expires;
		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		json_object_set_new(j, "client_secret_expires", json_string(day));
		json_object_set_new(j, "client_secret_days_left",
				    json_integer((json_int_t)floor(((double)t - now) / 86400)));
	} else {
		json_object_set_new(j, "client_secret_expires", json_null());
		json_object_set_new(j, "client_secret_days_left", json_null());
	}
	return j;
}
