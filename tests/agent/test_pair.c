/*
 * Two agents, one address, one PostgreSQL database (docs/high-availability.md):
 * a load balancer of the test's own in front of both, a PostgreSQL server
 * it starts, each agent with its own snmpd (traps to its own snmptrapd) and
 * both writing to one Nagios command file.
 *
 * - kills: bursts of ordinary messages with 911 notices among them, the
 *   webhooks spread over both agents; at a random moment of each burst one
 *   agent (either) is SIGKILLed and started again. Every notice becomes
 *   exactly one event and reaches snmptrapd and Nagios; nothing one agent
 *   answered 202 is lost.
 * - a stopped holder: the active agent SIGSTOPped past its lease; the
 *   other takes the duties, refreshes and renews; the stopped one, resumed,
 *   sends no refresh and no renewal (graphsim's log, by User-Agent) and
 *   stands down.
 * - the database restarted: webhooks are answered 503 while it is away,
 *   Graph retries, the notice is raised; databaseUnreachable raised and
 *   cleared once.
 *
 * Sizes (CT_PAIR_TRIALS, CT_PAIR_MESSAGES, CT_PAIR_NOTICES) default to the
 * issue's 30 trials of 500 messages with 20 notices.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ta.h"

static struct th_pg pg;
static int dbs;
static struct ta_pair *current; /* what a failed test leaves, for its teardown */

/* A pair on a database of its own (the fixture's graphsim is shared). */
static void
pair_up(struct ta_pair *p, struct ta *t, bool outputs, const char *extra)
{
	char db[32];

	snprintf(db, sizeof(db), "pair%d", ++dbs);
	current = p;
	ta_pair_up(p, t, &pg, db, outputs, extra);
}

static void
pair_down(struct ta_pair *p)
{
	ta_pair_down(p);
	current = NULL;
}

static long
env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static int
count_in(const char *text, const char *needle)
{
	int n = 0;

	for (const char *at = text; at && (at = strstr(at, needle)); at += strlen(needle))
		n++;
	return n;
}

static int
pair_teardown(void **state)
{
	if (current)
		ta_pair_free(current);
	current = NULL;
	return ta_test_teardown(state);
}

struct trial {
	struct ta_pair *p;
	json_t *chats;  /* chat id -> true: the notices placed */
	json_t *events; /* their events */
};

static bool
all_raised(void *arg)
{
	struct trial *r = arg;
	json_t *ev = ta_pair_events(r->p), *mine = json_array(), *e;
	size_t i;

	if (!ev) {
		json_decref(mine);
		return false;
	}
	json_array_foreach (ev, i, e)
		if (json_object_get(r->chats, ta_str(e, "chat_id")))
			json_array_append(mine, e);
	json_decref(ev);
	json_decref(r->events);
	r->events = mine;
	return json_array_size(mine) >= json_object_size(r->chats);
}

static bool
all_delivered(void *arg)
{
	struct trial *r = arg;
	char *traps = ta_pair_traps(r->p), *cmds = th_read_file(r->p->fifo.out);
	bool ok = cmds != NULL;
	size_t i;
	json_t *e;

	json_array_foreach (r->events, i, e) {
		long id = (long)json_integer_value(json_object_get(e, "id"));
		char trap[64], cmd[64];
		snprintf(trap, sizeof(trap), "ctTeamsEventNumber.%ld ", id);
		snprintf(cmd, sizeof(cmd), "(event %ld;", id);
		ok &= count_in(traps, trap) >= 1 && count_in(cmds, cmd) >= 1;
	}
	free(traps);
	free(cmds);
	return ok;
}

static bool
inbox_empty(void *arg)
{
	struct ta_pair *p = arg;
	json_t *o = ta_org_status(p->a, "acme");
	bool ok = o && json_integer_value(json_object_get(o, "inbox_pending")) == 0 &&
		  json_object_get(o, "inbox_pending");

	json_decref(o);
	return ok;
}

static void
notice(struct trial *r)
{
	long status = 0;
	struct ta *t = r->p->a;
	json_t *m =
	    th_sim(&t->gs, "POST", "/emergency",
		   json_pack("{s:s, s:[s], s:s, s:s}", "caller", t->caller, "members", t->svc,
			     "number", "911", "location", "Zürich, Bahnhofstraße 1, Büro 4 🚑"),
		   &status);

	assert_int_equal(status, 201);
	json_object_set_new(r->chats, ta_str(m, "chat_id"), json_true());
	json_decref(m);
}

static void
test_pair_survives_kills(void **state)
{
	struct ta *t = *state;
	long trials = env_long("CT_PAIR_TRIALS", 30), msgs = env_long("CT_PAIR_MESSAGES", 500);
	long notices = env_long("CT_PAIR_NOTICES", 20), every = notices ? msgs / notices : 0;
	struct ta_pair p;
	struct trial r = {&p, json_object(), NULL};
	char *chats[10], *traps, *cmds;
	int kills = 0, takeovers = 0, dup_traps = 0, dup_cmds = 0;
	size_t i;
	json_t *e;

	srand((unsigned)env_long("CT_PAIR_SEED", (long)time(NULL)));
	/* Graph's reads are not what is tested here: ten chats read as fast
	 * as the agent asks, so each burst is done before the next */
	ta_sim_ok(t, "POST", "/config", json_pack("{s:i}", "chat-get-limit", 100));
	pair_up(&p, t, true, "lease_time = 3s\n");
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	for (int c = 0; c < 10; c++)
		chats[c] = ta_chat_new(t, "group");
	/* from now on Graph's webhooks go to both agents in turn */
	th_proxy_mode(p.lb, true);
	for (long k = 0; k < trials; k++) {
		struct ta *victim = rand() % 2 ? &p.b : t, *other = victim == t ? &p.b : t;
		long killed_at = rand() % msgs;
		bool was_active = false;
		for (long i2 = 0; i2 < msgs; i2++) {
			if (i2 == killed_at) {
				char *role = ta_role(victim);
				was_active = !strcmp(role, "active");
				free(role);
				ta_kill(victim);
				kills++;
				/* the active stays down until the other has taken
				 * over: started again at once, it would take its
				 * own lease back */
				if (was_active) {
					ta_wait_role(other, "active", 30);
					takeovers++;
				}
				assert_int_equal(ta_restart(victim), 0);
			}
			if (every && i2 % every == every - 1)
				notice(&r);
			else
				ta_sim_ok(t, "POST", "/messages",
					  json_pack("{s:s, s:s, s:s}", "chat", chats[i2 % 10],
						    "from", t->caller, "content",
						    "Ölwechsel in Halle 3 erledigt ✅"));
		}
		th_step("trial %ld: %s (%s) killed after %ld messages", k + 1,
			victim == t ? "alpha" : "beta", was_active ? "active" : "standby",
			killed_at);
		if (!th_wait_until(all_raised, &r, 120)) {
			fprintf(stderr, "trial %ld: %zu of %zu notices raised\n", k + 1,
				json_array_size(r.events), json_object_size(r.chats));
			fail();
		}
		/* the ordinary messages too, before the next burst */
		assert_true(th_wait_until(inbox_empty, &p, 120));
	}
	assert_true(th_wait_until(all_delivered, &r, 120));
	traps = ta_pair_traps(&p);
	cmds = th_read_file(p.fifo.out);
	json_array_foreach (r.events, i, e) {
		long id = (long)json_integer_value(json_object_get(e, "id"));
		char trap[64], cmd[64];
		snprintf(trap, sizeof(trap), "ctTeamsEventNumber.%ld ", id);
		snprintf(cmd, sizeof(cmd), "(event %ld;", id);
		dup_traps += count_in(traps, trap) - 1;
		dup_cmds += count_in(cmds, cmd) - 1;
	}
	print_message("pair: %ld trials, %d kills (%d of the active), %zu notices: %d duplicate "
		      "trap(s), %d duplicate passive result(s); webhook POSTs to alpha %ld, to "
		      "beta %ld\n",
		      trials, kills, takeovers, json_array_size(r.events), dup_traps, dup_cmds,
		      th_proxy_served(p.lb, 0), th_proxy_served(p.lb, 1));
	/* exactly one event per notice */
	assert_int_equal(json_array_size(r.events), json_object_size(r.chats));
	assert_int_equal(json_object_size(r.chats), trials * notices);
	json_array_foreach (r.events, i, e) {
		size_t k;
		json_t *o;
		json_array_foreach (r.events, k, o)
			assert_true(k == i ||
				    strcmp(ta_str(o, "chat_id"), ta_str(e, "chat_id")) != 0);
	}
	/* a repeat only where a kill fell between sending and noting it */
	assert_true(dup_traps <= kills);
	assert_true(dup_cmds <= kills);
	/* both took webhooks in */
	assert_true(th_proxy_served(p.lb, 0) > 0 && th_proxy_served(p.lb, 1) > 0);
	free(traps);
	free(cmds);
	for (int c = 0; c < 10; c++)
		free(chats[c]);
	json_decref(r.chats);
	json_decref(r.events);
	ta_sim_ok(t, "POST", "/config", json_pack("{s:i}", "chat-get-limit", 1));
	pair_down(&p);
}

/* Requests by one agent (its User-Agent names it) since seq, of a kind. */
static int
requests_by(struct ta *t, long since, const char *agent, const char *method, const char *what)
{
	json_t *all = ta_requests(t, since, NULL), *e;
	size_t i;
	int n = 0;

	json_array_foreach (all, i, e) {
		const char *ua = ta_str(e, "agent"), *note = ta_str(e, "note");
		if (!ua || !strstr(ua, agent) || strcmp(ta_str(e, "method"), method) != 0)
			continue;
		n += (note && strstr(note, what)) || strstr(ta_str(e, "path"), what) != NULL;
	}
	json_decref(all);
	return n;
}

struct by_wait {
	struct ta *t;
	long since;
	const char *agent, *method, *what;
};

static bool
requested(void *arg)
{
	struct by_wait *w = arg;

	return requests_by(w->t, w->since, w->agent, w->method, w->what) > 0;
}

static void
test_pair_stopped_holder(void **state)
{
	struct ta *t = *state;
	struct ta_pair p;
	long seq;

	/* tokens of 4 s, refreshed 2 s before their end; a subscription of
	 * 12 s renewed 8 s before its end: both due within a lease time */
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "5s", "sub_max", "60s",
				     "lifecycle_required_above", "10s"),
			   NULL));
	/* requests given up after 5 s: a new active waits 7 s before its
	 * first refresh, for one the stopped holder may have sent */
	pair_up(&p, t, false,
		"lease_time = 4s\nrefresh_margin = 2s\nsubscription_lifetime = 12s\n"
		"renew_margin = 8s\nhttp_timeout = 5s\nhttp_connect_timeout = 2s\n");
	ta_short_tokens(t, true);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	seq = ta_last_request_seq(t);
	{
		struct by_wait w = {t, seq, "(alpha)", "POST", "refresh_token"};
		assert_true(th_wait_until(requested, &w, 20));
	}
	th_step("alpha refreshes; SIGSTOP alpha past its lease");
	kill(t->pid, SIGSTOP);
	/* a stopped process's socket still accepts: the balancer's health
	 * check takes it out, as keepalived would move the address */
	th_proxy_prefer(p.lb, 1);
	ta_wait_role(&p.b, "active", 30);
	seq = ta_last_request_seq(t);
	{
		struct by_wait w = {t, seq, "(beta)", "POST", "refresh_token"};
		assert_true(th_wait_until(requested, &w, 30));
		struct by_wait r = {t, seq, "(beta)", "PATCH", "/subscriptions/"};
		assert_true(th_wait_until(requested, &r, 30));
	}
	th_step("beta refreshed and renewed; SIGCONT alpha");
	seq = ta_last_request_seq(t);
	kill(t->pid, SIGCONT);
	ta_wait_role(t, "standby", 30);
	/* a while more: what alpha had due when it stopped stays undone */
	{
		struct by_wait w = {t, ta_last_request_seq(t), "(beta)", "POST", "refresh_token"};
		assert_true(th_wait_until(requested, &w, 30));
	}
	assert_int_equal(requests_by(t, seq, "(alpha)", "POST", "refresh_token"), 0);
	assert_int_equal(requests_by(t, seq, "(alpha)", "PATCH", "/subscriptions"), 0);
	assert_int_equal(requests_by(t, seq, "(alpha)", "POST", "/subscriptions"), 0);
	/* and beta still holds the sign-in: the session was never reused */
	assert_true(ta_wait_auth(&p.b, "acme", "valid", 10));
	ta_short_tokens(t, false);
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "45m", "sub_max", "4320m",
				     "lifecycle_required_above", "1h"),
			   NULL));
	pair_down(&p);
}

struct alarm_wait {
	struct ta *t;
	const char *type;
	bool on;
};

static bool
alarm_is(void *arg)
{
	struct alarm_wait *w = arg;
	json_t *j = ta_ctl(w->t, "alarms", NULL), *a;
	bool found = false;
	size_t i;

	json_array_foreach (json_object_get(j, "alarms"), i, a)
		found |= !strcmp(ta_str(a, "type"), w->type);
	json_decref(j);
	return j && found == w->on;
}

static void
test_pair_database_restart(void **state)
{
	struct ta *t = *state;
	struct ta_pair p;
	struct trial r = {&p, json_object(), NULL};
	char *traps;

	pair_up(&p, t, true, NULL);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	/* Graph retries a 503 after a second, then doubling */
	ta_sim_ok(t, "POST", "/config", json_pack("{s:s}", "retry-initial", "1s"));
	th_step("PostgreSQL stops; a 911 call comes");
	assert_int_equal(th_pg_halt(&pg), 0);
	notice(&r);
	{
		struct alarm_wait w = {t, "databaseUnreachable", true};
		assert_true(th_wait_until(alarm_is, &w, 30));
	}
	assert_true(ta_counter(t, "received") >= 0);
	th_step("PostgreSQL starts again");
	assert_int_equal(th_pg_resume(&pg), 0);
	assert_true(th_wait_until(all_raised, &r, 60));
	{
		struct alarm_wait w = {t, "databaseUnreachable", false};
		assert_true(th_wait_until(alarm_is, &w, 30));
	}
	assert_true(th_wait_until(all_delivered, &r, 60));
	traps = ta_pair_traps(&p);
	assert_int_equal(count_in(traps, "ctTeamsDatabaseUnreachable"), 1);
	assert_int_equal(count_in(traps, "ctTeamsDatabaseRestored"), 1);
	/* one agent kept the duties through it */
	{
		char *ra = ta_role(t), *rb = ta_role(&p.b);
		assert_string_equal(ra, "active");
		assert_string_equal(rb, "standby");
		free(ra);
		free(rb);
	}
	ta_sim_ok(t, "POST", "/config", json_pack("{s:s}", "retry-initial", "60s"));
	free(traps);
	json_decref(r.chats);
	json_decref(r.events);
	pair_down(&p);
}

static int
setup(void **state)
{
	if (th_pg_start(&pg) < 0)
		return -1;
	return ta_setup(state, NULL);
}

static int
teardown(void **state)
{
	int rc = ta_teardown(state);

	th_pg_stop(&pg);
	return rc;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_pair_stopped_holder, pair_teardown),
	    cmocka_unit_test_teardown(test_pair_database_restart, pair_teardown),
	    cmocka_unit_test_teardown(test_pair_survives_kills, pair_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
