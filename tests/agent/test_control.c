/*
 * The control protocol as a product interface: a client that half-closes
 * still gets its answer, an overlong request is told so, idle clients
 * cannot lock the operator out, a client that never reads costs one
 * answer, the monitoring socket changes nothing, changes are logged with
 * the caller's uid, and the answers carry the documented fields.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ta.h"

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Everything the daemon sends until it closes (or 5 s pass). */
static char *
read_all(int fd)
{
	char *buf = calloc(1, 1), chunk[4096];
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 5000) != 1)
			break;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		buf = realloc(buf, len + (size_t)n + 1);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

static json_t *
ask(const char *path, const char *line)
{
	int fd = connect_to(path);
	char *out;
	json_t *j;

	assert_true(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	shutdown(fd, SHUT_WR);
	out = read_all(fd);
	close(fd);
	j = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
	free(out);
	return j;
}

/* A request without its newline, then a half-close: answered. Two
 * requests in one write: both answered, in order. */
static void
test_half_close_and_pipelining(void **state)
{
	struct ta *t = *state;
	int fd;
	char *out;
	json_t *j = NULL;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	j = ask(t->sock, "{\"cmd\":\"ping\"}");
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "proto")), 1);
	json_decref(j);
	fd = connect_to(t->sock);
	assert_true(write(fd, "{\"cmd\":\"ping\"}\n{\"cmd\":\"alarms\"}\n", 32) == 32);
	shutdown(fd, SHUT_WR);
	out = read_all(fd);
	close(fd);
	assert_non_null(strstr(out, "\"alarms\""));
	assert_true(strchr(out, '\n') < strstr(out, "\"alarms\""));
	free(out);
	assert_int_equal(ta_stop(t), 0);
}

/* An overlong request is told so before the connection closes. */
static void
test_overlong_request_is_told(void **state)
{
	struct ta *t = *state;
	size_t n = 100 * 1024;
	char *big = malloc(n), *out;
	int fd;

	memset(big, 'x', n);
	assert_int_equal(ta_start(t, NULL, NULL), 0);
	fd = connect_to(t->sock);
	signal(SIGPIPE, SIG_IGN);
	/* the daemon may stop reading part way: that is the point */
	(void)!write(fd, big, n);
	out = read_all(fd);
	close(fd);
	assert_non_null(strstr(out, "request too long"));
	free(out);
	free(big);
	assert_int_equal(ta_stop(t), 0);
}

/* 40 clients that say nothing, and one that asks without ever reading:
 * ctteamsctl still gets through, and memory stays put. */
static void
test_idle_and_greedy_clients(void **state)
{
	struct ta *t = *state;
	const char *argv[] = {TA_CTTEAMSCTL, "-S", NULL, "status", NULL};
	int idle[40], greedy, rc;
	long before, after;
	char *out = NULL, *err = NULL;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	argv[2] = t->sock;
	for (int i = 0; i < 40; i++)
		idle[i] = connect_to(t->sock);
	rc = th_run(argv, &out, &err);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "ORG"));
	free(out);
	free(err);
	before = ta_rss_kb(t);
	greedy = connect_to(t->sock);
	{
		char line[] = "{\"cmd\":\"status\"}\n";
		for (int i = 0; i < 20000; i++) {
			struct pollfd p = {.fd = greedy, .events = POLLOUT};
			if (poll(&p, 1, 100) != 1 || write(greedy, line, sizeof(line) - 1) < 0)
				break; /* the daemon stopped reading: as it should */
		}
	}
	after = ta_rss_kb(t);
	assert_true(after - before < 8 * 1024);
	/* and everyone else is still answered */
	out = NULL;
	assert_int_equal(th_run(argv, &out, NULL), 0);
	free(out);
	close(greedy);
	for (int i = 0; i < 40; i++)
		close(idle[i]);
	assert_int_equal(ta_stop(t), 0);
}

/* A local process of the monitoring group flooding its socket with
 * connections (opened and held, the oldest let go) until it is killed. */
static pid_t
flooder(const char *path)
{
	pid_t pid = fork();
	int held[64] = {0};

	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(1);
	close(2);
	for (unsigned k = 0;; k++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (held[k % 64] > 0)
			close(held[k % 64]);
		held[k % 64] = fd;
	}
}

/* Under such a flood, a check's one connection still gets its answer
 * (the flooder's own connections make room), and the log says so once a
 * minute, not once a connection. */
static void
test_monitoring_socket_flood(void **state)
{
	struct ta *t = *state;
	const char *argv[] = {TA_CTTEAMSCTL, "-S", NULL, "status", NULL};
	int failed = 0, lines = 0;
	char *log, *at;
	pid_t pid;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	argv[2] = t->msock;
	pid = flooder(t->msock);
	for (int i = 0; i < 15; i++) {
		char *out = NULL;
		if (th_run(argv, &out, NULL) != 0 || !out || !strstr(out, "ORG"))
			failed++;
		free(out);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	log = th_read_file(t->log);
	for (at = log; at && (at = strstr(at, "connections taken")); at++)
		lines++;
	free(log);
	if (failed)
		fail_msg("%d of 15 status requests failed under the flood", failed);
	/* the flood filled the socket (else this showed nothing), and was
	 * said once, not once a connection */
	if (lines < 1 || lines > 2)
		fail_msg("%d eviction lines in the log", lines);
	assert_int_equal(ta_stop(t), 0);
}

static bool
log_says(struct ta *t, const char *what)
{
	char *log = th_read_file(t->log);
	bool hit = log && strstr(log, what);

	free(log);
	return hit;
}

struct ask_wait {
	const char *sock, *req;
};

static bool
answers_ok(void *arg)
{
	struct ask_wait *w = arg;
	json_t *j = ask(w->sock, w->req);
	bool ok = json_is_true(json_object_get(j, "ok"));

	json_decref(j);
	return ok;
}

/* The monitoring socket answers reads and refuses every change; changes
 * on the admin socket are logged with who asked. */
static void
test_monitoring_socket_is_read_only(void **state)
{
	static const char *const changes[] = {
	    "{\"cmd\":\"login\",\"org\":\"acme\"}", "{\"cmd\":\"logout\",\"org\":\"acme\"}",
	    "{\"cmd\":\"renew\",\"org\":\"acme\"}", "{\"cmd\":\"ack\",\"event\":1}",
	    "{\"cmd\":\"dead-letters\",\"org\":\"acme\",\"clear\":true}"};
	struct ta *t = *state;
	struct stat st;
	json_t *j;

	ta_ready(t, NULL);
	assert_int_equal(stat(t->msock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		j = ask(t->msock, changes[i]);
		assert_false(json_is_true(json_object_get(j, "ok")));
		assert_non_null(strstr(ta_str(j, "error"), "read-only"));
		json_decref(j);
	}
	/* nothing changed: still signed in, the subscription still there */
	assert_true(ta_sub_active(t));
	/* with monitor_ack on, it takes an acknowledgement (a console's), and
	 * still no other change */
	ta_replace_in_file(t->conf, "\n[org acme]\n", "\nmonitor_ack = yes\n[org acme]\n");
	kill(t->pid, SIGHUP);
	ta_emergency(t);
	struct ta_ev_wait one = {t, 1};
	assert_true(th_wait_until(ta_enough_events, &one, 20));
	json_t *ev = ta_events(t);
	char *req = NULL;
	if (asprintf(&req, "{\"cmd\":\"ack\",\"event\":%lld,\"by\":\"a console\"}",
		     json_integer_value(json_object_get(json_array_get(ev, 0), "id"))) < 0)
		abort();
	json_decref(ev);
	/* the reload's moment is the agent's: asked until it takes it */
	struct ask_wait aw = {t->msock, req};
	assert_true(th_wait_until(answers_ok, &aw, 10));
	free(req);
	j = ask(t->msock, changes[0]);
	assert_false(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	j = ask(t->msock, "{\"cmd\":\"status\"}");
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	/* on the admin socket a change is made, and logged with the uid */
	j = ask(t->sock, "{\"cmd\":\"renew\",\"org\":\"acme\"}");
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	assert_true(log_says(t, "uid 0 (pid"));
	assert_int_equal(ta_stop(t), 0);
}

/* ctteamsctl run as nobody, in the monitoring socket's group: exit status
 * and output. The binary is copied where nobody can reach it. */
static int
as_nobody(struct ta *t, const char *sock, const char *cmd, const char *org, char **ret_out,
	  char **ret_err)
{
	char *ctl, *copy;
	int rc;

	if (asprintf(&ctl, "%s/ctteamsctl", t->dir) < 0 ||
	    asprintf(&copy, "cp %s %s && chmod 755 %s", TA_CTTEAMSCTL, ctl, ctl) < 0)
		abort();
	assert_int_equal(system(copy), 0);
	const char *argv[] = {"/usr/bin/setpriv",
			      "--reuid=nobody",
			      "--regid=nogroup",
			      "--clear-groups",
			      ctl,
			      "-S",
			      sock,
			      cmd,
			      org,
			      NULL};
	rc = th_run(argv, ret_out, ret_err);
	free(copy);
	free(ctl);
	return rc;
}

/* The same as a real monitoring account would: a user who is not root, in
 * the socket's group (monitor_group), may read and may not change; the
 * admin socket does not let it in at all. */
static void
test_monitoring_group_member(void **state)
{
	struct ta *t = *state;
	char *run, *out = NULL, *err = NULL;

	ta_ready(t, "monitor_group = nogroup");
	/* the test's directories are the daemon's (0700): open the way */
	run = strdup(t->msock);
	*strrchr(run, '/') = '\0';
	assert_int_equal(chmod(t->dir, 0711), 0);
	assert_int_equal(chmod(run, 0711), 0);
	assert_int_equal(as_nobody(t, t->msock, "status", NULL, &out, NULL), 0);
	assert_non_null(strstr(out, "acme"));
	free(out);
	static const char *const changes[][2] = {
	    {"login", "acme"}, {"logout", "acme"}, {"renew", "acme"}, {"ack", "1"}};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		assert_int_not_equal(
		    as_nobody(t, t->msock, changes[i][0], changes[i][1], &out, &err), 0);
		/* refused by the agent, as read-only, not by the file system */
		assert_non_null(strstr(err, "read-only"));
		free(out);
		free(err);
	}
	/* the admin socket: not for this user at all */
	assert_int_not_equal(as_nobody(t, t->sock, "status", NULL, &out, &err), 0);
	assert_non_null(strstr(err, "Permission denied"));
	free(out);
	free(err);
	assert_true(ta_sub_active(t));
	free(run);
	assert_int_equal(ta_stop(t), 0);
}

static bool
some_alarm(void *arg)
{
	struct ta *t = arg;
	json_t *j = ask(t->msock, "{\"cmd\":\"alarms\"}");
	bool ok = json_array_size(json_object_get(j, "alarms")) > 0;

	json_decref(j);
	return ok;
}

static void
has_keys(json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		if (!json_object_get(o, *keys))
			fail_msg("documented field '%s' missing", *keys);
	}
}

/* The fields docs/control-protocol.md documents are there; ack records
 * who took an event in hand. */
static void
test_documented_fields(void **state)
{
	static const char *const top[] = {"proto", "ok", "agent", "orgs", "alarms", NULL};
	static const char *const agent[] = {"version", "pid",           "started", "public_url",
					    "orgs",    "store_trouble", NULL};
	static const char *const org[] = {"org",
					  "auth_state",
					  "access_token_expires_in",
					  "last_refresh",
					  "consecutive_failures",
					  "last_error",
					  "client_secret_days_left",
					  "subscription",
					  "poll",
					  "canary",
					  "counters",
					  "inbox_pending",
					  "reads_in_flight",
					  "dead_letters",
					  "held_by_graph",
					  "chats_held_by_graph",
					  "throttled_since",
					  "reads_seen",
					  NULL};
	static const char *const sub[] = {"state",      "id",         "failures",
					  "expires",    "expires_in", "last_notification",
					  "last_error", NULL};
	static const char *const poll[] = {"delivery_gap",  "last_recovery", "last_pass",
					   "next_sweep",    "swept_to",      "pending_from",
					   "skipped_chats", "last_error",    NULL};
	static const char *const alarm[] = {"type", "org",     "severity", "raised",
					    "text", "summary", "runbook",  NULL};
	static const char *const event[] = {
	    "id",       "org",        "kind",     "caller",   "caller_id",  "number", "test_call",
	    "location", "importance", "created",  "chat_id",  "message_id", "source", "raised",
	    "text",     "acked",      "acked_at", "acked_by", NULL};
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	const char *argv[] = {TA_CTTEAMSCTL, "-S", NULL, "ack", NULL, "--by", "Desk 3", NULL};
	char id[32];
	json_t *j, *o, *e;

	ta_ready(t, NULL);
	json_decref(th_sim(
	    &t->gs, "POST", "/emergency",
	    json_pack("{s:s, s:[s], s:s}", "caller", t->caller, "members", t->svc, "number", "911"),
	    NULL));
	assert_true(th_wait_until(ta_enough_events, &w, 20));
	j = ask(t->msock, "{\"cmd\":\"status\"}");
	has_keys(j, top);
	has_keys(json_object_get(j, "agent"), agent);
	o = json_array_get(json_object_get(j, "orgs"), 0);
	has_keys(o, org);
	has_keys(json_object_get(o, "subscription"), sub);
	has_keys(json_object_get(o, "poll"), poll);
	json_decref(j);
	j = ask(t->msock, "{\"cmd\":\"alarms\"}");
	assert_true(json_is_array(json_object_get(j, "alarms")));
	json_decref(j);
	/* an alarm to look at: the org signed out */
	json_decref(ask(t->sock, "{\"cmd\":\"logout\",\"org\":\"acme\"}"));
	assert_true(th_wait_until(some_alarm, t, 10));
	j = ask(t->msock, "{\"cmd\":\"alarms\"}");
	has_keys(json_array_get(json_object_get(j, "alarms"), 0), alarm);
	json_decref(j);
	e = ta_events(t);
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(json_array_get(e, 0), "id")));
	json_decref(e);
	argv[2] = t->sock;
	argv[4] = id;
	assert_int_equal(th_run(argv, NULL, NULL), 0);
	e = ta_events(t);
	has_keys(json_array_get(e, 0), event);
	assert_true(json_is_true(json_object_get(json_array_get(e, 0), "acked")));
	assert_string_equal(ta_str(json_array_get(e, 0), "acked_by"), "Desk 3");
	json_decref(e);
	assert_int_equal(ta_stop(t), 0);
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Every counter from zero at a fresh start; 300 forged notifications are
 * counted without a database write each. */
static void
test_counters_from_zero_and_cheap(void **state)
{
	struct ta *t = *state;
	const char *hdr[] = {"Content-Type: application/json", NULL};
	char *url, *wal;
	json_t *o, *c;
	long before;
	const char *key;
	json_t *v;
	struct th_resp r;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	o = ta_org_status(t, "acme");
	c = json_object_get(o, "counters");
	assert_true(json_object_size(c) >= 28);
	json_object_foreach (c, key, v)
		assert_int_equal(json_integer_value(v), 0);
	assert_non_null(json_object_get(c, "rejected_client_state"));
	assert_non_null(json_object_get(c, "recovered_by_poll"));
	json_decref(o);
	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", t->base) < 0 ||
	    asprintf(&wal, "%s/state/ctteams.db-wal", t->dir) < 0)
		abort();
	before = file_size(wal);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(th_http("POST", url, NULL, hdr, "{\"value\": 7}", &r), 0);
		assert_int_equal(r.status, 400);
		th_resp_free(&r);
	}
	assert_int_equal(ta_counter(t, "rejected_malformed"), 300);
	/* one commit is at least a page (4 KiB): 300 of them would be > 1 MiB */
	assert_true(file_size(wal) - before < 64 * 1024);
	/* and they are kept: a clean restart still has them */
	assert_int_equal(ta_stop(t), 0);
	assert_int_equal(ta_restart(t), 0);
	assert_int_equal(ta_counter(t, "rejected_malformed"), 300);
	assert_int_equal(ta_stop(t), 0);
	free(url);
	free(wal);
}

static char *
org_section(struct ta *t, const char *name)
{
	char *secret, *text;
	FILE *f;

	if (asprintf(&secret, "%s/%s-secret", t->gs.dir, name) < 0)
		abort();
	f = fopen(secret, "w");
	fputs(TA_SECRET "\n", f);
	fclose(f);
	chmod(secret, 0600);
	if (asprintf(&text,
		     "\n[org %s]\ntenant_id = %s\nclient_id = %s\nclient_secret_file = %s\n"
		     "service_user = %s\n",
		     name, TA_TENANT, TA_CLIENT, secret, TA_UPN) < 0)
		abort();
	free(secret);
	return text;
}

/* The configuration as the fixture wrote it (up to the first extra org),
 * then these sections; SIGHUP. */
static void
reconfigure(struct ta *t, const char *const *sections)
{
	char *text = th_read_file(t->conf), *cut = strstr(text, "\n[org beta]");
	FILE *f;

	if (!cut)
		cut = strstr(text, "\n[org gamma]");
	if (cut)
		*cut = '\0';
	f = fopen(t->conf, "w");
	fputs(text, f);
	for (; *sections; sections++)
		fputs(*sections, f);
	fclose(f);
	free(text);
	kill(t->pid, SIGHUP);
}

struct index_wait {
	struct ta *t;
	const char *want; /* "acme=1 beta=2" */
};

static bool
indexes_are(void *arg)
{
	struct index_wait *w = arg;
	json_t *j = ta_ctl(w->t, "status", NULL), *o;
	char got[256] = "";
	size_t i;

	json_array_foreach (json_object_get(j, "orgs"), i, o) {
		char one[64];
		snprintf(one, sizeof(one), "%s%s=%lld", i ? " " : "", ta_str(o, "org"),
			 (long long)json_integer_value(json_object_get(o, "index")));
		strncat(got, one, sizeof(got) - strlen(got) - 1);
	}
	json_decref(j);
	return !strcmp(got, w->want);
}

/* An org keeps its number across reloads and restarts, and a number is
 * never given to another org, even after its own org left. */
static void
test_org_indexes_are_stable(void **state)
{
	struct ta *t = *state;
	char *beta = org_section(t, "beta"), *gamma = org_section(t, "gamma");
	const char *only_acme[] = {NULL}, *with_gamma[] = {gamma, NULL},
		   *all[] = {gamma, beta, NULL};
	struct index_wait w = {t, "acme=1 beta=2"};

	assert_int_equal(ta_start(t, NULL, beta), 0);
	assert_true(th_wait_until(indexes_are, &w, 5));
	reconfigure(t, only_acme);
	w.want = "acme=1";
	assert_true(th_wait_until(indexes_are, &w, 5));
	reconfigure(t, with_gamma);
	w.want = "acme=1 gamma=3";
	assert_true(th_wait_until(indexes_are, &w, 5));
	reconfigure(t, all);
	w.want = "acme=1 gamma=3 beta=2";
	assert_true(th_wait_until(indexes_are, &w, 5));
	assert_int_equal(ta_stop(t), 0);
	assert_int_equal(ta_restart(t), 0);
	assert_true(th_wait_until(indexes_are, &w, 5));
	assert_int_equal(ta_stop(t), 0);
	free(beta);
	free(gamma);
}

/* The store is failing when a reload adds an org: the new org's first write
 * works, so the store recovers in the middle of the reload, and its
 * recovery reads every org back. It must meet a whole list (it met one half
 * built, with a NULL in it, and the agent died). The notice the failing
 * store answered 503 to arrives. */
static void
test_store_recovers_during_reload(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait w = {t, 1};
	struct index_wait iw = {t, "acme=1 beta=2"};
	char *beta = org_section(t, "beta");
	const char *add[] = {beta, NULL};
	sqlite3 *db;
	json_t *pong;

	ta_ready(t, "backfill_delay = 1s");
	db = ta_store_lock(t);
	ta_emergency(t);
	assert_true(th_wait_until(ta_store_trouble_shown, t, 30));
	/* the lock goes and the reload comes at once, before the agent's
	 * next try of a write (seconds away, backing off) */
	ta_store_unlock(db);
	reconfigure(t, add);
	assert_true(th_wait_until(indexes_are, &iw, 10));
	pong = ta_ctl(t, "ping", NULL);
	assert_true(json_is_true(json_object_get(pong, "ok")));
	json_decref(pong);
	assert_true(th_wait_until(ta_enough_events, &w, 60));
	assert_int_equal(ta_stop(t), 0);
	free(beta);
}

/* ctteamsctl ack takes several events at once, says what became of each,
 * and the first acknowledgement of each stands. */
static void
test_ack_several(void **state)
{
	struct ta *t = *state;
	struct ta_ev_wait two = {t, 2};
	char a[32], b[32], *out = NULL;
	json_t *ev;

	ta_ready(t, NULL);
	ta_emergency(t);
	ta_emergency(t);
	assert_true(th_wait_until(ta_enough_events, &two, 20));
	ev = ta_events(t);
	snprintf(a, sizeof(a), "%lld",
		 json_integer_value(json_object_get(json_array_get(ev, 0), "id")));
	snprintf(b, sizeof(b), "%lld",
		 json_integer_value(json_object_get(json_array_get(ev, 1), "id")));
	json_decref(ev);
	{
		const char *argv[] = {TA_CTTEAMSCTL, "-S",         t->sock, "ack", a, b,
				      "--by",        "night desk", NULL};
		assert_int_equal(th_run(argv, &out, NULL), 0);
		assert_non_null(strstr(out, "acknowledged"));
		free(out);
		assert_int_equal(th_run(argv, &out, NULL), 0);
		assert_non_null(strstr(out, "acknowledged before, by night desk"));
		free(out);
	}
	ev = ta_events(t);
	for (size_t i = 0; i < 2; i++)
		assert_string_equal(ta_str(json_array_get(ev, i), "acked_by"), "night desk");
	json_decref(ev);
	{
		const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, "ack", a, "twelve", NULL};
		assert_int_equal(th_run(argv, &out, NULL), 2); /* nothing sent */
		free(out);
	}
	assert_int_equal(ta_stop(t), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_half_close_and_pipelining, ta_test_teardown),
	    cmocka_unit_test_teardown(test_overlong_request_is_told, ta_test_teardown),
	    cmocka_unit_test_teardown(test_idle_and_greedy_clients, ta_test_teardown),
	    cmocka_unit_test_teardown(test_monitoring_socket_flood, ta_test_teardown),
	    cmocka_unit_test_teardown(test_monitoring_socket_is_read_only, ta_test_teardown),
	    cmocka_unit_test_teardown(test_monitoring_group_member, ta_test_teardown),
	    cmocka_unit_test_teardown(test_documented_fields, ta_test_teardown),
	    cmocka_unit_test_teardown(test_counters_from_zero_and_cheap, ta_test_teardown),
	    cmocka_unit_test_teardown(test_org_indexes_are_stable, ta_test_teardown),
	    cmocka_unit_test_teardown(test_store_recovers_during_reload, ta_test_teardown),
	    cmocka_unit_test_teardown(test_ack_several, ta_test_teardown),
	};
	return cmocka_run_group_tests_name("agent_control", tests, setup, ta_teardown);
}
