/*
 * What is true of each org and of the agent, turned into alarm truths.
 * Evaluated every few seconds and whenever a sign-in changes; alarm.c
 * keeps only the edges. Conditions are read from the modules that own
 * them (sign-in, subscription, reconcile, canary, inbox, store); none of
 * them decides on its own what counts as an alarm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alarm.h"
#include "canary.h"
#include "event.h"
#include "ha.h"
#include "health.h"
#include "nkey.h"
#include "org.h"
#include "outbox.h"
#include "poll.h"
#include "proc.h"
#include "subs.h"
#include "util.h"

#define EVERY          2.0
#define SECRET_WARN    (30 * 86400.0) /* client secret: warn this long ahead */
#define SECRET_CRIT    (7 * 86400.0)  /* ... and critical this long ahead */
#define SUB_GRACE      120.0          /* a subscription being made, or remade */
#define DEGRADED_GRACE 60.0           /* refreshes failing this long: signInDegraded */

static struct ev_timer *timer;
static bool store_failed; /* an alarm could not be written: stop this pass */

/* alarm_set, and note a store failure: the pass ends there rather than
 * waiting on the database for every other alarm */
static void
set_sev(enum alarm_type type, const char *org, bool on, enum alarm_severity sev, const char *text)
{
	if (!store_failed && alarm_set_severity(type, org, on, sev, text) < 0)
		store_failed = true;
}

static void
set(enum alarm_type type, const char *org, bool on, const char *text)
{
	set_sev(type, org, on, alarm_defs[type].severity, text);
}

/* A condition that must hold for a while before it counts. */
static bool
held_for(double *t, bool cond, double grace)
{
	double now = now_wall();

	if (!cond) {
		*t = 0;
		return false;
	}
	if (*t == 0)
		*t = now;
	return now - *t >= grace;
}

/* Refreshes failing for a reason that may pass: a warning once it has
 * lasted a minute (a blip that the next try mends raises nothing), critical
 * at once when the access token has expired (Graph is then read with
 * nothing: no renewal, no read-back) */
static void
degraded_alarm(struct org *o)
{
	bool expired = o->access_expires <= now_wall();
	bool lasting = held_for(&o->degraded_since, o->auth == ORG_DEGRADED, DEGRADED_GRACE);
	char *text = xprintf("token refresh failing, retried (%s); the access token %s",
			     o->last_error ? o->last_error : "no reason given",
			     expired ? "has expired" : "still works");

	set_sev(ALARM_SIGNIN_DEGRADED, o->conf->name,
		o->auth == ORG_DEGRADED && (lasting || expired),
		expired ? SEV_CRITICAL : SEV_WARNING, text);
	free(text);
}

static void
auth_alarms(struct org *o)
{
	const char *name = o->conf->name;
	char *hint = xprintf("not signed in: run ctteamsctl login %s", name);

	set(ALARM_NOT_SIGNED_IN, name, o->auth == ORG_NOT_SIGNED_IN, hint);
	set(ALARM_SIGNIN_LOST, name, o->auth == ORG_REAUTH_REQUIRED, o->last_error);
	set(ALARM_SECRET_INVALID, name, o->auth == ORG_SECRET_INVALID, o->last_error);
	free(hint);
	degraded_alarm(o);
}

static void
secret_alarm(const struct org *o)
{
	double left = (double)o->conf->client_secret_expires - now_wall();
	bool soon = o->conf->client_secret_expires && left < SECRET_WARN;
	char *text =
	    soon ? xprintf("the client secret expires in %.0f day(s)", floor(left / 86400)) : NULL;

	/* warning at 30 days, critical at 7: the same instance, escalated */
	set_sev(ALARM_SECRET_EXPIRING, o->conf->name, soon,
		left < SECRET_CRIT ? SEV_CRITICAL : SEV_WARNING, text);
	free(text);
}

static void
subscription_alarm(struct org *o)
{
	struct subs_health h;
	bool usable = o->auth == ORG_VALID || o->auth == ORG_DEGRADED;
	bool bad;
	char *text;

	subs_health(o, &h);
	/* without a usable sign-in the sign-in alarm is the cause to act on */
	bad = usable && !h.active;
	/* lapsed or failed counts at once; none or creating after a grace;
	 * cleared only when it delivers (or the sign-in alarm takes over), so
	 * a restart inside the grace does not clear and raise it again */
	if ((bad && h.broken) || held_for(&o->sub_bad_since, bad, SUB_GRACE)) {
		text =
		    xprintf("subscription %s%s%s%s%s", h.state, h.id ? " " : "", h.id ? h.id : "",
			    h.last_error ? ": " : "", h.last_error ? h.last_error : "");
		set(ALARM_SUBSCRIPTION, o->conf->name, true, text);
		free(text);
	} else if (!bad) {
		set(ALARM_SUBSCRIPTION, o->conf->name, false, NULL);
	}
}

/* Throttled since the first Retry-After that no working read has followed;
 * "not throttled" is known only once a read has worked since the start. */
static void
throttle_alarm(const struct org *o)
{
	struct proc_health h;
	char *text;

	proc_health(o, &h);
	if (h.throttled_since > 0 &&
	    now_wall() - h.throttled_since >= orgs_conf()->throttle_alarm_after) {
		text = xprintf("Graph's Retry-After has held the org's message reads for over "
			       "%.0f s (throttle_alarm_after)",
			       orgs_conf()->throttle_alarm_after);
		set(ALARM_THROTTLED, o->conf->name, true, text);
		free(text);
	} else if (h.throttled_since == 0 && h.reads_seen) {
		set(ALARM_THROTTLED, o->conf->name, false, NULL);
	}
}

static void
gap_alarm(const struct org *o, const struct poll_health *h)
{
	double missed = canary_missed_since(o);
	char *when, *text;

	if (!h->delivery_gap && missed == 0) {
		set(ALARM_DELIVERY_GAP, o->conf->name, false, NULL);
		return;
	}
	when = time_iso(missed > 0 ? missed : h->last_recovery);
	text = missed > 0 ? xprintf("the canary did not come back (since %s)", when)
			  : xprintf("a notice was found by reading back (last %s)", when);
	set(ALARM_DELIVERY_GAP, o->conf->name, true, text);
	free(text);
	free(when);
}

static void
delivery_alarms(const struct org *o, long dead, long unrec)
{
	const char *name = o->conf->name;
	struct poll_health h;
	char *text;

	poll_health(o, &h);
	gap_alarm(o, &h);
	/* -1: the count could not be read; the alarm stays as it is */
	if (unrec >= 0) {
		text = xprintf(
		    "%ld important message(s) matched no rule lately: see ctteamsctl events %s",
		    unrec, name);
		set(ALARM_UNRECOGNISED, name, unrec > 0, text);
		free(text);
	}
	if (dead >= 0) {
		text = xprintf("%ld dead letter(s): see ctteamsctl dead-letters %s", dead, name);
		set(ALARM_DEAD_LETTERS, name, dead > 0, text);
		free(text);
	}
	/* known only once a pass has run since the start */
	if (h.known)
		set(ALARM_RECONCILE, name, h.last_error != NULL, h.last_error);
	throttle_alarm(o);
}

/* Alarms of orgs no longer configured (removed by a reload, or while the
 * agent was down) are cleared: looked at when the set of orgs changes. */
static void
clear_gone_orgs(void)
{
	static unsigned long seen_generation;
	json_t *all;
	json_t *a;
	size_t i;

	if (orgs_generation() == seen_generation)
		return;
	all = alarms_list(NULL);
	json_array_foreach (all, i, a) {
		const char *org = json_string_value(json_object_get(a, "org"));
		if (*org && !conf_org_find(orgs_conf(), org) && alarms_org_gone(org) < 0)
			store_failed = true;
	}
	json_decref(all);
	/* a failed clear is tried again at the next pass */
	if (!store_failed)
		seen_generation = orgs_generation();
}

/* The per-org counts of one evaluation, by org index. */
struct counts {
	long *dead;
	long *unrec;
};

static void
count_into(long *by_index, const char *org, long n)
{
	for (size_t i = 0; i < orgs_count(); i++)
		if (!strcmp(org_at(i)->conf->name, org)) {
			by_index[i] = n;
			return;
		}
}

static void
dead_counted(void *arg, const char *org, long n)
{
	count_into(((struct counts *)arg)->dead, org, n);
}

static void
unrec_counted(void *arg, const char *org, long n)
{
	count_into(((struct counts *)arg)->unrec, org, n);
}

/* Two queries for every org together: an agent of a thousand orgs must
 * not read the store a thousand times every few seconds. A count that
 * could not be read is -1 for every org. */
static void
counts_read(struct counts *c)
{
	size_t n = orgs_count() ? orgs_count() : 1;

	c->dead = xcalloc(n, sizeof(long));
	c->unrec = xcalloc(n, sizeof(long));
	if (store_count_dead(orgs_store(), dead_counted, c) < 0)
		for (size_t i = 0; i < n; i++)
			c->dead[i] = -1;
	if (store_count_events(orgs_store(), "unrecognised",
			       now_wall() - orgs_conf()->event_alarm_hold, unrec_counted, c) < 0)
		for (size_t i = 0; i < n; i++)
			c->unrec[i] = -1;
}

/* The store's own alarms: a shared database out of reach is one alarm,
 * not two. */
static void
db_alarms(void)
{
	const char *trouble = store_trouble_why(orgs_store());
	bool unreachable = trouble && store_shared(orgs_store()) && !store_connected(orgs_store());

	set(ALARM_DB_UNREACHABLE, "", unreachable, unreachable ? trouble : NULL);
	set(ALARM_STORE, "", trouble != NULL && !unreachable, trouble);
}

static void
evaluate(void *arg)
{
	struct counts counts;
	char *cert, *stuck;

	(void)arg;
	if (!ha_gate(timer)) {
		/* paused for want of the database: that alarm still goes out,
		 * from memory (the outputs send what is handed to them early) */
		if (ha_paused())
			db_alarms();
		return;
	}
	store_failed = false;
	db_alarms();
	set(ALARM_PEER_LOST, "", ha_peer_problem() != NULL, ha_peer_problem());
	cert = nkey_problem();
	set(ALARM_CERT, "", cert != NULL, cert);
	free(cert);
	/* raised on every output: those still delivering carry it */
	stuck = outbox_stuck(orgs_conf()->output_stuck_after);
	set(ALARM_OUTPUT_STUCK, "", stuck != NULL, stuck);
	free(stuck);
	clear_gone_orgs();
	counts_read(&counts);
	for (size_t i = 0; i < orgs_count() && !store_failed; i++) {
		struct org *o = org_at(i);
		auth_alarms(o);
		secret_alarm(o);
		subscription_alarm(o);
		delivery_alarms(o, counts.dead[i], counts.unrec[i]);
	}
	free(counts.dead);
	free(counts.unrec);
	/* the store failed: the remaining edges wait for a later pass */
	ev_timer_arm(timer, store_failed ? 5 * EVERY : EVERY);
}

void
health_start(void)
{
	timer = ev_timer_new(evaluate, NULL);
	ev_timer_arm(timer, 0);
}

void
health_kick(void)
{
	if (timer)
		ev_timer_arm(timer, 0);
}

void
health_stop(void)
{
	ev_timer_free(timer);
	timer = NULL;
}
