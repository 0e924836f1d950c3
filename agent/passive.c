/*
 * The text follows the check plugins' shape ("CTTEAMS AUTH CRITICAL -
 * ..."), so a passive result and the next active check read alike.
 */
#include <stdlib.h>
#include <string.h>

#include "alarm.h"
#include "names.h"
#include "org.h"
#include "passive.h"
#include "text.h"
#include "util.h"

/* bytes of a result's output: Nagios reads an external command of up to
 * 8 KiB, and the host and service names come with it */
#define OUTPUT_MAX 4096

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* Text from Graph or Entra can hold anything: one line of valid UTF-8
 * (agent/text.c: no control characters, cut between characters within
 * what Nagios takes of a command), no '|' (perfdata follows it), and
 * nothing Nagios' command parser would take for the end. Takes s. */
static char *
one_line(char *s)
{
	char *clean = txt_clean(s, OUTPUT_MAX);

	free(s);
	for (char *c = clean; *c; c++)
		if (*c == '|')
			*c = '/';
	return clean;
}

/* One result for the service of check (the agent's own: "agent", named
 * ctteams-agent) on the org's host */
static void
add(struct passive_result **r, size_t *n, const char *org, const char *check, int state,
    char *output, double at)
{
	const struct conf *c = orgs_conf();

	*r = xrealloc(*r, (*n + 1) * sizeof(**r));
	(*r)[*n].host = names_fill(c->passive_host, org, check);
	(*r)[*n].service = strcmp(check, "agent") ? names_fill(c->service_name, org, check)
						  : xstrdup("ctteams-agent");
	(*r)[*n].state = state;
	(*r)[*n].output = one_line(output);
	(*r)[*n].at = at;
	(*r)[*n].ttl = 0;
	(*r)[*n].clear_ack = false;
	(*n)++;
}

static char *
upper(const char *s)
{
	char *u = xstrdup(s);

	for (char *c = u; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	return u;
}

static long
jint(const json_t *o, const char *key)
{
	return (long)json_integer_value(json_object_get(o, key));
}

/* The emergency service's state from the org's open emergencies, as the
 * entry counted them in its own transaction: CRITICAL while a call is
 * unacknowledged, WARNING while only test calls are, OK when none is. */
static int
emergency_state(const json_t *e)
{
	return jint(e, "open") > 0 ? 2 : jint(e, "open_tests") > 0 ? 1 : 0;
}

/* ", and 2 more emergency calls are unacknowledged", or "". */
static char *
still_open(const json_t *e, long self)
{
	long calls = jint(e, "open") - self;

	if (calls <= 0)
		return xstrdup("");
	return xprintf("; %ld %s emergency call%s unacknowledged", calls, self ? "more" : "other",
		       calls == 1 ? " is" : "s are");
}

/* A call's result text: what happened, where, and its event id (which
 * ctteamsctl console-ack reads back: after the caller's name and place,
 * last of all but the count of others open) */
static char *
call_text(int st, const json_t *call, const char *what, const char *tail)
{
	bool test = json_is_true(json_object_get(call, "test_call"));

	return xprintf("CTTEAMS EMERGENCY %s - %s%s: %s dialled %s from %s at %s (event %ld; "
		       "acknowledge it in the console or with: ctteamsctl ack %ld)%s",
		       state_names[st], test ? "TEST CALL" : "EMERGENCY CALL", what,
		       *jstr(call, "caller") ? jstr(call, "caller") : "someone",
		       jstr(call, "number"),
		       *jstr(call, "location") ? jstr(call, "location") : "an unknown location",
		       jstr(call, "created"), jint(call, "id"), jint(call, "id"), tail);
}

static size_t
event_results(const json_t *e, double at, struct passive_result **ret)
{
	bool test = json_is_true(json_object_get(e, "test_call"));
	/* entries written before the counts: the event's own state */
	int st = json_object_get(e, "open") ? emergency_state(e) : test ? 1 : 2;
	char *more;
	size_t n = 0;

	/* an important message no rule matched raises unrecognisedNotice: its
	 * edge is the result */
	if (strcmp(jstr(e, "event"), "emergency") != 0)
		return 0;
	/* a test call never lowers the state an open 911 holds */
	if (st < (test ? 1 : 2))
		st = test ? 1 : 2;
	more = still_open(e, test ? 0 : 1);
	add(ret, &n, jstr(e, "org"), "emergency", st, call_text(st, e, "", more), at);
	/* acknowledged in the console while another call stays open, the
	 * service would keep this one quiet: a volatile service's CRITICAL
	 * after CRITICAL is no state change, which alone ends a console's
	 * acknowledgement */
	(*ret)[0].clear_ack = true;
	free(more);
	return n;
}

/* "3d 4h", "2h 5m", "4m 10s", "9s": a duration as a console shows it */
static char *
span(double secs)
{
	long s = secs > 0 ? (long)secs : 0;

	if (s >= 86400)
		return xprintf("%ldd %ldh", s / 86400, s % 86400 / 3600);
	if (s >= 3600)
		return xprintf("%ldh %ldm", s / 3600, s % 3600 / 60);
	if (s >= 60)
		return xprintf("%ldm %lds", s / 60, s % 60);
	return xprintf("%lds", s);
}

/* The agent's liveness, for the ctteams-agent service: OK at each
 * heartbeat, WARNING at a clean stop. The ttl (twice the interval) lets
 * Icinga run the service's own check, CRITICAL, when the next does not
 * come; Nagios' freshness threshold does the same. Heartbeats off: none. */
static size_t
agent_results(const json_t *e, bool stop, double at, struct passive_result **ret)
{
	double interval = json_number_value(json_object_get(e, "interval"));
	char *up = span(json_number_value(json_object_get(e, "uptime")));
	char *every = span(interval);
	long alarms = jint(e, "alarms");
	/* one host, or one per org (passive_host with %o): each gets it */
	size_t hosts = strstr(orgs_conf()->passive_host, "%o") ? orgs_count() : 1, n = 0;

	for (size_t i = 0; interval > 0 && i < hosts; i++) {
		add(ret, &n, i < orgs_count() ? org_at(i)->conf->name : "", "agent", stop ? 1 : 0,
		    stop ? xprintf("CTTEAMS AGENT WARNING - ctteamsd %s stopped (%s) after %s: no "
				   "notices are relayed until it starts again",
				   jstr(e, "version"), jstr(e, "reason"), up)
			 : xprintf("CTTEAMS AGENT OK - ctteamsd %s up %s, %ld alarm%s active; a "
				   "heartbeat every %s",
				   jstr(e, "version"), up, alarms, alarms == 1 ? "" : "s", every),
		    at);
		(*ret)[n - 1].ttl = 2 * interval;
	}
	free(up);
	free(every);
	return n;
}

/* An acknowledgement. None open after it: the emergency service's OK.
 * Others still open: the oldest of them (911s before test calls), named
 * with its id, the console's acknowledgement of the last one removed, so
 * that a call nobody answered is never hidden behind one somebody did:
 * the service pages again for it, and it can be acknowledged where it
 * shows. */
static size_t
ack_results(const json_t *e, double at, struct passive_result **ret)
{
	const json_t *next = json_object_get(e, "next");
	int st = emergency_state(e);
	size_t n = 0;
	char *tail;

	if (strcmp(jstr(e, "event"), "emergency") != 0)
		return 0;
	if (st == 0) {
		add(ret, &n, jstr(e, "org"), "emergency", 0,
		    xprintf("CTTEAMS EMERGENCY OK - event %ld (%s%s from %s) acknowledged by %s "
			    "at %s; no emergency call is open",
			    jint(e, "id"),
			    json_is_true(json_object_get(e, "test_call")) ? "test call " : "",
			    jstr(e, "number"), *jstr(e, "caller") ? jstr(e, "caller") : "someone",
			    jstr(e, "acked_by"), jstr(e, "acked_at")),
		    at);
		return n;
	}
	if (!json_is_object(next))
		return 0; /* an entry from before "next": the service stays as it is */
	tail = xprintf("; event %ld was acknowledged by %s", jint(e, "id"), jstr(e, "acked_by"));
	add(ret, &n, jstr(e, "org"), "emergency", st, call_text(st, next, " STILL OPEN", tail), at);
	(*ret)[0].clear_ack = true;
	free(tail);
	return n;
}

/* The state of a check for an org now: the worst of what is raised. */
static int
check_state_now(const char *org, const char *check)
{
	json_t *active = alarms_list(NULL), *a;
	int worst = 0;
	size_t i;

	json_array_foreach (active, i, a) {
		const struct alarm_def *d = alarm_def_named(jstr(a, "type"));
		const char *ao = jstr(a, "org");
		int st = alarm_check_state(alarm_severity_named(jstr(a, "severity")));
		if (!d || strcmp(d->check, check) != 0 || (*ao && strcmp(ao, org) != 0))
			continue;
		if (st > worst)
			worst = st;
	}
	json_decref(active);
	return worst;
}

static void
alarm_result(const struct alarm_def *d, const json_t *e, const char *org, double at,
	     struct passive_result **ret, size_t *n)
{
	bool raise = !strcmp(jstr(e, "transition"), "raise");
	/* the entry's severity: an escalation raises the same alarm higher */
	int now = check_state_now(org, d->check),
	    own = alarm_check_state(alarm_severity_named(jstr(e, "severity")));
	/* a raise never lowers the service below what else is raised there
	 * (the active check would raise it again); a clear leaves what stays */
	int st = raise && own > now ? own : now;
	char *check = upper(d->check);

	add(ret, n, org, d->check, st,
	    raise ? xprintf("CTTEAMS %s %s - %s raised: %s", check, state_names[st], d->name,
			    jstr(e, "text"))
		  : xprintf("CTTEAMS %s %s - %s cleared", check, state_names[st], d->name),
	    at);
	free(check);
}

static size_t
alarm_results(const json_t *e, double at, struct passive_result **ret)
{
	const struct alarm_def *d = alarm_def_named(jstr(e, "type"));
	const char *org = jstr(e, "org");
	size_t n = 0;

	if (!d)
		return 0;
	if (*org)
		alarm_result(d, e, org, at, ret, &n);
	else /* the agent's own alarms concern every org's service of the check */
		for (size_t i = 0; i < orgs_count(); i++)
			alarm_result(d, e, org_at(i)->conf->name, at, ret, &n);
	return n;
}

size_t
passive_results(const json_t *entry, struct passive_result **ret)
{
	double at = now_wall();
	const char *kind = jstr(entry, "kind");

	*ret = NULL;
	time_parse(jstr(entry, "at"), &at);
	if (!strcmp(kind, "event"))
		return event_results(entry, at, ret);
	if (!strcmp(kind, "alarm"))
		return alarm_results(entry, at, ret);
	if (!strcmp(kind, "ack"))
		return ack_results(entry, at, ret);
	if (!strcmp(kind, "heartbeat") || !strcmp(kind, "stop"))
		return agent_results(entry, !strcmp(kind, "stop"), at, ret);
	return 0;
}

void
passive_results_free(struct passive_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].host);
		free(r[i].service);
		free(r[i].output);
	}
	free(r);
}

struct outbox_opts
passive_opts(const struct conf *c)
{
	return (struct outbox_opts){
	    .backoff_min = 1, .backoff_max = 30, .max_age = c->passive_max_age};
}
