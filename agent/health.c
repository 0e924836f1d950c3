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
#include "health.h"
#include "nkey.h"
#include "org.h"
#include "poll.h"
#include "proc.h"
#include "subs.h"
#include "util.h"

#define EVERY       2.0
#define SECRET_WARN (30 * 86400.0) /* client secret: warn this long ahead */
#define SUB_GRACE   120.0          /* a subscription being made, or remade */

static struct ev_timer *timer;
static bool store_failed; /* an alarm could not be written: stop this pass */

/* alarm_set, and note a store failure: the pass ends there rather than
 * waiting on the database for every other alarm */
static void
set(enum alarm_type type, const char *org, bool on, const char *text)
{
	if (!store_failed && alarm_set(type, org, on, text) < 0)
		store_failed = true;
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

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void
auth_alarms(const struct org *o)
{
	const char *name = o->conf->name;
	char *hint = xprintf("not signed in: run ctteamsctl login %s", name);

	set(ALARM_NOT_SIGNED_IN, name, o->auth == ORG_NOT_SIGNED_IN, hint);
	set(ALARM_SIGNIN_LOST, name, o->auth == ORG_REAUTH_REQUIRED, o->last_error);
	set(ALARM_SECRET_INVALID, name, o->auth == ORG_SECRET_INVALID, o->last_error);
	free(hint);
}

static void
secret_alarm(const struct org *o)
{
	double left = (double)o->conf->client_secret_expires - now_wall();
	bool soon = o->conf->client_secret_expires && left < SECRET_WARN;
	char *text =
	    soon ? xprintf("the client secret expires in %.0f day(s)", floor(left / 86400)) : NULL;

	set(ALARM_SECRET_EXPIRING, o->conf->name, soon, text);
	free(text);
}

static void
subscription_alarm(struct org *o)
{
	json_t *st = subs_status(o);
	const char *state = str(st, "state");
	bool usable = o->auth == ORG_VALID || o->auth == ORG_DEGRADED;
	/* without a usable sign-in the sign-in alarm is the cause to act on */
	bool bad = usable && !subs_active(o);
	bool now_bad = bad && state && (!strcmp(state, "lapsed") || !strcmp(state, "failed"));
	char *text =
	    xprintf("subscription %s%s%s%s%s", state ? state : "none", str(st, "id") ? " " : "",
		    str(st, "id") ? str(st, "id") : "", str(st, "last_error") ? ": " : "",
		    str(st, "last_error") ? str(st, "last_error") : "");

	/* lapsed or failed counts at once; none or creating after a grace;
	 * cleared only when it delivers (or the sign-in alarm takes over), so
	 * a restart inside the grace does not clear and raise it again */
	if (now_bad || held_for(&o->sub_bad_since, bad, SUB_GRACE))
		set(ALARM_SUBSCRIPTION, o->conf->name, true, text);
	else if (!bad)
		set(ALARM_SUBSCRIPTION, o->conf->name, false, NULL);
	free(text);
	json_decref(st);
}

/* Throttled since the first Retry-After that no working read has followed;
 * "not throttled" is known only once a read has worked since the start. */
static void
throttle_alarm(const char *name, json_t *w)
{
	double since_t = 0;
	bool on = time_parse(str(w, "throttled_since"), &since_t) == 0 &&
		  now_wall() - since_t >= orgs_conf()->throttle_alarm_after;

	if (on) {
		char *text =
		    xprintf("Graph's Retry-After has held the org's message reads for over "
			    "%.0f s (throttle_alarm_after)",
			    orgs_conf()->throttle_alarm_after);
		set(ALARM_THROTTLED, name, true, text);
		free(text);
	} else if (!str(w, "throttled_since") && json_is_true(json_object_get(w, "reads_seen")))
		set(ALARM_THROTTLED, name, false, NULL);
}

static void
delivery_alarms(const struct org *o)
{
	const char *name = o->conf->name;
	json_t *p = poll_status(o), *c = canary_status(o), *w = proc_status(o);
	bool gap = json_is_true(json_object_get(p, "delivery_gap"));
	bool canary = json_is_true(json_object_get(c, "missed"));
	long dead = (long)json_integer_value(json_object_get(w, "dead_letters"));
	long unrec = store_events_since(orgs_store(), name, "unrecognised",
					now_wall() - orgs_conf()->event_alarm_hold);
	char *text;

	text = canary ? xprintf("the canary did not come back (since %s)", str(c, "missed_since"))
		      : xprintf("a notice was found by reading back (last %s)",
				str(p, "last_recovery") ? str(p, "last_recovery") : "-");
	set(ALARM_DELIVERY_GAP, name, gap || canary, text);
	free(text);
	text = xprintf("%ld important message(s) matched no rule lately: see ctteamsctl events %s",
		       unrec, name);
	if (unrec >= 0)
		set(ALARM_UNRECOGNISED, name, unrec > 0, text);
	free(text);
	text = xprintf("%ld dead letter(s): see ctteamsctl dead-letters %s", dead, name);
	set(ALARM_DEAD_LETTERS, name, dead > 0, text);
	free(text);
	/* known only once a pass has run since the start */
	if (str(p, "last_error") || str(p, "last_pass"))
		set(ALARM_RECONCILE, name, str(p, "last_error") != NULL, str(p, "last_error"));
	throttle_alarm(name, w);
	json_decref(p);
	json_decref(c);
	json_decref(w);
}

/* Alarms of orgs no longer configured (removed by a reload, or while the
 * agent was down) are cleared. */
static void
clear_gone_orgs(void)
{
	json_t *all = alarms_list(NULL), *a;
	size_t i;

	json_array_foreach (all, i, a) {
		const char *org = str(a, "org");
		if (*org && !conf_org_find(orgs_conf(), org))
			alarms_org_gone(org);
	}
	json_decref(all);
}

static void
evaluate(void *arg)
{
	json_t *trouble = store_trouble(orgs_store());
	char *cert;

	(void)arg;
	store_failed = false;
	set(ALARM_STORE, "", json_is_object(trouble), str(trouble, "error"));
	json_decref(trouble);
	cert = nkey_problem();
	set(ALARM_CERT, "", cert != NULL, cert);
	free(cert);
	clear_gone_orgs();
	for (size_t i = 0; i < orgs_count() && !store_failed; i++) {
		struct org *o = org_at(i);
		auth_alarms(o);
		secret_alarm(o);
		subscription_alarm(o);
		delivery_alarms(o);
	}
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
