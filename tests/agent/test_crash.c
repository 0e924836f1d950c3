/*
 * Crashes: ctteamsd is SIGKILLed at random moments while bursts of
 * ordinary messages with 911 notices among them arrive (rich, then basic),
 * and started again each time. Counted at the receivers, a real
 * snmptrapd and Nagios' command file (a FIFO): every notice is exactly one
 * event, and reaches each receiver at least once; a receiver sees a notice
 * twice only when a kill fell between its sending and the store noting
 * it, so never more duplicates than kills. Graph keeps one subscription.
 *
 * Sizes come from the environment (scripts/soak runs the long version):
 * CT_CRASH_KILLS per mode (default 5), CT_CRASH_MESSAGES (100) and
 * CT_CRASH_NOTICES (5) per mode, CT_CRASH_SEED (the time).
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

#include "ta.h"

static struct th_snmp snmp;
static struct ta_fifo fifo;

static long
env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : dflt;
}

struct run {
	struct ta *t;
	json_t *chats;  /* chat id -> true: this run's notices */
	json_t *events; /* the events of those chats */
	int kills;
};

/* The events of this run's notice chats (graphsim is shared: a read-back
 * may also find an earlier test's notices, which are not counted here). */
static bool
all_raised(void *arg)
{
	struct run *r = arg;
	json_t *ev = ta_events(r->t), *mine = json_array(), *e;
	size_t i;

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
	struct run *r = arg;
	char *traps = th_snmp_traps(&snmp), *cmds = th_read_file(fifo.out);
	bool ok = traps && cmds;
	size_t i;
	json_t *e;

	json_array_foreach (r->events, i, e) {
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

/* A 911 call: Teams' notice in a new chat, noted in r->chats. */
static void
notice(struct run *r)
{
	long status = 0;
	json_t *m = th_sim(&r->t->gs, "POST", "/emergency",
			   json_pack("{s:s, s:[s], s:s}", "caller", r->t->caller, "members",
				     r->t->svc, "number", "911"),
			   &status);

	assert_int_equal(status, 201);
	json_object_set_new(r->chats, ta_str(m, "chat_id"), json_true());
	json_decref(m);
}

static void
burst(struct run *r, char **chats, long from, long to, long every)
{
	struct ta *t = r->t;

	for (long i = from; i < to; i++) {
		if (every && i % every == every - 1) {
			notice(r);
			continue;
		}
		ta_sim_ok(t, "POST", "/messages",
			  json_pack("{s:s, s:s, s:s}", "chat", chats[i % 10], "from", t->caller,
				    "content", "the van is back in bay 3"));
	}
}

static void
run_crashes(struct ta *t, bool rich)
{
	long kills = env_long("CT_CRASH_KILLS", 5), msgs = env_long("CT_CRASH_MESSAGES", 100);
	long notices = env_long("CT_CRASH_NOTICES", 5), every = notices ? msgs / notices : 0;
	char *dir = th_tmpdir("crash"), *conf, *chats[10];
	struct run r = {t, json_object(), NULL, 0};
	int dup_traps = 0, dup_cmds = 0;
	char *traps, *cmds;
	size_t i;
	json_t *e;

	srand((unsigned)env_long("CT_CRASH_SEED", (long)time(NULL)));
	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	ta_fifo_make(&fifo, dir);
	ta_fifo_read(&fifo);
	if (asprintf(&conf,
		     "agentx_socket = %s\nagentx_reconnect = 1s\nnagios_command_file = %s\n"
		     "backfill_delay = 1s\nlog_level = info",
		     snmp.agentx, fifo.path) < 0)
		abort();
	assert_int_equal(
	    ta_start(t, conf, rich ? "rich_notifications = yes\n" : "rich_notifications = no\n"),
	    0);
	free(conf);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	for (int c = 0; c < 10; c++)
		chats[c] = ta_chat_new(t, "group");
	for (long k = 0; k <= kills; k++) {
		burst(&r, chats, msgs * k / (kills + 1), msgs * (k + 1) / (kills + 1), every);
		if (k == kills)
			break;
		/* a random moment in the work the burst caused */
		usleep((useconds_t)(rand() % 400000));
		ta_kill(t);
		r.kills++;
		assert_int_equal(ta_restart(t), 0);
	}
	th_step("%s: %d kills; waiting for %ld notices", rich ? "rich" : "basic", r.kills, notices);
	if (!th_wait_until(all_raised, &r, 180)) {
		fprintf(stderr, "events: %s\n", json_dumps(r.events, JSON_INDENT(1)));
		fail();
	}
	assert_true(th_wait_until(all_delivered, &r, 120));
	/* stragglers: whatever was in flight has had its time */
	assert_true(th_wait_until(ta_sub_active, t, 20));
	traps = th_snmp_traps(&snmp);
	cmds = th_read_file(fifo.out);
	json_array_foreach (r.events, i, e) {
		long id = (long)json_integer_value(json_object_get(e, "id"));
		char trap[64], cmd[64];
		int nt, nc;
		snprintf(trap, sizeof(trap), "ctTeamsEventNumber.%ld ", id);
		snprintf(cmd, sizeof(cmd), "(event %ld;", id);
		nt = ta_count_in(traps, trap);
		nc = ta_count_in(cmds, cmd);
		assert_true(nt >= 1 && nc >= 1);
		dup_traps += nt - 1;
		dup_cmds += nc - 1;
	}
	print_message("%s: %d kills, %zu notices: %d duplicate trap(s), %d duplicate passive "
		      "result(s)\n",
		      rich ? "rich" : "basic", r.kills, json_array_size(r.events), dup_traps,
		      dup_cmds);
	/* exactly one event per notice: no chat twice */
	json_array_foreach (r.events, i, e) {
		size_t k;
		json_t *o;
		json_array_foreach (r.events, k, o)
			assert_true(k == i ||
				    strcmp(ta_str(o, "chat_id"), ta_str(e, "chat_id")) != 0);
	}
	assert_int_equal(json_object_size(r.chats), notices);
	assert_int_equal(json_array_size(r.events), notices);
	assert_true(dup_traps <= r.kills);
	assert_true(dup_cmds <= r.kills);
	/* one live subscription for the org at Graph */
	{
		json_t *all = th_sim(&t->gs, "GET", "/subscriptions", NULL, NULL), *v;
		char *url;
		int live = 0;
		if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", t->base) < 0)
			abort();
		json_array_foreach (json_object_get(all, "value"), i, v)
			live += json_is_true(json_object_get(v, "live")) &&
				!strcmp(ta_str(v, "notificationUrl"), url);
		json_decref(all);
		free(url);
		assert_int_equal(live, 1);
	}
	assert_int_equal(ta_stop(t), 0);
	free(traps);
	free(cmds);
	json_decref(r.events);
	json_decref(r.chats);
	for (int c = 0; c < 10; c++)
		free(chats[c]);
	ta_fifo_stop(&fifo);
	th_snmp_stop(&snmp);
	th_rmtree(dir);
	free(dir);
}

static void
test_crash_rich(void **state)
{
	run_crashes(*state, true);
}

static void
test_crash_basic(void **state)
{
	run_crashes(*state, false);
}

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static int
test_teardown(void **state)
{
	ta_fifo_stop(&fifo);
	ta_test_teardown(state);
	th_snmp_stop(&snmp);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_crash_rich, test_teardown),
	    cmocka_unit_test_teardown(test_crash_basic, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
