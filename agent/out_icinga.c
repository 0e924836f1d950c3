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

static const struct conf *cfg;
static struct outbox_consumer *consumer;

/* The entry under way. */
static struct {
	struct passive_result *r;
	size_t n, next;
	bool busy;
} cur;

static void post_next(void);

static void
finish(bool ok, const char *why)
{
	passive_results_free(cur.r, cur.n);
	memset(&cur, 0, sizeof(cur));
	outbox_done(consumer, ok, why);
}

static char *
why_of(const struct hc_resp *resp)
{
	json_t *j;
	char *why;

	if (resp->status == 0)
		return xprintf("%s: %s", cfg->icinga_url, resp->error ? resp->error : "no answer");
	j = json_loadb(resp->body, resp->len, 0, NULL);
	why = xprintf("%s answered %ld: %s%s", cfg->icinga_url, resp->status,
		      json_string_value(json_object_get(j, "status"))
			  ? json_string_value(json_object_get(j, "status"))
			  : "no reason given",
		      resp->status == 404 ? " (is the service defined? nagios/ctteams-icinga2.conf)"
					  : "");
	json_decref(j);
	return why;
}

static void
on_answer(const struct hc_resp *resp, void *arg)
{
	char *why;

	(void)arg;
	if (!consumer || !cur.busy)
		return; /* stopped meanwhile */
	if (resp->status == 200) {
		if (++cur.next < cur.n)
			post_next();
		else
			finish(true, NULL);
		return;
	}
	why = why_of(resp);
	finish(false, why);
	free(why);
}

static char *
password(char *why, size_t len)
{
	/* file_read trims the line end */
	char *p = file_read(cfg->icinga_password_file, 1024);

	if (!p || !*p) {
		snprintf(why, len, "icinga_password_file %s cannot be read, or is empty",
			 cfg->icinga_password_file);
		free_secret(p);
		return NULL;
	}
	return p;
}

static void
post_next(void)
{
	const struct passive_result *r = &cur.r[cur.next];
	char *url = xprintf("%s/v1/actions/process-check-result", cfg->icinga_url);
	char *svc = xprintf("%s!%s", cfg->passive_host, r->service), *body, *pw, why[256];
	json_t *j =
	    json_pack("{s:s, s:s, s:i, s:s, s:s, s:f, s:f}", "type", "Service", "service", svc,
		      "exit_status", r->state, "plugin_output", r->output, "check_source",
		      "ctteamsd", "execution_start", r->at, "execution_end", r->at);

	if (cfg->icinga_ttl > 0)
		json_object_set_new(j, "ttl", json_real(cfg->icinga_ttl));
	body = json_dumps(j, JSON_COMPACT);
	pw = password(why, sizeof(why));
	if (!pw || hc_post_json_basic(url, cfg->icinga_ca_file, cfg->icinga_user, pw, body,
				      on_answer, NULL) < 0)
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
		outbox_done(c, true, NULL);
		return;
	}
	cur.busy = true;
	post_next();
}

static struct outbox_opts
opts_of(const struct conf *c)
{
	return (struct outbox_opts){
	    .backoff_min = 1, .backoff_max = 30, .max_age = c->passive_max_age};
}

void
outi_start(const struct conf *c, struct store *st)
{
	struct outbox_opts o = opts_of(c);

	cfg = c;
	if (!c->icinga_url)
		return;
	consumer = outbox_consumer_new(st, "icinga", &o, deliver, NULL);
	log_info("icinga", "passive results to %s as %s, host %s", c->icinga_url, c->icinga_user,
		 c->passive_host);
}

void
outi_reload(const struct conf *c)
{
	struct outbox_opts o = opts_of(c);

	if (!consumer != !c->icinga_url)
		log_warnx("icinga", "icinga_url: turning it on or off takes a restart");
	if (!consumer || !c->icinga_url)
		return;
	cfg = c;
	outbox_consumer_set_opts(consumer, &o);
}

void
outi_stop(void)
{
	if (consumer)
		outbox_consumer_free(consumer);
	consumer = NULL;
	passive_results_free(cur.r, cur.n);
	memset(&cur, 0, sizeof(cur));
}
