#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "alarm.h"
#include "auth.h"
#include "canary.h"
#include "counter.h"
#include "ctl.h"
#include "ha.h"
#include "log.h"
#include "nkey.h"
#include "org.h"
#include "outbox.h"
#include "poll.h"
#include "proc.h"
#include "store.h"
#include "subs.h"
#include "text.h"
#include "util.h"

static const struct conf *cfg;
static struct store *store;
/* parts of agent{} that modules outside agent/ add (the SNMP subagent) */
static struct {
	const char *key;
	json_t *(*fn)(void);
} extras[4];
static size_t n_extras;

void
ctl_add_status(const char *key, json_t *(*fn)(void))
{
	if (n_extras < sizeof(extras) / sizeof(extras[0])) {
		extras[n_extras].key = key;
		extras[n_extras++].fn = fn;
	}
}

void
ctl_init(const struct conf *c, struct store *st)
{
	cfg = c;
	if (st)
		store = st;
}

static char *
reply(json_t *j)
{
	char *s;

	json_object_set_new(j, "proto", json_integer(CTL_PROTO));
	s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

static char *
error(const char *msg)
{
	return reply(json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* The public listener's admission counts (admit.c). */
static json_t *
intake_status(void)
{
	struct adm_counts c;

	adm_counts(&c);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connections",
			 (json_int_t)c.connections, "body_bytes", (json_int_t)c.body_bytes,
			 "refused_source", (json_int_t)c.refused_source, "header_deadline",
			 (json_int_t)c.header_deadline, "body_deadline",
			 (json_int_t)c.body_deadline, "evicted", (json_int_t)c.evicted,
			 "body_budget", (json_int_t)c.body_budget);
}

json_t *
ctl_status_json(const char *org)
{
	json_t *arr = json_array();
	char *since = time_iso(now_started());
	json_t *agent;

	for (size_t i = 0; i < orgs_count(); i++) {
		struct org *o = org_at(i);
		if (org && strcmp(o->conf->name, org) != 0)
			continue;
		json_t *j = org_status(o);
		json_object_set_new(j, "subscription", subs_status(o));
		json_object_set_new(j, "poll", poll_status(o));
		json_object_set_new(j, "canary", canary_status(o));
		json_object_set_new(j, "counters", cnt_json(o->conf->name));
		json_t *work = proc_status(o);
		json_object_update(j, work);
		json_decref(work);
		json_array_append_new(arr, j);
	}
	if (org && json_array_size(arr) == 0) {
		json_decref(arr);
		free(since);
		return NULL;
	}
	agent = json_pack("{s:s, s:i, s:s, s:s, s:I, s:o}", "version", CT_VERSION, "pid",
			  (int)getpid(), "started", since, "public_url", cfg->public_url, "orgs",
			  (json_int_t)orgs_count(), "store_trouble", store_trouble(store));
	free(since);
	json_object_set_new(agent, "heartbeat_interval", json_real(cfg->heartbeat_interval));
	/* a pair sharing a database: this agent's role and the lease */
	json_object_set_new(agent, "ha", ha_status());
	json_object_set_new(agent, "runbook_base_url", json_string(cfg->runbook_base_url));
	json_object_set_new(agent, "last_seq", json_integer(store_outbox_last(store)));
	{
		double changed = alarms_last_changed();
		char *at = changed > 0 ? time_iso(changed) : NULL;
		json_object_set_new(agent, "alarms_last_changed",
				    at ? json_string(at) : json_null());
		free(at);
	}
	json_object_set_new(agent, "outputs", outbox_status_all());
	json_object_set_new(agent, "encryption_certificate", nkey_status());
	json_object_set_new(agent, "intake", intake_status());
	json_object_set_new(agent, "store_rows_written",
			    json_integer((json_int_t)store_rows_written(store)));
	for (size_t i = 0; i < n_extras; i++)
		json_object_set_new(agent, extras[i].key, extras[i].fn());
	return json_pack("{s:o, s:o, s:o}", "agent", agent, "orgs", arr, "alarms",
			 alarms_list(org));
}

static char *
status(const char *org)
{
	json_t *j = ctl_status_json(org);

	if (!j)
		return error("no such org");
	json_object_set_new(j, "ok", json_true());
	return reply(j);
}

struct request {
	json_t *req;
	const char *org_name;
	struct org *org;
	const struct ev_ctl_peer *peer;
};

static char *
need_org(const struct request *r)
{
	return error(r->org_name ? "no such org" : "org is required");
}

static char *
cmd_status(const struct request *r)
{
	return status(r->org_name);
}

/* What ctteamsctl config needs to name the consoles' objects as the
 * passive results do: no secret, nothing of a tenant but the org names */
static char *
cmd_config(const struct request *r)
{
	json_t *orgs = json_array();

	(void)r;
	for (size_t i = 0; i < orgs_count(); i++)
		json_array_append_new(orgs, json_string(org_at(i)->conf->name));
	return reply(json_pack("{s:b, s:o, s:s, s:s, s:s?, s:f, s:s}", "ok", 1, "orgs", orgs,
			       "passive_host", cfg->passive_host, "service_name", cfg->service_name,
			       "monitor_socket", cfg->monitor_socket, "heartbeat_interval",
			       cfg->heartbeat_interval, "runbook_base_url", cfg->runbook_base_url));
}

static char *
cmd_ping(const struct request *r)
{
	(void)r;
	return reply(json_pack("{s:b}", "ok", 1));
}

static long
limit_of(const struct request *r, long dflt)
{
	json_int_t l = json_integer_value(json_object_get(r->req, "limit"));

	/* an answer a client never reads stays in memory: keep it small */
	return l > 0 && l <= 500 ? (long)l : l > 500 ? 500 : dflt;
}

/* "open": the unacknowledged emergencies raised since "since" (Unix
 * time), up to 10,000 of them: what a check must see whole, whatever the
 * number of newer events */
static char *
cmd_events(const struct request *r)
{
	bool open = json_is_true(json_object_get(r->req, "open"));
	double since = json_number_value(json_object_get(r->req, "since"));

	return reply(json_pack("{s:b, s:o}", "ok", 1, "events",
			       open ? store_events_open(store, r->org_name, true, since, 10000)
				    : store_events(store, r->org_name, limit_of(r, 50))));
}

static char *
cmd_outbox(const struct request *r)
{
	json_int_t since = json_integer_value(json_object_get(r->req, "since"));

	return reply(json_pack("{s:b, s:o, s:I}", "ok", 1, "entries",
			       store_outbox_since(store, since, limit_of(r, 100)), "last",
			       (json_int_t)store_outbox_last(store)));
}

static char *
cmd_alarms(const struct request *r)
{
	return reply(json_pack("{s:b, s:o}", "ok", 1, "alarms", alarms_list(r->org_name)));
}

static char *
cmd_dead_letters(const struct request *r)
{
	return reply(json_pack("{s:b, s:o}", "ok", 1, "dead_letters",
			       store_dead_letters(store, r->org_name, limit_of(r, 50))));
}

static char *
cmd_test_match(const struct request *r)
{
	json_t *m = json_object_get(r->req, "message");
	json_t *v = r->org && json_is_object(m) ? proc_test_match(r->org, m) : NULL;

	if (!v)
		return !r->org ? need_org(r) : error("message must be a chatMessage object");
	return reply(json_pack("{s:b, s:o}", "ok", 1, "result", v));
}

/* ---- changes: the admin socket only, each logged with who asked ---- */

/* Changes of an org's sign-in, subscription or dead letters are the
 * duties' (docs/high-availability.md): an agent not doing them now, a
 * standby or an active paused for want of the database, refuses them. A
 * new sign-in is the exception (cmd_login). */
static char *
standby_refuses(void)
{
	json_t *ha = ha_status();
	const char *role = json_string_value(json_object_get(ha, "role"));
	const char *holder = json_string_value(json_object_get(ha, "holder"));
	char *msg = !strcmp(role ? role : "", "paused")
			? xstrdup("this agent's duties wait for the database: try again once "
				  "it is reached")
			: xprintf("this agent is the standby: run this on the active agent "
				  "(the last holder of the duties: %s)",
				  holder ? holder : "none yet");
	char *out = error(msg);

	free(msg);
	json_decref(ha);
	return out;
}

static char *
cmd_login(const struct request *r)
{
	char *link, *out;

	if (!r->org)
		return need_org(r);
	/* either agent of a pair: the link and the sign-in are in the store */
	link = auth_link_new(r->org, cfg->public_url);
	if (!link)
		return error("the sign-in link could not be stored: the database is failing "
			     "(see the log)");
	out = reply(json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "org", r->org_name, "url", link,
			      "expires_in", AUTH_LINK_TTL));
	free_secret(link);
	return out;
}

static char *
cmd_logout(const struct request *r)
{
	if (!r->org)
		return need_org(r);
	if (!ha_active())
		return standby_refuses();
	/* the subscription goes first: deleting it needs the token */
	subs_logout(r->org);
	org_logout(r->org);
	return reply(json_pack("{s:b, s:s}", "ok", 1, "org", r->org_name));
}

static char *
cmd_renew(const struct request *r)
{
	if (!r->org)
		return need_org(r);
	if (!ha_active())
		return standby_refuses();
	if (subs_renew_now(r->org) < 0)
		return error("the org has no subscription to renew (is it signed in?)");
	return reply(json_pack("{s:b, s:s}", "ok", 1, "org", r->org_name));
}

static char *
cmd_ack(const struct request *r)
{
	json_int_t id = json_integer_value(json_object_get(r->req, "event"));
	const char *by = json_string_value(json_object_get(r->req, "by"));
	/* a name the operator typed: cut between characters */
	char *who = by ? txt_clean(by, 64) : xprintf("uid %ld", r->peer->uid);
	char *before = NULL, *out;
	int rc;

	/* a name a person typed: printable, no line breaks */
	for (char *p = who; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	rc = id > 0 ? store_event_ack(store, (long)id, who, &before) : 1;
	if (rc == 0) {
		log_info("ctl", "event %lld acknowledged by %s", (long long)id, who);
		outbox_kick();
	}
	free(who);
	if (rc < 0)
		return error("the store failed");
	if (rc == 1)
		return error("no such event");
	/* a second acknowledgement (a console's and ctteamsctl's, or a
	 * repeated one) is no error: the first stands */
	out = rc == 2 ? reply(json_pack("{s:b, s:I, s:b, s:s}", "ok", 1, "event", id, "already", 1,
					"acked_by", before))
		      : reply(json_pack("{s:b, s:I}", "ok", 1, "event", id));
	free(before);
	return out;
}

static char *
cmd_dead_letters_clear(const struct request *r)
{
	int n;

	if (!r->org)
		return need_org(r);
	if (!ha_active())
		return standby_refuses();
	n = store_dead_clear(store, r->org_name);
	if (n < 0)
		return error("the store failed");
	return reply(json_pack("{s:b, s:i}", "ok", 1, "cleared", n));
}

/* Who may ask: anyone on either socket; on the monitoring socket only
 * when monitor_ack is on (a console's acknowledgement, docs/nagios-icinga.md);
 * on the admin socket only. */
enum access { READ, ACK, ADMIN };

static const struct {
	const char *name;
	enum access access;
	char *(*fn)(const struct request *r);
} commands[] = {
    {"status", READ, cmd_status},
    {"ping", READ, cmd_ping},
    {"events", READ, cmd_events},
    {"alarms", READ, cmd_alarms},
    {"outbox", READ, cmd_outbox},
    {"dead-letters", READ, cmd_dead_letters},
    {"test-match", READ, cmd_test_match},
    {"config", READ, cmd_config},
    {"login", ADMIN, cmd_login},
    {"logout", ADMIN, cmd_logout},
    {"renew", ADMIN, cmd_renew},
    {"ack", ACK, cmd_ack},
    {"dead-letters-clear", ADMIN, cmd_dead_letters_clear},
};

static bool
allowed(enum access a, const struct ev_ctl_peer *peer)
{
	return a == READ || !peer->readonly || (a == ACK && cfg->monitor_ack);
}

char *
ctl_handle(const char *line, const struct ev_ctl_peer *peer)
{
	struct request r = {.req = json_loads(line, 0, NULL), .peer = peer};
	const char *cmd = json_string_value(json_object_get(r.req, "cmd"));
	char *out = NULL;

	r.org_name = json_string_value(json_object_get(r.req, "org"));
	r.org = r.org_name ? org_find(r.org_name) : NULL;
	if (!cmd)
		out = error("expected {\"cmd\": ...}");
	/* the old spelling of dead-letters-clear */
	if (cmd && !strcmp(cmd, "dead-letters") && json_is_true(json_object_get(r.req, "clear")))
		cmd = "dead-letters-clear";
	for (size_t i = 0; !out && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		if (!allowed(commands[i].access, peer)) {
			log_warnx("ctl", "uid %ld asked for '%s' on the monitoring socket: refused",
				  peer->uid, cmd);
			out = error(commands[i].access == ACK
					? "not allowed on the monitoring socket: it is read-only "
					  "unless monitor_ack is on"
					: "not allowed on the monitoring socket: it is read-only");
			break;
		}
		if (commands[i].access != READ)
			log_info("ctl", "uid %ld (pid %ld): %s%s%s", peer->uid, peer->pid, cmd,
				 r.org ? " " : "", r.org ? r.org->conf->name : "");
		out = commands[i].fn(&r);
	}
	if (!out)
		out = error("unknown command");
	json_decref(r.req);
	return out;
}
