/*
 * Each org's inbox is worked on its own: one org's Graph trouble never
 * delays another's events, and inside an org a failing item backs off on
 * its own (next_try in the inbox) while the others go ahead. A Retry-After
 * from Graph holds the org's reads even when new work arrives. A turn of
 * the loop takes a few items and yields, so intake, signals and the control
 * socket keep answering; a failing store backs the whole thing off instead
 * of spinning on the same row.
 */
#include <ctype.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canary.h"
#include "counter.h"
#include "event.h"
#include "ha.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "org.h"
#include "outbox.h"
#include "pace.h"
#include "poll.h"
#include "proc.h"
#include "rich.h"
#include "subs.h"
#include "triage.h"
#include "util.h"

#define INFLIGHT_MAX 4     /* message reads under way per org */
#define TURN_ITEMS   16    /* rows started per loop turn, all orgs together */
#define TURN_TIME    0.005 /* ... or this long, whichever comes first */
#define TURN_SCAN    64    /* rows looked at per org and turn (paced ones skipped) */
#define PASS_EVERY   30.0  /* a pass over the inbox from the start at least this often */
/* tries of a message read that Graph answers 404 before it is taken for
 * deleted (Graph may notify before the message can be read) */
#define GONE_AFTER 3
#define RETRY_MIN  3.0   /* the first retry of an item, at most (jitter: 1.5..3 s) */
#define RETRY_MAX  300.0 /* the longest wait between tries of one item */
#define WAIT_AGAIN 10.0  /* a token or signing keys are on their way */
#define STORE_MAX  60.0  /* the longest wait while the store fails */

struct porg {
	struct org *owner; /* it lives and dies with its org */
	char *name;
	struct detect_rules r;
	bool has_rules;
	double hold_until;   /* Graph's Retry-After, for all of the org's reads */
	char *last_429_chat; /* the chat of the last 429, and when */
	double last_429;
	double throttled_since; /* first Retry-After since the last read that worked */
	bool read_ok;           /* a read has worked since the start */
	double wait_until;      /* nothing to do before a token or keys arrive */
	long busy[INFLIGHT_MAX];
	size_t n_busy;
	struct pace *pace;     /* reads chat by chat, within Graph's limits */
	double paced_until;    /* rows wait for pacing until then (0: none) */
	long scan_from;        /* where the next turn goes on looking (0: start) */
	double next_retry;     /* the earliest retry not yet due (0: none) */
	bool pass_done;        /* it has reached the end of the rows */
	double restart_at;     /* then: when a new pass from the start is due */
	struct triage *triage; /* the rows likely to be a notice, read first */
	bool has_rows;         /* its inbox had rows when the round began */
};

static size_t next_org;   /* round robin: where the next turn starts */
static size_t round_left; /* orgs the round still has to look at (0: a new round) */
static double idle_tick;  /* when the passes of orgs with an empty inbox are due */
/* has_rows must be read again: rows may have come (a kick), a read failed,
 * or the last read is a pass old */
static bool rows_stale = true;
static double rows_read_at;
static struct ev_timer *timer;
static struct ev_timer *prune_timer;
static double store_hold;   /* no work before this: the store is failing */
static long store_failures; /* consecutive */
static void (*on_event)(long, const struct store_event *);

void
proc_on_event(void (*fn)(long id, const struct store_event *e))
{
	on_event = fn;
}

static void
porg_rules(struct porg *p, const struct conf_org *o)
{
	char *err = NULL;

	if (p->has_rules)
		detect_rules_clear(&p->r);
	/* the regex was checked when the configuration was read */
	p->has_rules = detect_rules_init(&p->r, o->emergency_phrases, o->emergency_regex,
					 o->test_numbers, &err) == 0;
	if (!p->has_rules) {
		log_err("proc", "org %s: %s", o->name, err);
		free(err);
	}
}

static void
busy_add(struct porg *p, long seq)
{
	p->busy[p->n_busy++] = seq;
}

static void
busy_del(struct porg *p, long seq)
{
	for (size_t i = 0; i < p->n_busy; i++)
		if (p->busy[i] == seq) {
			p->busy[i] = p->busy[--p->n_busy];
			return;
		}
}

static bool
is_busy(const struct porg *p, long seq)
{
	for (size_t i = 0; i < p->n_busy; i++)
		if (p->busy[i] == seq)
			return true;
	return false;
}

/* A store call failed: everything waits, longer each time, and the loop
 * goes back to answering everyone else. */
static void
store_failed(void)
{
	double wait = backoff_delay(1, STORE_MAX, store_failures, false);

	store_failures++;
	store_hold = now_wall() + wait;
	/* the row that failed stays, behind each org's place in its pass:
	 * every pass starts again from the start once the store works */
	for (size_t i = 0; i < orgs_count(); i++) {
		org_at(i)->proc->scan_from = 0;
		org_at(i)->proc->pass_done = false;
	}
	log_warnx("proc", "the store failed; inbox processing waits %.0f s", wait);
}

static void
store_worked(void)
{
	store_failures = 0;
	store_hold = 0;
}

static double
backoff(long tries)
{
	return backoff_delay(RETRY_MIN, RETRY_MAX, tries, true);
}

/* One more failed try of a row: it waits on its own, or, past
 * dead_letter_after, is set aside whole for an operator to look at. */
static void
item_failed(struct porg *p, long seq, long tries, double received, double retry_after,
	    const char *why)
{
	const char *org = p->name;
	int rc;

	if (tries + 1 >= orgs_conf()->dead_letter_after) {
		rc = store_inbox_dead(orgs_store(), seq, why);
		if (rc == 0) {
			cnt_add(org, CNT_DEAD_LETTERED, 1);
			/* the reconcile left this message to the webhook while it was
			 * in the inbox: read its time back now */
			poll_backfill(p->owner, received - 300, received + 60,
				      "a notification was set aside as a dead letter");
			log_err("proc",
				"org %s: notification %ld failed %ld times (%s); moved to the "
				"dead letters: see ctteamsctl dead-letters %s",
				org, seq, tries + 1, why, org);
			health_kick();
		}
	} else {
		double wait = retry_after > 0 ? fmin(retry_after, RETRY_MAX) : backoff(tries);
		rc = store_inbox_retry(orgs_store(), seq, now_wall() + wait, why);
		/* a pass from the start is due when the retry is */
		if (p->next_retry == 0 || now_wall() + wait < p->next_retry)
			p->next_retry = now_wall() + wait;
		log_warnx("proc", "org %s: notification %ld: %s; try %ld again in %.0f s", org, seq,
			  why, tries + 2, wait);
	}
	if (rc < 0)
		store_failed();
}

/* "content-" and the SHA-256 of when, from whom and what: an id for a
 * message Graph sent without one. */
static char *
content_id(const struct detect_result *res)
{
	char *what = xprintf("%s|%s|%s", res->created ? res->created : "",
			     res->caller_id ? res->caller_id : "", res->text ? res->text : "");
	unsigned char h[SHA256_DIGEST_LENGTH];
	char *id, *b64;

	SHA256((const unsigned char *)what, strlen(what), h);
	b64 = b64url_encode(h, sizeof(h));
	id = xprintf("content-%s", b64);
	free(b64);
	free(what);
	return id;
}

static int
raise_event(struct porg *p, struct org *o, const struct detect_result *res, json_t *msg, long seq,
	    const char *source)
{
	/* an unrecognised notice is kept whole, for someone to read and learn
	 * its wording from */
	char *raw = res->verdict == DETECT_UNRECOGNISED ? json_dumps(msg, JSON_COMPACT) : NULL;
	/* a notice Graph sent without its chat or its id is raised all the
	 * same: the chat unknown, an id made of what the message says (so a
	 * redelivery or a read-back of it is the same message) */
	char *no_id = res->message_id ? NULL : content_id(res);
	struct store_event e = {
	    .org = p->name,
	    .chat_id = res->chat_id ? res->chat_id : "",
	    .message_id = res->message_id ? res->message_id : no_id,
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
	int rc = store_event_add(orgs_store(), &e, seq, &id);

	free(raw);
	if (rc < 0 || rc == 1) {
		free(no_id);
		/* an error: stays in the inbox, tried again */
		if (rc < 0)
			return -1;
		/* a redelivery; the reconcile reading a known one back is not.
		 * It may be one Graph held in a token pause and the read-back
		 * raised first: then it was late, not lost */
		if (seq > 0) {
			cnt_add(p->name, CNT_DUPLICATES, 1);
			poll_delivered(o, e.chat_id, e.message_id);
		}
		return 0;
	}
	outbox_kick();
	if (res->verdict == DETECT_EMERGENCY) {
		cnt_add(p->name, CNT_EMERGENCIES, 1);
		log_warnx("event",
			  "EMERGENCY org %s event %ld: %s dialled %s%s; location: %s; chat %s "
			  "message %s (from %s)",
			  p->name, id, res->caller_name ? res->caller_name : "someone",
			  res->number ? res->number : "an emergency number",
			  res->test_call ? " (test call)" : "",
			  res->location ? res->location : "not given", e.chat_id, e.message_id,
			  source);
	} else {
		cnt_add(p->name, CNT_UNRECOGNISED, 1);
		log_warnx("event",
			  "org %s event %ld: an important message matched no emergency rule; "
			  "check it with ctteamsctl events, and the rules with ctteamsctl "
			  "test-match",
			  p->name, id);
	}
	if (on_event)
		on_event(id, &e);
	free(no_id);
	return 1;
}

int
proc_message(struct org *o, json_t *msg, const char *source, long seq)
{
	struct porg *p = o->proc;
	struct detect_result res;
	int rc = 0;

	if (!p || !p->has_rules)
		return seq > 0 ? store_inbox_done(orgs_store(), seq) : 0;
	/* the webhook brought the canary's marker: delivery works */
	if (strcmp(source, "poll") != 0 &&
	    canary_seen(
		o, json_string_value(json_object_get(msg, "chatId")),
		json_string_value(json_object_get(json_object_get(msg, "body"), "content"))))
		return seq > 0 ? store_inbox_done(orgs_store(), seq) : 0;
	free(p->r.service_user_id);
	p->r.service_user_id = xstrdup(o->user_id);
	detect_run(&p->r, msg, &res);
	triage_chat_read(p->triage, res.chat_id, res.verdict == DETECT_EMERGENCY);
	if (seq > 0)
		cnt_add(p->name, CNT_PROCESSED, 1);
	if (res.verdict == DETECT_EMERGENCY || res.verdict == DETECT_UNRECOGNISED)
		rc = raise_event(p, o, &res, msg, seq, source);
	else if (seq > 0)
		rc = store_inbox_done(orgs_store(), seq);
	detect_result_clear(&res);
	return rc;
}

struct fetch {
	long seq;
	long tries;
	double received;
	void *org; /* org_ref() */
	char *chat;
};

/* A 429 on one chat is Graph's word on that chat (one request a second per
 * chat) and holds that chat. 429s on two chats within a second are its
 * limit per app per tenant (20 reads a second) and hold the whole org, as
 * any other Retry-After does. */
static void
throttled(struct porg *p, const char *chat, long status, double until)
{
	double now = now_wall();
	bool other_chat =
	    p->last_429_chat && strcmp(p->last_429_chat, chat) != 0 && now - p->last_429 < 1.0;

	if (status == 429 && !other_chat) {
		pace_done(p->pace, chat, until);
	} else {
		if (status == 429 && now >= p->hold_until)
			log_warnx("proc",
				  "org %s: Graph throttles reads of several chats: holding all of "
				  "the org's reads for %.0f s",
				  p->name, until - now);
		pace_done(p->pace, chat, until);
		p->hold_until = fmax(p->hold_until, until);
	}
	if (status == 429) {
		free(p->last_429_chat);
		p->last_429_chat = xstrdup(chat);
		p->last_429 = now;
	}
	if (!p->throttled_since)
		p->throttled_since = now;
}

static void
fetched(const struct hc_resp *resp, void *arg)
{
	struct fetch *f = arg;
	struct org *o = org_deref(f->org);
	struct porg *p = o ? o->proc : NULL;
	json_t *msg;

	if (p) {
		busy_del(p, f->seq);
		pace_done(p->pace, f->chat, 0);
	}
	/* Graph answered as it should: whatever throttling there was is over */
	if (p && (resp->status == 200 || resp->status == 404 || resp->status == 403)) {
		p->throttled_since = 0;
		p->read_ok = true;
	}
	if (!p) {
		/* the org left the configuration (or was replaced) meanwhile:
		 * the row stays in the inbox, for when it comes back */
		log_info("proc",
			 "notification %ld: its org left the configuration while Graph "
			 "answered; it stays in the inbox",
			 f->seq);
	} else if (resp->status == 200) {
		msg = json_loadb(resp->body, resp->len, 0, NULL);
		if (!json_is_object(msg))
			item_failed(p, f->seq, f->tries, f->received, -1,
				    "Graph answered the message read with something that is not "
				    "a chatMessage");
		else if (proc_message(o, msg, "webhook", f->seq) < 0)
			store_failed();
		else
			store_worked();
		json_decref(msg);
	} else if (resp->status == 404 && f->tries + 1 < GONE_AFTER) {
		/* Graph may notify before the message can be read: asked again */
		item_failed(p, f->seq, f->tries, f->received, 0,
			    "reading the message: HTTP 404 (not readable yet, or deleted)");
	} else if (resp->status == 404) {
		/* deleted meanwhile: nothing to read. Counted, and its time read
		 * back, so that a message Graph only could not find this way is
		 * still judged (a deleted one is not listed) */
		cnt_add(p->name, CNT_MESSAGE_GONE, 1);
		log_warnx("proc",
			  "org %s: notification %ld: the message could not be read after %d tries "
			  "(HTTP 404: deleted?); its time is read back",
			  p->name, f->seq, GONE_AFTER);
		poll_backfill(o, f->received - 300, f->received + 60,
			      "a notified message could not be read (HTTP 404)");
		if (store_inbox_done(orgs_store(), f->seq) < 0)
			store_failed();
	} else {
		char *why = resp->status ? xprintf("reading the message: HTTP %ld", resp->status)
					 : xprintf("reading the message: %s",
						   resp->error ? resp->error : "no answer");
		if (resp->status == 401)
			org_token_rejected(o);
		if (resp->retry_after > 0)
			throttled(p, f->chat, resp->status,
				  now_wall() + fmin(resp->retry_after, RETRY_MAX));
		item_failed(p, f->seq, f->tries, f->received, resp->retry_after, why);
		free(why);
	}
	free(f->chat);
	free(f);
	ev_timer_arm(timer, 0);
}

static int
lifecycle(struct org *o, const struct store_inbox_row *row)
{
	json_t *it = json_loads(row->item, 0, NULL);
	const char *sub = json_string_value(json_object_get(it, "subscriptionId"));
	const char *event = json_string_value(json_object_get(it, "lifecycleEvent"));

	subs_lifecycle(o, sub ? sub : "", event ? event : "");
	json_decref(it);
	return store_inbox_done(orgs_store(), row->seq);
}

enum start_result { STARTED, WAITING, STORE_FAILED };

/* A rich notification carries the message: no token, no request. */
static enum start_result
start_rich(struct porg *p, struct org *o, const struct store_inbox_row *row, json_t *it)
{
	json_t *opened = NULL;
	const char *counter = NULL;
	char *why = NULL;
	enum rich_result rr = rich_open(o->conf, it, row->received, &opened, &counter, &why);
	int rc = 0;

	if (rr == RICH_WAIT)
		return WAITING; /* signing keys on their way */
	if (rr == RICH_REJECT) {
		/* it came with our clientState, so it may be a real notice we
		 * cannot open (a key gone, a token we do not take): counted, and
		 * its time read back from Graph, never just dropped */
		cnt_add_name(p->name, counter, 1);
		log_warnx("proc",
			  "org %s: a rich notification was rejected: %s; its time is read back",
			  p->name, why);
		poll_backfill(o, row->received - 300, row->received + 60,
			      "a rich notification could not be opened");
		rc = store_inbox_done(orgs_store(), row->seq);
	} else {
		rc = proc_message(o, opened, "webhook", row->seq);
	}
	free(why);
	json_decref(opened);
	return rc < 0 ? STORE_FAILED : STARTED;
}

/* A basic notification names the message: read it from Graph. */
static enum start_result
start_basic(struct porg *p, struct org *o, const struct store_inbox_row *row, const char *chat,
	    const char *msg)
{
	const char *token = org_access_token(o, 0);
	char *ec, *em, *url;
	struct fetch *f;

	if (!chat) {
		log_warnx("proc", "org %s: a notification without a chat message resource; dropped",
			  p->name);
		cnt_add(p->name, CNT_REJECTED_RESOURCE, 1);
		return store_inbox_done(orgs_store(), row->seq) < 0 ? STORE_FAILED : STARTED;
	}
	if (!token)
		return WAITING; /* a refresh is due; org.c kicks us when it lands */
	ec = url_encode(chat);
	em = url_encode(msg);
	url = xprintf("%s/v1.0/chats/%s/messages/%s", o->conf->graph_endpoint, ec, em);
	f = xcalloc(1, sizeof(*f));
	f->seq = row->seq;
	f->tries = row->tries;
	f->received = row->received;
	f->org = org_ref(o);
	f->chat = xstrdup(chat);
	if (hc_graph("GET", url, token, NULL, fetched, f) == 0) {
		busy_add(p, row->seq);
		pace_started(p->pace, chat, now_wall());
	} else {
		free(f->chat);
		free(f);
		p->wait_until = now_wall() + WAIT_AGAIN;
	}
	free(ec);
	free(em);
	free(url);
	return STARTED;
}

static enum start_result
start(struct porg *p, const struct store_inbox_row *row, json_t *it, const char *chat,
      const char *msg)
{
	struct org *o = p->owner;

	if (!strcmp(row->kind, "lifecycle"))
		return lifecycle(o, row) < 0 ? STORE_FAILED : STARTED;
	if (json_is_object(json_object_get(it, "encryptedContent")))
		return start_rich(p, o, row, it);
	return start_basic(p, o, row, chat, msg);
}

/* The chat a basic notification's row names (its msg_key), or NULL. */
static char *
row_chat(const struct store_inbox_row *row)
{
	const char *bar = row->msg_key ? strchr(row->msg_key, '|') : NULL;

	if (!bar || row->rich || !strcmp(row->kind, "lifecycle"))
		return NULL;
	return xstrndup(row->msg_key, (size_t)(bar - row->msg_key));
}

/* One row: started, left for its chat's pacing, or failed on the store.
 * A row waiting for its chat is looked at without parsing its item: a
 * long inbox under Graph's limits is walked again and again. */
static int
row_turn(struct porg *p, const struct store_inbox_row *row, double now, int *budget)
{
	char *chat = row_chat(row), *msg = NULL, *rchat = NULL;
	enum start_result r;
	json_t *it;
	double when;

	/* a basic notification is a read of Graph: paced by chat */
	if (chat && !pace_may_read(p->pace, chat, now, &when)) {
		if (!p->paced_until || when < p->paced_until)
			p->paced_until = when;
		free(chat);
		return 0;
	}
	it = json_loads(row->item, 0, NULL);
	if (strcmp(row->kind, "lifecycle") != 0 &&
	    !json_is_object(json_object_get(it, "encryptedContent")))
		graph_message_ids(json_string_value(json_object_get(it, "resource")), &rchat, &msg);
	/* a row from before msg_key and rich were kept (no msg_key): paced
	 * here, after parsing, as every row used to be */
	if (!chat && rchat && !pace_may_read(p->pace, rchat, now, &when)) {
		if (!p->paced_until || when < p->paced_until)
			p->paced_until = when;
		r = STARTED;
	} else {
		r = start(p, row, it, rchat, msg);
		(*budget)--;
	}
	if (r == WAITING)
		p->wait_until = now + WAIT_AGAIN;
	free(chat);
	free(rchat);
	free(msg);
	json_decref(it);
	return r == STORE_FAILED ? -1 : 0;
}

/* A pass has reached the end of the rows: the next from the start is due
 * when the pacing allows or the next retry is. New rows kick the timer
 * and are taken up from where the pass ended. */
static void
pass_end(struct porg *p, double now)
{
	/* and at least every PASS_EVERY: a wake-up missed by a bug here
	 * costs a notice that long, never longer */
	double at = p->paced_until > 0 ? fmin(p->paced_until, now + PASS_EVERY) : now + PASS_EVERY;

	if (p->next_retry > 0)
		at = fmin(at, p->next_retry);
	/* a pass already done keeps its time: kicks must not put it off */
	if (p->pass_done)
		at = fmin(at, p->restart_at);
	p->pass_done = true;
	p->restart_at = at;
}

/* When the next pass from the start is due: as pass_end said, or sooner
 * for a retry scheduled since (a read that failed after the pass). */
static double
restart_due(const struct porg *p)
{
	return p->next_retry > 0 ? fmin(p->restart_at, p->next_retry) : p->restart_at;
}

/* The rows likely to be a notice first (triage.h): each is started when
 * its chat's pacing allows, ahead of the pass over the rest. -1 if the
 * store failed. */
static int
likely_turn(struct porg *p, double now, int *budget)
{
	struct store_inbox_row row;

	if (triage_scan(p->triage, orgs_store(), p->name) < 0)
		return -1;
	for (size_t i = 0; i < triage_count(p->triage) && *budget > 0 && p->n_busy < INFLIGHT_MAX &&
			   now >= p->wait_until;) {
		long seq = triage_at(p->triage, i);
		int before = *budget, rc;
		if (is_busy(p, seq)) {
			triage_drop(p->triage, seq);
			continue;
		}
		rc = store_inbox_get(orgs_store(), seq, &row);
		if (rc < 0)
			return -1;
		if (rc == 1 || row.next_try > now) {
			/* done meanwhile, or failed once: its retries go in order */
			triage_drop(p->triage, seq);
			store_inbox_row_clear(&row);
			continue;
		}
		rc = row_turn(p, &row, now, budget);
		store_inbox_row_clear(&row);
		if (rc < 0)
			return -1;
		/* started (budget spent, no wait begun: a token or keys on their
		 * way leave it kept for when they come) */
		if (*budget < before && now >= p->wait_until)
			triage_drop(p->triage, seq);
		else
			i++; /* its chat's pacing, or the wait: kept for later */
	}
	return 0;
}

/* An org whose inbox was empty when the round began: its pass is over
 * without a query. The passes of all such orgs are due at one time, so
 * that they come in one round (one query for every org, in run) and not
 * in a wake-up and a few queries per org: with a shared database each
 * query is a round trip. New rows kick a new round, which looks again. */
static void
idle_pass(struct porg *p, double now)
{
	if (p->pass_done && now < restart_due(p))
		return;
	if (idle_tick < now + 1)
		idle_tick = now + PASS_EVERY;
	p->scan_from = 0;
	p->paced_until = 0;
	p->next_retry = 0;
	p->pass_done = true;
	p->restart_at = idle_tick;
}

static void
rows_in(void *arg, const char *name)
{
	struct org *o = org_find(name);

	(void)arg;
	if (o)
		o->proc->has_rows = true;
}

/* At a round's start: which orgs have rows at all, read again only when
 * rows may have come since (every new row kicks) or a pass ago. -1 if the
 * store failed: every org is looked at then, and the next round reads
 * again. */
static int
rows_scan(double now)
{
	if (!rows_stale && now - rows_read_at < PASS_EVERY)
		return 0;
	for (size_t i = 0; i < orgs_count(); i++)
		org_at(i)->proc->has_rows = false;
	if (store_inbox_orgs(orgs_store(), rows_in, NULL) < 0) {
		for (size_t i = 0; i < orgs_count(); i++)
			org_at(i)->proc->has_rows = true;
		rows_stale = true;
		return -1;
	}
	rows_stale = false;
	rows_read_at = now;
	return 0;
}

/* Starts what the org has due, up to *budget rows or TURN_TIME; -1 if the
 * store failed. */
static int
org_turn(struct porg *p, double now, double end, int *budget)
{
	struct store_inbox_row row;
	int rc, scanned = 0;

	if (now < p->hold_until || now < p->wait_until)
		return 0;
	if (!p->has_rows && p->n_busy == 0) {
		idle_pass(p, now);
		return 0;
	}
	if (likely_turn(p, now, budget) < 0)
		return -1;
	/* A pass goes over the rows in order, a slice per turn. Once it has
	 * reached the end, new work (a kick) goes on from there, so rows
	 * left for their chat's pacing are not looked at again on every
	 * notification; a new pass from the start comes when the pacing or a
	 * retry is due (restart_at, from org_wake). */
	if (!p->pass_done ? p->scan_from == 0 : now >= restart_due(p)) {
		p->scan_from = 0;
		p->pass_done = false;
		p->paced_until = 0;
		/* rows due later (retries) are not seen by this pass: when
		 * the first of them is due, the next pass is */
		rc =
		    store_inbox_due(orgs_store(), p->name, now, p->busy, p->n_busy, &p->next_retry);
		if (rc != 0)
			p->next_retry = rc < 0 ? now + STORE_MAX : 0;
	}
	while (*budget > 0 && p->n_busy < INFLIGHT_MAX && scanned++ < TURN_SCAN &&
	       now_mono() < end) {
		rc = store_inbox_next(orgs_store(), p->name, p->scan_from, now, &row);
		if (rc != 0) {
			if (rc == 1)
				pass_end(p, now);
			return rc < 0 ? -1 : 0;
		}
		p->scan_from = row.seq;
		p->pass_done = false;
		rc = is_busy(p, row.seq) ? 0 : row_turn(p, &row, now, budget);
		store_inbox_row_clear(&row);
		if (rc < 0)
			return -1;
		/* a token or keys are on their way: the row was not started;
		 * the pass goes on past it, and the next one, from the start,
		 * comes when the wait is over */
		if (now < p->wait_until && (p->next_retry == 0 || p->wait_until < p->next_retry))
			p->next_retry = p->wait_until;
		if (now < p->hold_until || now < p->wait_until)
			break;
	}
	return 0;
}

/* When the org's next turn is due. In the middle of a pass over its rows:
 * soon, to go on. After a whole pass, every row that was due was started,
 * is in flight or waits for its chat's pacing: a new pass when the pacing
 * allows or the next retry is due (new rows kick the timer themselves). */
static double
org_wake(struct porg *p, double now)
{
	double not_before = fmax(p->hold_until, p->wait_until);

	/* every read slot taken: a reply kicks the timer when one frees */
	if (p->n_busy >= INFLIGHT_MAX)
		return now + 3600;
	if (!p->pass_done)
		return fmax(now + 0.1, not_before);
	return fmax(restart_due(p), not_before);
}

static double
next_wake(double now)
{
	double wake = now + 3600;

	for (size_t i = 0; i < orgs_count(); i++)
		wake = fmin(wake, org_wake(org_at(i)->proc, now));
	return wake > now ? wake - now : 0;
}

static void
run(void *arg)
{
	double now = now_wall(), end = now_mono() + TURN_TIME;
	int budget = TURN_ITEMS;

	size_t n = orgs_count(), k;

	(void)arg;
	if (!ha_gate(timer))
		return;
	if (now < store_hold) {
		ev_timer_arm(timer, store_hold - now);
		return;
	}
	/* A round looks at every org once, over as many turns as it takes:
	 * a turn stops at its time or its budget and the next goes on from
	 * there. Only a round that has ended may sleep; a turn that ran out
	 * of time and began the round again would never sleep with many orgs
	 * (a thousand idle ones spun a core so). */
	if (round_left == 0 || round_left > n) {
		round_left = n;
		if (rows_scan(now) < 0) {
			round_left = 0;
			store_failed();
			ev_timer_arm(timer, store_hold - now);
			return;
		}
		/* a round that could read the store ends any backoff's growth */
		if (store_failures)
			store_worked();
	}
	for (k = 0; k < round_left && budget > 0 && now_mono() < end; k++) {
		struct porg *p = org_at((next_org + k) % n)->proc;
		if (org_turn(p, now, end, &budget) < 0) {
			store_failed();
			ev_timer_arm(timer, store_hold - now);
			return;
		}
	}
	/* a turn whose store calls all worked ends any backoff's growth */
	if (store_failures && budget < TURN_ITEMS)
		store_worked();
	if (n)
		next_org = (next_org + k) % n;
	round_left -= k;
	/* the round goes on, or work is left (a full turn): yield to the
	 * loop and come straight back; else sleep until an org is due */
	ev_timer_arm(timer, round_left > 0 || budget == 0 ? 0 : next_wake(now));
}

void
proc_kick(void)
{
	/* a token or signing keys arrived, or new work: look again, a whole
	 * new round from where the last one was; where rows waited for the
	 * token or keys, from the start */
	round_left = 0;
	rows_stale = true;
	for (size_t i = 0; i < orgs_count(); i++) {
		struct porg *p = org_at(i)->proc;
		triage_kick(p->triage);
		if (p->wait_until > 0) {
			p->scan_from = 0;
			p->pass_done = false;
		}
		p->wait_until = 0;
	}
	if (timer)
		ev_timer_arm(timer, fmax(0, store_hold - now_wall()));
}

void
proc_attach(struct org *o)
{
	struct porg *p = xcalloc(1, sizeof(*p));

	p->owner = o;
	p->name = xstrdup(o->conf->name);
	p->pace = pace_new();
	p->triage = triage_new();
	porg_rules(p, o->conf);
	o->proc = p;
}

void
proc_configure(struct org *o)
{
	porg_rules(o->proc, o->conf);
}

void
proc_detach(struct org *o)
{
	struct porg *p = o->proc;

	if (!p)
		return;
	o->proc = NULL;
	if (p->has_rules)
		detect_rules_clear(&p->r);
	pace_free(p->pace);
	free(p->last_429_chat);
	triage_free(p->triage);
	free(p->name);
	free(p);
	/* the round robin goes on from the start */
	next_org = 0;
	round_left = 0;
}

#define PRUNE_EVERY 3600.0

/* Retention: old events and outbox entries go, once an hour. */
static void
prune(void *arg)
{
	long unsent = 0, gone;

	(void)arg;
	if (!ha_gate(prune_timer))
		return;
	gone = store_prune(orgs_store(), now_wall() - orgs_conf()->event_retention,
			   orgs_conf()->event_max, outbox_min_cursor(), &unsent);
	if (gone > 0)
		log_info("proc",
			 "retention: %ld event(s) older than event_retention or beyond "
			 "event_max removed",
			 gone);
	if (unsent > 0)
		log_err("proc",
			"retention: %ld outbox entr(ies) were removed before an output took "
			"them",
			unsent);
	ev_timer_arm(prune_timer, PRUNE_EVERY);
}

void
proc_start(void)
{
	timer = ev_timer_new(run, NULL);
	/* whatever was acknowledged before a crash or stop is done now */
	ev_timer_arm(timer, 0);
	prune_timer = ev_timer_new(prune, NULL);
	ev_timer_arm(prune_timer, 60);
}

void
proc_stop(void)
{
	ev_timer_free(timer);
	timer = NULL;
	ev_timer_free(prune_timer);
	prune_timer = NULL;
}

void
proc_health(const struct org *o, struct proc_health *ret)
{
	const struct porg *p = o->proc;

	*ret = (struct proc_health){0};
	if (p) {
		ret->throttled_since = p->throttled_since;
		ret->reads_seen = p->read_ok;
	}
}

json_t *
proc_status(const struct org *o)
{
	const struct porg *p = o->proc;
	const char *org = o->conf->name;
	double now = now_wall();
	json_t *j = json_pack("{s:I, s:I, s:b}", "inbox_pending",
			      (json_int_t)store_inbox_pending(orgs_store(), org), "dead_letters",
			      (json_int_t)store_dead_count(orgs_store(), org), "held_by_graph",
			      p && now < p->hold_until);
	char *t = p && p->throttled_since ? time_iso(p->throttled_since) : NULL;

	json_object_set_new(j, "throttled_since", t ? json_string(t) : json_null());
	json_object_set_new(j, "chats_held_by_graph",
			    json_integer(p ? (json_int_t)pace_held(p->pace, now) : 0));
	json_object_set_new(j, "reads_in_flight", json_integer(p ? (json_int_t)p->n_busy : 0));
	/* whether "not throttled" is known: a read worked since the start */
	json_object_set_new(j, "reads_seen", json_boolean(p && p->read_ok));
	free(t);
	return j;
}

json_t *
proc_test_match(struct org *o, json_t *message)
{
	struct porg *p = o->proc;
	struct detect_result res;
	static const char *const names[] = {"none", "emergency", "unrecognised", "ignored"};
	json_t *j;

	if (!p || !p->has_rules)
		return NULL;
	free(p->r.service_user_id);
	p->r.service_user_id = xstrdup(o->user_id);
	detect_run(&p->r, message, &res);
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
