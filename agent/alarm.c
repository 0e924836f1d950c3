/*
 * The active set lives in memory and in the store's alarm table; the two
 * are changed together, and only on an edge. A text that changes while an
 * alarm stays raised (a new AADSTS code, another chat) updates the row
 * without a new transition: consoles correlate on type and org. A change
 * of severity while raised (an escalation) is an edge: a raise of the same
 * instance with the new severity, as an X.733 console expects.
 */
#include <stdlib.h>
#include <string.h>

#include "alarm.h"
#include "log.h"
#include "outbox.h"
#include "text.h"
#include "util.h"

#define ALARM_TEXT_MAX 400 /* bytes: the MIB's DisplayString takes 255 */

const struct alarm_def alarm_defs[ALARM_N] = {
    [ALARM_NOT_SIGNED_IN] = {"notSignedIn", SEV_MAJOR, true, "sign-in-state-of-an-org-auth_state",
			     "no one is signed in for the org: nothing is monitored", "auth"},
    [ALARM_SIGNIN_LOST] = {"signInLost", SEV_CRITICAL, true, "sign-in-state-of-an-org-auth_state",
			   "the sign-in was refused for good: sign in again", "auth"},
    [ALARM_SECRET_INVALID] = {"clientSecretInvalid", SEV_CRITICAL, true,
			      "sign-in-state-of-an-org-auth_state",
			      "Entra refuses the app's client secret", "auth"},
    [ALARM_SECRET_EXPIRING] = {"clientSecretExpiring", SEV_WARNING, true, "client-secret-expiry",
			       "the client secret expires soon", "secret"},
    [ALARM_SUBSCRIPTION] = {"subscriptionLapsed", SEV_CRITICAL, true,
			    "subscription-subscriptionstate",
			    "no working Graph subscription: notices are not delivered",
			    "subscription"},
    [ALARM_DELIVERY_GAP] = {"deliveryGap", SEV_MAJOR, true,
			    "delivery-gap-polldelivery_gap-counter-recovered_by_poll-canarymissed",
			    "Graph did not deliver a notice, or the canary did not come back",
			    "delivery"},
    [ALARM_UNRECOGNISED] = {"unrecognisedNotice", SEV_MINOR, true, "emergency-events",
			    "an important message matched no rule: the wording may have changed",
			    "delivery"},
    [ALARM_DEAD_LETTERS] = {"deadLetters", SEV_MAJOR, true,
			    "dead-letters-dead_letters-counter-dead_lettered",
			    "notifications kept failing and were set aside", "delivery"},
    [ALARM_RECONCILE] = {"reconcileFailing", SEV_MINOR, true,
			 "delivery-gap-polldelivery_gap-counter-recovered_by_poll-canarymissed",
			 "reading back missed notices fails", "delivery"},
    [ALARM_THROTTLED] = {"throttled", SEV_WARNING, true, "throttling",
			 "Graph has been holding the org's reads back for a while", "delivery"},
    [ALARM_STORE] = {"storeTrouble", SEV_CRITICAL, false, "store-trouble-agentstore_trouble",
		     "database writes fail: notifications are answered 503", "delivery"},
    [ALARM_CERT] = {"encryptionCertificate", SEV_MAJOR, false, "encryption-certificate",
		    "the encryption certificate for rich notifications cannot be rotated",
		    "secret"},
    [ALARM_OUTPUT_STUCK] = {"outputStuck", SEV_MAJOR, false, "output-stuck-agentoutputs",
			    "an output has delivered nothing for a while: its receiver misses "
			    "911 events and alarms",
			    "delivery"},
    [ALARM_SIGNIN_DEGRADED] = {"signInDegraded", SEV_WARNING, true,
			       "sign-in-state-of-an-org-auth_state",
			       "token refreshes fail for now; critical once the access token "
			       "has expired",
			       "auth"},
    [ALARM_PEER_LOST] = {"peerLost", SEV_MAJOR, false, "peer-lost",
			 "the other agent of the pair has stopped: this one alone serves",
			 "delivery"},
    [ALARM_DB_UNREACHABLE] = {"databaseUnreachable", SEV_CRITICAL, false, "database-unreachable",
			      "the shared database cannot be reached: notifications are "
			      "answered 503",
			      "delivery"},
};

struct active {
	enum alarm_type type;
	char *org;
	double raised;
	char *text;
	bool unsaved; /* raised while the store could not write it */
	enum alarm_severity sev;
};

static struct store *store;
/* sorted by org, then type: found by bisection, since every evaluation
 * looks up each alarm of each org (ten thousand with a thousand orgs) */
static struct active *active;
static size_t n_active;
static double last_changed; /* the newest transition, for the MIB */

const char *
alarm_severity_name(enum alarm_severity s)
{
	static const char *const names[] = {"",      "cleared", "indeterminate", "critical",
					    "major", "minor",   "warning"};

	return s >= SEV_CLEARED && s <= SEV_WARNING ? names[s] : "indeterminate";
}

enum alarm_severity
alarm_severity_named(const char *name)
{
	for (int s = SEV_CLEARED; s <= SEV_WARNING; s++)
		if (name && !strcmp(alarm_severity_name((enum alarm_severity)s), name))
			return (enum alarm_severity)s;
	return SEV_INDETERMINATE;
}

static int
type_of(const char *name)
{
	for (int i = 0; i < ALARM_N; i++)
		if (!strcmp(alarm_defs[i].name, name))
			return i;
	return -1;
}

static int
order(enum alarm_type type, const char *org, const struct active *a)
{
	int c = strcmp(org, a->org);

	return c ? c : (int)type - (int)a->type;
}

/* Where (type, org) is, or would go. */
static size_t
place(enum alarm_type type, const char *org)
{
	size_t lo = 0, hi = n_active;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (order(type, org, &active[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct active *
find(enum alarm_type type, const char *org)
{
	size_t i = place(type, org);

	return i < n_active && order(type, org, &active[i]) == 0 ? &active[i] : NULL;
}

static void
insert(struct active a)
{
	size_t i = place(a.type, a.org);

	active = xrealloc(active, (n_active + 1) * sizeof(*active));
	memmove(&active[i + 1], &active[i], (n_active - i) * sizeof(*active));
	active[i] = a;
	n_active++;
}

static void
drop(struct active *a)
{
	size_t i = (size_t)(a - active);

	free(a->org);
	free(a->text);
	memmove(&active[i], &active[i + 1], (n_active - i - 1) * sizeof(*active));
	n_active--;
}

int
alarms_start(struct store *st)
{
	store = st;
	return alarms_reload();
}

int
alarms_reload(void)
{
	struct store *st = store;
	json_t *rows, *r;
	size_t i;

	if (!(rows = store_alarms(st)) || !json_is_array(rows)) {
		json_decref(rows);
		return -1;
	}
	while (n_active)
		drop(&active[n_active - 1]);
	/* the newest transition kept; an active alarm's raise if the outbox
	 * has been pruned since */
	last_changed = store_outbox_last_at(st, "alarm");
	json_array_foreach (rows, i, r) {
		int t = type_of(json_string_value(json_object_get(r, "type")));
		if (t < 0)
			continue; /* a type a later version dropped */
		insert((struct active){
		    .type = (enum alarm_type)t,
		    .org = xstrdup(json_string_value(json_object_get(r, "org"))),
		    .raised = json_number_value(json_object_get(r, "raised")),
		    .text = xstrdup(json_string_value(json_object_get(r, "text"))),
		    .sev = alarm_severity_named(json_string_value(json_object_get(r, "severity"))),
		});
		if (json_number_value(json_object_get(r, "raised")) > last_changed)
			last_changed = json_number_value(json_object_get(r, "raised"));
	}
	json_decref(rows);
	return 0;
}

void
alarms_hand_over(void)
{
	for (size_t i = 0; i < n_active; i++) {
		struct active *a = &active[i];
		struct store_alarm row = {alarm_defs[a->type].name,    a->org,
					  alarm_severity_name(a->sev), a->raised,
					  a->text ? a->text : "",      !outbox_early_pending()};
		if (!a->unsaved)
			continue;
		if (store_alarm_hand_over(store, &row) == 0) {
			a->unsaved = false;
			log_info("alarm", "%s: written with its clear, for the agent taking over",
				 alarm_defs[a->type].name);
		}
	}
}

void
alarms_stop(void)
{
	while (n_active)
		drop(&active[n_active - 1]);
	free(active);
	active = NULL;
}

static int set(enum alarm_type type, const char *org, bool on, enum alarm_severity sev,
	       const char *text);

/* Every alarm text is outside text at heart (Entra's and Graph's error
 * descriptions): made valid UTF-8 without control characters and cut
 * between characters here, once for every output. One that is not valid
 * UTF-8 could not be written (a false storeTrouble) nor sent, and the
 * alarm would never be raised. */
int
alarm_set_severity(enum alarm_type type, const char *org, bool on, enum alarm_severity sev,
		   const char *text)
{
	char *clean;
	int rc;

	/* most alarms are neither raised nor to be: nothing to do, cheaply */
	if (!on && !find(type, alarm_defs[type].per_org ? org : ""))
		return 0;
	clean = txt_clean(text, ALARM_TEXT_MAX);
	rc = set(type, org, on, sev, clean);

	free(clean);
	return rc;
}

int
alarm_set(enum alarm_type type, const char *org, bool on, const char *text)
{
	return alarm_set_severity(type, org, on, alarm_defs[type].severity, text);
}

static int
set(enum alarm_type type, const char *org, bool on, enum alarm_severity sev, const char *text)
{
	const struct alarm_def *d = &alarm_defs[type];
	struct active *a;
	struct store_alarm row = {d->name,    d->per_org ? org : "", alarm_severity_name(sev),
				  now_wall(), text ? text : "",      false};

	a = find(type, row.org);
	if (a && a->unsaved) {
		/* raised while the store could not write it, and handed to the
		 * outputs from memory then: written now, before its clear, and
		 * marked so that the outputs do not send it twice */
		struct store_alarm late = row;
		late.raised = a->raised;
		late.severity = alarm_severity_name(a->sev);
		late.text = a->text ? a->text : "";
		/* every output took its copy from memory: the store's is passed
		 * over; one still waiting (a receiver away) gets both, as an
		 * output may after a crash: twice rather than never */
		late.early = !outbox_early_pending();
		if (store_alarm_transition(store, &late, true) < 0)
			return -1;
		a->unsaved = false;
	}
	if (on && a && a->sev != sev) {
		/* an escalation (or its way back): the same instance, raised
		 * since then, with its new severity and reason */
		row.raised = a->raised;
		if (store_alarm_transition(store, &row, true) < 0)
			return -1;
		log_err("alarm", "%s %s (%s)%s%s: %s", sev < a->sev ? "ESCALATED" : "EASED",
			d->name, row.severity, *row.org ? " org " : "", row.org, row.text);
		a->sev = sev;
		free(a->text);
		a->text = xstrdup(row.text);
		last_changed = now_wall();
		outbox_kick();
		return 0;
	}
	if (on == (a != NULL)) {
		/* no edge; a new reason is kept for the console, quietly */
		if (a && text && strcmp(a->text ? a->text : "", text) != 0) {
			free(a->text);
			a->text = xstrdup(text);
		}
		return 0;
	}
	if (a)
		row.raised = a->raised;
	if (store_alarm_transition(store, &row, on) < 0) {
		json_t *body;
		if (!on || (type != ALARM_STORE && type != ALARM_DB_UNREACHABLE))
			return -1; /* the next evaluation tries again */
		/* an alarm about the store cannot wait for the store: to the
		 * outputs from memory now, to the store once it works */
		body = store_alarm_body(&row, true);
		outbox_post_early("alarm", body);
		last_changed = row.raised;
		json_decref(body);
		insert((struct active){type, xstrdup(row.org), row.raised, xstrdup(row.text), true,
				       sev});
		log_err("alarm", "RAISED %s (%s): %s", d->name, row.severity, row.text);
		return 0;
	}
	outbox_kick();
	last_changed = now_wall();
	if (on) {
		insert((struct active){type, xstrdup(row.org), row.raised, xstrdup(row.text), false,
				       sev});
		log_err("alarm", "RAISED %s (%s)%s%s: %s", d->name, row.severity,
			*row.org ? " org " : "", row.org, row.text);
	} else {
		log_info("alarm", "CLEARED %s%s%s", d->name, *row.org ? " org " : "", row.org);
		drop(a);
	}
	return 0;
}

int
alarm_check_state(enum alarm_severity s)
{
	switch (s) {
	case SEV_CLEARED:
		return 0;
	case SEV_CRITICAL:
	case SEV_MAJOR:
		return 2;
	case SEV_MINOR:
	case SEV_WARNING:
		return 1;
	default:
		return 3;
	}
}

const struct alarm_def *
alarm_def_named(const char *name)
{
	for (int i = 0; i < ALARM_N; i++)
		if (!strcmp(alarm_defs[i].name, name))
			return &alarm_defs[i];
	return NULL;
}

json_t *
alarms_list(const char *org)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n_active; i++) {
		const struct active *a = &active[i];
		const struct alarm_def *d = &alarm_defs[a->type];
		char *t;
		if (org && strcmp(a->org, org) != 0)
			continue;
		t = time_iso(a->raised);
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "type", d->name,
				   "org", a->org, "severity", alarm_severity_name(a->sev), "raised",
				   t, "text", a->text ? a->text : "", "summary", d->summary,
				   "runbook", d->runbook, "check", d->check, "check_state",
				   alarm_check_state(a->sev)));
		free(t);
	}
	return arr;
}

double
alarms_last_changed(void)
{
	return last_changed;
}

int
alarms_org_gone(const char *org)
{
	int rc = 0;

	for (size_t i = n_active; i-- > 0;)
		if (!strcmp(active[i].org, org) && alarm_set(active[i].type, org, false, NULL) < 0)
			rc = -1;
	return rc;
}
