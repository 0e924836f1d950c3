/*
 * Fixture for the agent's integration tests: graphsim with a tenant, and a
 * real ctteamsd started from a written configuration, driven through its
 * control socket and its public HTTP listener as an operator and a browser
 * would.
 */
#ifndef TA_H
#define TA_H

#include <jansson.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "th.h"

#define TA_TENANT "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10"
#define TA_CLIENT "4b7c9d2e-6f1a-4e3b-8c5d-0a9b8c7d6e5f"
#define TA_SECRET "Qx8~agent.test-secret_0123456789abcdefgh"
#define TA_UPN    "svc-911@contoso.example"

struct ta {
	struct th_graphsim gs;
	char *svc;
	char *caller;
	int port;
	char *base; /* the agent's public URL */
	char *dir;  /* the agent's files */
	char *conf;
	char *sock;
	char *msock; /* the read-only monitoring socket */
	char *log;
	char *ca_file; /* trust anchors for the agent; NULL: graphsim's CA */
	pid_t pid;
	int listen_port; /* where it listens, behind base; 0: port */
	bool twin;       /* ta_twin's: graphsim and the names are borrowed */
};

/* Group setup: graphsim (extra options may be NULL) with users and app. */
int ta_setup(void **state, const char *const *gs_extra);
int ta_teardown(void **state);
/* Per-test teardown: an agent a failed test left running is killed. */
int ta_test_teardown(void **state);
/* Writes the configuration (extra lines for [agent] and [org acme] may be
 * NULL) into a fresh directory and starts ctteamsd; 0 once it answers. */
int ta_start(struct ta *t, const char *agent_extra, const char *org_extra);
/* ta_start's configuration and directory, without starting it. */
void ta_prepare(struct ta *t, const char *agent_extra, const char *org_extra);
/* A second agent beside t: the same graphsim, app and public URL (a load
 * balancer's), its own directory once prepared; ta_twin_free after. */
void ta_twin(struct ta *twin, const struct ta *t);
void ta_twin_free(struct ta *twin);
/* Starts again on the same directory (state kept). */
int ta_restart(struct ta *t);
/* SIGTERM; 0 when it exited with status 0 (sanitizers quiet). */
int ta_stop(struct ta *t);
void ta_kill(struct ta *t);
json_t *ta_ctl(struct ta *t, const char *cmd, const char *org);
json_t *ta_org_status(struct ta *t, const char *org);
/* ctteamsctl ack EVENT --by BY: the answer, NULL unless ok. */
json_t *ta_ack(struct ta *t, long id, const char *by);
bool ta_wait_auth(struct ta *t, const char *org, const char *state, double timeout);
/* Gets a one-time link with ctteamsctl and follows it as a browser. */
long ta_signin(struct ta *t, const char *org, char **ret_page);
char *ta_link(struct ta *t, const char *org);
/* Requests graphsim logged since seq whose note starts with prefix. */
json_t *ta_requests(struct ta *t, long since, const char *note_prefix);
long ta_last_request_seq(struct ta *t);
/* Waits until graphsim has logged n requests since seq whose note starts
 * with note_prefix (e.g. "refresh_token"). */
bool ta_wait_requests(struct ta *t, long since, const char *note_prefix, size_t n, double timeout);
const char *ta_str(json_t *o, const char *key);
/* The org acme's subscription as status shows it; active or not. */
json_t *ta_sub_status(struct ta *t);
bool ta_sub_active(void *t);
/* graphsim's record of the live subscription for acme's notify URL. */
json_t *ta_sim_sub(struct ta *t);
json_t *ta_events(struct ta *t);
struct ta_ev_wait {
	struct ta *t;
	size_t n;
};
bool ta_enough_events(void *w);
long ta_counter(struct ta *t, const char *name);
/* The agent's database locked for writing, as a backup tool would hold it
 * (waiting for a write of the agent's under way); ta_store_unlock commits
 * and closes. */
sqlite3 *ta_store_lock(struct ta *t);
void ta_store_unlock(sqlite3 *db);
/* The agent says its store is in trouble (ctteamsctl status). */
bool ta_store_trouble_shown(void *t);
/* CPU time (user and system) a process has used, in seconds; -1: unknown. */
double ta_cpu_seconds(pid_t pid);
/* The agent's resident memory, in KiB. */
long ta_rss_kb(struct ta *t);
/* A count of the public listener's (status: agent.intake.NAME). */
long ta_intake_count(struct ta *t, const char *name);
/* A control-API call to graphsim that must succeed (body stolen). */
void ta_sim_ok(struct ta *t, const char *method, const char *path, json_t *body);
/* Replaces the first from in a file with to (a configuration edit). */
void ta_replace_in_file(const char *path, const char *from, const char *to);
/* An important message from the caller that no emergency rule matches. */
void ta_unmatched_message(struct ta *t);
/* graphsim places a 911 call: Teams' notice to the caller and the
 * service user, in a new chat. */
void ta_emergency(struct ta *t);
/* A new chat in graphsim (type "group", "oneOnOne", ...) of the caller and
 * the service user; its id. */
char *ta_chat_new(struct ta *t, const char *type);
/* graphsim's access tokens live 4 s without jitter (on), so that a revoke
 * is found at the next refresh (refresh_margin = 1s), or an hour again. */
void ta_short_tokens(struct ta *t, bool on);
/* A fresh agent, signed in, with an active subscription. */
void ta_ready(struct ta *t, const char *agent_extra);
/* The agent is connected to its AgentX master (th_wait_until predicate). */
bool ta_snmp_connected(void *t);

/* Nagios' external command file: a FIFO in dir (path), and, once read, a
 * child that drains it into a plain file (out) as Nagios reads it (opened
 * read-write: never an end of file). */
struct ta_fifo {
	char *path, *out;
	pid_t reader;
};
void ta_fifo_make(struct ta_fifo *f, const char *dir);
void ta_fifo_read(struct ta_fifo *f);
/* Stops the reader and forgets the paths (the files go with dir). */
void ta_fifo_stop(struct ta_fifo *f);

/* How often needle occurs in text (NULL: 0). */
int ta_count_in(const char *text, const char *needle);
struct ta_alarm_wait {
	struct ta *t;
	const char *type;
	bool active;
};
/* For th_wait_until: an alarm of the type (any org) is active at the
 * agent, or (active false) is not; false while the agent does not answer. */
bool ta_alarm_is(void *w);

/* ta_pair.c: two agents, one PostgreSQL database, one address */
struct ta_pair {
	struct ta *a; /* the fixture's agent: "alpha", first, the active */
	struct ta b;  /* its twin: "beta", the standby */
	struct th_proxy *lb;
	struct th_snmp snmp[2]; /* each host's snmpd and snmptrapd (outputs) */
	struct ta_fifo fifo;    /* one Nagios command file for both (outputs) */
	bool outputs;
	char *dir;
};
/* Both agents on database db of pg, alpha active, beta standby; extra
 * lines for both [agent] sections. */
void ta_pair_up(struct ta_pair *p, struct ta *t, struct th_pg *pg, const char *db, bool outputs,
		const char *extra);
/* Stops both (each must exit cleanly), or kills what runs. */
void ta_pair_down(struct ta_pair *p);
void ta_pair_free(struct ta_pair *p);
/* status.agent.ha.role ("active", "paused", "standby"), "" when it does
 * not answer; to free. */
char *ta_role(struct ta *t);
void ta_wait_role(struct ta *t, const char *role, double timeout);
/* Every event of acme, from whichever agent answers; NULL if neither. */
json_t *ta_pair_events(struct ta_pair *p);
/* Both snmptrapd logs. */
char *ta_pair_traps(struct ta_pair *p);

#endif
