/*
 * Benchmark (not a test): many signed-in orgs on one agent (SQLite) or on
 * a pair sharing a PostgreSQL database, against graphsim, with each host's
 * real snmpd. Every org is signed in through the browser flow (a link, the
 * sign-in, the callback: on a pair, links from both agents and callbacks
 * spread over both by a round-robin balancer), and its subscription made.
 * Then, for a window, time runs ten times faster than Entra's: access
 * tokens of 6 to 9 minutes instead of 60 to 90, refreshed 1 minute before
 * their end instead of 10, reauthorizationRequired 1 minute ahead instead
 * of 10; every delegated token's end also reauthorizes its subscription,
 * as Graph requires. Prints Markdown: per agent RSS, CPU and wake-ups in
 * the window; the refreshes and renewals graphsim saw, and the most in any
 * ten seconds against the mean (a herd shows as a high peak); a full walk
 * of CT-TEAMS-MIB (bulk and plain) and `ctteamsctl status`, timed.
 *
 *   bench_scale one|pair ORGS SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ta.h"

static const char *mode;
static int n_orgs, window;
static struct ta *t;
static struct ta_pair pair;
static struct th_pg pg;
static struct th_snmp snmp; /* one agent's */
static char *secret_file;

static const char *
tenant_of(int i, char *buf, size_t n)
{
	snprintf(buf, n, "7e1c0a52-5d2b-4c1e-9f3a-%012d", i);
	return buf;
}

/* graphsim's side of org i: its tenant, service user and app */
static void
sim_org(int i)
{
	char tenant[64], upn[64], client[64], redirect[160];
	long status = 0;

	tenant_of(i, tenant, sizeof(tenant));
	snprintf(upn, sizeof(upn), "svc-911@org%d.example", i);
	snprintf(client, sizeof(client), "c0ffee00-1111-4222-8333-%012d", i);
	snprintf(redirect, sizeof(redirect), "%s/api/org/org%d/ms-teams/callback", t->base, i);
	free(th_sim_user(&t->gs, tenant, upn, "Security Desk Service"));
	json_decref(th_sim(&t->gs, "POST", "/apps",
			   json_pack("{s:s, s:s, s:s, s:[s]}", "tenant", tenant, "client_id",
				     client, "client_secret", TA_SECRET, "redirect_uris", redirect),
			   &status));
	if (status != 201) {
		fprintf(stderr, "bench_scale: graphsim refused org %d's app (%ld)\n", i, status);
		exit(1);
	}
}

/* the agent's [org] sections for orgs 1..n (after the fixture's acme) */
static char *
org_sections(const char *agent_lines)
{
	size_t cap = (size_t)n_orgs * 400 + strlen(agent_lines) + 1, len;
	char *s = malloc(cap), tenant[64];

	len = (size_t)snprintf(s, cap, "%s", agent_lines);
	for (int i = 1; i <= n_orgs; i++)
		len += (size_t)snprintf(
		    s + len, cap - len,
		    "[org org%d]\ntenant_id = %s\nclient_id = c0ffee00-1111-4222-8333-%012d\n"
		    "client_secret_file = %s\nclient_secret_expires = 2099-01-01\n"
		    "service_user = svc-911@org%d.example\n",
		    i, tenant_of(i, tenant, sizeof(tenant)), i, secret_file, i);
	return s;
}

static struct ta *
agent(int i)
{
	return i == 0 ? t : &pair.b;
}

static int
n_agents(void)
{
	return strcmp(mode, "pair") == 0 ? 2 : 1;
}

/* orgs whose subscription is active, as the agent sees them */
static int
subs_active(struct ta *a)
{
	json_t *j = ta_ctl(a, "status", NULL), *o;
	size_t i;
	int n = 0;

	json_array_foreach (json_object_get(j, "orgs"), i, o) {
		const char *st = ta_str(json_object_get(o, "subscription"), "state");
		n += st && !strcmp(st, "active");
	}
	json_decref(j);
	return n;
}

static void
sign_in_all(void)
{
	double t0 = th_now();
	int failed = 0;

	for (int i = 1; i <= n_orgs; i++) {
		char org[32], *link;
		struct th_resp r;

		snprintf(org, sizeof(org), "org%d", i);
		link = ta_link(agent(i % n_agents()), org);
		if (!link || th_browse(link, t->gs.ca, &r) != 0 || r.status != 200)
			failed++;
		else
			th_resp_free(&r);
		free(link);
	}
	fprintf(stderr, "bench_scale: %d orgs signed in in %.0f s (%d failed)\n", n_orgs - failed,
		th_now() - t0, failed);
	t0 = th_now();
	while (subs_active(t) < n_orgs && th_now() - t0 < 600)
		sleep(2);
	fprintf(stderr, "bench_scale: %d subscriptions active after %.0f s more\n", subs_active(t),
		th_now() - t0);
}

static long
proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], *text, *at;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	text = th_read_file(path);
	at = text ? strstr(text, key) : NULL;
	if (at)
		v = strtol(at + strlen(key), NULL, 10);
	free(text);
	return v;
}

/* user + system clock ticks */
static long
cpu_ticks(pid_t pid)
{
	char path[64], *text, *p;
	long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	text = th_read_file(path);
	p = text ? strrchr(text, ')') : NULL;
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st);
	free(text);
	return ut + st;
}

/* graphsim's requests since seq, in 10-s buckets from t_start */
static void
count_requests(long since, double t_start_wall, long *refreshes, long *renewals, long *peak_ref,
	       long *peak_ren)
{
	json_t *all = ta_requests(t, since, NULL), *e;
	int nb = window / 10 + 2;
	long *rb = calloc((size_t)nb, sizeof(long)), *nb2 = calloc((size_t)nb, sizeof(long));
	size_t i;

	*refreshes = *renewals = *peak_ref = *peak_ren = 0;
	json_array_foreach (all, i, e) {
		const char *note = ta_str(e, "note"), *method = ta_str(e, "method"),
			   *path = ta_str(e, "path");
		double at = json_number_value(json_object_get(e, "time"));
		int b = (int)((at - t_start_wall) / 10);
		if (b < 0 || b >= nb)
			b = nb - 1;
		if (note && strstr(note, "refresh_token used=")) {
			(*refreshes)++;
			rb[b]++;
		} else if (method && path && !strcmp(method, "PATCH") &&
			   strstr(path, "/subscriptions/")) {
			(*renewals)++;
			nb2[b]++;
		}
	}
	for (int b = 0; b < nb - 1; b++) {
		if (rb[b] > *peak_ref)
			*peak_ref = rb[b];
		if (nb2[b] > *peak_ren)
			*peak_ren = nb2[b];
	}
	json_decref(all);
	free(rb);
	free(nb2);
}

static double
timed_ms(char *(*fn)(struct th_snmp *, const char *), struct th_snmp *s, const char *oid,
	 long *lines)
{
	double t0 = th_now();
	char *out = fn(s, oid);
	double ms = (th_now() - t0) * 1000;

	*lines = 0;
	for (char *p = out; p && *p; p++)
		*lines += *p == '\n';
	free(out);
	return out ? ms : -1;
}

static struct th_snmp *
snmp_of(int i)
{
	return strcmp(mode, "pair") == 0 ? &pair.snmp[i] : &snmp;
}

int
main(int argc, char **argv)
{
	void *state = NULL;
	/* ten times Entra's pace (see the comment at the top) */
	/* every connection comes from the test's own balancer, a TCP one
	 * (docs/high-availability.md): no limit per address */
	const char *agent_lines = "refresh_margin = 60s\nmax_connections_per_address = 0\n";
	long seq, cpu0[2], wake0[2], refreshes, renewals, peak_ref, peak_ren;
	double wall0;
	char *conf;

	if (argc != 4 || (strcmp(argv[1], "one") && strcmp(argv[1], "pair"))) {
		fprintf(stderr, "usage: bench_scale one|pair ORGS SECONDS\n");
		return 2;
	}
	mode = argv[1];
	n_orgs = atoi(argv[2]);
	window = atoi(argv[3]);
	if (ta_setup(&state, NULL) < 0)
		return 1;
	t = state;
	json_decref(
	    th_sim(&t->gs, "POST", "/config",
		   json_pack("{s:s, s:b, s:s, s:s, s:s, s:i}", "access_token_lifetime", "360s",
			     "access_lifetime_jitter", 1, "reauth_token_lead", "60s", "reauth_lead",
			     "6m", "reauth_interval", "90s", "verbose", 0),
		   NULL));
	{
		/* every org's app has the fixture's secret */
		char *dir = th_tmpdir("scale");
		FILE *f;
		if (asprintf(&secret_file, "%s/client-secret", dir) < 0 ||
		    !(f = fopen(secret_file, "w")))
			abort();
		fprintf(f, "%s\n", TA_SECRET);
		fclose(f);
		chmod(secret_file, 0600);
		free(dir);
	}
	for (int i = 1; i <= n_orgs; i++)
		sim_org(i);
	conf = org_sections(agent_lines);
	if (!strcmp(mode, "pair")) {
		if (th_pg_start(&pg) < 0)
			return 1;
		ta_pair_up(&pair, t, &pg, "scale", true, conf);
		th_proxy_mode(pair.lb, true);
	} else {
		char *extra;
		char *lines;
		free(conf);
		if (th_snmp_start(&snmp, NULL, NULL) < 0 ||
		    asprintf(&lines,
			     "%slog_level = warning\nagentx_socket = %s\nagentx_reconnect = 1s\n",
			     agent_lines, snmp.agentx) < 0)
			return 1;
		conf = org_sections(lines);
		extra = strdup(conf);
		free(lines);
		ta_prepare(t, extra, NULL);
		free(extra);
		if (ta_restart(t) < 0)
			return 1;
	}
	free(conf);
	sign_in_all();

	seq = ta_last_request_seq(t);
	wall0 = (double)time(NULL);
	for (int i = 0; i < n_agents(); i++) {
		cpu0[i] = cpu_ticks(agent(i)->pid);
		wake0[i] = proc_field(agent(i)->pid, "status", "voluntary_ctxt_switches:");
	}
	fprintf(stderr, "bench_scale: measuring for %d s\n", window);
	sleep((unsigned)window);
	count_requests(seq, wall0, &refreshes, &renewals, &peak_ref, &peak_ren);

	printf("| agent | orgs | RSS MiB | CPU | wake-ups/s | status ms | MIB bulk walk ms "
	       "(objects) | "
	       "MIB walk ms | one column bulk ms (objects) "
	       "|\n|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n_agents(); i++) {
		struct ta *a = agent(i);
		long hz = sysconf(_SC_CLK_TCK), bl, wl, cl;
		double cpu = (double)(cpu_ticks(a->pid) - cpu0[i]) / (double)hz / window * 100;
		double wake =
		    (double)(proc_field(a->pid, "status", "voluntary_ctxt_switches:") - wake0[i]) /
		    window;
		double s0 = th_now();
		json_decref(ta_ctl(a, "status", NULL));
		double status_ms = (th_now() - s0) * 1000;
		double bulk =
		    timed_ms(th_snmp_bulkwalk, snmp_of(i), "CT-TEAMS-MIB::ctTeamsMIB", &bl);
		double walk = timed_ms(th_snmp_walk, snmp_of(i), "CT-TEAMS-MIB::ctTeamsMIB", &wl);
		double col = timed_ms(th_snmp_bulkwalk, snmp_of(i),
				      "CT-TEAMS-MIB::ctTeamsOrgAuthState", &cl);
		char *role = !strcmp(mode, "pair") ? ta_role(a) : strdup("single");
		printf("| %s (%s) | %d | %ld | %.2f %% | %.0f | %.0f | %.0f (%ld) | %.0f | %.0f "
		       "(%ld) |\n",
		       i ? "beta" : "alpha", role, n_orgs,
		       proc_field(a->pid, "status", "VmRSS:") / 1024, cpu, wake, status_ms, bulk,
		       bl, walk, col, cl);
		free(role);
	}
	printf("\nIn %d s: %ld refreshes (mean %.1f, most %ld in any 10 s), %ld subscription "
	       "renewals (mean %.1f, most %ld in any 10 s)\n",
	       window, refreshes, refreshes * 10.0 / window, peak_ref, renewals,
	       renewals * 10.0 / window, peak_ren);
	if (!strcmp(mode, "pair")) {
		ta_pair_down(&pair);
		th_pg_stop(&pg);
	} else {
		th_snmp_stop(&snmp);
	}
	return ta_teardown(&state) == 0 ? 0 : 1;
}
