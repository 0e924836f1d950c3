/*
 * The subagent. Reads: one handler for the whole ctTeamsObjects subtree
 * answers GET and GETNEXT from a snapshot of the model (snmp_mib.c), built
 * again when a request finds it older than a second. Writes: none.
 *
 * Notifications: each is an AgentX Notify sent on the subagent's session
 * with a callback, so the agent learns that the master took it (the
 * master's Response) rather than hoping: the outbox cursor moves only
 * then. One notification is in flight at a time, so they reach the master
 * in the order the model changed. The master's own sinks do the rest.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* net-snmp: its configuration header first, always */
#include <net-snmp/net-snmp-config.h>

#include <net-snmp/net-snmp-includes.h>

#include <net-snmp/agent/net-snmp-agent-includes.h>

#include <net-snmp/agent/agent_callbacks.h>
#include <net-snmp/agent/agent_sysORTable.h>
#include <net-snmp/agent/sysORTable.h>

#include "ctl.h"
#include "event.h"
#include "log.h"
#include "org.h"
#include "outbox.h"
#include "snmp_agent.h"
#include "snmp_mib.h"
#include "util.h"

/* The subagent's session with the master (net-snmp's subagent.c); NULL
 * while the master is away. Exported by libnetsnmpagent, not declared in
 * its installed headers. */
extern netsnmp_session *main_session;
/* The same library's: what net-snmp's own agentx_check_session does with a
 * session it gives up on, less the Close that would wait for an answer. */
extern void agentx_unregister_callbacks(netsnmp_session *ss);
/* And agentx/client.c's: an AddAgentCaps for a sysORTable entry. */
extern int agentx_add_agentcaps(netsnmp_session *ss, const oid *name, size_t len,
				const char *descr);

/* Opens the session to the master, as net-snmp's own reconnect does
 * (subagent.c, exported but not declared in the installed headers). */
extern int subagent_open_master_session(void);

/* RFC 2741, 6.1: the h.type of the Notify and Ping PDUs. net-snmp's
 * AgentX header that names them is not installed. */
#define AGENTX_NOTIFY 12
#define AGENTX_PING   13

#define SNAPSHOT_AGE 1.0   /* seconds a snapshot answers requests */
#define WATCH_EVERY  1.0   /* how often the master's presence is looked at */
#define LOG_REPEAT   600.0 /* a repeated net-snmp message is logged this often */

enum slot_id { SLOT_OUTBOX, SLOT_START, SLOT_PING, SLOT_N };

/* How a notification ended. */
enum sent { SENT, NOT_SENT, REFUSED };

/* A notification waiting for the master's Response. gen tells a late
 * answer (after the deadline) from the current one. */
struct slot {
	bool busy;
	unsigned long gen;
	struct ev_timer *deadline;
	char *what; /* for logs */
	void (*done)(enum sent result, const char *why);
};

static const struct conf *cfg;
static struct store *store;
static bool running;
static struct outbox_consumer *traps;
static struct slot slots[SLOT_N];
static struct ev_timer *watch_timer;
static bool connected, start_sent;
/* the master did not answer: nothing more is sent until it answers a ping,
 * so a master that hangs does not find a pile of repeats when it wakes */
static bool suspect;
static bool probing;     /* an Open is asked without blocking (reconnect) */
static bool absent_said; /* "no master yet" was logged */
static double last_attempt;
static double connected_since, away_since;
static char *last_error;
static struct smib *snap;
static double snap_at;
static char *agentx_socket; /* as started: a change takes a restart */

/* ---- net-snmp's log, into ours ---- */

static int
on_log(int major, int minor, void *server_arg, void *client_arg)
{
	const struct snmp_log_message *m = server_arg;
	static char last[256];
	static double last_at;
	char msg[256];
	size_t n;

	(void)major, (void)minor, (void)client_arg;
	snprintf(msg, sizeof(msg), "%s", m->msg ? m->msg : "");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* the master away: net-snmp says so at every reconnect attempt */
	if (!strcmp(msg, last) && now_mono() - last_at < LOG_REPEAT)
		return 0;
	snprintf(last, sizeof(last), "%s", msg);
	last_at = now_mono();
	if (m->priority <= LOG_ERR)
		log_err("snmp", "net-snmp: %s", msg);
	else if (m->priority <= LOG_WARNING)
		log_warnx("snmp", "net-snmp: %s", msg);
	else
		log_debug("snmp", "net-snmp: %s", msg);
	return 0;
}

/* ---- reads ---- */

static json_t *
events_model(void)
{
	return store_events(store, NULL, cfg->snmp_events);
}

static void
trap_counts(struct smib_traps *t)
{
	json_t *st = traps ? outbox_consumer_status(traps) : NULL;

	t->sent = (long)json_integer_value(json_object_get(st, "delivered"));
	t->not_delivered = (long)json_integer_value(json_object_get(st, "given_up"));
	t->pending = (long)json_integer_value(json_object_get(st, "pending"));
	json_decref(st);
}

static const struct smib *
snapshot(void)
{
	if (!snap || now_mono() - snap_at > SNAPSHOT_AGE) {
		json_t *status = ctl_status_json(NULL), *events = events_model();
		struct smib_traps t;

		trap_counts(&t);
		smib_free(snap);
		snap = smib_build(status, events, &t);
		snap_at = now_mono();
		json_decref(status);
		json_decref(events);
	}
	return snap;
}

static void
set_value(netsnmp_variable_list *vb, const struct smib_var *v)
{
	if (v->type == ASN_OCTET_STR)
		snmp_set_var_typed_value(vb, v->type, v->s, v->s_len);
	else if (v->type == ASN_COUNTER64)
		snmp_set_var_typed_value(vb, v->type, &v->c64, sizeof(v->c64));
	else
		snmp_set_var_typed_value(vb, v->type, &v->l, sizeof(v->l));
}

static int
handler(netsnmp_mib_handler *h, netsnmp_handler_registration *reg, netsnmp_agent_request_info *info,
	netsnmp_request_info *requests)
{
	const struct smib *m = snapshot();

	(void)h, (void)reg;
	for (netsnmp_request_info *r = requests; r; r = r->next) {
		netsnmp_variable_list *vb = r->requestvb;
		const struct smib_var *v;

		if (r->processed)
			continue;
		switch (info->mode) {
		case MODE_GET:
			if ((v = smib_get(m, vb->name, vb->name_length)))
				set_value(vb, v);
			else
				netsnmp_set_request_error(
				    info, r,
				    smib_object_exists(vb->name, vb->name_length)
					? SNMP_NOSUCHINSTANCE
					: SNMP_NOSUCHOBJECT);
			break;
		case MODE_GETNEXT:
			/* nothing after it here: left alone, the agent goes on to
			 * the next registration (or endOfMibView) */
			v = smib_next(m, vb->name, vb->name_length);
			if (v && snmp_oidtree_compare(v->name, v->name_len, smib_root,
						      smib_root_len) == 0) {
				snmp_set_var_objid(vb, v->name, v->name_len);
				set_value(vb, v);
			}
			break;
		default:
			netsnmp_set_request_error(info, r, SNMP_ERR_NOTWRITABLE);
			break;
		}
	}
	return SNMP_ERR_NOERROR;
}

/* ---- notifications ---- */

static void slot_finish(enum slot_id id, enum sent result, const char *why);
static int session_timeout(void);

static int
on_response(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
	uintptr_t tag = (uintptr_t)magic;
	enum slot_id id = (enum slot_id)(tag % SLOT_N);
	unsigned long gen = (unsigned long)(tag / SLOT_N);
	char why[64];

	(void)sess, (void)reqid;
	/* net-snmp sends the same request again: still the one in flight */
	if (op == NETSNMP_CALLBACK_OP_RESEND)
		return 1;
	if (!slots[id].busy || slots[id].gen != gen)
		return 1; /* answered after its deadline: already counted as failed */
	if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && pdu && pdu->errstat == 0) {
		slot_finish(id, SENT, NULL);
	} else if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE) {
		/* a Notify the master cannot take now will not be taken later */
		snprintf(why, sizeof(why), "the master refused it (AgentX error %ld)",
			 pdu ? pdu->errstat : -1L);
		slot_finish(id, REFUSED, why);
	} else {
		slot_finish(id, NOT_SENT, "no answer from the master");
	}
	return 1;
}

static void
on_deadline(void *arg)
{
	enum slot_id id = (enum slot_id)(uintptr_t)arg;

	if (slots[id].busy)
		slot_finish(id, NOT_SENT, "no answer from the master in time");
}

static void
slot_finish(enum slot_id id, enum sent result, const char *why)
{
	struct slot *s = &slots[id];
	char *what = s->what;

	s->busy = false;
	s->what = NULL;
	ev_timer_stop(s->deadline);
	if (result == NOT_SENT && !suspect) {
		suspect = true;
		log_warnx("snmp", "AgentX: the master at %s does not answer; waiting for it",
			  agentx_socket);
	}
	if (result == SENT)
		log_debug("snmp", "the master took %s", what);
	else {
		free(last_error);
		last_error = xprintf("%s: %s", what, why);
	}
	free(what);
	s->done(result, why);
}

/* Sends vars (snmpTrapOID.0 first; taken) as an AgentX Notify. false: not
 * sent, and vars freed. */
static bool
send_pdu(enum slot_id id, int type, netsnmp_variable_list *vars, const char *what)
{
	static const oid sysuptime0[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
	struct slot *s = &slots[id];
	netsnmp_pdu *pdu;
	long uptime = (long)netsnmp_get_agent_uptime();
	double wait;

	if (!main_session || s->busy || (suspect && type != AGENTX_PING)) {
		snmp_free_varbind(vars);
		return false;
	}
	pdu = snmp_pdu_create(type);
	pdu->sessid = main_session->sessid;
	pdu->flags |= UCD_MSG_FLAG_EXPECT_RESPONSE;
	if (vars) {
		snmp_pdu_add_variable(pdu, sysuptime0, OID_LENGTH(sysuptime0), ASN_TIMETICKS,
				      &uptime, sizeof(uptime));
		pdu->variables->next_variable = vars;
	}
	s->gen++;
	if (snmp_async_send(main_session, pdu, on_response,
			    (void *)(uintptr_t)(s->gen * SLOT_N + id)) == 0) {
		snmp_free_pdu(pdu);
		return false;
	}
	s->busy = true;
	s->what = xstrdup(what);
	/* net-snmp times the request out itself (and says so); this is the
	 * backstop for a session closed under it, well after that */
	wait = 2 * session_timeout() * (double)(cfg->agentx_retries + 1) + 5;
	ev_timer_arm(s->deadline, wait);
	return true;
}

/* agentx_timeout in whole seconds, as net-snmp's sessions count them */
static int
session_timeout(void)
{
	int t = (int)(cfg->agentx_timeout + 0.999);

	return t < 1 ? 1 : t;
}

/* While net-snmp opens its session and registers the MIB it waits for
 * each answer, on the loop. The master answered a probe's Open moments
 * before (reconnect), so each of those waits is as long as four of that
 * answer's round trips (200 ms at least, agentx_timeout at most) and not
 * repeated: a master that stops right then holds the loop for a few of
 * these, never (1 + agentx_retries) x agentx_timeout each (11 minutes
 * with allowed settings), and a slow one that answered the probe still
 * gets the time it showed it needs. Traps, sent without waiting, get the
 * configured timeout and retries once it is open. */
#define OPENING_MIN_US 200000.0

static bool opening; /* subagent_open_master_session and the registration */
static double probe_sent, probe_rtt;

static void
timing(netsnmp_session *s)
{
	double us = fmin(fmax(OPENING_MIN_US, 4 * probe_rtt * 1e6), cfg->agentx_timeout * 1e6);

	s->timeout = opening ? (long)us : (long)session_timeout() * 1000000L;
	s->retries = opening ? 0 : (int)cfg->agentx_retries;
}

/* Every session net-snmp makes, before its first request: the Open. */
static int
on_session_init(int major, int minor, void *server_arg, void *client_arg)
{
	(void)major, (void)minor, (void)client_arg;
	if (opening && server_arg)
		timing(server_arg);
	return 0;
}

/* A session to the master was opened (and before the MIB is registered
 * on it): the registration's requests are as short as the Open. */
static int
on_session_open(int major, int minor, void *server_arg, void *client_arg)
{
	(void)major, (void)minor, (void)server_arg, (void)client_arg;
	if (main_session)
		timing(main_session);
	return 0;
}

/* The org's number: the running org's, else the store's (an org that
 * left the configuration keeps its number). */
static long
index_of(const char *org)
{
	struct org *o = org_find(org);

	return o && o->index > 0 ? o->index : store_org_index(store, org);
}

static void
outbox_sent(enum sent result, const char *why)
{
	if (result == REFUSED)
		outbox_pass(traps, true, why);
	else
		outbox_done(traps, result == SENT, why);
}

static void
deliver(struct outbox_consumer *c, json_t *entry, void *arg)
{
	netsnmp_variable_list *vars;
	char *what;

	(void)arg;
	/* a manager that polls on a notification finds the row it names */
	smib_free(snap);
	snap = NULL;
	if (!main_session || suspect) {
		outbox_done(c, false,
			    !main_session ? "the AgentX master is not connected"
					  : "the master does not answer");
		return;
	}
	/* the entry carries what the notification says; only the org's
	 * number is looked up (a status of every org here cost 180 ms a
	 * trap with 1,000 orgs: a burst of their alarms held a 911 trap
	 * behind it for minutes) */
	vars = smib_notification(entry, NULL, index_of);
	if (!vars) {
		/* a kind this version has no notification for: nothing to send */
		log_warnx("snmp", "outbox entry %lld (%s) has no notification; passed over",
			  json_integer_value(json_object_get(entry, "seq")),
			  json_string_value(json_object_get(entry, "kind")));
		outbox_pass(c, false, NULL);
		return;
	}
	what = xprintf("%s (outbox entry %lld)", smib_notification_name(vars),
		       json_integer_value(json_object_get(entry, "seq")));
	if (!send_pdu(SLOT_OUTBOX, AGENTX_NOTIFY, vars, what))
		outbox_done(c, false,
			    suspect ? "the master does not answer"
				    : "the AgentX session could not send");
	free(what);
}

static void
ping_answered(enum sent result, const char *why)
{
	(void)why;
	if (result == NOT_SENT || !suspect)
		return;
	suspect = false;
	log_info("snmp", "AgentX: the master at %s answers again", agentx_socket);
	outbox_kick();
}

static void
start_sent_cb(enum sent result, const char *why)
{
	(void)why;
	start_sent = result != NOT_SENT;
}

static void
send_start(void)
{
	json_t *status = ctl_status_json(NULL);

	send_pdu(SLOT_START, AGENTX_NOTIFY, smib_agent_start(status), "ctTeamsAgentStart");
	json_decref(status);
}

/* RFC 2741: an Open PDU (header and payload in network byte order, a
 * null subagent OID) and the type of the master's answer. */
#define AGENTX_OPEN     1
#define AGENTX_RESPONSE 18
#define AGENTX_HEADER   20
#define AGENTX_ANSWER   (AGENTX_HEADER + 8) /* sysUpTime, error, index */

static size_t
open_pdu(unsigned char *b, unsigned int timeout)
{
	static const char descr[] = "ctteamsd probe"; /* 14 bytes, padded to 16 */
	size_t n = 0;

	_Static_assert(sizeof(descr) - 1 <= 16, "o.descr is sent padded to 16 bytes");
	memset(b, 0, 48);
	b[0] = 1; /* version */
	b[1] = AGENTX_OPEN;
	b[2] = 0x10; /* NETWORK_BYTE_ORDER */
	b[15] = 1;   /* packetID */
	b[19] = 28;  /* payload: timeout 4, OID 4, descr 4 + 16 */
	n = AGENTX_HEADER;
	b[n] = (unsigned char)(timeout > 255 ? 255 : timeout);
	n += 4;
	n += 4; /* the null OID: n_subid, prefix, include, reserved all 0 */
	b[n + 3] = sizeof(descr) - 1;
	memcpy(b + n + 4, descr, sizeof(descr) - 1);
	return n + 4 + 16;
}

/* No master to connect to: said once, the first time since the start
 * (once it has been connected, its going away is what is said); each try
 * is in the debug log. */
static void
absent(const char *why)
{
	if (!absent_said)
		log_warnx("snmp",
			  "AgentX: no master at %s yet (%s; is snmpd running with 'master "
			  "agentx'?); trying every %.0f s",
			  agentx_socket, why, cfg->agentx_reconnect);
	absent_said = true;
	log_debug("snmp", "AgentX: the master at %s does not answer yet: %s", agentx_socket, why);
}

static void
reopen_sysor(const struct sysORTable *entry, void *session)
{
	agentx_add_agentcaps(session, entry->OR_oid, entry->OR_oidlen, entry->OR_descr);
}

static void
probed(const unsigned char *answer, size_t n, const char *why, void *arg)
{
	(void)arg;
	probing = false;
	if (!running)
		return;
	if (main_session)
		return; /* connected meanwhile */
	if (!answer || n < AGENTX_HEADER || answer[0] != 1 || answer[1] != AGENTX_RESPONSE) {
		absent(why ? why : "not an AgentX answer");
		return;
	}
	/* it answered an Open just now: net-snmp's own, synchronous Open and
	 * registrations are answered as promptly, and wait no longer */
	probe_rtt = now_mono() - probe_sent;
	opening = true;
	if (subagent_open_master_session() == 0) {
		suspect = false;
		register_mib_reattach();
		/* as net-snmp's own agentx_reopen_session does: the master
		 * forgets a subagent's sysORTable entries with its session */
		netsnmp_sysORTable_foreach(reopen_sysor, main_session);
	} else {
		absent("it answered, but net-snmp could not open its session");
	}
	opening = false;
	if (main_session)
		timing(main_session);
}

/* net-snmp's own reconnect is off (its ping interval is 0). The master is
 * opened again here, and only once it has answered an Open sent without
 * blocking (ev_probe): net-snmp's Open and registrations wait for their
 * answers, so a master that accepts but does not answer (stopped, hung,
 * or a TCP address that never replies) would hold the loop for each. */
static void
reconnect(void)
{
	unsigned char pdu[48];
	size_t len;

	if (probing || now_mono() - last_attempt < cfg->agentx_reconnect)
		return;
	last_attempt = probe_sent = now_mono();
	len = open_pdu(pdu, (unsigned int)session_timeout());
	/* the whole Response is read: closing with bytes unread would reset
	 * a TCP connection */
	if (ev_probe(agentx_socket, pdu, len, AGENTX_ANSWER, cfg->agentx_timeout, probed, NULL) ==
	    0)
		probing = true;
	else
		absent(strerror(errno));
}

/* The master's presence, looked at each second: its edges are logged, a
 * return sends what waited, and a master that does not answer is pinged. */
static void
watch(void *arg)
{
	(void)arg;
	if (!main_session)
		reconnect();
	if (main_session && suspect && !slots[SLOT_PING].busy)
		send_pdu(SLOT_PING, AGENTX_PING, NULL, "a ping");
	if (main_session && !connected) {
		connected = true;
		absent_said = true; /* its going away is said by the edge below */
		connected_since = now_wall();
		log_info("snmp", "AgentX: registered CT-TEAMS-MIB with the master at %s",
			 agentx_socket);
		outbox_kick();
	} else if (!main_session && connected) {
		connected = false;
		away_since = now_wall();
		log_warnx("snmp",
			  "AgentX: the master at %s went away; notifications wait, and "
			  "reconnecting every %.0f s",
			  agentx_socket, cfg->agentx_reconnect);
	}
	if (connected && !start_sent && !slots[SLOT_START].busy)
		send_start();
	ev_timer_arm(watch_timer, WATCH_EVERY);
}

static json_t *
status(void)
{
	json_t *t = traps ? outbox_consumer_status(traps) : json_null();

	return json_pack("{s:s, s:b, s:o, s:o, s:o}", "agentx_socket", agentx_socket, "connected",
			 connected, "since", json_time(connected ? connected_since : away_since),
			 "last_error", last_error ? json_string(last_error) : json_null(), "traps",
			 t);
}

/* ---- start and stop ---- */

static struct outbox_opts
trap_opts(const struct conf *c)
{
	return (struct outbox_opts){
	    .backoff_min = 1, .backoff_max = c->agentx_reconnect, .max_age = c->trap_max_age};
}

/* Before init_agent: the role, the socket, no signals, no files. */
static void
ds_setup(const struct conf *c)
{
	netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
	netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET,
			      c->agentx_socket);
	/* the loop runs net-snmp's alarms; no SIGALRM in the agent */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
	/* configured by ctteamsd.conf alone; nothing written under /var/lib/snmp */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	/* the subagent serves OIDs, it parses no MIB files: without this,
	 * net-snmp looks for its default list and logs each one missing */
	setenv("MIBS", "", 1);
	netsnmp_set_mib_directory("");
}

/* After init_agent, which sets its own defaults for these. */
static void
ds_timing(const struct conf *c)
{
	/* no pings or reconnects of net-snmp's own: they wait synchronously,
	 * and a connect to a stopped master blocks (watch() does both) */
	netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL, 0);
	/* the session to the master: its Open and Register requests wait
	 * this long (seconds); retries are set on the session once open */
	netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_TIMEOUT, session_timeout());
	netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_RETRIES, (int)c->agentx_retries);
}

static int
register_objects(void)
{
	oid objects[SMIB_OID_MAX];
	netsnmp_handler_registration *reg;

	memcpy(objects, smib_root, smib_root_len * sizeof(oid));
	objects[smib_root_len] = 1; /* ctTeamsObjects */
	reg = netsnmp_create_handler_registration("ctTeamsObjects", handler, objects,
						  smib_root_len + 1, HANDLER_CAN_RONLY);
	return reg && netsnmp_register_handler(reg) == MIB_REGISTERED_OK ? 0 : -1;
}

int
snmpa_start(const struct conf *c, struct store *st)
{
	struct outbox_opts opts;

	cfg = c;
	store = st;
	if (!c->agentx_socket) {
		log_info("snmp", "agentx_socket is off: no SNMP");
		return 0;
	}
	agentx_socket = xstrdup(c->agentx_socket);
	snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, on_log, NULL);
	netsnmp_register_loghandler(NETSNMP_LOGHANDLER_CALLBACK, LOG_DEBUG);
	snmp_disable_stderrlog();
	ds_setup(c);
	if (init_agent("ctteamsd") != 0 || register_objects() < 0) {
		log_err("snmp", "net-snmp could not be set up as an AgentX subagent");
		return -1;
	}
	{
		/* sysORTable: a manager's discovery finds the MIB; net-snmp
		 * sends it to the master with each session it opens */
		oid mib[SMIB_OID_MAX];
		memcpy(mib, smib_root, smib_root_len * sizeof(oid));
		register_sysORTable(mib, smib_root_len,
				    "CT-TEAMS-MIB: ctteamsd, Microsoft Teams emergency-call "
				    "notices and the health of their delivery");
	}
	ds_timing(c);
	snmp_register_callback(SNMP_CALLBACK_APPLICATION, SNMPD_CALLBACK_INDEX_START,
			       on_session_open, NULL);
	snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_SESSION_INIT, on_session_init,
			       NULL);
	/* init_snmp would connect to the master at once, with a blocking
	 * connect and a synchronous Open: a stopped or silent master would
	 * hold the start. It is pointed at a path that fails at once instead,
	 * and the first connection, like every later one, is made by
	 * reconnect() once the master has answered a probe. */
	netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET,
			      "/dev/null/no-master-yet");
	netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_NO_CONNECTION_WARNINGS,
			       1);
	init_snmp("ctteamsd");
	netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET,
			      c->agentx_socket);
	netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_NO_CONNECTION_WARNINGS,
			       0);
	running = true;
	ev_snmp_attach();
	for (int i = 0; i < SLOT_N; i++)
		slots[i].deadline = ev_timer_new(on_deadline, (void *)(uintptr_t)i);
	slots[SLOT_OUTBOX].done = outbox_sent;
	slots[SLOT_START].done = start_sent_cb;
	slots[SLOT_PING].done = ping_answered;
	opts = trap_opts(c);
	traps = outbox_consumer_new(st, "snmp", &opts, deliver, NULL);
	watch_timer = ev_timer_new(watch, NULL);
	ev_timer_arm(watch_timer, 0);
	ctl_add_status("snmp", status);
	return 0;
}

void
snmpa_reload(const struct conf *c)
{
	struct outbox_opts opts = trap_opts(c);

	if (!running) {
		if (c->agentx_socket)
			log_warnx("snmp", "agentx_socket: SNMP starts at the next restart");
		return;
	}
	cfg = c;
	if (!c->agentx_socket || strcmp(c->agentx_socket, agentx_socket) != 0)
		log_warnx("snmp", "agentx_socket: the change takes effect at the next restart");
	outbox_consumer_set_opts(traps, &opts);
	smib_free(snap);
	snap = NULL;
}

void
snmpa_stop(void)
{
	if (!running)
		return;
	running = false;
	outbox_consumer_free(traps);
	traps = NULL;
	ev_timer_free(watch_timer);
	ev_probe_cancel();
	probing = false;
	for (int i = 0; i < SLOT_N; i++) {
		ev_timer_free(slots[i].deadline);
		free(slots[i].what);
		slots[i] = (struct slot){0};
	}
	ev_snmp_detach();
	/* net-snmp's Close waits for the master's answer: a master that does
	 * not answer gets none. Its session is let go as net-snmp lets go of
	 * one itself: callbacks (its shutdown hook among them, which would
	 * send the Close) and trap session first, then the session. */
	if (main_session && suspect) {
		agentx_unregister_callbacks(main_session);
		remove_trap_session(main_session);
		snmp_close(main_session);
		main_session = NULL;
	}
	snmp_shutdown("ctteamsd");
	smib_free(snap);
	snap = NULL;
	free(agentx_socket);
	agentx_socket = NULL;
	free(last_error);
	last_error = NULL;
}
