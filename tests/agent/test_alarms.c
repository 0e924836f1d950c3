/*
 * The alarm table and the outbox, end to end: each alarm type is caused
 * for real against graphsim, raised exactly once, cleared exactly once
 * when its cause ends, and both transitions are in the outbox, in order,
 * as are the emergency events. A restart neither forgets an alarm nor
 * raises it twice.
 */
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static void
wait_alarm(struct ta *t, const char *type, bool active, double timeout)
{
	struct ta_alarm_wait w = {t, type, active};

	assert_true(th_wait_until(ta_alarm_is, &w, timeout));
}

/* The alarm's transitions in the outbox, in order: "RC" = raised, cleared.
 * *ret_first gets the seq of the first one. */
static char *
transitions(struct ta *t, const char *type, long *ret_first)
{
	json_t *j = ta_ctl(t, "outbox", NULL), *e;
	char *out = calloc(1, 64);
	size_t i, n = 0;
	long last = 0;

	json_array_foreach (json_object_get(j, "entries"), i, e) {
		long seq = (long)json_integer_value(json_object_get(e, "seq"));
		assert_true(seq > last); /* in order, no repeats */
		last = seq;
		if (strcmp(ta_str(e, "kind"), "alarm") != 0 || strcmp(ta_str(e, "type"), type) != 0)
			continue;
		if (n == 0 && ret_first)
			*ret_first = seq;
		if (n < 63)
			out[n++] = !strcmp(ta_str(e, "transition"), "raise") ? 'R' : 'C';
	}
	json_decref(j);
	return out;
}

/* The severities of the alarm's transitions, in order: "warning critical
 * cleared" for a raise, its escalation and the clear. */
static char *
severities(struct ta *t, const char *type)
{
	json_t *j = ta_ctl(t, "outbox", NULL), *e;
	char *out = calloc(1, 256);
	size_t i;

	json_array_foreach (json_object_get(j, "entries"), i, e) {
		if (strcmp(ta_str(e, "kind"), "alarm") != 0 || strcmp(ta_str(e, "type"), type) != 0)
			continue;
		snprintf(out + strlen(out), 256 - strlen(out), "%s%s", *out ? " " : "",
			 ta_str(e, "severity"));
	}
	json_decref(j);
	return out;
}

/* An active alarm of a type, with text in its text and of a severity
 * (either NULL: any). */
struct alarm_match {
	struct ta *t;
	const char *type, *text, *severity;
};

static bool
alarm_matches(void *arg)
{
	struct alarm_match *w = arg;
	json_t *j = ta_ctl(w->t, "alarms", NULL), *a;
	bool ok = false;
	size_t i;

	json_array_foreach (json_object_get(j, "alarms"), i, a)
		ok |= !strcmp(ta_str(a, "type"), w->type) &&
		      (!w->text || strstr(ta_str(a, "text"), w->text)) &&
		      (!w->severity || !strcmp(ta_str(a, "severity"), w->severity));
	json_decref(j);
	return ok;
}

static void
wait_severity(struct ta *t, const char *type, const char *severity, double timeout)
{
	struct alarm_match w = {t, type, NULL, severity};

	assert_true(th_wait_until(alarm_matches, &w, timeout));
}

static void
expect_transitions(struct ta *t, const char *type, const char *want)
{
	char *got = transitions(t, type, NULL);

	assert_string_equal(got, want);
	free(got);
}

static bool
refreshed_once(void *arg)
{
	json_t *o = ta_org_status(arg, "acme");
	bool ok = json_is_string(json_object_get(o, "last_refresh"));

	json_decref(o);
	return ok;
}

/* Not signed in, then signed in; revoked, then signed in again; with a
 * restart while an alarm is raised. */
static void
test_sign_in_alarms(void **state)
{
	struct ta *t = *state;
	char *path;
	long first_nsi = 0, first_lost = 0;
	char *s;

	ta_short_tokens(t, true);
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	wait_alarm(t, "notSignedIn", true, 10);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	wait_alarm(t, "notSignedIn", false, 10);
	assert_true(th_wait_until(refreshed_once, t, 10));
	if (asprintf(&path, "/users/%s/revoke", t->svc) < 0)
		abort();
	ta_sim_ok(t, "POST", path, NULL);
	wait_alarm(t, "signInLost", true, 20);
	/* a restart remembers it, and does not raise it again */
	assert_int_equal(ta_stop(t), 0);
	assert_int_equal(ta_restart(t), 0);
	wait_alarm(t, "signInLost", true, 5);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	wait_alarm(t, "signInLost", false, 10);
	expect_transitions(t, "notSignedIn", "RC");
	s = transitions(t, "notSignedIn", &first_nsi);
	free(s);
	s = transitions(t, "signInLost", &first_lost);
	assert_string_equal(s, "RC");
	free(s);
	assert_true(first_nsi < first_lost);
	assert_int_equal(ta_stop(t), 0);
	free(path);
	ta_short_tokens(t, false);
}

/* Entra's error text in another script, long enough to be cut: the cut
 * falls between characters and signInLost is raised with it (a text cut
 * mid-character was not UTF-8, could not be written, and the alarm was
 * never raised while the plugin said OK). */
static void
test_sign_in_lost_with_multibyte_text(void **state)
{
	struct ta *t = *state;
	char desc[1024] = "AADSTS70043: ", *text;
	json_t *alarms, *a, *body;
	size_t i;
	bool found = false;

	/* 3 + 13 bytes, then 2-byte characters across byte 300 */
	while (strlen(desc) < 600)
		strcat(desc, "é");
	ta_short_tokens(t, true);
	assert_int_equal(ta_start(t, "refresh_margin = 1s", NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(refreshed_once, t, 10));
	body = json_pack("{s:s, s:s, s:[i]}", "error", "invalid_grant", "error_description", desc,
			 "error_codes", 70043);
	text = json_dumps(body, JSON_COMPACT);
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i, s:s}", "path", "/" TA_TENANT "/oauth2/v2.0/token",
			    "method", "POST", "status", 400, "count", 1000, "body", text));
	free(text);
	json_decref(body);
	wait_alarm(t, "signInLost", true, 20);
	alarms = ta_ctl(t, "alarms", NULL);
	json_array_foreach (json_object_get(alarms, "alarms"), i, a) {
		/* the text written and read back whole: no storeTrouble */
		assert_string_not_equal(ta_str(a, "type"), "storeTrouble");
		if (strcmp(ta_str(a, "type"), "signInLost") != 0)
			continue;
		found = true;
		assert_non_null(strstr(ta_str(a, "text"), "AADSTS70043"));
		assert_non_null(strstr(ta_str(a, "text"), "éé"));
	}
	assert_true(found);
	json_decref(alarms);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	assert_int_equal(ta_stop(t), 0);
	ta_short_tokens(t, false);
}

/* A secret close to its expiry, and one Entra refuses. */
static void
test_secret_alarms(void **state)
{
	struct ta *t = *state;
	char soon[64], sooner[64], later[64], *path, *got;
	time_t now = time(NULL) + 10 * 86400;
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(soon, sizeof(soon), "client_secret_expires = %Y-%m-%d", &tm);
	now = time(NULL) + 3 * 86400;
	gmtime_r(&now, &tm);
	strftime(sooner, sizeof(sooner), "client_secret_expires = %Y-%m-%d", &tm);
	snprintf(later, sizeof(later), "client_secret_expires = 2030-01-01");
	ta_short_tokens(t, true);
	assert_int_equal(ta_start(t, "refresh_margin = 1s", soon), 0);
	wait_severity(t, "clientSecretExpiring", "warning", 10);
	/* a week from expiry: the same alarm, escalated */
	ta_replace_in_file(t->conf, soon, sooner);
	kill(t->pid, SIGHUP);
	wait_severity(t, "clientSecretExpiring", "critical", 10);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	if (asprintf(&path, "/apps/%s", TA_CLIENT) < 0)
		abort();
	ta_sim_ok(t, "PATCH", path, json_pack("{s:b}", "secret_expired", 1));
	wait_alarm(t, "clientSecretInvalid", true, 20);
	/* the operator renews the secret and its date, and reloads */
	ta_sim_ok(t, "PATCH", path, json_pack("{s:b}", "secret_expired", 0));
	ta_replace_in_file(t->conf, sooner, later);
	kill(t->pid, SIGHUP);
	wait_alarm(t, "clientSecretExpiring", false, 10);
	wait_alarm(t, "clientSecretInvalid", false, 20);
	got = severities(t, "clientSecretExpiring");
	assert_string_equal(got, "warning critical cleared");
	free(got);
	expect_transitions(t, "clientSecretInvalid", "RC");
	assert_int_equal(ta_stop(t), 0);
	free(path);
	ta_short_tokens(t, false);
}

/* Token refreshes fail: a blip the next try mends raises nothing; failing
 * on past the access token's expiry raises signInDegraded as critical at
 * once (a warning only after a minute of failing while the token still
 * works), cleared when a refresh works again. */
static void
test_degraded_alarm(void **state)
{
	struct ta *t = *state;
	char *got;

	/* tokens of 10 s, refreshed 6 s ahead: 6 s of warning before expiry */
	ta_sim_ok(
	    t, "POST", "/config",
	    json_pack("{s:s, s:b}", "access_token_lifetime", "10s", "access_lifetime_jitter", 0));
	assert_int_equal(ta_start(t, "refresh_margin = 6s", NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	/* a blip: one refused refresh, the next works */
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/" TA_TENANT "/oauth2/v2.0/token",
			    "method", "POST", "status", 503, "count", 1));
	assert_true(ta_wait_auth(t, "acme", "degraded", 20));
	assert_true(ta_wait_auth(t, "acme", "valid", 20));
	got = severities(t, "signInDegraded");
	assert_string_equal(got, "");
	free(got);
	/* failing on past the token's expiry */
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/" TA_TENANT "/oauth2/v2.0/token",
			    "method", "POST", "status", 503, "count", 3));
	wait_severity(t, "signInDegraded", "critical", 30);
	wait_alarm(t, "signInDegraded", false, 60);
	got = severities(t, "signInDegraded");
	assert_string_equal(got, "critical cleared");
	free(got);
	assert_int_equal(ta_stop(t), 0);
	ta_short_tokens(t, false);
}

/* Graph refuses to create the subscription for a while. */
static void
test_subscription_alarm(void **state)
{
	struct ta *t = *state;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/subscriptions", "method", "POST",
			    "count", 2, "status", 503));
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	wait_alarm(t, "subscriptionLapsed", true, 20);
	wait_alarm(t, "subscriptionLapsed", false, 60);
	expect_transitions(t, "subscriptionLapsed", "RC");
	assert_int_equal(ta_stop(t), 0);
}

static bool
event_in_outbox(void *arg)
{
	json_t *j = ta_ctl(arg, "outbox", NULL), *e;
	bool found = false;
	size_t i;

	json_array_foreach (json_object_get(j, "entries"), i, e)
		found |= !strcmp(ta_str(e, "kind"), "event") &&
			 !strcmp(ta_str(e, "event"), "emergency") &&
			 !strcmp(ta_str(e, "number"), "911") &&
			 !strcmp(ta_str(e, "source"), "poll");
	json_decref(j);
	return found;
}

/* A notice found only by reading back, and an important message no rule
 * knows: each raises its alarm, which clears after event_alarm_hold. */
static void
test_event_alarms(void **state)
{
	struct ta *t = *state;

	ta_ready(t, "reconcile_interval = 3s\nbackfill_delay = 1s\nevent_alarm_hold = 8s");
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 1));
	ta_emergency(t);
	wait_alarm(t, "deliveryGap", true, 30);
	assert_true(th_wait_until(event_in_outbox, t, 5));
	ta_unmatched_message(t);
	wait_alarm(t, "unrecognisedNotice", true, 20);
	wait_alarm(t, "deliveryGap", false, 30);
	wait_alarm(t, "unrecognisedNotice", false, 30);
	expect_transitions(t, "deliveryGap", "RC");
	expect_transitions(t, "unrecognisedNotice", "RC");
	assert_int_equal(ta_stop(t), 0);
}

/* Notifications that keep failing; the operator deals with them. */
static void
test_dead_letter_alarm(void **state)
{
	struct ta *t = *state;
	const char *argv[] = {TA_CTTEAMSCTL, "-S",      t->sock, "dead-letters",
			      "acme",        "--clear", NULL};
	char *out = NULL;

	assert_int_equal(
	    ta_start(t, "dead_letter_after = 2\nbackfill_delay = 1s", "rich_notifications = no"),
	    0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", "/v1.0/chats/", "method", "GET",
			    "count", 1000, "status", 500));
	ta_emergency(t);
	wait_alarm(t, "deadLetters", true, 30);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	argv[2] = t->sock;
	assert_int_equal(th_run(argv, &out, NULL), 0);
	assert_non_null(strstr(out, "1 dead letter(s) cleared"));
	free(out);
	wait_alarm(t, "deadLetters", false, 10);
	expect_transitions(t, "deadLetters", "RC");
	assert_int_equal(ta_stop(t), 0);
}

/* Graph throttles every read (429, Retry-After 1 s) past
 * throttle_alarm_after: raised; once a read works again: cleared. */
static void
test_throttled_alarm(void **state)
{
	struct ta *t = *state;

	assert_int_equal(ta_start(t, "throttle_alarm_after = 3s", "rich_notifications = no"), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i, s:i}", "path", "/v1.0/chats/", "method", "GET",
			    "count", 100000, "status", 429, "retry_after", 1));
	ta_emergency(t);
	wait_alarm(t, "throttled", true, 30);
	/* cleared by a read that works: the next notice's */
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	ta_emergency(t);
	wait_alarm(t, "throttled", false, 60);
	expect_transitions(t, "throttled", "RC");
	assert_int_equal(ta_stop(t), 0);
}

/* Graph refuses the chat list of every read-back (400: not tried again
 * within the pass): raised at the failed pass; cleared by the next one
 * that works. */
static void
test_reconcile_alarm(void **state)
{
	struct ta *t = *state;
	char *path;

	ta_ready(t, "reconcile_interval = 3s\nbackfill_delay = 1s");
	if (asprintf(&path, "/v1.0/users/%s/chats", t->svc) < 0)
		abort();
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i}", "path", path, "method", "GET", "count", 100000,
			    "status", 400));
	wait_alarm(t, "reconcileFailing", true, 30);
	ta_sim_ok(t, "DELETE", "/faults", NULL);
	wait_alarm(t, "reconcileFailing", false, 60);
	expect_transitions(t, "reconcileFailing", "RC");
	assert_int_equal(ta_stop(t), 0);
	free(path);
}

/* Graph drops the canary's marker without a word: delivery gap, raised
 * when the marker is late, cleared when the next one comes back. */
static void
test_canary_alarm(void **state)
{
	struct ta *t = *state;
	char *chat = ta_chat_new(t, "group"), *org;

	if (asprintf(&org, "canary_chat = %s\ncanary_interval = 4s\ncanary_timeout = 2s", chat) < 0)
		abort();
	/* the read-back the miss causes finds the notices of earlier tests
	 * (graphsim is shared, the agent is new): they hold the alarm for
	 * event_alarm_hold too */
	assert_int_equal(ta_start(t, "backfill_delay = 1s\nevent_alarm_hold = 5s", org), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 1));
	wait_alarm(t, "deliveryGap", true, 30);
	/* the deliveryGap alarm, raised by the canary */
	struct alarm_match canary = {t, "deliveryGap", "canary", NULL};
	assert_true(th_wait_until(alarm_matches, &canary, 5));
	wait_alarm(t, "deliveryGap", false, 30);
	expect_transitions(t, "deliveryGap", "RC");
	assert_int_equal(ta_stop(t), 0);
	free(org);
	free(chat);
}

/* The database is locked by another process: the alarm shows at once, and
 * its raise reaches the outbox, before its clear, once writes work. */
static void
test_store_alarm(void **state)
{
	struct ta *t = *state;
	sqlite3 *db;
	char *path;

	ta_ready(t, NULL);
	if (asprintf(&path, "%s/state/ctteams.db", t->dir) < 0)
		abort();
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	/* the agent may be writing this moment: wait for it, as a backup tool would */
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ta_emergency(t);
	wait_alarm(t, "storeTrouble", true, 30);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	wait_alarm(t, "storeTrouble", false, 30);
	expect_transitions(t, "storeTrouble", "RC");
	assert_int_equal(ta_stop(t), 0);
	free(path);
}

static bool
has_emergency(void *path)
{
	char *text = th_read_file(path);
	bool ok = text && strstr(text, "EMERGENCY CALL") != NULL;

	free(text);
	return ok;
}

/* Nagios is not running (its command file has no reader): once the
 * output has failed for output_stuck_after, outputStuck is raised, naming
 * it; once Nagios reads again what waited is delivered and the alarm
 * clears, each once, in order. */
static void
test_output_stuck_alarm(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("stuck"), *conf;
	struct ta_fifo fifo;

	ta_fifo_make(&fifo, dir);
	if (asprintf(&conf, "nagios_command_file = %s\noutput_stuck_after = 3s", fifo.path) < 0)
		abort();
	ta_ready(t, conf);
	ta_emergency(t);
	wait_alarm(t, "outputStuck", true, 30);
	struct alarm_match stuck = {t, "outputStuck", "output nagios has delivered nothing", NULL};
	assert_true(th_wait_until(alarm_matches, &stuck, 5));
	/* Nagios back: a reader drains the command file */
	ta_fifo_read(&fifo);
	wait_alarm(t, "outputStuck", false, 60);
	expect_transitions(t, "outputStuck", "RC");
	/* the 911 waited for Nagios and reached it */
	assert_true(th_wait_until(has_emergency, fifo.out, 10));
	assert_int_equal(ta_stop(t), 0);
	ta_fifo_stop(&fifo);
	th_rmtree(dir);
	free(dir);
	free(conf);
}

/* The outbox's invariants: seqs increase; per (type, org) raises and
 * clears alternate, starting with a raise; events appear once; the active
 * set is exactly the alarms whose last transition is a raise. */
static void
check_outbox(struct ta *t)
{
	json_t *j = ta_ctl(t, "outbox", NULL), *act = ta_ctl(t, "alarms", NULL), *e;
	json_t *last = json_object(), *ids = json_object(), *a;
	const char *key;
	long prev = 0;
	size_t i;

	assert_true(json_array_size(json_object_get(j, "entries")) < 100);
	json_array_foreach (json_object_get(j, "entries"), i, e) {
		long seq = (long)json_integer_value(json_object_get(e, "seq"));
		char k[128];
		assert_true(seq > prev);
		prev = seq;
		if (!strcmp(ta_str(e, "kind"), "event")) {
			snprintf(k, sizeof(k), "%lld",
				 (long long)json_integer_value(json_object_get(e, "id")));
			assert_null(json_object_get(ids, k));
			json_object_set_new(ids, k, json_true());
			continue;
		}
		/* heartbeats, the stop, acknowledgements: no alarm's edge */
		if (strcmp(ta_str(e, "kind"), "alarm") != 0)
			continue;
		snprintf(k, sizeof(k), "%s/%s", ta_str(e, "type"), ta_str(e, "org"));
		bool raise = !strcmp(ta_str(e, "transition"), "raise");
		json_t *was = json_object_get(last, k);
		/* a raise follows nothing or a clear, or a raise of another
		 * severity (an escalation); a clear follows a raise */
		if (raise && json_is_string(was))
			assert_string_not_equal(json_string_value(was), ta_str(e, "severity"));
		else
			assert_true(raise ? !json_is_string(was) : json_is_string(was));
		json_object_set_new(last, k,
				    raise ? json_string(ta_str(e, "severity")) : json_false());
	}
	/* every event kept has its outbox entry: none lost */
	{
		json_t *evs = ta_events(t), *ev;
		size_t k;
		json_array_foreach (evs, k, ev) {
			char idk[32];
			snprintf(idk, sizeof(idk), "%lld",
				 (long long)json_integer_value(json_object_get(ev, "id")));
			assert_non_null(json_object_get(ids, idk));
		}
		json_decref(evs);
	}
	json_array_foreach (json_object_get(act, "alarms"), i, a) {
		char k[128];
		snprintf(k, sizeof(k), "%s/%s", ta_str(a, "type"), ta_str(a, "org"));
		/* raised, at the severity of its last raise */
		assert_true(json_is_string(json_object_get(last, k)));
		assert_string_equal(json_string_value(json_object_get(last, k)),
				    ta_str(a, "severity"));
		json_object_del(last, k);
	}
	json_object_foreach (last, key, e)
		if (json_is_string(e))
			fail_msg("%s is raised in the outbox but not active", key);
	json_decref(last);
	json_decref(ids);
	json_decref(j);
	json_decref(act);
}

/* SIGKILL at random moments while alarms change and events arrive. */
static void
test_sigkill_keeps_the_outbox_whole(void **state)
{
	struct ta *t = *state;
	unsigned seed = (unsigned)getpid();

	ta_ready(t, NULL);
	for (int round = 0; round < 6; round++) {
		json_decref(th_sim(&t->gs, "POST", "/emergency",
				   json_pack("{s:s, s:[s], s:s}", "caller", t->caller, "members",
					     t->svc, "number", "911"),
				   NULL));
		json_decref(ta_ctl(t, "logout", "acme"));
		/* the point of the test is the random moment of the kill */
		usleep((useconds_t)(rand_r(&seed) % 3000) * 1000);
		ta_kill(t);
		assert_int_equal(ta_restart(t), 0);
		check_outbox(t);
		assert_int_equal(ta_signin(t, "acme", NULL), 200);
		assert_true(th_wait_until(ta_sub_active, t, 20));
	}
	wait_alarm(t, "notSignedIn", false, 10);
	check_outbox(t);
	assert_int_equal(ta_stop(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_sign_in_alarms, ta_test_teardown),
	    cmocka_unit_test_teardown(test_sign_in_lost_with_multibyte_text, ta_test_teardown),
	    cmocka_unit_test_teardown(test_secret_alarms, ta_test_teardown),
	    cmocka_unit_test_teardown(test_degraded_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_subscription_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_event_alarms, ta_test_teardown),
	    cmocka_unit_test_teardown(test_dead_letter_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_throttled_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_reconcile_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_canary_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_store_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_output_stuck_alarm, ta_test_teardown),
	    cmocka_unit_test_teardown(test_sigkill_keeps_the_outbox_whole, ta_test_teardown),
	};
	return cmocka_run_group_tests_name("agent_alarms", tests, setup, ta_teardown);
}
