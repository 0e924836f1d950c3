/*
 * Two agents, one database (docs/high-availability.md). Both take
 * webhooks into the shared inbox; one, the active, does every duty: token
 * refreshes, the subscription, the reconcile, the canary, processing and
 * the outputs. It holds the lease "duties" and renews it every third of
 * lease_time; the other, the standby, takes it when it runs out.
 *
 * The lease is believed held only until a deadline on this host's own
 * clock (CLOCK_BOOTTIME, which runs while the process is stopped and the
 * host suspended), set from the moment a renewal was sent, and short of
 * the lease's end by a tenth: by the time the database's lease ends, this
 * agent has stopped believing it. A duty asks before it acts outside
 * (ha_may_act); every write of a duty is fenced by the lease in its own
 * transaction (store_fence). An agent that finds its lease gone stops its
 * loop and starts afresh (main.c), as the standby.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alarm.h"
#include "event.h"
#include "ha.h"
#include "log.h"
#include "org.h"
#include "outbox.h"
#include "proc.h"
#include "util.h"

#define LEASE "duties"
/* a peer not heard from for this many lease times is lost */
#define PEER_LOST_AFTER 2
/* peers heard from within this are the pair's; older rows are history */
#define PEER_KNOWN 600

static struct store *store;
/* active: doing the duties; paused: was, but could not renew the lease
 * in time (the database away, or this process stopped): the duties wait,
 * and go on if the lease comes back unchanged */
static enum { STANDBY, ACTIVE, PAUSED } role;
static bool shared, lost;
/* this agent's name (agent_name), and this run of it: the lease's holder
 * is both, so that another agent given the same name by mistake cannot
 * take this one's lease as its own; a start afresh (re-exec) keeps it */
static char *me, *instance, *holder;
static long epoch;
static double ttl, deadline, active_since, settle;
static struct ev_timer *beat_timer, *watch_timer;
static long inbox_seen = -1, outbox_seen = -1;
static char *peer_problem;
static json_t *peers;

static void
stand_down(const char *why)
{
	if (lost)
		return;
	lost = true;
	role = STANDBY;
	log_err("ha", "agent %s stands down: %s; it starts again as the standby", me, why);
	ev_stop();
}

static void
fence_lost(void)
{
	stand_down("a write found the duties' lease held by another agent");
}

bool
ha_active(void)
{
	if (!shared)
		return true;
	if (role == ACTIVE && now_boot() >= deadline) {
		role = PAUSED;
		log_err("ha",
			"agent %s: the duties' lease ran out before it was renewed (the agent "
			"was stopped, or the database slow or away); the duties wait",
			me);
	}
	return role == ACTIVE;
}

bool
ha_may_act(double margin)
{
	return ha_active() && (!shared || now_boot() + margin < deadline);
}

bool
ha_gate(struct ev_timer *t)
{
	if (ha_may_act(1))
		return true;
	/* paused, or the lease near its end: again once it is renewed; a
	 * standby's duties never run (it starts afresh when it takes over) */
	if (t && (role == ACTIVE || role == PAUSED) && !lost)
		ev_timer_arm(t, 1);
	return false;
}

bool
ha_settled(void)
{
	return !shared || (ha_active() && now_mono() - active_since >= settle);
}

double
ha_settle_left(void)
{
	return shared ? settle - (now_mono() - active_since) : 0;
}

bool
ha_paused(void)
{
	ha_active();
	return shared && role == PAUSED;
}

bool
ha_lost(void)
{
	return lost;
}

static void
peer_seen(void *arg, const char *name, const char *run, const char *its_role, double age)
{
	(void)arg;
	(void)run;
	if (!name || !strcmp(name, me) || age > PEER_KNOWN)
		return;
	json_array_append_new(
	    peers, json_pack("{s:s, s:s?, s:f}", "name", name, "role", its_role, "age", age));
	if (age > PEER_LOST_AFTER * ttl && !peer_problem)
		peer_problem = xprintf("agent %s (%s) has not been heard from for %.0f s", name,
				       its_role ? its_role : "?", age);
}

static void
look_at_peers(void)
{
	json_decref(peers);
	peers = json_array();
	free(peer_problem);
	peer_problem = NULL;
	if (store_agents(store, peer_seen, NULL) < 0) {
		/* the database is away: databaseUnreachable says so, not this */
		return;
	}
}

static void
resume(double t0)
{
	deadline = t0 + 0.9 * ttl;
	if (role != PAUSED)
		return;
	log_warnx("ha", "agent %s: the duties' lease is still its own; the duties go on", me);
	role = ACTIVE;
	/* their timers come back by themselves (ha_gate); work that arrived
	 * meanwhile is looked at now */
	proc_kick();
	outbox_kick();
}

static void
renew(void)
{
	double t0 = now_boot();
	int rc = store_lease_renew(store, LEASE, holder, epoch, ttl);
	long e;

	if (rc == 0) {
		resume(t0);
		return;
	}
	if (rc < 0) {
		/* the database is away: the deadline decides (ha_active) */
		ha_active();
		return;
	}
	/* run out: taken again at the very next epoch, nobody held it
	 * meanwhile, and what this agent knows is still the truth */
	e = store_lease_take(store, LEASE, holder, ttl);
	if (e == epoch + 1) {
		epoch = e;
		store_fence(store, LEASE, holder, epoch, fence_lost);
		resume(t0);
	} else if (e >= 0) {
		stand_down("another agent has held the duties' lease");
	}
}

/* The standby: the lease, when it has run out. Taken, the agent starts
 * afresh as the active, reading every org's state from the store. */
static void
try_take(void)
{
	long e = store_lease_take(store, LEASE, holder, ttl);

	if (e > 0) {
		log_warnx("ha",
			  "agent %s took the duties' lease (epoch %ld): it becomes the "
			  "active agent",
			  me, e);
		/* a start of its own: the lease is this agent's, and taken again
		 * at once (a new epoch) */
		lost = true;
		ev_stop();
	}
}

static void
beat(void *arg)
{
	(void)arg;
	store_agent_beat(store, me, instance, role == STANDBY ? "standby" : "active");
	if (role != STANDBY)
		renew();
	else if (!lost)
		try_take();
	look_at_peers();
	/* the standby shows what the active raised: its alarms from the
	 * shared table, at every beat */
	if (role == STANDBY && !lost) {
		alarms_reload();
		orgs_standby_sync();
	}
	/* the active: sign-ins the browser made on the other agent */
	if (role == ACTIVE && !lost && ha_may_act(1))
		orgs_adopt();
	if (!lost)
		ev_timer_arm(beat_timer, ttl / 3);
}

/* The active: rows the standby took in, and entries it wrote (an
 * acknowledgement), are this agent's to process and send. */
static void
watch(void *arg)
{
	long in, out;

	(void)arg;
	if (!ha_gate(watch_timer))
		return;
	in = store_inbox_last(store);
	if (in >= 0 && in != inbox_seen) {
		if (inbox_seen >= 0)
			proc_kick();
		inbox_seen = in;
	}
	out = store_outbox_last(store);
	if (out >= 0 && out != outbox_seen) {
		if (outbox_seen >= 0)
			outbox_kick();
		outbox_seen = out;
	}
	ev_timer_arm(watch_timer, 0.25);
}

static char *
random_instance(void)
{
	unsigned char b[6];
	char *s = xcalloc(1, sizeof(b) * 2 + 1);

	if (getentropy(b, sizeof(b)) < 0)
		memset(b, 0, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

static void
name_seen(void *arg, const char *name, const char *run, const char *its_role, double age)
{
	(void)arg;
	(void)its_role;
	if (name && !strcmp(name, me) && run && strcmp(run, instance) != 0 && age < 2 * ttl)
		log_err("ha",
			"another agent named %s beat %.0f s ago: if it is not this one's last "
			"run, give each agent its own agent_name",
			me, age);
}

/* Two agents with one name are a mistake the lease cannot see: said. */
static void
same_name_check(struct store *st)
{
	store_agents(st, name_seen, NULL);
}

static char *
default_name(void)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
		return xstrdup("ctteamsd");
	return xstrdup(host);
}

int
ha_start(const struct conf *c, struct store *st)
{
	double t0 = now_boot();

	store = st;
	shared = store_shared(st);
	role = ACTIVE;
	if (!shared)
		return 0;
	me = c->agent_name ? xstrdup(c->agent_name) : default_name();
	instance =
	    getenv("CTTEAMSD_INSTANCE") ? xstrdup(getenv("CTTEAMSD_INSTANCE")) : random_instance();
	holder = xprintf("%s#%s", me, instance);
	/* kept over a start afresh in the other role (main.c's re-exec) */
	setenv("CTTEAMSD_INSTANCE", instance, 1);
	same_name_check(st);
	ttl = c->lease_time;
	epoch = store_lease_take(st, LEASE, holder, ttl);
	/* a refresh the last holder sent just before it stopped may still be
	 * on its way: this one waits for it to be answered or given up (the
	 * first holder ever has none to wait for) */
	settle = epoch > 1 ? c->http_timeout + c->http_connect_timeout : 0;
	role = epoch > 0 ? ACTIVE : STANDBY;
	if (role == ACTIVE) {
		deadline = t0 + 0.9 * ttl;
		active_since = now_mono();
	}
	store_fence(st, LEASE, holder, role == ACTIVE ? epoch : 0, fence_lost);
	beat_timer = ev_timer_new(beat, NULL);
	watch_timer = ev_timer_new(watch, NULL);
	store_agent_beat(st, me, instance, role == ACTIVE ? "active" : "standby");
	look_at_peers();
	ev_timer_arm(beat_timer, ttl / 3);
	if (role == ACTIVE)
		ev_timer_arm(watch_timer, 0.25);
	log_info("ha", "agent %s (lease holder %s) shares %s: %s%s", me, holder, store_where(st),
		 role == ACTIVE ? "active (holds the duties' lease)" : "standby",
		 epoch < 0 ? " (the lease could not be read)" : "");
	return 0;
}

void
ha_stop(void)
{
	/* a clean stop hands the duties over at once, not after lease_time */
	if (shared && role == ACTIVE && !lost)
		store_lease_release(store, LEASE, holder, epoch);
	ev_timer_free(beat_timer);
	ev_timer_free(watch_timer);
	beat_timer = watch_timer = NULL;
	json_decref(peers);
	peers = NULL;
	free(peer_problem);
	peer_problem = NULL;
	free(me);
	free(instance);
	free(holder);
	me = instance = holder = NULL;
	shared = false;
}

const char *
ha_peer_problem(void)
{
	return shared && role == ACTIVE ? peer_problem : NULL;
}

json_t *
ha_status(void)
{
	char *who = NULL;
	double left = 0;
	json_t *j;

	if (!shared)
		return json_null();
	store_lease_holder(store, LEASE, &who, &left);
	j = json_pack("{s:s, s:s, s:s?, s:f, s:I, s:f, s:O?}", "agent", me, "role",
		      role == ACTIVE   ? "active"
		      : role == PAUSED ? "paused"
				       : "standby",
		      "holder", who, "lease_left", left, "epoch", (json_int_t)(role ? epoch : 0),
		      "lease_time", ttl, "peers", peers);
	free(who);
	return j;
}
