/*
 * The Nagios/Icinga side against a running ctteamsd and graphsim: each
 * check_ctteams_* plugin in each of its states (exit code, first line,
 * perfdata by the guidelines' grammar), the agent down or hung; a real
 * Nagios 4 core running the active checks and taking the passive
 * emergency result through its command file, also after it was down; and
 * the Icinga 2 API request, checked at a loopback HTTPS endpoint that
 * refuses for a while.
 */
#include <grp.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ta.h"

struct result {
	int rc;
	char *out;
};

static struct result
plugin(struct ta *t, const char *name, const char *a1, const char *a2, const char *a3,
       const char *a4)
{
	char *path, *sock = t->msock;
	const char *argv[12] = {NULL};
	struct result r;
	int n = 0;

	if (asprintf(&path, "%s/%s", TA_PLUGINS, name) < 0)
		abort();
	argv[n++] = path;
	argv[n++] = "-S";
	argv[n++] = sock;
	for (const char *const *a = (const char *const[]){a1, a2, a3, a4, NULL}; *a; a++)
		argv[n++] = *a;
	r.rc = th_run(argv, &r.out, NULL);
	free(path);
	return r;
}

static bool
perfdata_ok(const char *perf)
{
	/* 'label'=value[UOM];[warn];[crit];[min];[max], space separated */
	/* numbers as the guidelines write them: no exponent, no hex */
	static const char *item = "('([^']|'')+'|[^ ='\\\\]+)=-?[0-9.]+(s|ms|us|%|B|KB|MB|TB|c)?"
				  "(;[-0-9.:~@]*(;[-0-9.:~@]*(;-?[0-9.]*(;-?[0-9.]*)?)?)?)?";
	char *pattern;
	regex_t re;
	bool ok;

	if (asprintf(&pattern, "^%s( %s)*$", item, item) < 0)
		abort();
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&re, perf, 0, NULL, 0) == 0;
	regfree(&re);
	free(pattern);
	return ok;
}

/* Exit code, first line "CTTEAMS SERVICE STATE - text[ | perfdata]" with
 * text of at most 80 characters, perfdata by the grammar. */
static void
want(struct result r, const char *service, int rc, const char *contains)
{
	static const char *const states[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	char *head, *nl = strchr(r.out, '\n'), *bar;
	size_t head_len = nl ? (size_t)(nl - r.out) : strlen(r.out);
	char *first = strndup(r.out, head_len);

	if (asprintf(&head, "CTTEAMS %s %s - ", service, states[rc]) < 0)
		abort();
	if (r.rc != rc || strncmp(first, head, strlen(head)) != 0 ||
	    (contains && !strstr(r.out, contains))) {
		fprintf(stderr, "want exit %d, '%s...'%s%s; got exit %d:\n%s\n", rc, head,
			contains ? " with " : "", contains ? contains : "", r.rc, r.out);
		fail();
	}
	bar = strstr(first, " | ");
	assert_true((bar ? (size_t)(bar - first) : strlen(first)) <= 80);
	if (bar)
		assert_true(perfdata_ok(bar + 3));
	/* nothing else may look like the perfdata separator */
	assert_null(strchr(bar ? bar + 3 : first, '|'));
	free(first);
	free(head);
	free(r.out);
}

struct state_wait {
	struct ta *t;
	const char *name, *a1, *a2;
	int rc;
};

static bool
plugin_says(void *arg)
{
	struct state_wait *w = arg;
	struct result r = plugin(w->t, w->name, w->a1, w->a2, NULL, NULL);
	bool ok = r.rc == w->rc;

	free(r.out);
	return ok;
}

static void
wait_state(struct ta *t, const char *name, int rc, const char *a1, const char *a2)
{
	struct state_wait w = {t, name, a1, a2, rc};

	assert_true(th_wait_until(plugin_says, &w, 30));
}

static long
newest_event(struct ta *t)
{
	json_t *e = ta_events(t);
	long id = (long)json_integer_value(json_object_get(json_array_get(e, 0), "id"));

	json_decref(e);
	return id;
}

static void
ack(struct ta *t, long id)
{
	json_t *ans = ta_ack(t, id, "test desk");

	assert_non_null(ans);
	json_decref(ans);
}

static bool
newest_older_than_2s(void *arg)
{
	json_t *e = ta_events(arg);
	double at = 0;
	const char *raised = ta_str(json_array_get(e, 0), "raised");
	struct tm tm = {0};
	bool ok = raised && strptime(raised, "%Y-%m-%dT%H:%M:%S", &tm) &&
		  (at = (double)timegm(&tm), (double)time(NULL) - at > 2);

	json_decref(e);
	return ok;
}

/* Acknowledges every open emergency, the 911s or the test calls. */
static void
ack_open(struct ta *t, bool test_calls)
{
	json_t *e = ta_events(t), *ev;
	size_t i;

	json_array_foreach (e, i, ev) {
		if (!strcmp(ta_str(ev, "kind"), "emergency") &&
		    !json_is_true(json_object_get(ev, "acked")) &&
		    json_is_true(json_object_get(ev, "test_call")) == test_calls)
			ack(t, (long)json_integer_value(json_object_get(ev, "id")));
	}
	json_decref(e);
}

/* Earlier tests' calls (read back by a new agent) out of the way: every
 * open emergency but keep acknowledged. */
static void
ack_all_but(struct ta *t, long keep)
{
	json_t *e = ta_events(t), *ev;
	size_t i;

	json_array_foreach (e, i, ev) {
		long id = (long)json_integer_value(json_object_get(ev, "id"));
		if (id != keep && !strcmp(ta_str(ev, "kind"), "emergency") &&
		    !json_is_true(json_object_get(ev, "acked")))
			ack(t, id);
	}
	json_decref(e);
}

static void
emergency(struct ta *t, const char *caller, const char *number)
{
	ta_sim_ok(t, "POST", "/emergency",
		  json_pack("{s:s, s:[s], s:s, s:s}", "caller", caller, "members", t->svc, "number",
			    number, "location", "Building 4 | Floor 2\nRoom 7"));
}

/* The agent's emergency events, oldest first: "id id ... ". Earlier
 * tests' notices count too: a new agent reads back what it may have
 * missed, and each is a result of its own. */
static char *
emergency_ids(struct ta *t)
{
	json_t *e = ta_events(t);
	char *out = calloc(1, 1024);

	for (size_t i = json_array_size(e); i-- > 0;) {
		json_t *ev = json_array_get(e, i);
		if (strcmp(ta_str(ev, "kind"), "emergency") != 0)
			continue;
		snprintf(out + strlen(out), 1024 - strlen(out), "%lld ",
			 json_integer_value(json_object_get(ev, "id")));
	}
	json_decref(e);
	return out;
}

struct ev_wait {
	struct ta *t;
	size_t n;
};

static bool
enough_events(void *arg)
{
	struct ev_wait *w = arg;
	json_t *e = ta_events(w->t);
	bool ok = json_array_size(e) >= w->n;

	json_decref(e);
	return ok;
}

/* Every plugin in each of its states. */
static void
test_plugin_states(void **state)
{
	struct ta *t = *state;
	char soon[64];
	time_t when = time(NULL) + 20 * 86400;
	struct tm tm;
	char *evil;

	gmtime_r(&when, &tm);
	strftime(soon, sizeof(soon), "client_secret_expires = %Y-%m-%d\n", &tm);
	assert_int_equal(ta_start(t, NULL, soon), 0);

	/* not signed in: the sign-in alarm; no subscription */
	wait_state(t, "check_ctteams_auth", 2, NULL, NULL);
	want(plugin(t, "check_ctteams_auth", NULL, NULL, NULL, NULL), "AUTH", 2, "notSignedIn");
	want(plugin(t, "check_ctteams_subscription", NULL, NULL, NULL, NULL), "SUBSCRIPTION", 2,
	     "no active subscription");
	/* the secret 20 days from expiry: inside -w 30:, outside -c 7: */
	want(plugin(t, "check_ctteams_secret", NULL, NULL, NULL, NULL), "SECRET", 1,
	     "acme client secret expires in");
	want(plugin(t, "check_ctteams_secret", "-w", "40:", "-c", "25:"), "SECRET", 2, NULL);
	/* the operator's thresholds decide, not the agent's default alarm:
	 * 20 days left is OK for -w 10: -c 5: */
	want(plugin(t, "check_ctteams_secret", "-w", "10:", "-c", "5:"), "SECRET", 0, "expires");
	want(plugin(t, "check_ctteams_emergency", NULL, NULL, NULL, NULL), "EMERGENCY", 0, NULL);

	/* signed in: OK, and thresholds turn it */
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	wait_state(t, "check_ctteams_auth", 0, NULL, NULL);
	want(plugin(t, "check_ctteams_auth", NULL, NULL, NULL, NULL), "AUTH", 0,
	     "'refresh_age_acme'=");
	want(plugin(t, "check_ctteams_auth", "-w", "~:-1", NULL, NULL), "AUTH", 1,
	     "acme last refreshed");
	want(plugin(t, "check_ctteams_subscription", NULL, NULL, NULL, NULL), "SUBSCRIPTION", 0,
	     "'expires_in_acme'=");
	want(plugin(t, "check_ctteams_subscription", "-w", "999999:", NULL, NULL), "SUBSCRIPTION",
	     1, "expires in");
	want(plugin(t, "check_ctteams_delivery", NULL, NULL, NULL, NULL), "DELIVERY", 0,
	     "'rejected_acme'=0c");

	/* an emergency, with text that would break the output if it could */
	evil = th_sim_user(&t->gs, TA_TENANT, "eve@contoso.example", "Eve | 'x'\nINJECTED");
	emergency(t, evil, "911");
	free(evil);
	struct ev_wait one = {t, 1};
	assert_true(th_wait_until(enough_events, &one, 30));
	want(plugin(t, "check_ctteams_emergency", NULL, NULL, NULL, NULL), "EMERGENCY", 2,
	     "dialled 911");
	/* an unanswered call never recovers by itself: older than the
	 * window (-a 1), it is still CRITICAL */
	assert_true(th_wait_until(newest_older_than_2s, t, 10));
	want(plugin(t, "check_ctteams_emergency", "-a", "1", NULL, NULL), "EMERGENCY", 2,
	     "dialled 911");
	ack(t, newest_event(t));
	want(plugin(t, "check_ctteams_emergency", NULL, NULL, NULL, NULL), "EMERGENCY", 0,
	     "acknowledged by test desk");
	/* a test call left alone is a WARNING */
	emergency(t, t->caller, "933");
	struct ev_wait two = {t, 2};
	assert_true(th_wait_until(enough_events, &two, 30));
	want(plugin(t, "check_ctteams_emergency", NULL, NULL, NULL, NULL), "EMERGENCY", 1,
	     "test call");

	/* an important message no rule knows: the delivery check's WARNING */
	ta_unmatched_message(t);
	wait_state(t, "check_ctteams_delivery", 1, NULL, NULL);
	want(plugin(t, "check_ctteams_delivery", NULL, NULL, NULL, NULL), "DELIVERY", 1,
	     "unrecognisedNotice");

	/* help and version are not checks: UNKNOWN, as the Monitoring Plugins do */
	{
		struct result h = plugin(t, "check_ctteams_auth", "-h", NULL, NULL, NULL);
		struct result v = plugin(t, "check_ctteams_auth", "-V", NULL, NULL, NULL);
		assert_int_equal(h.rc, 3);
		assert_non_null(strstr(h.out, "Usage: check_ctteams_auth"));
		assert_int_equal(v.rc, 3);
		assert_non_null(strstr(v.out, "ctteams"));
		free(h.out);
		free(v.out);
	}
	/* a range with a number perfdata parsers would refuse */
	want(plugin(t, "check_ctteams_auth", "-w", "1e3", NULL, NULL), "AUTH", 3, "not a range");
	/* bad arguments, an org the agent does not have */
	want(plugin(t, "check_ctteams_auth", "-w", "10:5", NULL, NULL), "AUTH", 3, "not a range");
	want(plugin(t, "check_ctteams_auth", "-O", "nosuch", NULL, NULL), "AUTH", 3,
	     "no org named");
	want(plugin(t, "check_ctteams_secret", "-t", "0", NULL, NULL), "SECRET", 3, NULL);

	/* the agent gone: every plugin says UNKNOWN */
	assert_int_equal(ta_stop(t), 0);
	{
		static const char *const names[][2] = {
		    {"check_ctteams_auth", "AUTH"},
		    {"check_ctteams_subscription", "SUBSCRIPTION"},
		    {"check_ctteams_emergency", "EMERGENCY"},
		    {"check_ctteams_secret", "SECRET"},
		    {"check_ctteams_delivery", "DELIVERY"},
		};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			want(plugin(t, names[i][0], NULL, NULL, NULL, NULL), names[i][1], 3,
			     "ctteamsd did not answer: ");
	}
}

/* Graph skips a delivery and the reconcile reads the notice back: the
 * delivery check is CRITICAL (deliveryGap), and OK once the alarm's hold
 * is over. */
static void
test_delivery_gap(void **state)
{
	struct ta *t = *state;

	ta_ready(t, "reconcile_interval = 3s\nbackfill_delay = 1s\nevent_alarm_hold = 8s");
	want(plugin(t, "check_ctteams_delivery", NULL, NULL, NULL, NULL), "DELIVERY", 0, NULL);
	/* the secret half a year from expiry: OK */
	want(plugin(t, "check_ctteams_secret", NULL, NULL, NULL, NULL), "SECRET", 0,
	     "'secret_days_left_acme'=");
	ta_sim_ok(t, "POST", "/delivery-faults",
		  json_pack("{s:s, s:i}", "kind", "skip", "count", 1));
	emergency(t, t->caller, "911");
	wait_state(t, "check_ctteams_delivery", 2, NULL, NULL);
	want(plugin(t, "check_ctteams_delivery", NULL, NULL, NULL, NULL), "DELIVERY", 2,
	     "deliveryGap");
	want(plugin(t, "check_ctteams_delivery", NULL, NULL, NULL, NULL), "DELIVERY", 2,
	     "'recovered_by_poll_acme'=1c");
	wait_state(t, "check_ctteams_delivery", 0, NULL, NULL);
	assert_int_equal(ta_stop(t), 0);
}

/* A socket that accepts nothing and never answers: UNKNOWN within -t. */
static void
test_agent_hung(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("hung"), *sock, *saved = t->msock;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	double start;

	if (asprintf(&sock, "%s/hung.sock", dir) < 0)
		abort();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	t->msock = sock;
	start = th_now();
	want(plugin(t, "check_ctteams_auth", "-t", "2", NULL, NULL), "AUTH", 3, NULL);
	assert_true(th_now() - start < 3.5);
	t->msock = saved;
	close(fd);
	th_rmtree(dir);
	free(dir);
	free(sock);
}

/* ---- a real Nagios core ---- */

/* a Nagios a failed test left running is stopped by the teardown */
static struct th_nagios *running_nagios;

struct status_wait {
	struct th_nagios *n;
	const char *service, *needle;
};

static bool
status_has(void *arg)
{
	struct status_wait *w = arg;
	char *block = th_nagios_service(w->n, w->service);
	bool ok = block && strstr(block, w->needle);

	free(block);
	return ok;
}

static void
wait_status(struct th_nagios *n, const char *service, const char *needle)
{
	struct status_wait w = {n, service, needle};

	if (!th_wait_until(status_has, &w, 60)) {
		char *text = th_read_file(n->status);
		fprintf(stderr, "status.dat has no %s for %s:\n%s\n", needle, service,
			text ? text : "(none)");
		free(text);
		fail();
	}
}

struct count_wait {
	struct ta *t;
	const char *counter;
	long n;
};

static bool
counted(void *arg)
{
	struct count_wait *w = arg;

	return ta_counter(w->t, w->counter) >= w->n;
}

/* An unacknowledged 911 behind 500 newer events (important messages no
 * rule knows, each an event) is still seen: the check asks for the open
 * emergencies themselves, not for the newest few hundred events. */
static void
test_emergency_behind_many_events(void **state)
{
	struct ta *t = *state;
	struct count_wait w = {t, "unrecognised", 500};
	json_t *c;
	long status;

	ta_ready(t, NULL);
	emergency(t, t->caller, "911");
	struct ev_wait one = {t, 1};
	assert_true(th_wait_until(enough_events, &one, 30));
	c = th_sim(&t->gs, "POST", "/chats",
		   json_pack("{s:s, s:s, s:[s, s]}", "tenant", TA_TENANT, "chat_type", "group",
			     "members", t->caller, t->svc),
		   &status);
	for (int i = 0; i < 500; i++)
		ta_sim_ok(t, "POST", "/messages",
			  json_pack("{s:s, s:s, s:s, s:s}", "chat", ta_str(c, "id"), "from",
				    t->caller, "content", "Bitte Ruckruf, dringend", "importance",
				    "urgent"));
	json_decref(c);
	assert_true(th_wait_until(counted, &w, 120));
	want(plugin(t, "check_ctteams_emergency", NULL, NULL, NULL, NULL), "EMERGENCY", 2,
	     "dialled 911");
	assert_int_equal(ta_stop(t), 0);
}

/* The event ids of the passive emergency results Nagios logged, in order. */
static char *
logged_events(struct th_nagios *n)
{
	char *log = th_read_file(n->log), *out = calloc(1, 1024), *at = log;
	const char *cmd = "EXTERNAL COMMAND: PROCESS_SERVICE_CHECK_RESULT;ctteams;"
			  "ctteams-emergency-acme;";

	while (at && (at = strstr(at, cmd))) {
		char *ev = strstr(at, "(event ");
		char *eol = strchr(at, '\n');
		if (ev && (!eol || ev < eol)) {
			long id = strtol(ev + 7, NULL, 10);
			snprintf(out + strlen(out), 1024 - strlen(out), "%ld ", id);
		}
		at += strlen(cmd);
	}
	free(log);
	return out;
}

struct log_wait {
	struct th_nagios *n;
	const char *want;
};

static bool
log_is(void *arg)
{
	struct log_wait *w = arg;
	char *got = logged_events(w->n);
	bool ok = !strcmp(got, w->want);

	free(got);
	return ok;
}

static void
test_nagios_core(void **state)
{
	struct ta *t = *state;
	struct th_nagios n = {0};
	char *conf, *want_log;

	assert_int_equal(th_nagios_init(&n), 0);
	running_nagios = &n;
	if (asprintf(&conf, "nagios_command_file = %s\npassive_host = ctteams", n.cmd) < 0)
		abort();
	ta_ready(t, conf);
	free(conf);
	/* the objects name the agent's monitoring socket, known now */
	assert_int_equal(th_nagios_configure(&n, CT_NAGIOS_CFG, TA_PLUGINS, t->msock), 0);
	{
		/* the shipped objects pass the real pre-flight check */
		const char *argv[] = {"/usr/sbin/nagios4", "-v", n.cfg, NULL};
		char *out = NULL;
		int rc = th_run(argv, &out, NULL);
		if (rc != 0 || !strstr(out, "Total Errors:   0") ||
		    !strstr(out, "Total Warnings: 0"))
			fprintf(stderr, "%s\n", out);
		assert_int_equal(rc, 0);
		assert_non_null(strstr(out, "Total Warnings: 0"));
		free(out);
	}
	assert_int_equal(th_nagios_start(&n), 0);
	/* the active checks run the plugins against the agent */
	wait_status(&n, "ctteams-auth-acme", "plugin_output=CTTEAMS AUTH OK");
	wait_status(&n, "ctteams-subscription-acme", "plugin_output=CTTEAMS SUBSCRIPTION OK");

	/* an emergency: the passive result, at once */
	emergency(t, t->caller, "911");
	wait_status(&n, "ctteams-emergency-acme", "current_state=2");
	wait_status(&n, "ctteams-emergency-acme", "EMERGENCY CALL: Jane Doe dialled 911");

	/* Nagios down while two more arrive: both reach it once, in order */
	th_nagios_stop(&n);
	{
		json_t *e = ta_events(t);
		struct ev_wait more = {t, json_array_size(e) + 2};
		json_decref(e);
		emergency(t, t->caller, "911");
		emergency(t, t->caller, "933");
		assert_true(th_wait_until(enough_events, &more, 30));
	}
	assert_int_equal(th_nagios_start(&n), 0);
	want_log = emergency_ids(t);
	struct log_wait lw = {&n, want_log};
	if (!th_wait_until(log_is, &lw, 60)) {
		char *got = logged_events(&n);
		fprintf(stderr, "nagios.log: want events '%s', got '%s'\n", want_log, got);
		free(got);
		fail();
	}
	/* the test call did not lower the open 911s' CRITICAL */
	wait_status(&n, "ctteams-emergency-acme", "TEST CALL");
	wait_status(&n, "ctteams-emergency-acme", "current_state=2");

	/* acknowledged: WARNING while the test call is open, OK when nothing
	 * is; then a new call pages again */
	ack_open(t, false);
	wait_status(&n, "ctteams-emergency-acme", "TEST CALL STILL OPEN");
	wait_status(&n, "ctteams-emergency-acme", "current_state=1");
	ack_open(t, true);
	wait_status(&n, "ctteams-emergency-acme", "no emergency call is open");
	wait_status(&n, "ctteams-emergency-acme", "current_state=0");
	emergency(t, t->caller, "911");
	wait_status(&n, "ctteams-emergency-acme", "current_state=2");
	free(want_log);
	assert_int_equal(ta_stop(t), 0);
	th_nagios_free(&n);
	running_nagios = NULL;
}

/* The id of the newest emergency event once there are more than `above`. */
struct newer_wait {
	struct ta *t;
	long above, id;
};

static bool
newer_event(void *arg)
{
	struct newer_wait *w = arg;

	w->id = newest_event(w->t);
	return w->id > w->above;
}

static long
call_and_wait(struct ta *t, const char *number)
{
	struct newer_wait w = {t, newest_event(t), 0};

	emergency(t, t->caller, number);
	assert_true(th_wait_until(newer_event, &w, 30));
	return w.id;
}

struct acked_wait {
	struct ta *t;
	long id;
	const char *by;
};

static bool
event_acked_by(void *arg)
{
	struct acked_wait *w = arg;
	json_t *e = ta_events(w->t), *ev;
	bool ok = false;
	size_t i;

	json_array_foreach (e, i, ev) {
		if (json_integer_value(json_object_get(ev, "id")) == w->id)
			ok = json_is_true(json_object_get(ev, "acked")) && ta_str(ev, "acked_by") &&
			     !strcmp(ta_str(ev, "acked_by"), w->by);
	}
	json_decref(e);
	return ok;
}

/* Acknowledges the emergency service in Nagios, as an operator would in
 * its web interface (sticky, with a notification, not persistent). */
static void
nagios_ack(struct th_nagios *n, const char *author)
{
	char *cmd;

	if (asprintf(
		&cmd,
		"[%ld] ACKNOWLEDGE_SVC_PROBLEM;ctteams;ctteams-emergency-acme;2;1;0;%s;on it\n",
		(long)time(NULL), author) < 0)
		abort();
	assert_int_equal(th_nagios_command(n, cmd), 0);
	free(cmd);
}

/* How many notifications of the emergency service's CRITICAL Nagios sent */
static int
pages(struct th_nagios *n)
{
	char *log = th_read_file(n->log), *at = log;
	const char *needle =
	    "SERVICE NOTIFICATION: ctteamsd;ctteams;ctteams-emergency-acme;CRITICAL;";
	int count = 0;

	while (at && (at = strstr(at, needle))) {
		count++;
		at += strlen(needle);
	}
	free(log);
	return count;
}

struct pages_wait {
	struct th_nagios *n;
	int at_least;
};

static bool
paged(void *arg)
{
	struct pages_wait *w = arg;

	return pages(w->n) >= w->at_least;
}

/* The acknowledgement loop in a real Nagios: an acknowledgement of the
 * emergency service reaches ctteamsd through the shipped contact and
 * command (ctteamsctl console-ack over the monitoring socket) and
 * acknowledges the call the service showed, by its author; with another
 * call still open the service stays CRITICAL, and the next call pages all
 * the same (the agent removes the acknowledgement first); once the last
 * call is acknowledged the service goes OK. */
static void
test_nagios_console_ack(void **state)
{
	struct ta *t = *state;
	struct th_nagios n = {0};
	char *conf, *objects, *from, *to;
	long a, b, c;

	assert_int_equal(th_nagios_init(&n), 0);
	n.notify = true;
	running_nagios = &n;
	if (asprintf(&conf, "nagios_command_file = %s\npassive_host = ctteams\nmonitor_ack = yes",
		     n.cmd) < 0)
		abort();
	ta_ready(t, conf);
	free(conf);
	assert_int_equal(th_nagios_configure(&n, CT_NAGIOS_CFG, TA_PLUGINS, t->msock), 0);
	/* the shipped command, with this build's ctteamsctl and the agent's socket */
	if (asprintf(&objects, "%s/ctteams.cfg", n.dir) < 0 ||
	    asprintf(&to, "%s -S %s console-ack", TA_CTTEAMSCTL, t->msock) < 0)
		abort();
	from = "/usr/bin/ctteamsctl -S /run/ctteams/ctteamsd-monitor.sock console-ack";
	ta_replace_in_file(objects, from, to);
	free(to);
	free(objects);
	assert_int_equal(th_nagios_start(&n), 0);

	/* call a; earlier tests' calls (read back by this agent) out of the way */
	a = call_and_wait(t, "911");
	ack_all_but(t, a);
	b = call_and_wait(t, "911");
	char *shows = NULL;
	if (asprintf(&shows, "(event %ld:", b) < 0)
		abort();
	wait_status(&n, "ctteams-emergency-acme", shows);
	free(shows);
	struct pages_wait pw = {&n, pages(&n) + 1};

	/* acknowledged in Nagios: call b, by its author. a is still open: the
	 * service names it again, the acknowledgement removed, and pages */
	nagios_ack(&n, "nagiosadmin");
	struct acked_wait aw = {t, b, "nagiosadmin (console)"};
	assert_true(th_wait_until(event_acked_by, &aw, 30));
	if (asprintf(&shows, "STILL OPEN: Jane Doe dialled 911 from Building 4 / Floor 2 Room 7 "
			     "at") < 0)
		abort();
	wait_status(&n, "ctteams-emergency-acme", shows);
	free(shows);
	if (asprintf(&shows, "(event %ld:", a) < 0)
		abort();
	wait_status(&n, "ctteams-emergency-acme", shows);
	free(shows);
	wait_status(&n, "ctteams-emergency-acme", "problem_has_been_acknowledged=0");
	assert_true(th_wait_until(paged, &pw, 30));

	/* a acknowledged in Nagios where it shows: nothing open, OK */
	nagios_ack(&n, "nagiosadmin");
	aw.id = a;
	assert_true(th_wait_until(event_acked_by, &aw, 30));
	wait_status(&n, "ctteams-emergency-acme", "no emergency call is open");
	wait_status(&n, "ctteams-emergency-acme", "current_state=0");

	/* with monitor_ack off the agent never hears of an acknowledgement:
	 * call c, acknowledged in Nagios only, then call d pages all the same */
	ta_replace_in_file(t->conf, "monitor_ack = yes", "monitor_ack = no");
	kill(t->pid, SIGHUP);
	c = call_and_wait(t, "911");
	if (asprintf(&shows, "(event %ld:", c) < 0)
		abort();
	wait_status(&n, "ctteams-emergency-acme", shows);
	free(shows);
	nagios_ack(&n, "nagiosadmin");
	wait_status(&n, "ctteams-emergency-acme", "problem_has_been_acknowledged=1");
	pw.at_least = pages(&n) + 1;
	long d = call_and_wait(t, "911");
	if (asprintf(&shows, "(event %ld:", d) < 0)
		abort();
	wait_status(&n, "ctteams-emergency-acme", shows);
	free(shows);
	wait_status(&n, "ctteams-emergency-acme", "problem_has_been_acknowledged=0");
	assert_true(th_wait_until(paged, &pw, 30));
	assert_int_equal(ta_stop(t), 0);
	th_nagios_free(&n);
	running_nagios = NULL;
}

/* How long a wait took, in seconds. */
static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A dead agent is never silent in Nagios: its heartbeats keep
 * ctteams-agent OK; stopped in its tracks (SIGSTOP), the shipped freshness
 * check turns the service CRITICAL within two intervals (compressed: 2 s
 * heartbeats, threshold 4 s); a clean stop is a WARNING at once. */
static void
test_nagios_liveness(void **state)
{
	struct ta *t = *state;
	struct th_nagios n = {0};
	struct timespec t0;
	char *conf, *objects;

	assert_int_equal(th_nagios_init(&n), 0);
	running_nagios = &n;
	if (asprintf(&conf,
		     "nagios_command_file = %s\npassive_host = ctteams\nheartbeat_interval = 2s",
		     n.cmd) < 0)
		abort();
	ta_ready(t, conf);
	free(conf);
	assert_int_equal(th_nagios_configure(&n, CT_NAGIOS_CFG, TA_PLUGINS, t->msock), 0);
	if (asprintf(&objects, "%s/ctteams.cfg", n.dir) < 0)
		abort();
	ta_replace_in_file(objects, "freshness_threshold     600", "freshness_threshold     4");
	free(objects);
	assert_int_equal(th_nagios_start(&n), 0);
	wait_status(&n, "ctteams-agent", "CTTEAMS AGENT OK - ctteamsd ");
	wait_status(&n, "ctteams-agent", "current_state=0");

	kill(t->pid, SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wait_status(&n, "ctteams-agent", "no heartbeat from ctteamsd");
	wait_status(&n, "ctteams-agent", "current_state=2");
	/* two intervals, and the status file's second */
	assert_true(since(&t0) < 2 * 2 + 3);
	kill(t->pid, SIGCONT);
	wait_status(&n, "ctteams-agent", "current_state=0");

	assert_int_equal(ta_stop(t), 0);
	wait_status(&n, "ctteams-agent", "stopped (SIGTERM)");
	wait_status(&n, "ctteams-agent", "current_state=1");
	th_nagios_free(&n);
	running_nagios = NULL;
}

/* ---- Icinga 2's API, at a loopback endpoint ---- */

/* The emergency results Icinga took, as event ids in order. */
static char *
taken_ids(struct th_hook *h)
{
	json_t *posts = th_hook_posts(h), *p;
	char *out = calloc(1, 1024);
	size_t i;

	json_array_foreach (posts, i, p) {
		json_t *body = json_object_get(p, "body");
		const char *text = ta_str(body, "plugin_output");
		const char *ev = text ? strstr(text, "(event ") : NULL;
		if (json_is_true(json_object_get(p, "answered_error")) ||
		    strcmp(ta_str(body, "service"), "ctteams!ctteams-emergency-acme") != 0 || !ev)
			continue;
		snprintf(out + strlen(out), 1024 - strlen(out), "%ld ", strtol(ev + 7, NULL, 10));
	}
	json_decref(posts);
	return out;
}

struct taken_wait {
	struct ta *t;
	struct th_hook *h;
	size_t at_least;
};

static bool
all_taken(void *arg)
{
	struct taken_wait *w = arg;
	char *want = emergency_ids(w->t), *got = taken_ids(w->h);
	size_t n = 0;
	bool ok;

	for (char *c = want; *c; c++)
		n += *c == ' ';
	ok = n >= w->at_least && !strcmp(want, got);
	free(want);
	free(got);
	return ok;
}

/* The newest emergency is the last result Icinga took. */
static bool
newest_taken(void *arg)
{
	struct taken_wait *w = arg;
	char *got = taken_ids(w->h), *want;
	bool ok;

	if (asprintf(&want, "%ld ", newest_event(w->t)) < 0)
		abort();
	ok = strlen(got) >= strlen(want) && !strcmp(got + strlen(got) - strlen(want), want);
	free(want);
	free(got);
	return ok;
}

static json_int_t icinga_given_up_want = 1;

static bool
icinga_gave_up(void *arg)
{
	json_t *j = ta_ctl(arg, "status", NULL), *o;
	size_t i;
	bool ok = false;

	json_array_foreach (json_object_get(json_object_get(j, "agent"), "outputs"), i, o)
		if (!strcmp(ta_str(o, "name"), "icinga"))
			ok = json_integer_value(json_object_get(o, "given_up")) >=
			     icinga_given_up_want;
	json_decref(j);
	return ok;
}

/* The agent's Icinga settings: the API user ctteams, its password in a
 * 0600 file under dir (*ret_pwfile), the API's URL and CA, and extra. */
static char *
icinga_conf(const char *dir, const char *url, const char *ca, const char *extra, char **ret_pwfile)
{
	char *conf;

	if (asprintf(ret_pwfile, "%s/icinga.pass", dir) < 0)
		abort();
	assert_int_equal(th_write_file(*ret_pwfile, "s3cret-api-pass\n"), 0);
	chmod(*ret_pwfile, 0600);
	if (asprintf(&conf,
		     "icinga_url = %s\nicinga_user = ctteams\nicinga_password_file = %s\n"
		     "icinga_ca_file = %s\n%s",
		     url, *ret_pwfile, ca, extra) < 0)
		abort();
	return conf;
}

static void
test_icinga_api(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("icinga"), *cert, *key, *conf, *pwfile, *base;
	struct th_hook *h;
	struct th_hook_cfg hc = {.notify_status = 200, .notify_fail_first = 3};
	json_t *posts, *p, *body, *events;
	size_t i, n_ok = 0;

	assert_int_equal(th_selfsigned(dir, &cert, &key), 0);
	h = th_hook_start(cert, key);
	th_hook_configure(h, &hc);
	base = th_hook_url(h, "");
	conf = icinga_conf(dir, base, cert, "icinga_ttl = 5m", &pwfile);
	ta_ready(t, conf);
	free(conf);
	/* refused three times, then taken */
	emergency(t, t->caller, "911");
	struct taken_wait w = {t, h, 1};
	assert_true(th_wait_until(all_taken, &w, 60));
	/* refusing again while two more arrive: each taken once, in order */
	hc.notify_fail_first = 4;
	th_hook_configure(h, &hc);
	events = ta_events(t);
	w.at_least = json_array_size(events) + 2;
	json_decref(events);
	emergency(t, t->caller, "911");
	emergency(t, t->caller, "933");
	assert_true(th_wait_until(all_taken, &w, 90));

	/* every request the API took has Icinga's shape */
	posts = th_hook_posts(h);
	json_array_foreach (posts, i, p) {
		if (json_is_true(json_object_get(p, "answered_error")))
			continue;
		body = json_object_get(p, "body");
		/* a new call first removes the console's acknowledgement */
		if (!strcmp(ta_str(p, "path"), "/v1/actions/remove-acknowledgement")) {
			assert_string_equal(ta_str(body, "type"), "Service");
			assert_string_equal(ta_str(body, "service"),
					    "ctteams!ctteams-emergency-acme");
			continue;
		}
		assert_string_equal(ta_str(p, "path"), "/v1/actions/process-check-result");
		/* Basic ctteams:s3cret-api-pass */
		assert_string_equal(ta_str(p, "authorization"),
				    "Basic Y3R0ZWFtczpzM2NyZXQtYXBpLXBhc3M=");
		assert_string_equal(ta_str(p, "accept"), "application/json");
		assert_string_equal(ta_str(body, "type"), "Service");
		assert_string_equal(ta_str(body, "check_source"), "ctteamsd");
		/* the agent's liveness: its heartbeat holds two intervals */
		if (!strcmp(ta_str(body, "service"), "ctteams!ctteams-agent")) {
			assert_true(json_number_value(json_object_get(body, "ttl")) == 600);
			continue;
		}
		/* ctteams-CHECK-acme on the host ctteams */
		assert_int_equal(strncmp(ta_str(body, "service"), "ctteams!ctteams-", 16), 0);
		assert_non_null(strstr(ta_str(body, "service"), "-acme"));
		assert_true(json_number_value(json_object_get(body, "ttl")) == 300);
		assert_true(json_is_number(json_object_get(body, "execution_end")));
		assert_non_null(strstr(ta_str(body, "plugin_output"), "CTTEAMS "));
		assert_null(strchr(ta_str(body, "plugin_output"), '|'));
		assert_null(strchr(ta_str(body, "plugin_output"), '\n'));
		/* a test call is WARNING, unless it came while a 911 is open */
		if (strstr(ta_str(body, "plugin_output"), "TEST CALL"))
			assert_int_equal(
			    json_integer_value(json_object_get(body, "exit_status")),
			    strstr(ta_str(body, "plugin_output"), "unacknowledged") ? 2 : 1);
		else if (strstr(ta_str(body, "plugin_output"), "EMERGENCY CALL"))
			assert_int_equal(json_integer_value(json_object_get(body, "exit_status")),
					 2);
		n_ok++;
	}
	assert_true(n_ok >= 3);
	json_decref(posts);

	/* a result Icinga will never take (no such service: 404) is given up
	 * and counted, and does not hold back the next */
	hc.notify_fail_first = 0;
	/* nor is one Icinga 2.14 answers 409 (a newer result is there), nor
	 * a 500 whose one result says 409 */
	for (int k = 0; k < 3; k++) {
		hc.notify_status = k == 0 ? 404 : k == 1 ? 409 : 500;
		hc.notify_body = k == 2 ? "{\"results\": [{\"code\": 409, \"status\": "
					  "\"Newer check result already present.\"}]}"
					: NULL;
		th_hook_configure(h, &hc);
		emergency(t, t->caller, "911");
		icinga_given_up_want = k + 1;
		assert_true(th_wait_until(icinga_gave_up, t, 30));
		hc.notify_status = 200;
		hc.notify_body = NULL;
		th_hook_configure(h, &hc);
		emergency(t, t->caller, "911");
		assert_true(th_wait_until(newest_taken, &w, 30));
	}
	assert_int_equal(ta_stop(t), 0);
	th_hook_stop(h);
	th_rmtree(dir);
	free(dir);
	free(cert);
	free(key);
	free(pwfile);
	free(base);
}

static struct th_icinga *running_icinga;

struct icinga_wait {
	struct th_icinga *ic;
	const char *service; /* host!service */
	const char *needle;  /* in the output; NULL: any */
	int state;
	bool any_source; /* Icinga's own check too, not only ctteamsd's */
};

/* The service's last check result is ctteamsd's, in this state. */
static bool
icinga_result(void *arg)
{
	struct icinga_wait *w = arg;
	char *path;
	json_t *j, *r;
	bool ok;

	if (asprintf(&path, "/v1/objects/services/%s?attrs=last_check_result", w->service) < 0)
		abort();
	j = th_icinga_get(w->ic, path);
	free(path);
	r = json_object_get(
	    json_object_get(json_array_get(json_object_get(j, "results"), 0), "attrs"),
	    "last_check_result");
	ok = json_is_object(r) && ta_str(r, "check_source") &&
	     (w->any_source || !strcmp(ta_str(r, "check_source"), "ctteamsd")) &&
	     /* Icinga keeps a passive result's state in "state"
	      * ("exit_status" is that of a command it ran: none) */
	     json_number_value(json_object_get(r, "state")) == w->state &&
	     (!w->needle || (ta_str(r, "output") && strstr(ta_str(r, "output"), w->needle)));
	json_decref(j);
	return ok;
}

/* A real Icinga 2 with the shipped objects (nagios/ctteams-icinga2.conf),
 * its API over TLS checked against its own CA: the sign-in alarm's clear
 * and an emergency arrive as the last check results of their services,
 * in the states the plugins would give. */
static void
test_icinga_daemon(void **state)
{
	struct ta *t = *state;
	static struct th_icinga ic;
	char *dir = th_tmpdir("icinga-pass"), *pwfile, *conf;
	struct icinga_wait w = {&ic, "ctteams!ctteams-auth-acme", NULL, 0, false};

	running_icinga = &ic; /* stopped by the teardown if this test fails */
	assert_int_equal(th_icinga_start(&ic, CT_ICINGA_CONF, "ctteams", "s3cret-api-pass"), 0);
	conf = icinga_conf(dir, ic.url, ic.ca, "", &pwfile);
	ta_ready(t, conf);
	free(conf);
	/* signed in: notSignedIn's clear is the auth service's result, OK */
	assert_true(th_wait_until(icinga_result, &w, 60));
	emergency(t, t->caller, "911");
	w.service = "ctteams!ctteams-emergency-acme";
	w.needle = "EMERGENCY CALL";
	w.state = 2;
	assert_true(th_wait_until(icinga_result, &w, 60));

	assert_int_equal(ta_stop(t), 0);
	th_icinga_stop(&ic);
	running_icinga = NULL;
	th_rmtree(dir);
	free(dir);
	free(pwfile);
}

/* A dead agent is never silent in Icinga either. With its checker running
 * (as Debian's Icinga has it), each heartbeat's ttl (two intervals) moves
 * the agent service's own check, the ITL's dummy with CRITICAL, to when
 * the next heartbeat is overdue: stopped in its tracks (SIGSTOP), the
 * agent's service turns CRITICAL within two intervals (compressed: 2 s). */
static void
test_icinga_liveness(void **state)
{
	struct ta *t = *state;
	static struct th_icinga ic;
	char *dir = th_tmpdir("icinga-live"), *pwfile, *conf;
	struct icinga_wait alive = {&ic, "ctteams!ctteams-agent", "CTTEAMS AGENT OK", 0, false};
	struct icinga_wait dead = {&ic, "ctteams!ctteams-agent", "no heartbeat from ctteamsd", 2,
				   true};
	struct icinga_wait stopped = {&ic, "ctteams!ctteams-agent", "stopped (SIGTERM)", 1, false};
	struct timespec t0;

	running_icinga = &ic;
	assert_int_equal(
	    th_icinga_start_checking(&ic, CT_ICINGA_CONF, "ctteams", "s3cret-api-pass"), 0);
	conf = icinga_conf(dir, ic.url, ic.ca, "heartbeat_interval = 2s", &pwfile);
	ta_ready(t, conf);
	free(conf);
	assert_true(th_wait_until(icinga_result, &alive, 30));
	kill(t->pid, SIGSTOP);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(th_wait_until(icinga_result, &dead, 30));
	assert_true(since(&t0) < 2 * 2 + 3);
	kill(t->pid, SIGCONT);
	assert_true(th_wait_until(icinga_result, &alive, 30));
	/* a clean stop: WARNING at once */
	assert_int_equal(ta_stop(t), 0);
	assert_true(th_wait_until(icinga_result, &stopped, 30));
	th_icinga_stop(&ic);
	running_icinga = NULL;
	th_rmtree(dir);
	free(dir);
	free(pwfile);
}

struct icinga_ack_wait {
	struct th_icinga *ic;
	int want;
};

/* The emergency service's acknowledgement in Icinga: 0 none, 1, 2 sticky */
static bool
icinga_acked(void *arg)
{
	struct icinga_ack_wait *w = arg;
	json_t *j = th_icinga_get(w->ic, "/v1/objects/services/ctteams!ctteams-emergency-acme"
					 "?attrs=acknowledgement");
	json_t *a = json_object_get(
	    json_object_get(json_array_get(json_object_get(j, "results"), 0), "attrs"),
	    "acknowledgement");
	bool ok = json_is_number(a) && (json_number_value(a) > 0) == (w->want > 0);

	json_decref(j);
	return ok;
}

static void
icinga_ack(struct th_icinga *ic, const char *author)
{
	json_t *ans =
	    th_icinga_post(ic, "/v1/actions/acknowledge-problem",
			   json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "type", "Service", "service",
				     "ctteams!ctteams-emergency-acme", "author", author, "comment",
				     "on it", "notify", 1, "sticky", 1));

	assert_non_null(ans);
	json_decref(ans);
}

/* The acknowledgement loop in a real Icinga 2 (checker and notifications
 * on): an acknowledgement set through its API reaches ctteamsd through the
 * shipped notification (ctteamsctl console-ack) and acknowledges the call
 * the service showed, by its author; the next call notifies again (the
 * agent removes the acknowledgement first); the last call acknowledged,
 * the service is OK. */
static void
test_icinga_console_ack(void **state)
{
	struct ta *t = *state;
	static struct th_icinga ic;
	char *dir = th_tmpdir("icinga-ack"), *pwfile, *conf, *objects, *link, *shows;
	long a, b, c;

	/* the shipped objects, with this build's ctteamsctl and a link that
	 * will lead to the agent's monitoring socket */
	if (asprintf(&objects, "%s/ctteams-icinga2.conf", dir) < 0 ||
	    asprintf(&link, "%s/monitor.sock", dir) < 0)
		abort();
	char *text = th_read_file(CT_ICINGA_CONF);
	assert_int_equal(th_write_file(objects, text), 0);
	free(text);
	ta_replace_in_file(objects, "\"/usr/bin/ctteamsctl\"", "\"" TA_CTTEAMSCTL "\"");
	if (asprintf(&text, "\"%s\"", link) < 0)
		abort();
	ta_replace_in_file(objects, "\"/run/ctteams/ctteamsd-monitor.sock\"", text);
	free(text);

	running_icinga = &ic;
	assert_int_equal(th_icinga_start_checking(&ic, objects, "ctteams", "s3cret-api-pass"), 0);
	conf = icinga_conf(dir, ic.url, ic.ca, "monitor_ack = yes", &pwfile);
	ta_ready(t, conf);
	free(conf);
	assert_int_equal(symlink(t->msock, link), 0);

	a = call_and_wait(t, "911");
	ack_all_but(t, a);
	b = call_and_wait(t, "911");
	if (asprintf(&shows, "(event %ld;", b) < 0)
		abort();
	struct icinga_wait w = {&ic, "ctteams!ctteams-emergency-acme", shows, 2, false};
	assert_true(th_wait_until(icinga_result, &w, 30));
	free(shows);

	/* acknowledged in Icinga: call b, by its author; a still open */
	icinga_ack(&ic, "icingaadmin");
	struct acked_wait aw = {t, b, "icingaadmin (console)"};
	assert_true(th_wait_until(event_acked_by, &aw, 30));

	/* call c: the acknowledgement goes, the CRITICAL is c's */
	c = call_and_wait(t, "911");
	if (asprintf(&shows, "(event %ld;", c) < 0)
		abort();
	w.needle = shows;
	assert_true(th_wait_until(icinga_result, &w, 30));
	free(shows);
	struct icinga_ack_wait unacked = {&ic, 0};
	assert_true(th_wait_until(icinga_acked, &unacked, 30));

	/* c acknowledged in Icinga, a with ctteamsctl: nothing open, OK */
	icinga_ack(&ic, "icingaadmin");
	aw.id = c;
	assert_true(th_wait_until(event_acked_by, &aw, 30));
	ack(t, a);
	w.needle = "no emergency call is open";
	w.state = 0;
	assert_true(th_wait_until(icinga_result, &w, 30));
	assert_int_equal(ta_stop(t), 0);
	th_icinga_stop(&ic);
	running_icinga = NULL;
	th_rmtree(dir);
	free(dir);
	free(pwfile);
	free(objects);
	free(link);
}

static char *
ctl_config(struct ta *t, const char *console)
{
	const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, "config", console, NULL};
	char *out = NULL;

	assert_int_equal(th_run(argv, &out, NULL), 0);
	return out;
}

/* Icinga's own check of a configuration: the shipped objects and more. */
static char *
icinga_check(const char *dir, const char *more)
{
	const struct passwd *pw = getpwuid(getuid());
	const struct group *gr = getgrgid(getgid());
	char *conf, *text, *d[3], *user, *group, *out = NULL;

	if (asprintf(&conf, "%s/icinga2.conf", dir) < 0 ||
	    asprintf(&text,
		     "const NodeName = \"check\"\nconst ZoneName = \"master\"\n"
		     "const PluginDir = \"/usr/lib/nagios/plugins\"\n"
		     "include <itl>\ninclude <plugins>\n"
		     "object Endpoint NodeName { }\n"
		     "object Zone ZoneName { endpoints = [ NodeName ] }\n"
		     "include \"%s\"\ninclude \"%s\"\n",
		     CT_ICINGA_CONF, more) < 0 ||
	    asprintf(&d[0], "-DDataDir=%s", dir) < 0 || asprintf(&d[1], "-DCacheDir=%s", dir) < 0 ||
	    asprintf(&d[2], "-DLogDir=%s", dir) < 0 ||
	    asprintf(&user, "-DRunAsUser=%s", pw->pw_name) < 0 ||
	    asprintf(&group, "-DRunAsGroup=%s", gr->gr_name) < 0)
		abort();
	assert_int_equal(th_write_file(conf, text), 0);
	const char *argv[] = {
	    "/usr/sbin/icinga2", "daemon", "-C", "-c", conf, d[0], d[1], d[2], user, group, NULL};
	if (th_run(argv, &out, NULL) != 0) {
		fprintf(stderr, "icinga2 daemon -C:\n%s\n", out);
		fail();
	}
	for (int i = 0; i < 3; i++)
		free(d[i]);
	free(user);
	free(group);
	free(text);
	free(conf);
	return out;
}

/* What ctteamsctl config icinga printed (taken), beside the shipped
 * objects, passes Icinga's check with every service of three orgs: the
 * example's seven and 3 x (6 + ctteams-agent), and the sign-in
 * dependencies, the example's two and two per org. */
static void
icinga_accepts(const char *dir, char *printed)
{
	char *path, *out;

	if (asprintf(&path, "%s/generated.conf", dir) < 0)
		abort();
	assert_int_equal(th_write_file(path, printed), 0);
	free(printed);
	out = icinga_check(dir, path);
	assert_non_null(strstr(out, "Instantiated 28 Services"));
	assert_non_null(strstr(out, "Instantiated 8 Dependencies"));
	free(out);
	free(path);
}

/* ctteamsctl config prints what the consoles take, named as the agent's
 * results name them: for three orgs with a host each (passive_host = %o),
 * nagios4 -v and icinga2 daemon -C accept it beside the shipped objects. */
static void
test_config_objects(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("objects"), *secret, *extra, *out, *path;
	struct th_nagios n = {0};

	if (asprintf(&secret, "%s/secret", dir) < 0)
		abort();
	assert_int_equal(th_write_file(secret, TA_SECRET "\n"), 0);
	chmod(secret, 0600);
	if (asprintf(&extra,
		     "\n[org beta]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n"
		     "service_user = svc-beta@contoso.example\n"
		     "\n[org gamma]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n"
		     "service_user = svc-gamma@contoso.example\n",
		     TA_TENANT, TA_CLIENT, secret, TA_TENANT, TA_CLIENT, secret) < 0)
		abort();
	assert_int_equal(ta_start(t,
				  "passive_host = %o\nheartbeat_interval = 2m\n"
				  "runbook_base_url = https://noc.example/ctteams/",
				  extra),
			 0);

	/* Nagios: every org's host, services and dependency */
	out = ctl_config(t, "nagios");
	assert_non_null(strstr(out, "host_name               gamma"));
	assert_non_null(strstr(out, "service_description     ctteams-emergency-beta"));
	assert_non_null(strstr(out, "dependent_service_description   "
				    "ctteams-subscription-acme,ctteams-delivery-acme"));
	assert_non_null(strstr(out, "freshness_threshold     240"));
	/* what to do, a click away: runbook_base_url */
	assert_non_null(strstr(out, "notes_url               https://noc.example/ctteams/"
				    "operator-procedure.md"));
	assert_int_equal(th_nagios_init(&n), 0);
	running_nagios = &n;
	assert_int_equal(th_nagios_configure(&n, CT_NAGIOS_CFG, TA_PLUGINS, t->msock), 0);
	if (asprintf(&path, "%s/generated.cfg", n.dir) < 0)
		abort();
	assert_int_equal(th_write_file(path, out), 0);
	free(out);
	{
		char *cfg = th_read_file(n.cfg), *more;
		if (asprintf(&more, "%scfg_file=%s\n", cfg, path) < 0)
			abort();
		assert_int_equal(th_write_file(n.cfg, more), 0);
		free(more);
		free(cfg);
		const char *argv[] = {"/usr/sbin/nagios4", "-v", n.cfg, NULL};
		char *check = NULL;
		int rc = th_run(argv, &check, NULL);
		if (rc != 0 || !strstr(check, "Total Warnings: 0"))
			fprintf(stderr, "%s\n", check);
		assert_int_equal(rc, 0);
		assert_non_null(strstr(check, "Total Warnings: 0"));
		/* the example's seven and 3 x (6 + ctteams-agent) */
		assert_non_null(strstr(check, "Checked 28 services."));
		free(check);
	}
	free(path);
	th_nagios_free(&n);
	running_nagios = NULL;

	/* Icinga: the hosts; the shipped apply rules make the services */
	out = ctl_config(t, "icinga");
	assert_non_null(strstr(out, "object Host \"beta\""));
	assert_non_null(strstr(out, "vars.ctteams_orgs = [ \"beta\" ]"));
	assert_non_null(strstr(out, "vars.ctteams_docs = \"https://noc.example/ctteams\""));
	icinga_accepts(dir, out);
	assert_int_equal(ta_stop(t), 0);

	/* names of the operator's own: every service an object, the same count */
	assert_int_equal(ta_start(t, "passive_host = %o\nservice_name = 911-%o-%c", extra), 0);
	out = ctl_config(t, "icinga");
	assert_non_null(strstr(out, "object Service \"911-gamma-unacknowledged\""));
	assert_null(strstr(out, "vars.ctteams_orgs "));
	icinga_accepts(dir, out);
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
	free(secret);
	free(extra);
}

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static int
test_teardown(void **state)
{
	if (running_nagios) {
		th_nagios_free(running_nagios);
		running_nagios = NULL;
	}
	if (running_icinga) {
		th_icinga_stop(running_icinga);
		running_icinga = NULL;
	}
	return ta_test_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_plugin_states, ta_test_teardown),
	    cmocka_unit_test_teardown(test_agent_hung, ta_test_teardown),
	    cmocka_unit_test_teardown(test_delivery_gap, ta_test_teardown),
	    cmocka_unit_test_teardown(test_emergency_behind_many_events, ta_test_teardown),
	    cmocka_unit_test_teardown(test_nagios_core, test_teardown),
	    cmocka_unit_test_teardown(test_nagios_liveness, test_teardown),
	    cmocka_unit_test_teardown(test_nagios_console_ack, test_teardown),
	    cmocka_unit_test_teardown(test_icinga_api, ta_test_teardown),
	    cmocka_unit_test_teardown(test_icinga_daemon, test_teardown),
	    cmocka_unit_test_teardown(test_icinga_liveness, test_teardown),
	    cmocka_unit_test_teardown(test_icinga_console_ack, test_teardown),
	    cmocka_unit_test_teardown(test_config_objects, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
