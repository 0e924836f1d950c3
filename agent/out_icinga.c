/*
 * An entry's results are posted one at a time (an agent-level alarm has
 * one per org); the entry is done when Icinga took them all. The password
 * is read from its file for each request, so a new one needs no restart
 * and it is held in memory only while a request is under way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "out_icinga.h"
#include "outbox.h"
#include "passive.h"
#include "util.h"

/* Copies of the keys in use: a reload that turns the output off must not
 * leave the consumer reading a configuration that is gone. */
static struct {
	char *url, *user, *password_file, *ca;
	double ttl;
} k;
static struct outbox_consumer *consumer;

/* The entry under way. */
static struct {
	struct passive_result *r;
	size_t n, next;
	bool busy;
	bool unacked;  /* the result's acknowledgement removal is done */
	char *refused; /* a result Icinga will never take (why), or NULL */
} cur;

static void post_next(void);

static void
finish(bool ok, const char *why)
{
	char *refused = cur.refused;

	passive_results_free(cur.r, cur.n);
	memset(&cur, 0, sizeof(cur));
	if (ok && refused)
		outbox_pass(consumer, true, refused); /* counted as given up */
	else
		outbox_done(consumer, ok, why);
	free(refused);
}

static char *
why_of(const struct hc_resp *resp)
{
	json_t *j;
	char *why;

	if (resp->status == 0)
		return xprintf("%s: %s", k.url, resp->error ? resp->error : "no answer");
	j = json_loadb(resp->body, resp->len, 0, NULL);
	why = xprintf("%s answered %ld: %s%s", k.url, resp->status,
		      json_string_value(json_object_get(j, "status"))
			  ? json_string_value(json_object_get(j, "status"))
			  : "no reason given",
		      resp->status == 404 ? " (is the service defined? nagios/ctteams-icinga2.conf)"
					  : "");
	json_decref(j);
	return why;
}

/* 400 (bad request), 403 (passive checks off, or not permitted), 404
 * (no such service), 409 (Icinga 2.14 and later: a result older than the
 * service's last one). Icinga answers 500 when a request's one result
 * failed, and the result's own code says which. */
static bool
refused_for_good(const struct hc_resp *resp)
{
	long code = resp->status;

	if (code == 500) {
		json_t *j = json_loadb(resp->body, resp->len, 0, NULL);
		json_t *c =
		    json_object_get(json_array_get(json_object_get(j, "results"), 0), "code");
		if (json_is_number(c))
			code = (long)json_number_value(c);
		json_decref(j);
	}
	return code == 400 || code == 403 || code == 404 || code == 409;
}

static void
on_answer(const struct hc_resp *resp, void *arg)
{
	char *why;

	(void)arg;
	if (!consumer || !cur.busy)
		return; /* stopped meanwhile */
	/* refused for good ("Newer check result already present", no such
	 * service, ...): asking again will not help, and everything after (a
	 * 911's CRITICAL among it) would wait behind it: logged, counted, and
	 * passed */
	if (refused_for_good(resp)) {
		why = why_of(resp);
		log_err("icinga", "result for %s not taken: %s", cur.r[cur.next].service, why);
		free(cur.refused);
		cur.refused = why;
	} else if (resp->status != 200) {
		why = why_of(resp);
		finish(false, why);
		free(why);
		return;
	}
	cur.unacked = false;
	if (++cur.next < cur.n)
		post_next();
	else
		finish(true, NULL);
}

/* The removal of the console's acknowledgement before a new call's
 * result. No answer, or Icinga failing (5xx): the entry is tried again,
 * as a refused result would be, since the call might not page without it.
 * Refused (403: the API user lacks actions/remove-acknowledgement; 404):
 * asking again will not help and the call's CRITICAL must not wait, so it
 * goes, and every such call is logged as one that may not page. */
static void
on_unacked(const struct hc_resp *resp, void *arg)
{
	char *why;

	(void)arg;
	if (!consumer || !cur.busy)
		return;
	if (resp->status != 200) {
		why = why_of(resp);
		if (!refused_for_good(resp) && (resp->status == 0 || resp->status >= 500)) {
			finish(false, why);
			free(why);
			return;
		}
		log_err("icinga",
			"%s may not page: its acknowledgement could not be removed first "
			"(give the API user actions/remove-acknowledgement): %s",
			cur.r[cur.next].service, why);
		free(why);
	}
	cur.unacked = true;
	post_next();
}

static char *
password(char *why, size_t len)
{
	/* file_read trims the line end */
	char *p = file_read(k.password_file, 1024);

	if (!p || !*p) {
		snprintf(why, len, "icinga_password_file %s cannot be read, or is empty",
			 k.password_file);
		free_secret(p);
		return NULL;
	}
	return p;
}

static void
post_next(void)
{
	const struct passive_result *r = &cur.r[cur.next];
	bool unack = r->clear_ack && !cur.unacked;
	char *url = xprintf("%s/v1/actions/%s", k.url,
			    unack ? "remove-acknowledgement" : "process-check-result");
	char *svc = xprintf("%s!%s", r->host, r->service), *body, *pw, why[256];
	json_t *j = unack ? json_pack("{s:s, s:s}", "type", "Service", "service", svc)
			  : json_pack("{s:s, s:s, s:i, s:s, s:s, s:f, s:f}", "type", "Service",
				      "service", svc, "exit_status", r->state, "plugin_output",
				      r->output, "check_source", "ctteamsd", "execution_start",
				      r->at, "execution_end", r->at);

	if (!unack && (r->ttl > 0 || k.ttl > 0))
		json_object_set_new(j, "ttl", json_real(r->ttl > 0 ? r->ttl : k.ttl));
	body = json_dumps(j, JSON_COMPACT);
	pw = password(why, sizeof(why));
	if (!pw || hc_post_json_basic(url, k.ca, k.user, pw, body, unack ? on_unacked : on_answer,
				      NULL) < 0)
		finish(false, pw ? "the request could not be started" : why);
	free_secret(pw);
	free(body);
	json_decref(j);
	free(svc);
	free(url);
}

static void
deliver(struct outbox_consumer *c, json_t *entry, void *arg)
{
	(void)arg;
	cur.n = passive_results(entry, &cur.r);
	cur.next = 0;
	if (cur.n == 0) {
		passive_results_free(cur.r, 0);
		memset(&cur, 0, sizeof(cur));
		outbox_pass(c, false, NULL); /* nothing for Icinga: not counted */
		return;
	}
	cur.busy = true;
	post_next();
}

static void
keep(const struct conf *c)
{
	free(k.url);
	free(k.user);
	free(k.password_file);
	free(k.ca);
	k.url = xstrdup(c->icinga_url);
	k.user = xstrdup(c->icinga_user);
	k.password_file = xstrdup(c->icinga_password_file);
	k.ca = xstrdup(c->icinga_ca_file);
	k.ttl = c->icinga_ttl;
}

void
outi_start(const struct conf *c, struct store *st)
{
	struct outbox_opts o = passive_opts(c);

	if (!c->icinga_url)
		return;
	keep(c);
	consumer = outbox_consumer_new(st, "icinga", &o, deliver, NULL);
	log_info("icinga", "passive results to %s as %s, host %s, services %s", k.url, k.user,
		 c->passive_host, c->service_name);
}

void
outi_reload(const struct conf *c)
{
	struct outbox_opts o = passive_opts(c);

	if (!consumer != !c->icinga_url)
		log_warnx("icinga", "icinga_url: turning it on or off takes a restart");
	if (!consumer || !c->icinga_url)
		return;
	keep(c);
	outbox_consumer_set_opts(consumer, &o);
}

void
outi_stop(void)
{
	if (consumer)
		outbox_consumer_free(consumer);
	consumer = NULL;
	passive_results_free(cur.r, cur.n);
	free(cur.refused);
	memset(&cur, 0, sizeof(cur));
	free(k.url);
	free(k.user);
	free(k.password_file);
	free(k.ca);
	memset(&k, 0, sizeof(k));
}
