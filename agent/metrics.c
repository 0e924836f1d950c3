/*
 * Prometheus metrics: an opt-in listener of its own (metrics_listen) that
 * answers GET /metrics in the text exposition format, version 0.0.4, and
 * nothing else: no sign-in pages, no webhooks. What it shows is the model
 * the control socket shows (ctl_status_json), so a scrape, `ctteamsctl
 * status`, SNMP and the plugins never disagree.
 *
 * Labels come from fixed sets only: org names (the operator's, checked by
 * the configuration), alarm types, severities, states, output names and
 * rejection reasons. No message text, error text, user name or secret ever
 * becomes a label or a value.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "counter.h"
#include "ctl.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define METRICS_CONNECTIONS 16 /* a scraper or two, and a person with curl */

static struct MHD_Daemon *daemon_;

/* ---- the exposition ---- */

struct out {
	char *buf;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < o->cap - o->len)
			break;
		o->cap = o->cap * 2 + (size_t)(n > 0 ? n : 0);
		o->buf = xrealloc(o->buf, o->cap);
	}
	o->len += (size_t)n;
}

/* A family's HELP and TYPE, written once before its samples. */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format wants (\\, \", \n). The values are
 * from fixed sets, but an org name is the operator's. */
static void
label_value(struct out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

/* name{k1="v1",k2="v2"} value: labels as NULL-ended key, value pairs. */
static void
sample(struct out *o, const char *name, double value, ...)
{
	va_list ap;
	const char *k;
	bool first = true;

	put(o, "%s", name);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		put(o, "%s%s=\"", first ? "{" : ",", k);
		label_value(o, v);
		put(o, "\"");
		first = false;
	}
	va_end(ap);
	put(o, "%s %.15g\n", first ? "" : "}", value);
}

static double
num(const json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

/* An ISO time of the model as seconds since the epoch; false when unset. */
static bool
when(const json_t *obj, const char *key, double *t)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && time_parse(s, t) == 0;
}

static const char *
org_name(const json_t *org)
{
	return json_string_value(json_object_get(org, "org"));
}

/* ---- the families ---- */

static void
agent_metrics(struct out *o, const json_t *agent)
{
	const json_t *intake = json_object_get(agent, "intake");
	static const char *const refusals[] = {"refused_source", "header_deadline", "body_deadline",
					       "evicted", "body_budget"};
	double t;

	family(o, "ctteams_build_info", "gauge", "The agent's version, as a label.");
	sample(o, "ctteams_build_info", 1, "version",
	       json_string_value(json_object_get(agent, "version")), NULL);
	family(o, "ctteams_start_time_seconds", "gauge", "When the agent started (Unix time).");
	if (when(agent, "started", &t))
		sample(o, "ctteams_start_time_seconds", t, NULL);
	family(o, "ctteams_store_trouble", "gauge",
	       "1 while the database cannot be written (storeTrouble).");
	sample(o, "ctteams_store_trouble", json_is_true(json_object_get(agent, "store_trouble")),
	       NULL);
	family(o, "ctteams_store_rows_written_total", "counter",
	       "Database rows written since the start.");
	sample(o, "ctteams_store_rows_written_total", num(agent, "store_rows_written"), NULL);
	family(o, "ctteams_intake_connections", "gauge",
	       "Connections open on the public listener.");
	sample(o, "ctteams_intake_connections", num(intake, "connections"), NULL);
	family(o, "ctteams_intake_body_bytes", "gauge",
	       "Request body bytes buffered on the public listener.");
	sample(o, "ctteams_intake_body_bytes", num(intake, "body_bytes"), NULL);
	family(o, "ctteams_intake_closed_total", "counter",
	       "Connections the public listener closed, by reason, since the start.");
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		sample(o, "ctteams_intake_closed_total", num(intake, refusals[i]), "reason",
		       refusals[i], NULL);
	family(o, "ctteams_encryption_certificate_expiry_timestamp_seconds", "gauge",
	       "When the rich notifications' encryption certificate expires (Unix time).");
	if (when(json_object_get(agent, "encryption_certificate"), "expires", &t))
		sample(o, "ctteams_encryption_certificate_expiry_timestamp_seconds", t, NULL);
}

/* The outbox: for each output (snmp, nagios, icinga), what waits. */
static void
output_metrics(struct out *o, const json_t *agent)
{
	const json_t *outputs = json_object_get(agent, "outputs");
	static const struct {
		const char *name, *key, *type, *help;
	} fams[] = {
	    {"ctteams_outbox_backlog", "pending", "gauge",
	     "Outbox entries (emergencies, alarm edges) the output has not delivered yet."},
	    {"ctteams_outbox_delivered_total", "delivered", "counter",
	     "Outbox entries the output delivered since the start."},
	    {"ctteams_outbox_given_up_total", "given_up", "counter",
	     "Outbox entries the output gave up on since the start (older than its maximum "
	     "age)."},
	    {"ctteams_outbox_failures", "failures", "gauge",
	     "Failed deliveries in a row of the output's next entry."},
	};
	size_t i;
	const json_t *c;

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		family(o, fams[f].name, fams[f].type, fams[f].help);
		json_array_foreach (outputs, i, c) {
			sample(o, fams[f].name, num(c, fams[f].key), "output",
			       json_string_value(json_object_get(c, "name")), NULL);
		}
	}
}

/* A state as a set: one sample per possible state, 1 for the current. */
static void
state_set(struct out *o, const char *name, const char *org, const char *now,
	  const char *const *states, size_t n)
{
	for (size_t s = 0; s < n; s++)
		sample(o, name, now && !strcmp(now, states[s]), "org", org, "state", states[s],
		       NULL);
}

static void
auth_metrics(struct out *o, const json_t *orgs)
{
	static const char *const states[] = {"not_signed_in", "valid", "degraded",
					     "reauth_required", "secret_invalid"};
	size_t i;
	const json_t *org;
	double t;

	family(o, "ctteams_org_auth_state", "gauge",
	       "The org's sign-in state: 1 for the current state.");
	json_array_foreach (orgs, i, org) {
		state_set(o, "ctteams_org_auth_state", org_name(org),
			  json_string_value(json_object_get(org, "auth_state")), states,
			  sizeof(states) / sizeof(states[0]));
	}
	family(o, "ctteams_org_access_token_expiry_timestamp_seconds", "gauge",
	       "When the org's access token expires (Unix time); absent without one.");
	json_array_foreach (orgs, i, org) {
		if (when(org, "access_token_expires", &t))
			sample(o, "ctteams_org_access_token_expiry_timestamp_seconds", t, "org",
			       org_name(org), NULL);
	}
	family(o, "ctteams_org_last_refresh_timestamp_seconds", "gauge",
	       "When the org's tokens were last refreshed (Unix time).");
	json_array_foreach (orgs, i, org) {
		if (when(org, "last_refresh", &t))
			sample(o, "ctteams_org_last_refresh_timestamp_seconds", t, "org",
			       org_name(org), NULL);
	}
	family(o, "ctteams_org_refresh_failures", "gauge", "Token refreshes that failed in a row.");
	json_array_foreach (orgs, i, org) {
		sample(o, "ctteams_org_refresh_failures", num(org, "consecutive_failures"), "org",
		       org_name(org), NULL);
	}
	family(o, "ctteams_org_client_secret_expiry_timestamp_seconds", "gauge",
	       "When the org's client secret expires (Unix time; client_secret_expires).");
	json_array_foreach (orgs, i, org) {
		const char *day = json_string_value(json_object_get(org, "client_secret_expires"));
		char iso[32];
		if (!day)
			continue;
		snprintf(iso, sizeof(iso), "%sT00:00:00Z", day);
		if (time_parse(iso, &t) == 0)
			sample(o, "ctteams_org_client_secret_expiry_timestamp_seconds", t, "org",
			       org_name(org), NULL);
	}
}

static void
subscription_metrics(struct out *o, const json_t *orgs)
{
	static const char *const states[] = {"none",     "creating", "active",
					     "renewing", "lapsed",   "failed"};
	size_t i;
	const json_t *org;
	double t;

	family(o, "ctteams_subscription_state", "gauge",
	       "The org's Graph subscription state: 1 for the current state.");
	json_array_foreach (orgs, i, org) {
		const json_t *sub = json_object_get(org, "subscription");
		state_set(o, "ctteams_subscription_state", org_name(org),
			  json_string_value(json_object_get(sub, "state")), states,
			  sizeof(states) / sizeof(states[0]));
	}
	family(o, "ctteams_subscription_expiry_timestamp_seconds", "gauge",
	       "When the org's Graph subscription expires unless renewed (Unix time).");
	json_array_foreach (orgs, i, org) {
		if (when(json_object_get(org, "subscription"), "expires", &t))
			sample(o, "ctteams_subscription_expiry_timestamp_seconds", t, "org",
			       org_name(org), NULL);
	}
	family(o, "ctteams_subscription_last_notification_timestamp_seconds", "gauge",
	       "When Graph last delivered a notification for the org (Unix time).");
	json_array_foreach (orgs, i, org) {
		if (when(json_object_get(org, "subscription"), "last_notification", &t))
			sample(o, "ctteams_subscription_last_notification_timestamp_seconds", t,
			       "org", org_name(org), NULL);
	}
	family(o, "ctteams_inbox_pending", "gauge",
	       "Notifications acknowledged to Graph and not processed yet.");
	json_array_foreach (orgs, i, org) {
		sample(o, "ctteams_inbox_pending", num(org, "inbox_pending"), "org", org_name(org),
		       NULL);
	}
	family(o, "ctteams_dead_letters", "gauge",
	       "Notifications set aside after failing again and again (deadLetters).");
	json_array_foreach (orgs, i, org) {
		sample(o, "ctteams_dead_letters", num(org, "dead_letters"), "org", org_name(org),
		       NULL);
	}
}

/* The org's counters (counter.c), each a _total; the rejections as one
 * family with the reason as a label. Counted by this process from its
 * start (cnt_since_start), so a counter never goes down: the totals the
 * store keeps are written every few seconds, and after a crash they could
 * be lower than a scrape showed, which Prometheus would take for a reset
 * (and an emergency rule would page again). */
static void
counter_metrics(struct out *o, const json_t *orgs)
{
	static const struct {
		enum cnt c;
		const char *name, *help;
	} plain[] = {
	    {CNT_RECEIVED, "ctteams_notifications_received_total",
	     "Change notifications accepted from Graph."},
	    {CNT_LIFECYCLE_RECEIVED, "ctteams_lifecycle_notifications_received_total",
	     "Lifecycle notifications accepted from Graph."},
	    {CNT_PROCESSED, "ctteams_messages_processed_total", "Chat messages judged."},
	    {CNT_EMERGENCIES, "ctteams_emergencies_total", "Emergency events raised."},
	    {CNT_UNRECOGNISED, "ctteams_unrecognised_notices_total",
	     "Important messages no rule matched."},
	    {CNT_DUPLICATES, "ctteams_duplicates_total",
	     "Messages seen again (redelivered, or found by reading back) and not raised twice."},
	    {CNT_MESSAGE_GONE, "ctteams_messages_gone_total",
	     "Messages deleted before they could be read."},
	    {CNT_RECOVERED_BY_POLL, "ctteams_recovered_by_reconcile_total",
	     "Notices Graph never delivered, found by reading back."},
	    {CNT_RECONCILE_SKIPPED_CHATS, "ctteams_reconcile_skipped_chats_total",
	     "Chats the reconcile could not read."},
	    {CNT_DEAD_LETTERED, "ctteams_dead_lettered_total", "Notifications set aside."},
	};
	size_t i;
	const json_t *org;

	for (size_t f = 0; f < sizeof(plain) / sizeof(plain[0]); f++) {
		family(o, plain[f].name, "counter", plain[f].help);
		json_array_foreach (orgs, i, org) {
			sample(o, plain[f].name, (double)cnt_since_start(org_name(org), plain[f].c),
			       "org", org_name(org), NULL);
		}
	}
	family(o, "ctteams_notifications_rejected_total", "counter",
	       "Webhook requests refused, by reason.");
	json_array_foreach (orgs, i, org) {
		for (int c = 0; c < CNT_N; c++)
			if (!strncmp(cnt_names[c], "rejected_", strlen("rejected_")))
				sample(o, "ctteams_notifications_rejected_total",
				       (double)cnt_since_start(org_name(org), (enum cnt)c), "org",
				       org_name(org), "reason", cnt_names[c] + strlen("rejected_"),
				       NULL);
	}
}

static void
alarm_metrics(struct out *o, const json_t *alarms)
{
	size_t i;
	const json_t *a;
	double t;

	family(o, "ctteams_alarm_active", "gauge",
	       "An active alarm (1), by type, org and X.733 severity; no sample when none.");
	json_array_foreach (alarms, i, a) {
		sample(o, "ctteams_alarm_active", 1, "alarm",
		       json_string_value(json_object_get(a, "type")), "org",
		       json_string_value(json_object_get(a, "org")), "severity",
		       json_string_value(json_object_get(a, "severity")), NULL);
	}
	family(o, "ctteams_alarm_raised_timestamp_seconds", "gauge",
	       "When each active alarm was raised (Unix time).");
	json_array_foreach (alarms, i, a) {
		if (when(a, "raised", &t))
			sample(o, "ctteams_alarm_raised_timestamp_seconds", t, "alarm",
			       json_string_value(json_object_get(a, "type")), "org",
			       json_string_value(json_object_get(a, "org")), NULL);
	}
}

char *
met_render(size_t *len)
{
	json_t *st = ctl_status_json(NULL);
	struct out o = {.cap = 16384};
	const json_t *agent = json_object_get(st, "agent"), *orgs = json_object_get(st, "orgs");

	o.buf = xcalloc(1, o.cap);
	agent_metrics(&o, agent);
	output_metrics(&o, agent);
	auth_metrics(&o, orgs);
	subscription_metrics(&o, orgs);
	counter_metrics(&o, orgs);
	alarm_metrics(&o, json_object_get(st, "alarms"));
	json_decref(st);
	*len = o.len;
	return o.buf;
}

/* ---- the listener ---- */

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned int code, const char *type, char *body, size_t len,
       bool allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO; /* libmicrohttpd closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload, size_t *upload_size, void **state)
{
	static int seen;
	size_t len;
	char *body;

	(void)cls, (void)version, (void)upload;
	if (*state == NULL) { /* the header: answer once the body (if any) is in */
		*state = &seen;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body is not wanted; it is read and dropped */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			      xstrdup("GET /metrics\n"), 13, true);
	if (strcmp(url, "/metrics") != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
			      xstrdup("GET /metrics\n"), 13, false);
	body = met_render(&len);
	return answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		      false);
}

int
met_start(const struct conf *c, char **ret_err)
{
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_EPOLL;
	bool v6;

	if (!c->metrics_addr)
		return 0;
	if (sockaddr_of(c->metrics_addr, c->metrics_port, &ss, &v6) < 0) {
		*ret_err = xprintf("metrics_listen: not an IP address: %s", c->metrics_addr);
		return -1;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	/* a scraper or two: few connections, short idle, small buffers */
	daemon_ = MHD_start_daemon(flags, (uint16_t)c->metrics_port, NULL, NULL, on_request, NULL,
				   MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
				   METRICS_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 4,
				   MHD_OPTION_CONNECTION_TIMEOUT, 10, MHD_OPTION_END);
	if (!daemon_) {
		*ret_err = xprintf("metrics_listen: cannot listen on %s port %d", c->metrics_addr,
				   c->metrics_port);
		return -1;
	}
	ev_metrics_attach(daemon_, METRICS_CONNECTIONS);
	log_info("metrics", "Prometheus metrics on http://%s%s%s:%d/metrics",
		 flags & MHD_USE_IPv6 ? "[" : "", c->metrics_addr, flags & MHD_USE_IPv6 ? "]" : "",
		 c->metrics_port);
	return 0;
}

void
met_stop(void)
{
	if (!daemon_)
		return;
	ev_metrics_detach();
	MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}
