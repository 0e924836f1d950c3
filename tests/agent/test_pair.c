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
 * - sign-in on either host: the link from one agent, the callback on the
 *   other, both ways; the active takes up a sign-in the standby stored and
 *   refreshes only its tokens from then on.
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
static bool pg_halted;          /* and the server it stopped */

static void
pg_halt(void)
{
	assert_int_equal(th_pg_halt(&pg), 0);
	pg_halted = true;
}

static void
pg_resume(void)
{
	assert_int_equal(th_pg_resume(&pg), 0);
	pg_halted = false;
}

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
pair_teardown(void **state)
{
	if (current)
		ta_pair_free(current);
	current = NULL;
	if (pg_halted && th_pg_resume(&pg) == 0)
		pg_halted = false;
	return ta_test_teardown(state);
}

struct trial {
	struct ta_pair *p;
	json_t *chats;  /* chat id -> true: the notices placed */
	json_t *events; /* their events, each once: id -> event */
	json_t *raised; /* chat id -> true: the chats with an event */
};

/* The newest events (the control socket gives 500 at most: a trial's
 * notices are among them) noted by id, until every notice has one. */
static bool
all_raised(void *arg)
{
	struct trial *r = arg;
	json_t *ev = ta_pair_events(r->p), *e;
	char id[32];
	size_t i;

	if (!ev)
		return false;
	if (!r->events)
		r->events = json_object();
	if (!r->raised)
		r->raised = json_object();
	json_array_foreach (ev, i, e) {
		const char *chat = ta_str(e, "chat_id");
		if (!chat || !json_object_get(r->chats, chat))
			continue;
		snprintf(id, sizeof(id), "%lld",
			 (long long)json_integer_value(json_object_get(e, "id")));
		json_object_set(r->events, id, e);
		json_object_set_new(r->raised, chat, json_true());
	}
	json_decref(ev);
	return json_object_size(r->raised) >= json_object_size(r->chats);
}

static bool
all_delivered(void *arg)
{
	struct trial *r = arg;
	char *traps = ta_pair_traps(r->p), *cmds = th_read_file(r->p->fifo.out);
	bool ok = cmds != NULL;
	const char *key;
	json_t *e;

	json_object_foreach (r->events, key, e) {
		long id = (long)json_integer_value(json_object_get(e, "id"));
		char trap[64], cmd[64];
		snprintf(trap, sizeof(trap), "ctTeamsEventNumber.%ld ", id);
		snprintf(cmd, sizeof(cmd), "(event %ld;", id);
		ok &= ta_count_in(traps, trap) >= 1 && ta_count_in(cmds, cmd) >= 1;
	}
	free(traps);
	free(cmds);
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
	/* static: a failed test's teardown still uses it */
	static struct ta_pair p;
	struct trial r = {&p, json_object(), NULL, NULL};
	char *chats[10], *traps, *cmds;
	int kills = 0, takeovers = 0, dup_traps = 0, dup_cmds = 0;
	const char *key;
	json_t *e;

	srand((unsigned)env_long("CT_PAIR_SEED", (long)time(NULL)));
	/* Graph's reads are not what is tested here: ten chats read as fast
	 * as the agent asks (it paces itself); the ordinary messages pile up
	 * over the trials, and each trial's notices are read first */
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
				json_object_size(r.raised), json_object_size(r.chats));
			fail();
		}
	}
	assert_true(th_wait_until(all_delivered, &r, 120));
	traps = ta_pair_traps(&p);
	cmds = th_read_file(p.fifo.out);
	json_object_foreach (r.events, key, e) {
		long id = (long)json_integer_value(json_object_get(e, "id"));
		char trap[64], cmd[64];
		snprintf(trap, sizeof(trap), "ctTeamsEventNumber.%ld ", id);
		snprintf(cmd, sizeof(cmd), "(event %ld;", id);
		dup_traps += ta_count_in(traps, trap) - 1;
		dup_cmds += ta_count_in(cmds, cmd) - 1;
	}
	print_message("pair: %ld trials, %d kills (%d of the active), %zu notices: %d duplicate "
		      "trap(s), %d duplicate passive result(s); webhook POSTs to alpha %ld, to "
		      "beta %ld\n",
		      trials, kills, takeovers, json_object_size(r.events), dup_traps, dup_cmds,
		      th_proxy_served(p.lb, 0), th_proxy_served(p.lb, 1));
	/* exactly one event per notice: as many events as notices, each
	 * notice's chat with one */
	assert_int_equal(json_object_size(r.chats), trials * notices);
	assert_int_equal(json_object_size(r.raised), json_object_size(r.chats));
	assert_int_equal(json_object_size(r.events), json_object_size(r.chats));
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
	json_decref(r.raised);
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

struct by_count {
	struct ta *t;
	long since;
	const char *agent, *method, *what;
	int n;
};

static bool
requested_n(void *arg)
{
	struct by_count *w = arg;

	return requests_by(w->t, w->since, w->agent, w->method, w->what) >= w->n;
}

/* beta's refreshes while the database is away, or beta paused too (its
 * own lease unrenewed): either way alpha's have come due again and again */
static bool
beta_went_on(void *arg)
{
	struct by_count *w = arg;
	char *role = ta_role(&current->b);
	bool paused = !strcmp(role, "paused");

	free(role);
	return paused || requested_n(w);
}

static void
test_pair_stopped_holder(void **state)
{
	struct ta *t = *state;
	/* static: a failed test's teardown still uses it */
	static struct ta_pair p;
	long seq;

	/* tokens of 4 s, refreshed 3 s before their end; a subscription of
	 * 12 s renewed 8 s before its end: both come due every second or
	 * few, the lease's renewal every 5 s, so when the stopped holder
	 * resumes, a refresh or a renewal is due before it learns from the
	 * database that the lease is gone: its own deadline must stop it */
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:s, s:s}", "sub_min", "5s", "sub_max", "60s",
				     "lifecycle_required_above", "10s"),
			   NULL));
	/* requests given up after 5 s: a new active waits 7 s before its
	 * first refresh, for one the stopped holder may have sent */
	pair_up(&p, t, false,
		"lease_time = 15s\nrefresh_margin = 3s\nsubscription_lifetime = 12s\n"
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
	ta_wait_role(&p.b, "active", 40);
	seq = ta_last_request_seq(t);
	{
		struct by_wait w = {t, seq, "(beta)", "POST", "refresh_token"};
		assert_true(th_wait_until(requested, &w, 30));
		struct by_wait r = {t, seq, "(beta)", "PATCH", "/subscriptions/"};
		assert_true(th_wait_until(requested, &r, 30));
	}
	th_step("beta refreshed and renewed; the database goes away; SIGCONT alpha");
	/* alpha cannot learn from the database that the lease is gone: only
	 * its own deadline keeps it from acting, while its refreshes and
	 * renewals come due again and again */
	pg_halt();
	seq = ta_last_request_seq(t);
	kill(t->pid, SIGCONT);
	ta_wait_role(t, "paused", 20);
	{
		struct by_count w = {t, seq, "(beta)", "POST", "refresh_token", 3};
		assert_true(th_wait_until(beta_went_on, &w, 30));
	}
	th_step("beta went on for a while; the database comes back");
	pg_resume();
	ta_wait_role(t, "standby", 30);
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

/* The browser, one hop at a time: the link opened at the agent the
 * balancer prefers first, Microsoft's sign-in, and the callback at the
 * agent it prefers then. The callback page's status; *ret_callback (to
 * free) the callback URL, to try it again. */
static long
browse_across(struct ta_pair *p, const char *link, int first, int then, char **ret_callback)
{
	struct th_resp r;
	char *at;
	long status = -1;

	th_proxy_prefer(p->lb, first);
	assert_int_equal(th_http("GET", link, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 302);
	at = strdup(r.location);
	th_resp_free(&r);
	assert_int_equal(th_http("GET", at, p->a->gs.ca, NULL, NULL, &r), 0);
	free(at);
	assert_int_equal(r.status, 302);
	at = strdup(r.location);
	th_resp_free(&r);
	th_proxy_prefer(p->lb, then);
	if (th_http("GET", at, NULL, NULL, NULL, &r) == 0)
		status = r.status;
	th_resp_free(&r);
	*ret_callback = at;
	return status;
}

/* The refreshes one agent sent since seq: of a sign-in's chain (graphsim
 * numbers the chain of refresh tokens each code starts), or of any (-1). */
static int
refreshes_of(struct ta *t, long since, const char *agent, int chain)
{
	json_t *all = ta_requests(t, since, "refresh_token"), *e;
	size_t i;
	int n = 0;

	json_array_foreach (all, i, e) {
		const char *ua = ta_str(e, "agent"), *at = strstr(ta_str(e, "note"), " chain=");
		if (ua && strstr(ua, agent) && at && (chain < 0 || atoi(at + 7) == chain))
			n++;
	}
	json_decref(all);
	return n;
}

struct chain_wait {
	struct ta *t;
	long since;
	int chain;
};

static bool
alpha_refreshes_chain(void *arg)
{
	struct chain_wait *w = arg;

	return refreshes_of(w->t, w->since, "(alpha)", w->chain) > 0;
}

/* Sign-in on either host: the link made on the standby and opened there,
 * the callback landing on the active; then the other way round. The
 * active takes up a sign-in the standby stored, and from then on
 * refreshes only its tokens; the standby never refreshes. A link and a
 * state work once, whichever agent sees them again. */
static void
test_pair_signin_either_host(void **state)
{
	struct ta *t = *state;
	/* static: a failed test's teardown still uses it */
	static struct ta_pair p;
	char *link, *callback, *page = NULL;
	long seq, first;
	int chain;

	pair_up(&p, t, false, "refresh_margin = 3s\n");
	ta_short_tokens(t, true);
	seq = ta_last_request_seq(t);
	th_step("a link from the standby, opened there; the callback lands on the active");
	link = ta_link(&p.b, "acme");
	assert_non_null(link);
	assert_int_equal(browse_across(&p, link, 1, 0, &callback), 200);
	assert_true(ta_wait_auth(t, "acme", "valid", 10));
	assert_true(th_wait_until(ta_sub_active, t, 20));
	assert_int_equal(requests_by(t, seq, "(alpha)", "POST", "authorization_code"), 1);
	/* the link (used on beta) and the state (on alpha) are spent on the
	 * other agent too */
	{
		struct th_resp r;
		th_proxy_prefer(p.lb, 0);
		assert_int_equal(th_http("GET", link, NULL, NULL, NULL, &r), 0);
		assert_int_equal(r.status, 403);
		assert_non_null(strstr(r.body, "already used"));
		th_resp_free(&r);
		th_proxy_prefer(p.lb, 1);
		assert_int_equal(th_http("GET", callback, NULL, NULL, NULL, &r), 0);
		assert_int_equal(r.status, 400);
		th_resp_free(&r);
	}
	free(link);
	free(callback);

	th_step("a link from the active, opened there; the callback lands on the standby");
	seq = ta_last_request_seq(t);
	link = ta_link(t, "acme");
	assert_non_null(link);
	assert_int_equal(browse_across(&p, link, 0, 1, &callback), 200);
	free(link);
	free(callback);
	{
		json_t *codes = ta_requests(t, seq, "authorization_code");
		const char *note = ta_str(json_array_get(codes, 0), "note");
		assert_non_null(note);
		assert_non_null(strstr(ta_str(json_array_get(codes, 0), "agent"), "(beta)"));
		chain = atoi(strstr(note, "chain=") + 6);
		json_decref(codes);
	}
	/* alpha takes it up and refreshes the new sign-in's tokens */
	{
		struct chain_wait w = {t, seq, chain};
		assert_true(th_wait_until(alpha_refreshes_chain, &w, 20));
	}
	th_step("alpha refreshes the new sign-in; none of the old one from now on");
	first = ta_last_request_seq(t);
	{
		struct by_count w = {t, first, "(alpha)", "POST", "refresh_token", 3};
		assert_true(th_wait_until(requested_n, &w, 20));
	}
	/* every refresh since, of the new sign-in */
	assert_int_equal(refreshes_of(t, first, "(alpha)", chain),
			 refreshes_of(t, first, "(alpha)", -1));
	assert_int_equal(requests_by(t, seq, "(beta)", "POST", "refresh_token"), 0);
	assert_true(ta_wait_auth(t, "acme", "valid", 10));
	assert_true(ta_wait_auth(&p.b, "acme", "valid", 10));
	/* logging out stays the active's */
	{
		const char *argv[] = {TA_CTTEAMSCTL, "-S", p.b.sock, "logout", "acme", NULL};
		char *err = NULL;
		assert_int_not_equal(th_run(argv, &page, &err), 0);
		assert_non_null(strstr(err, "standby"));
		free(err);
	}
	free(page);
	ta_short_tokens(t, false);
	pair_down(&p);
}

static bool
restored_trapped(void *arg)
{
	char *traps = ta_pair_traps(arg);
	bool ok = ta_count_in(traps, "ctTeamsDatabaseRestored") > 0;

	free(traps);
	return ok;
}

static void
test_pair_database_restart(void **state)
{
	struct ta *t = *state;
	/* static: a failed test's teardown still uses it */
	static struct ta_pair p;
	struct trial r = {&p, json_object(), NULL, NULL};
	char *traps;

	pair_up(&p, t, true, NULL);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	/* the standby shows what the active did: the sign-in, the
	 * subscription, and no notSignedIn left from before it */
	assert_true(ta_wait_auth(&p.b, "acme", "valid", 20));
	assert_true(th_wait_until(ta_sub_active, &p.b, 20));
	{
		struct ta_alarm_wait w = {&p.b, "notSignedIn", false};
		assert_true(th_wait_until(ta_alarm_is, &w, 20));
	}
	/* Graph retries a 503 after a second, then doubling */
	ta_sim_ok(t, "POST", "/config", json_pack("{s:s}", "retry-initial", "1s"));
	th_step("PostgreSQL stops; a 911 call comes");
	pg_halt();
	notice(&r);
	{
		struct ta_alarm_wait w = {t, "databaseUnreachable", true};
		assert_true(th_wait_until(ta_alarm_is, &w, 30));
	}
	assert_true(ta_counter(t, "received") >= 0);
	th_step("PostgreSQL starts again");
	pg_resume();
	assert_true(th_wait_until(all_raised, &r, 60));
	{
		struct ta_alarm_wait w = {t, "databaseUnreachable", false};
		assert_true(th_wait_until(ta_alarm_is, &w, 30));
	}
	assert_true(th_wait_until(all_delivered, &r, 60));
	assert_true(th_wait_until(restored_trapped, &p, 60));
	traps = ta_pair_traps(&p);
	assert_int_equal(ta_count_in(traps, "ctTeamsDatabaseUnreachable"), 1);
	assert_int_equal(ta_count_in(traps, "ctTeamsDatabaseRestored"), 1);
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
	json_decref(r.raised);
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
	    cmocka_unit_test_teardown(test_pair_signin_either_host, pair_teardown),
	    cmocka_unit_test_teardown(test_pair_stopped_holder, pair_teardown),
	    cmocka_unit_test_teardown(test_pair_database_restart, pair_teardown),
	    cmocka_unit_test_teardown(test_pair_survives_kills, pair_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
