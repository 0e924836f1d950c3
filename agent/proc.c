#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "proc.h"
#include "rich.h"
#include "subs.h"
#include "util.h"

#define RETRY_MAX 300.0

struct rules {
	char *org;
	struct detect_rules r;
};

static struct store *store;
static struct rules *rules;
static size_t n_rules;
static struct ev_timer *timer;
static bool busy;
static long cursor; /* rows at or before it wait for their org */
static void (*on_event)(long, const struct store_event *);

void
proc_on_event(void (*fn)(long id, const struct store_event *e))
{
	on_event = fn;
}

static void
rules_build(const struct conf *c)
{
	for (size_t i = 0; i < n_rules; i++) {
		free(rules[i].org);
		detect_rules_clear(&rules[i].r);
	}
	free(rules);
	rules = xcalloc(c->n_orgs, sizeof(*rules));
	n_rules = 0;
	for (size_t i = 0; i < c->n_orgs; i++) {
		const struct conf_org *o = c->orgs[i];
		char *err = NULL;
		/* the regex was checked when the configuration was read */
		if (detect_rules_init(&rules[n_rules].r, o->emergency_phrases, o->emergency_regex,
				      o->test_numbers, &err) < 0) {
			log_err("proc", "org %s: %s", o->name, err);
			free(err);
			continue;
		}
		rules[n_rules++].org = xstrdup(o->name);
	}
}

static struct detect_rules *
rules_for(const char *org)
{
	for (size_t i = 0; i < n_rules; i++)
		if (!strcmp(rules[i].org, org))
			return &rules[i].r;
	return NULL;
}

/* "chats('19:x@thread.v2')/messages('1795873981406')" */
static int
resource_parse(const char *res, char **ret_chat, char **ret_msg)
{
	const char *a = res ? strstr(res, "chats('") : NULL, *b, *c, *d;

	if (!a)
		return -1;
	a += 7;
	b = strstr(a, "')/messages('");
	if (!b)
		return -1;
	c = b + 13;
	d = strstr(c, "')");
	if (!d || d == c || b == a)
		return -1;
	*ret_chat = xstrndup(a, (size_t)(b - a));
	*ret_msg = xstrndup(c, (size_t)(d - c));
	return 0;
}

static int
raise_event(struct org *o, const struct detect_result *res, json_t *msg, long seq,
	    const char *source)
{
	/* an unrecognised notice is kept whole, for someone to read and learn
	 * its wording from */
	char *raw = res->verdict == DETECT_UNRECOGNISED ? json_dumps(msg, JSON_COMPACT) : NULL;
	struct store_event e = {
	    .org = o->conf->name,
	    .chat_id = res->chat_id,
	    .message_id = res->message_id,
	    .kind = res->verdict == DETECT_EMERGENCY ? "emergency" : "unrecognised",
	    .caller_name = res->caller_name,
	    .caller_id = res->caller_id,
	    .number = res->number,
	    .test_call = res->test_call,
	    .location = res->location,
	    .importance = res->importance,
	    .created = res->created,
	    .text = res->text,
	    .raw = raw,
	    .source = source,
	};
	long id = 0;
	int rc = store_event_add(store, &e, seq, &id);

	free(raw);
	if (rc < 0)
		return -1; /* stays in the inbox; tried again */
	if (rc == 1) {
		store_count(store, o->conf->name, "duplicates", 1);
		return 0;
	}
	if (res->verdict == DETECT_EMERGENCY) {
		store_count(store, o->conf->name, "emergencies", 1);
		log_warnx("event",
			  "EMERGENCY org %s event %ld: %s dialled %s%s; location: %s; chat %s "
			  "message %s (from %s)",
			  o->conf->name, id, res->caller_name ? res->caller_name : "someone",
			  res->number ? res->number : "an emergency number",
			  res->test_call ? " (test call)" : "",
			  res->location ? res->location : "not given", res->chat_id,
			  res->message_id, source);
	} else {
		store_count(store, o->conf->name, "unrecognised", 1);
		log_warnx("event",
			  "org %s event %ld: an important message matched no emergency rule; "
			  "check it with ctteamsctl events, and the rules with ctteamsctl "
			  "test-match",
			  o->conf->name, id);
	}
	if (on_event)
		on_event(id, &e);
	return 1;
}

int
proc_message(struct org *o, json_t *msg, const char *source, long seq)
{
	struct detect_rules *r = rules_for(o->conf->name);
	struct detect_result res;
	int rc = 0;

	if (!r)
		return seq > 0 ? store_inbox_done(store, seq) : 0;
	free(r->service_user_id);
	r->service_user_id = xstrdup(o->user_id);
	detect_run(r, msg, &res);
	store_count(store, o->conf->name, "processed", 1);
	if (res.verdict == DETECT_EMERGENCY || res.verdict == DETECT_UNRECOGNISED)
		rc = raise_event(o, &res, msg, seq, source);
	else if (seq > 0)
		store_inbox_done(store, seq);
	detect_result_clear(&res);
	return rc;
}

struct fetch {
	long seq;
	char *org;
};

static void
fetched(const struct hc_resp *resp, void *arg)
{
	struct fetch *f = arg;
	struct org *o = org_find(f->org);
	struct detect_rules *r = rules_for(f->org);
	double wait = 0;

	busy = false;
	if (!o || !r) {
		store_inbox_done(store, f->seq); /* the org is gone from the configuration */
	} else if (resp->status == 200) {
		json_t *msg = json_loadb(resp->body, resp->len, 0, NULL);
		if (json_is_object(msg)) {
			proc_message(o, msg, "webhook", f->seq);
		} else {
			/* junk where a chatMessage belongs: keep it, try later */
			store_inbox_tried(store, f->seq);
			wait = 30;
		}
		json_decref(msg);
	} else if (resp->status == 404 || resp->status == 403) {
		/* deleted meanwhile, or a chat the user left: nothing to read */
		store_count(store, o->conf->name, "message_gone", 1);
		store_inbox_done(store, f->seq);
	} else {
		store_inbox_tried(store, f->seq);
		if (resp->status == 401)
			org_token_rejected(o);
		wait = resp->retry_after > 0 ? resp->retry_after : 2;
		if (wait > RETRY_MAX)
			wait = RETRY_MAX;
		log_warnx("proc",
			  "org %s: fetching a notified message failed (HTTP %ld%s%s); "
			  "retrying in %.0f s",
			  f->org, resp->status, resp->error ? ", " : "",
			  resp->error ? resp->error : "", wait);
	}
	free(f->org);
	free(f);
	ev_timer_arm(timer, wait);
}

static bool
lifecycle(const struct store_inbox_row *row)
{
	json_t *it = json_loads(row->item, 0, NULL);
	const char *sub = json_string_value(json_object_get(it, "subscriptionId"));
	const char *event = json_string_value(json_object_get(it, "lifecycleEvent"));

	subs_lifecycle(row->org, sub ? sub : "", event ? event : "");
	json_decref(it);
	store_inbox_done(store, row->seq);
	return true;
}

/* Starts work on one row; false when the row must wait for its org. */
static bool
start(const struct store_inbox_row *row)
{
	struct org *o = org_find(row->org);
	json_t *it;
	const char *token;
	char *chat = NULL, *msg = NULL;

	if (!o) {
		store_inbox_done(store, row->seq);
		return true;
	}
	if (!strcmp(row->kind, "lifecycle"))
		return lifecycle(row);
	token = org_access_token(o, 0);
	if (!token)
		return false; /* a refresh is due; processing resumes after it */
	it = json_loads(row->item, 0, NULL);
	if (json_is_object(json_object_get(it, "encryptedContent"))) {
		/* rich: the message is in the notification, once it checks out */
		json_t *opened = NULL;
		const char *counter = NULL;
		char *why = NULL;
		enum rich_result rr = rich_open(o->conf, it, &opened, &counter, &why);
		json_decref(it);
		if (rr == RICH_WAIT)
			return false; /* signing keys on their way */
		if (rr == RICH_REJECT) {
			store_count(store, row->org, counter, 1);
			log_warnx("proc", "org %s: a rich notification was rejected: %s", row->org,
				  why);
			store_inbox_done(store, row->seq);
		} else if (proc_message(o, opened, "webhook", row->seq) < 0) {
			store_inbox_tried(store, row->seq);
		}
		free(why);
		json_decref(opened);
		return true;
	}
	if (resource_parse(json_string_value(json_object_get(it, "resource")), &chat, &msg) < 0) {
		log_warnx("proc",
			  "org %s: a notification without a chat message resource; "
			  "dropped",
			  row->org);
		store_count(store, row->org, "rejected_resource", 1);
		store_inbox_done(store, row->seq);
		json_decref(it);
		return true;
	}
	char *ec = url_encode(chat), *em = url_encode(msg);
	char *url = xprintf("%s/v1.0/chats/%s/messages/%s", o->conf->graph_endpoint, ec, em);
	struct fetch *f = xcalloc(1, sizeof(*f));
	f->seq = row->seq;
	f->org = xstrdup(row->org);
	busy = true;
	if (hc_graph("GET", url, token, NULL, fetched, f) < 0) {
		busy = false;
		free(f->org);
		free(f);
	}
	free(ec);
	free(em);
	free(url);
	free(chat);
	free(msg);
	json_decref(it);
	return true;
}

static void
run(void *arg)
{
	struct store_inbox_row row;
	bool waited = false;

	(void)arg;
	cursor = 0;
	while (!busy && store_inbox_next(store, cursor, &row) == 0) {
		if (!start(&row)) {
			cursor = row.seq; /* its org is not ready: look past it */
			waited = true;
		}
		store_inbox_row_clear(&row);
	}
	if (waited && !busy)
		ev_timer_arm(timer, 10);
}

void
proc_kick(void)
{
	if (!busy)
		ev_timer_arm(timer, 0);
}

void
proc_start(const struct conf *c, struct store *st)
{
	store = st;
	rules_build(c);
	timer = ev_timer_new(run, NULL);
	/* whatever was acknowledged before a crash or stop is done now */
	ev_timer_arm(timer, 0);
}

void
proc_reload(const struct conf *c)
{
	rules_build(c);
	proc_kick();
}

void
proc_stop(void)
{
	for (size_t i = 0; i < n_rules; i++) {
		free(rules[i].org);
		detect_rules_clear(&rules[i].r);
	}
	free(rules);
	rules = NULL;
	n_rules = 0;
	ev_timer_free(timer);
	timer = NULL;
}

json_t *
proc_test_match(const char *org, json_t *message)
{
	struct detect_rules *r = rules_for(org);
	struct org *o = org_find(org);
	struct detect_result res;
	static const char *const names[] = {"none", "emergency", "unrecognised", "ignored"};
	json_t *j;

	if (!r)
		return NULL;
	free(r->service_user_id);
	r->service_user_id = o ? xstrdup(o->user_id) : NULL;
	detect_run(r, message, &res);
	j = json_pack("{s:s, s:s, s:s}", "verdict", names[res.verdict], "why",
		      res.why ? res.why : "", "text", res.text ? res.text : "");
	json_object_set_new(j, "caller",
			    res.caller_name ? json_string(res.caller_name) : json_null());
	json_object_set_new(j, "number", res.number ? json_string(res.number) : json_null());
	json_object_set_new(j, "test_call", json_boolean(res.test_call));
	json_object_set_new(j, "location", res.location ? json_string(res.location) : json_null());
	json_object_set_new(j, "importance", json_string(res.importance));
	detect_result_clear(&res);
	return j;
}
