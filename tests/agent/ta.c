#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ta.h"

int
ta_setup(void **state, const char *const *gs_extra)
{
	struct ta *t = calloc(1, sizeof(*t));
	long status;

	const char *args[32] = {"--allow-http-notify", NULL};
	int n = 1;

	/* the agent listens on plain HTTP on loopback in these tests */
	for (; gs_extra && *gs_extra && n < 31; gs_extra++)
		args[n++] = *gs_extra;
	args[n] = NULL;
	if (!t || th_graphsim_start(&t->gs, args) < 0)
		return -1;
	t->svc = th_sim_user(&t->gs, TA_TENANT, TA_UPN, "Security Desk Service");
	t->caller = th_sim_user(&t->gs, TA_TENANT, "jane@contoso.example", "Jane Doe");
	t->port = th_free_port();
	if (asprintf(&t->base, "http://127.0.0.1:%d", t->port) < 0)
		abort();
	char *redirect;
	if (asprintf(&redirect, "%s/api/org/acme/ms-teams/callback", t->base) < 0)
		abort();
	json_decref(
	    th_sim(&t->gs, "POST", "/apps",
		   json_pack("{s:s, s:s, s:s, s:[s]}", "tenant", TA_TENANT, "client_id", TA_CLIENT,
			     "client_secret", TA_SECRET, "redirect_uris", redirect),
		   &status));
	free(redirect);
	if (status != 201 || !t->svc || !t->caller)
		return -1;
	*state = t;
	return 0;
}

/* TA_ONLY=test_name (a pattern: * and ?) runs only the matching tests of
 * a suite, to follow one down without waiting for the rest. */
__attribute__((constructor)) static void
only_some(void)
{
	if (getenv("TA_ONLY"))
		cmocka_set_test_filter(getenv("TA_ONLY"));
}

/* The agent's directory (kept with TH_KEEP) and the paths in it. */
static void
files_clear(struct ta *t)
{
	if (t->dir && !getenv("TH_KEEP"))
		th_rmtree(t->dir);
	free(t->dir);
	free(t->conf);
	free(t->sock);
	free(t->msock);
	free(t->log);
	t->dir = t->conf = t->sock = t->msock = t->log = NULL;
}

int
ta_teardown(void **state)
{
	struct ta *t = *state;
	int rc = 0;

	if (t->pid > 0)
		rc |= ta_stop(t);
	rc |= th_graphsim_stop(&t->gs);
	files_clear(t);
	free(t->base);
	free(t->svc);
	free(t->caller);
	free(t);
	return rc;
}

int
ta_test_teardown(void **state)
{
	struct ta *t = *state;

	if (t->pid > 0)
		ta_kill(t);
	/* what one test injected must not reach the next */
	json_decref(th_sim(&t->gs, "DELETE", "/faults", NULL, NULL));
	return 0;
}

static bool
answers(void *arg)
{
	struct ta *t = arg;
	int status;

	if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
		t->pid = -1;
		return true; /* died: stop waiting */
	}
	if (access(t->sock, F_OK) != 0)
		return false;
	json_t *j = ta_ctl(t, "ping", NULL);
	bool ok = j && json_is_true(json_object_get(j, "ok"));
	json_decref(j);
	return ok;
}

static int
spawn(struct ta *t)
{
	int fd;

	t->pid = fork();
	if (t->pid == 0) {
		fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		execl(TA_CTTEAMSD, TA_CTTEAMSD, "--foreground", "--config", t->conf, (char *)NULL);
		_exit(127);
	}
	if (!th_wait_until(answers, t, 20) || t->pid < 0) {
		char *log = th_read_file(t->log);
		fprintf(stderr, "ctteamsd did not start:\n%s\n", log ? log : "");
		free(log);
		return -1;
	}
	return 0;
}

int
ta_start(struct ta *t, const char *agent_extra, const char *org_extra)
{
	ta_prepare(t, agent_extra, org_extra);
	return spawn(t);
}

void
ta_twin(struct ta *twin, const struct ta *t)
{
	memset(twin, 0, sizeof(*twin));
	twin->gs = t->gs;
	twin->svc = t->svc;
	twin->caller = t->caller;
	twin->port = t->port;
	twin->base = t->base;
	twin->ca_file = t->ca_file;
	twin->pid = -1;
	twin->twin = true;
}

void
ta_twin_free(struct ta *twin)
{
	if (twin->pid > 0)
		ta_kill(twin);
	files_clear(twin);
}

void
ta_prepare(struct ta *t, const char *agent_extra, const char *org_extra)
{
	char *secret;
	FILE *f;

	if (t->pid > 0)
		ta_kill(t);
	files_clear(t);
	/* the same URL as the previous test's agent: not marked slow by it */
	if (!t->twin)
		json_decref(th_sim(&t->gs, "DELETE", "/endpoints", NULL, NULL));
	t->dir = th_tmpdir("agent");
	if (asprintf(&t->conf, "%s/ctteamsd.conf", t->dir) < 0 ||
	    asprintf(&t->sock, "%s/run/ctteamsd.sock", t->dir) < 0 ||
	    asprintf(&t->msock, "%s/run/monitor.sock", t->dir) < 0 ||
	    asprintf(&t->log, "%s/agent.log", t->dir) < 0 ||
	    asprintf(&secret, "%s/client-secret", t->dir) < 0)
		abort();
	f = fopen(secret, "w");
	fprintf(f, "%s\n", TA_SECRET);
	fclose(f);
	chmod(secret, 0600);
	f = fopen(t->conf, "w");
	fprintf(f,
		"# written by the test fixture\n"
		"[agent]\n"
		"public_url = %s\n"
		"listen = 127.0.0.1:%d\n"
		"state_dir = %s/state\n"
		"control_socket = %s\n"
		"monitor_socket = %s\n"
		"authority_host = %s\n"
		"graph_endpoint = %s\n"
		"ca_file = %s\n"
		"%s\n"
		"%s\n"
		"%s\n"
		"[org acme]\n"
		"tenant_id = %s\n"
		"client_id = %s\n"
		"client_secret_file = %s\n"
		"%s"
		"service_user = %s\n"
		"%s\n",
		t->base, t->listen_port ? t->listen_port : t->port, t->dir, t->sock, t->msock,
		t->gs.base, t->gs.base, t->ca_file ? t->ca_file : t->gs.ca,
		/* debug unless the test chose a level */
		agent_extra && strstr(agent_extra, "log_level") ? "" : "log_level = debug",
		/* no SNMP unless the test brings its own snmpd */
		agent_extra && strstr(agent_extra, "agentx_socket") ? "" : "agentx_socket = off",
		agent_extra ? agent_extra : "", TA_TENANT, TA_CLIENT, secret,
		org_extra && strstr(org_extra, "client_secret_expires")
		    ? ""
		    : "client_secret_expires = 2027-05-28\n",
		TA_UPN, org_extra ? org_extra : "");
	fclose(f);
	free(secret);
}

int
ta_restart(struct ta *t)
{
	return spawn(t);
}

int
ta_stop(struct ta *t)
{
	int status = 0;

	if (t->pid <= 0)
		return -1;
	kill(t->pid, SIGTERM);
	while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR)
		;
	t->pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *log = th_read_file(t->log);
		fprintf(stderr, "ctteamsd exited abnormally (%d):\n%s\n", status, log ? log : "");
		free(log);
		return -1;
	}
	return 0;
}

void
ta_kill(struct ta *t)
{
	int status;

	kill(t->pid, SIGKILL);
	while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR)
		;
	t->pid = -1;
}

json_t *
ta_ctl(struct ta *t, const char *cmd, const char *org)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd), *ans = NULL;
	char why[256];

	if (org)
		json_object_set_new(req, "org", json_string(org));
	if (cc_call(t->sock, req, 10000, &ans, why, sizeof(why)) != CC_OK)
		ans = NULL;
	json_decref(req);
	return ans;
}

json_t *
ta_ack(struct ta *t, long id, const char *by)
{
	json_t *req = json_pack("{s:s, s:I, s:s}", "cmd", "ack", "event", (json_int_t)id, "by", by),
	       *ans = NULL;
	char why[256];

	if (cc_call(t->sock, req, 10000, &ans, why, sizeof(why)) != CC_OK ||
	    !json_is_true(json_object_get(ans, "ok"))) {
		json_decref(ans);
		ans = NULL;
	}
	json_decref(req);
	return ans;
}

json_t *
ta_org_status(struct ta *t, const char *org)
{
	json_t *j = ta_ctl(t, "status", org), *o;

	o = json_incref(json_array_get(json_object_get(j, "orgs"), 0));
	json_decref(j);
	return o;
}

const char *
ta_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

struct auth_wait {
	struct ta *t;
	const char *org;
	const char *state;
};

static bool
auth_is(void *arg)
{
	struct auth_wait *w = arg;
	json_t *o = ta_org_status(w->t, w->org);
	bool hit = o && ta_str(o, "auth_state") && !strcmp(ta_str(o, "auth_state"), w->state);

	json_decref(o);
	return hit;
}

bool
ta_wait_auth(struct ta *t, const char *org, const char *state, double timeout)
{
	struct auth_wait w = {t, org, state};

	return th_wait_until(auth_is, &w, timeout);
}

char *
ta_link(struct ta *t, const char *org)
{
	const char *argv[] = {TA_CTTEAMSCTL, "-S", t->sock, "login", org, NULL};
	char *out = NULL, *link = NULL, *nl;

	if (th_run(argv, &out, NULL) == 0 && (link = strstr(out, "http://"))) {
		link = strdup(link);
		if ((nl = strchr(link, '\n')))
			*nl = '\0';
	}
	free(out);
	return link;
}

long
ta_signin(struct ta *t, const char *org, char **ret_page)
{
	char *link = ta_link(t, org);
	struct th_resp r;
	long status = -1;

	if (link && th_browse(link, t->gs.ca, &r) == 0) {
		status = r.status;
		if (ret_page)
			*ret_page = strdup(r.body);
		th_resp_free(&r);
	}
	free(link);
	return status;
}

json_t *
ta_requests(struct ta *t, long since, const char *note_prefix)
{
	char *path;
	json_t *all, *out = json_array(), *e;
	size_t i;

	if (asprintf(&path, "/requests?since=%ld", since) < 0)
		abort();
	all = th_sim(&t->gs, "GET", path, NULL, NULL);
	json_array_foreach (json_object_get(all, "value"), i, e) {
		const char *note = ta_str(e, "note");
		if (!note_prefix || (note && !strncmp(note, note_prefix, strlen(note_prefix))))
			json_array_append(out, e);
	}
	json_decref(all);
	free(path);
	return out;
}

long
ta_last_request_seq(struct ta *t)
{
	json_t *all = ta_requests(t, 0, NULL);
	long seq = (long)json_integer_value(
	    json_object_get(json_array_get(all, json_array_size(all) - 1), "seq"));

	json_decref(all);
	return seq;
}

struct request_wait {
	struct ta *t;
	long since;
	const char *note_prefix;
	size_t n;
};

static bool
requests_logged(void *arg)
{
	struct request_wait *w = arg;
	json_t *r = ta_requests(w->t, w->since, w->note_prefix);
	size_t n = json_array_size(r);

	json_decref(r);
	return n >= w->n;
}

bool
ta_wait_requests(struct ta *t, long since, const char *note_prefix, size_t n, double timeout)
{
	struct request_wait w = {t, since, note_prefix, n};

	return th_wait_until(requests_logged, &w, timeout);
}

json_t *
ta_sub_status(struct ta *t)
{
	json_t *o = ta_org_status(t, "acme");
	json_t *s = json_incref(json_object_get(o, "subscription"));

	json_decref(o);
	return s;
}

bool
ta_sub_active(void *arg)
{
	json_t *s = ta_sub_status(arg);
	bool ok = s && ta_str(s, "state") && !strcmp(ta_str(s, "state"), "active");

	json_decref(s);
	return ok;
}

/* graphsim's record of the live subscription for our notify URL */
json_t *
ta_sim_sub(struct ta *t)
{
	json_t *all = th_sim(&t->gs, "GET", "/subscriptions", NULL, NULL), *v, *hit = NULL;
	char *url;
	size_t i;

	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", t->base) < 0)
		abort();
	json_array_foreach (json_object_get(all, "value"), i, v) {
		if (json_is_true(json_object_get(v, "live")) &&
		    !strcmp(ta_str(v, "notificationUrl"), url))
			hit = json_incref(v);
	}
	json_decref(all);
	free(url);
	return hit;
}

json_t *
ta_events(struct ta *t)
{
	json_t *j = ta_ctl(t, "events", "acme");
	json_t *e = json_incref(json_object_get(j, "events"));

	json_decref(j);
	return e;
}

bool
ta_enough_events(void *arg)
{
	struct ta_ev_wait *w = arg;
	json_t *e = ta_events(w->t);
	bool ok = json_array_size(e) >= w->n;

	json_decref(e);
	return ok;
}

long
ta_counter(struct ta *t, const char *name)
{
	json_t *o = ta_org_status(t, "acme");
	long v = (long)json_integer_value(json_object_get(json_object_get(o, "counters"), name));

	json_decref(o);
	return v;
}

/* A fresh agent, signed in, with an active subscription. */
void
ta_ready(struct ta *t, const char *agent_extra)
{
	assert_int_equal(ta_start(t, agent_extra, NULL), 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
}

void
ta_sim_ok(struct ta *t, const char *method, const char *path, json_t *body)
{
	long status = 0;

	json_decref(th_sim(&t->gs, method, path, body, &status));
	assert_true(status >= 200 && status < 300);
}

void
ta_replace_in_file(const char *path, const char *from, const char *to)
{
	char *text = th_read_file(path), *at = text ? strstr(text, from) : NULL;
	FILE *f;

	assert_non_null(at);
	f = fopen(path, "w");
	fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	fclose(f);
	free(text);
}

void
ta_unmatched_message(struct ta *t)
{
	long status;
	json_t *c = th_sim(&t->gs, "POST", "/chats",
			   json_pack("{s:s, s:s, s:[s, s]}", "tenant", TA_TENANT, "chat_type",
				     "group", "members", t->caller, t->svc),
			   &status);

	ta_sim_ok(t, "POST", "/messages",
		  json_pack("{s:s, s:s, s:s, s:s}", "chat", ta_str(c, "id"), "from", t->caller,
			    "content", "Bitte sofort Notruf beachten", "importance", "urgent"));
	json_decref(c);
}

void
ta_short_tokens(struct ta *t, bool on)
{
	json_decref(th_sim(&t->gs, "POST", "/config",
			   json_pack("{s:s, s:b}", "access_token_lifetime", on ? "4s" : "3599s",
				     "access_lifetime_jitter", !on),
			   NULL));
}

long
ta_rss_kb(struct ta *t)
{
	char path[64], *text, *at;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)t->pid);
	text = th_read_file(path);
	at = text ? strstr(text, "VmRSS:") : NULL;
	if (at)
		kb = strtol(at + 6, NULL, 10);
	free(text);
	return kb;
}

long
ta_intake_count(struct ta *t, const char *name)
{
	json_t *st = ta_ctl(t, "status", NULL);
	long n = (long)json_integer_value(
	    json_object_get(json_object_get(json_object_get(st, "agent"), "intake"), name));

	json_decref(st);
	return n;
}

char *
ta_chat_new(struct ta *t, const char *type)
{
	long status = 0;
	json_t *c = th_sim(&t->gs, "POST", "/chats",
			   json_pack("{s:s, s:s, s:[s, s]}", "tenant", TA_TENANT, "chat_type", type,
				     "members", t->caller, t->svc),
			   &status);
	char *id;

	assert_int_equal(status, 201);
	id = strdup(ta_str(c, "id"));
	json_decref(c);
	return id;
}

void
ta_emergency(struct ta *t)
{
	ta_sim_ok(t, "POST", "/emergency",
		  json_pack("{s:s, s:[s], s:s}", "caller", t->caller, "members", t->svc, "number",
			    "911"));
}

bool
ta_snmp_connected(void *t)
{
	json_t *j = ta_ctl(t, "status", NULL);
	bool ok = json_is_true(
	    json_object_get(json_object_get(json_object_get(j, "agent"), "snmp"), "connected"));

	json_decref(j);
	return ok;
}

void
ta_fifo_make(struct ta_fifo *f, const char *dir)
{
	memset(f, 0, sizeof(*f));
	if (asprintf(&f->path, "%s/nagios.cmd", dir) < 0 ||
	    asprintf(&f->out, "%s/nagios.got", dir) < 0)
		abort();
	assert_int_equal(mkfifo(f->path, 0660), 0);
}

void
ta_fifo_read(struct ta_fifo *f)
{
	f->reader = fork();
	if (f->reader == 0) {
		int in = open(f->path, O_RDWR), out = open(f->out, O_WRONLY | O_CREAT, 0600);
		char buf[8192];
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				_exit(1);
		_exit(0);
	}
}

void
ta_fifo_stop(struct ta_fifo *f)
{
	if (f->reader > 0) {
		kill(f->reader, SIGKILL);
		waitpid(f->reader, NULL, 0);
	}
	free(f->path);
	free(f->out);
	memset(f, 0, sizeof(*f));
}

double
ta_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* fields 14 and 15, counted after the command name */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

sqlite3 *
ta_store_lock(struct ta *t)
{
	sqlite3 *db = NULL;
	char *path;

	if (asprintf(&path, "%s/state/ctteams.db", t->dir) < 0)
		abort();
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	free(path);
	return db;
}

void
ta_store_unlock(sqlite3 *db)
{
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

bool
ta_store_trouble_shown(void *t)
{
	json_t *j = ta_ctl(t, "status", NULL);
	bool ok = json_is_object(json_object_get(json_object_get(j, "agent"), "store_trouble"));

	json_decref(j);
	return ok;
}

int
ta_count_in(const char *text, const char *needle)
{
	int n = 0;

	for (const char *at = text; at && (at = strstr(at, needle)); at += strlen(needle))
		n++;
	return n;
}

bool
ta_alarm_is(void *arg)
{
	struct ta_alarm_wait *w = arg;
	json_t *j = ta_ctl(w->t, "alarms", NULL), *a;
	bool found = false, answered = j != NULL;
	size_t i;

	json_array_foreach (json_object_get(j, "alarms"), i, a)
		found |= !strcmp(ta_str(a, "type"), w->type);
	json_decref(j);
	/* an agent that does not answer says nothing either way */
	return answered && found == w->active;
}
