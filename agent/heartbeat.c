/*
 * Heartbeats go through the store's outbox like everything else: one that
 * arrives proves the whole path works (the loop turns, the store takes
 * writes, the output reaches its receiver), and one an output could not
 * send for a while is given up with the rest after passive_max_age. The
 * sequence number is the entry's, which only grows, across restarts too.
 */
#include <jansson.h>
#include <stdlib.h>

#include "alarm.h"
#include "event.h"
#include "ha.h"
#include "heartbeat.h"
#include "log.h"
#include "outbox.h"
#include "util.h"

static struct store *store;
static struct ev_timer *timer;
static double interval;
static long stop_seq;

static json_t *
body(void)
{
	json_t *active = alarms_list(NULL);
	char *since = time_iso(now_started());
	json_t *b = json_pack("{s:s, s:s, s:f, s:I, s:f}", "version", CT_VERSION, "started", since,
			      "uptime", now_wall() - now_started(), "alarms",
			      (json_int_t)json_array_size(active), "interval", interval);

	free(since);
	json_decref(active);
	return b;
}

static long
post(const char *kind, json_t *b)
{
	long seq = store_outbox_post(store, kind, b);

	json_decref(b);
	if (seq > 0)
		outbox_kick();
	return seq;
}

static void
tick(void *arg)
{
	(void)arg;
	if (!ha_gate(timer))
		return;
	/* a failed write is storeTrouble's to report; the next one tries again */
	post("heartbeat", body());
	if (interval > 0)
		ev_timer_arm(timer, interval);
}

void
hb_start(const struct conf *c, struct store *st)
{
	store = st;
	interval = c->heartbeat_interval;
	timer = ev_timer_new(tick, NULL);
	if (interval > 0)
		ev_timer_arm(timer, 0);
}

void
hb_reload(const struct conf *c)
{
	if (c->heartbeat_interval == interval || !timer)
		return;
	interval = c->heartbeat_interval;
	/* the next one at the new interval from now; the consoles' freshness
	 * thresholds are the operator's to change with it */
	if (interval > 0)
		ev_timer_arm(timer, 0);
	else
		ev_timer_stop(timer);
}

bool
hb_stopping(const char *why)
{
	json_t *b;

	if (!store)
		return false;
	b = body();
	json_object_set_new(b, "reason", json_string(why));
	stop_seq = post("stop", b);
	return stop_seq > 0;
}

bool
hb_stop_sent(void)
{
	return stop_seq <= 0 || outbox_all_past(stop_seq);
}

void
hb_shutdown(void)
{
	ev_timer_free(timer);
	timer = NULL;
	store = NULL;
	stop_seq = 0;
}
