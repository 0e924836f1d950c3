/*
 * One entry in flight per consumer: order is the point (a clear must never
 * overtake its raise). The cursor moves only after the receiver took the
 * entry, in the store, so a restart resumes at the first entry not taken:
 * at most the one in flight at a crash is sent again, never one skipped.
 *
 * The one exception is an entry that cannot wait for the store: an alarm
 * about the store itself, raised while writes fail. It is handed to every
 * output from memory, ahead of the store's next entry; once the store is
 * back the transition is written with "early" set, and each output passes
 * that copy over. Its clear is written after it, so it cannot overtake.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "ha.h"
#include "log.h"
#include "outbox.h"
#include "util.h"

#define POLL_EVERY 1.0 /* also look without a kick */

struct outbox_consumer {
	char *name;
	struct store *store;
	struct outbox_opts opts;
	outbox_deliver_fn fn;
	void *arg;
	struct ev_timer *timer;
	long cursor;
	json_t *in_flight;
	long failures;
	long delivered; /* kept with the cursor */
	long given_up;
	bool giving_up; /* the entry in flight is being given up (counted) */
	bool passing;   /* ... or passed over: nothing to send (not counted) */
	char *last_error;
	json_t *early;        /* entries from memory, oldest first */
	bool flying_early;    /* the entry in flight is early[0] */
	double failing_since; /* the entry in front was first refused then (0: not) */
	struct outbox_consumer *next;
};

static struct outbox_consumer *consumers;

/* The entry in flight is too old to matter to a receiver now: said once,
 * and given up. */
static bool
too_old(struct outbox_consumer *c)
{
	double at;

	if (time_parse(json_string_value(json_object_get(c->in_flight, "at")), &at) != 0 ||
	    now_wall() - at <= c->opts.max_age)
		return false;
	log_err("outbox", "%s: gave up entry %lld after %ld tries (%s): older than %g s", c->name,
		json_integer_value(json_object_get(c->in_flight, "seq")), c->failures,
		c->last_error ? c->last_error : "not taken", c->opts.max_age);
	c->giving_up = true;
	outbox_done(c, true, NULL);
	c->giving_up = false;
	return true;
}

/* The entry in flight is behind us: the next one now. Only a receiver
 * that took one is no longer stuck: given up or passed over, it still is. */
static void
moved_on(struct outbox_consumer *c)
{
	if (c->giving_up)
		c->given_up++;
	else if (!c->passing)
		c->delivered++;
	if (!c->giving_up && !c->passing)
		c->failing_since = 0;
	c->failures = 0;
	free(c->last_error);
	c->last_error = NULL;
	json_decref(c->in_flight);
	c->in_flight = NULL;
	ev_timer_arm(c->timer, 0);
}

static void
step(void *arg)
{
	struct outbox_consumer *c = arg;
	json_t *next;

	if (c->in_flight)
		return;
	/* what was handed over from memory (the store is failing) goes out
	 * even while the duties wait for the database (paused) */
	if (!(ha_paused() && json_array_size(c->early) > 0) && !ha_gate(c->timer))
		return;
	if (json_array_size(c->early) > 0) {
		c->in_flight = json_incref(json_array_get(c->early, 0));
		c->flying_early = true;
		if (too_old(c))
			return;
		c->fn(c, c->in_flight, c->arg);
		return;
	}
	if (c->cursor < 0 && store_cursor_get(c->store, c->name, &c->cursor) != 0) {
		c->cursor = -1;
		ev_timer_arm(c->timer, c->opts.backoff_max);
		return;
	}
	next = store_outbox_since(c->store, c->cursor, 1);
	if (json_array_size(next) == 0) {
		json_decref(next);
		ev_timer_arm(c->timer, POLL_EVERY);
		return;
	}
	c->in_flight = json_incref(json_array_get(next, 0));
	json_decref(next);
	if (too_old(c))
		return;
	if (json_is_true(json_object_get(c->in_flight, "early"))) {
		/* handed out from memory when it happened */
		outbox_pass(c, false, NULL);
		return;
	}
	c->fn(c, c->in_flight, c->arg);
}

void
outbox_done(struct outbox_consumer *c, bool ok, const char *why)
{
	long seq;
	double wait;

	if (!c->in_flight)
		return;
	seq = (long)json_integer_value(json_object_get(c->in_flight, "seq"));
	if (ok && c->flying_early) {
		/* counted in memory only: the store could not take it */
		json_array_remove(c->early, 0);
		c->flying_early = false;
		moved_on(c);
		return;
	}
	if (ok && store_cursor_advance(c->store, c->name, seq, !c->giving_up && !c->passing,
				       c->giving_up) == 0) {
		c->cursor = seq;
		moved_on(c);
		return;
	}
	/* not taken (or the cursor could not be kept): the same entry again */
	free(c->last_error);
	c->last_error = xstrdup(ok ? "the cursor could not be saved" : why ? why : "failed");
	wait = backoff_delay(c->opts.backoff_min, c->opts.backoff_max, c->failures, false);
	/* a receiver's refusal; a cursor the store could not keep is the
	 * store's trouble (storeTrouble), not the receiver's */
	if (!ok && !c->failing_since)
		c->failing_since = now_wall();
	if (c->failures++ == 0)
		log_warnx("outbox", "%s: entry %ld not delivered (%s); trying again", c->name, seq,
			  c->last_error);
	json_decref(c->in_flight);
	c->in_flight = NULL;
	c->flying_early = false;
	ev_timer_arm(c->timer, wait);
}

struct outbox_consumer *
outbox_consumer_new(struct store *st, const char *name, const struct outbox_opts *opts,
		    outbox_deliver_fn fn, void *arg)
{
	struct outbox_consumer *c = xcalloc(1, sizeof(*c));
	long cur = 0;
	int rc = store_cursor_get(st, name, &cur);

	c->name = xstrdup(name);
	c->store = st;
	c->opts = *opts;
	c->fn = fn;
	c->arg = arg;
	/* a new output starts at the end: it is not handed history; a store
	 * that cannot say where the output was is asked again (step) */
	c->cursor = rc == 1 ? store_outbox_last(st) : rc == 0 ? cur : -1;
	if (rc == 1)
		store_cursor_put(st, name, c->cursor);
	store_cursor_counts(st, name, &c->delivered, &c->given_up);
	c->timer = ev_timer_new(step, c);
	c->early = json_array();
	c->next = consumers;
	consumers = c;
	ev_timer_arm(c->timer, 0);
	return c;
}

void
outbox_pass(struct outbox_consumer *c, bool give_up, const char *why)
{
	if (!c->in_flight)
		return;
	if (give_up)
		log_err("outbox", "%s: gave up entry %lld: %s", c->name,
			json_integer_value(json_object_get(c->in_flight, "seq")), why);
	c->giving_up = give_up;
	c->passing = !give_up;
	outbox_done(c, true, NULL);
	c->giving_up = c->passing = false;
}

void
outbox_consumer_set_opts(struct outbox_consumer *c, const struct outbox_opts *opts)
{
	c->opts = *opts;
}

void
outbox_consumer_free(struct outbox_consumer *c)
{
	for (struct outbox_consumer **p = &consumers; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	ev_timer_free(c->timer);
	json_decref(c->in_flight);
	json_decref(c->early);
	free(c->name);
	free(c->last_error);
	free(c);
}

void
outbox_post_early(const char *kind, json_t *body)
{
	char *at = time_iso(now_wall());

	for (struct outbox_consumer *c = consumers; c; c = c->next) {
		json_t *e = json_deep_copy(body);
		/* seq 0: in no store; the outputs' logs say "entry 0" */
		json_object_set_new(e, "seq", json_integer(0));
		json_object_set_new(e, "at", json_string(at));
		json_object_set_new(e, "kind", json_string(kind));
		json_array_append_new(c->early, e);
		if (!c->in_flight)
			ev_timer_arm(c->timer, 0);
	}
	free(at);
}

void
outbox_kick(void)
{
	for (struct outbox_consumer *c = consumers; c; c = c->next)
		if (!c->in_flight && c->failures == 0)
			ev_timer_arm(c->timer, 0);
}

json_t *
outbox_consumer_status(const struct outbox_consumer *c)
{
	long last = store_outbox_last(c->store);

	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", c->name, "cursor",
			 (json_int_t)c->cursor, "pending",
			 (json_int_t)(last > c->cursor ? last - c->cursor : 0), "delivered",
			 (json_int_t)c->delivered, "failures", (json_int_t)c->failures, "given_up",
			 (json_int_t)c->given_up, "last_error",
			 c->last_error ? json_string(c->last_error) : json_null());
}

json_t *
outbox_status_all(void)
{
	json_t *arr = json_array();

	for (const struct outbox_consumer *c = consumers; c; c = c->next)
		json_array_append_new(arr, outbox_consumer_status(c));
	return arr;
}

long
outbox_min_cursor(void)
{
	long min = -1;

	for (const struct outbox_consumer *c = consumers; c; c = c->next) {
		if (c->cursor < 0)
			return -1; /* not known (the store could not say): count nothing */
		if (min < 0 || c->cursor < min)
			min = c->cursor;
	}
	return min;
}

bool
outbox_all_past(long seq)
{
	for (const struct outbox_consumer *c = consumers; c; c = c->next)
		if (c->cursor < seq)
			return false;
	return true;
}

bool
outbox_early_pending(void)
{
	for (const struct outbox_consumer *c = consumers; c; c = c->next)
		if (json_array_size(c->early) > 0)
			return true;
	return false;
}

char *
outbox_stuck(double after)
{
	char *text = NULL, *more;
	double now = now_wall();

	for (const struct outbox_consumer *c = consumers; c; c = c->next) {
		if (!c->failing_since || now - c->failing_since < after)
			continue;
		more = xprintf("%s%soutput %s has delivered nothing for %.0f min (%s)",
			       text ? text : "", text ? "; " : "", c->name,
			       floor((now - c->failing_since) / 60),
			       c->last_error ? c->last_error : "not taken");
		free(text);
		text = more;
	}
	return text;
}

const struct outbox_consumer *
outbox_consumer_find(const char *name)
{
	for (const struct outbox_consumer *c = consumers; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}
