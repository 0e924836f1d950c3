/*
 * Two agents sharing one PostgreSQL database behind one address, as
 * docs/high-availability.md sets them up: the fixture's agent ("alpha")
 * and a twin ("beta") with alpha's sealing key, a load balancer of the
 * test's own at the fixture's address, and (outputs) each agent's own
 * snmpd and snmptrapd and one Nagios command file for both.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ta.h"

/* status.agent.ha.role, or "" while the agent does not answer */
char *
ta_role(struct ta *t)
{
	json_t *j = ta_ctl(t, "status", NULL);
	const char *r;
	char *out;

	r = json_string_value(
	    json_object_get(json_object_get(json_object_get(j, "agent"), "ha"), "role"));
	out = strdup(r ? r : "");
	json_decref(j);
	return out;
}

struct ta_role_wait {
	struct ta *t;
	const char *role;
};

static bool
has_role(void *arg)
{
	struct ta_role_wait *w = arg;
	char *r = ta_role(w->t);
	bool ok = !strcmp(r, w->role);

	free(r);
	return ok;
}

void
ta_wait_role(struct ta *t, const char *role, double timeout)
{
	struct ta_role_wait w = {t, role};

	if (!th_wait_until(has_role, &w, timeout)) {
		char *log = th_read_file(t->log);
		fprintf(stderr, "no %s agent; its log:\n%s\n", role, log ? log : "");
		free(log);
		fail();
	}
}

static void
copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out;
	char buf[4096];
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static char *
agent_conf(struct ta_pair *p, struct th_pg *pg, const char *uri, const char *name, int i,
	   const char *extra)
{
	char *conf;

	if (asprintf(
		&conf,
		"database = %s\ndatabase_password_file = %s\nagent_name = %s\n"
		"backfill_delay = 1s\nlog_level = info\n%s%s%s%s%s\n%s",
		uri, pg->pwfile, name, p->outputs ? "agentx_reconnect = 1s\nagentx_socket = " : "",
		p->outputs ? p->snmp[i].agentx : "", p->outputs ? "\nnagios_command_file = " : "",
		p->outputs ? p->fifo.path : "", p->outputs ? "\n" : "", extra ? extra : "") < 0)
		abort();
	return conf;
}

/* alpha started first takes the duties; beta, with alpha's sealing key,
 * waits as the standby */
void
ta_pair_up(struct ta_pair *p, struct ta *t, struct th_pg *pg, const char *db, bool outputs,
	   const char *extra)
{
	int ports[2] = {th_free_port(), th_free_port()};
	char *uri, *conf, *from, *to, *state;

	memset(p, 0, sizeof(*p));
	p->a = t;
	p->outputs = outputs;
	p->dir = th_tmpdir("pair");
	uri = th_pg_newdb(pg, db);
	assert_non_null(uri);
	if (outputs) {
		for (int i = 0; i < 2; i++)
			assert_int_equal(th_snmp_start(&p->snmp[i], NULL, NULL), 0);
		ta_fifo_make(&p->fifo, p->dir);
		ta_fifo_read(&p->fifo);
	}
	/* Graph and the browser reach the pair at the fixture's address;
	 * alpha while it answers, until a test spreads the load */
	p->lb = th_proxy_start(t->port, ports[0], ports[1], false);
	assert_non_null(p->lb);
	t->listen_port = ports[0];
	conf = agent_conf(p, pg, uri, "alpha", 0, extra);
	ta_prepare(t, conf, "rich_notifications = no\n");
	free(conf);
	assert_int_equal(ta_restart(t), 0);
	ta_wait_role(t, "active", 20);

	ta_twin(&p->b, t);
	p->b.listen_port = ports[1];
	conf = agent_conf(p, pg, uri, "beta", 1, extra);
	ta_prepare(&p->b, conf, "rich_notifications = no\n");
	free(conf);
	/* the sealing key provisioned to both (docs/high-availability.md) */
	if (asprintf(&state, "%s/state", p->b.dir) < 0 ||
	    asprintf(&from, "%s/state/seal.key", t->dir) < 0 ||
	    asprintf(&to, "%s/seal.key", state) < 0)
		abort();
	assert_int_equal(mkdir(state, 0700), 0);
	copy_file(from, to);
	assert_int_equal(ta_restart(&p->b), 0);
	ta_wait_role(&p->b, "standby", 20);
	free(state);
	free(from);
	free(to);
	free(uri);
}

/* Everything the pair started; a failed test's agents are killed. */
void
ta_pair_free(struct ta_pair *p)
{
	if (p->a->pid > 0)
		ta_kill(p->a);
	ta_twin_free(&p->b);
	th_proxy_stop(p->lb);
	p->a->listen_port = 0;
	if (p->outputs) {
		ta_fifo_stop(&p->fifo);
		for (int i = 0; i < 2; i++)
			th_snmp_stop(&p->snmp[i]);
	}
	th_rmtree(p->dir);
	free(p->dir);
	p->dir = NULL;
}

void
ta_pair_down(struct ta_pair *p)
{
	if (p->a->pid > 0)
		assert_int_equal(ta_stop(p->a), 0);
	if (p->b.pid > 0)
		assert_int_equal(ta_stop(&p->b), 0);
	ta_pair_free(p);
}

static json_t *
events_from(struct ta *t)
{
	json_t *req = json_pack("{s:s, s:s, s:i}", "cmd", "events", "org", "acme", "limit", 5000),
	       *ans = NULL, *e = NULL;
	char why[256];

	if (cc_call(t->sock, req, 10000, &ans, why, sizeof(why)) == CC_OK)
		e = json_incref(json_object_get(ans, "events"));
	json_decref(ans);
	json_decref(req);
	return e;
}

/* Every event, from the agent that answers (one may be starting again). */
json_t *
ta_pair_events(struct ta_pair *p)
{
	json_t *e = events_from(p->a);

	return e ? e : events_from(&p->b);
}

char *
ta_pair_traps(struct ta_pair *p)
{
	char *a = th_snmp_traps(&p->snmp[0]), *b = th_snmp_traps(&p->snmp[1]), *both;

	if (asprintf(&both, "%s\n%s", a ? a : "", b ? b : "") < 0)
		abort();
	free(a);
	free(b);
	return both;
}
