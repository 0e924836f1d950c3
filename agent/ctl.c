#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alarm.h"
#include "auth.h"
#include "canary.h"
#include "ctl.h"
#include "org.h"
#include "poll.h"
#include "proc.h"
#include "store.h"
#include "subs.h"
#include "util.h"

static const struct conf *cfg;
static struct store *store;
static double started;

void
ctl_init(const struct conf *c, struct store *st)
{
	cfg = c;
	if (st)
		store = st;
	if (!started)
		started = now_wall();
}

static char *
reply(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

static char *
error(const char *msg)
{
	return reply(json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

static char *
status(const char *org)
{
	json_t *arr = json_array();
	char *since = time_iso(started);
	json_t *agent;

	for (size_t i = 0; i < orgs_count(); i++) {
		struct org *o = org_at(i);
		if (org && strcmp(o->conf->name, org) != 0)
			continue;
		json_t *j = org_status(o);
		json_object_set_new(j, "subscription", subs_status(o->conf->name));
		json_object_set_new(j, "poll", poll_status(o->conf->name));
		json_object_set_new(j, "canary", canary_status(o->conf->name));
		json_object_set_new(j, "counters", store_counters(store, o->conf->name));
		json_t *work = proc_status(o->conf->name);
		json_object_update(j, work);
		json_decref(work);
		json_array_append_new(arr, j);
	}
	if (org && json_array_size(arr) == 0) {
		json_decref(arr);
		free(since);
		return error("no such org");
	}
	agent = json_pack("{s:s, s:i, s:s, s:s, s:I, s:o}", "version", CT_VERSION, "pid",
			  (int)getpid(), "started", since, "public_url", cfg->public_url, "orgs",
			  (json_int_t)orgs_count(), "store_trouble", store_trouble(store));
	free(since);
	return reply(json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "agent", agent, "orgs", arr,
			       "alarms", alarms_list(org)));
}

char *
ctl_handle(const char *line)
{
	json_t *req = json_loads(line, 0, NULL);
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const char *name = json_string_value(json_object_get(req, "org"));
	struct org *o = name ? org_find(name) : NULL;
	char *out;

	if (!cmd)
		out = error("expected {\"cmd\": ...}");
	else if (!strcmp(cmd, "status"))
		out = status(name);
	else if (!strcmp(cmd, "ping"))
		out = reply(json_pack("{s:b}", "ok", 1));
	else if (!strcmp(cmd, "events")) {
		json_int_t limit = json_integer_value(json_object_get(req, "limit"));
		out = reply(json_pack("{s:b, s:o}", "ok", 1, "events",
				      store_events(store, name, limit > 0 ? limit : 50)));
	} else if (!strcmp(cmd, "outbox")) {
		json_int_t since = json_integer_value(json_object_get(req, "since"));
		json_int_t limit = json_integer_value(json_object_get(req, "limit"));
		out = reply(json_pack("{s:b, s:o, s:I}", "ok", 1, "entries",
				      store_outbox_since(store, since, limit > 0 ? limit : 100),
				      "last", (json_int_t)store_outbox_last(store)));
	} else if (!strcmp(cmd, "alarms")) {
		out = reply(json_pack("{s:b, s:o}", "ok", 1, "alarms", alarms_list(name)));
	} else if (!strcmp(cmd, "dead-letters") && json_is_true(json_object_get(req, "clear"))) {
		int n = o ? store_dead_clear(store, name) : -1;
		if (n < 0) {
			out = error(!o ? "org is required" : "the store failed");
		} else {
			log_info("ctl", "org %s: %d dead letter(s) cleared by an operator", name,
				 n);
			out = reply(json_pack("{s:b, s:i}", "ok", 1, "cleared", n));
		}
	} else if (!strcmp(cmd, "dead-letters")) {
		json_int_t limit = json_integer_value(json_object_get(req, "limit"));
		out = reply(json_pack("{s:b, s:o}", "ok", 1, "dead_letters",
				      store_dead_letters(store, name, limit > 0 ? limit : 50)));
	} else if (!strcmp(cmd, "test-match")) {
		json_t *m = json_object_get(req, "message");
		json_t *v = o && json_is_object(m) ? proc_test_match(name, m) : NULL;
		if (!v)
			out =
			    error(!o ? "org is required" : "message must be a chatMessage object");
		else
			out = reply(json_pack("{s:b, s:o}", "ok", 1, "result", v));
	} else if (strcmp(cmd, "login") && strcmp(cmd, "logout"))
		out = error("unknown command");
	else if (!o)
		out = error(name ? "no such org" : "org is required");
	else if (!strcmp(cmd, "login")) {
		char *link = auth_link_new(o, cfg->public_url);
		out = reply(json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "org", name, "url", link,
				      "expires_in", AUTH_LINK_TTL));
		free_secret(link);
	} else {
		/* the subscription goes first: deleting it needs the token */
		subs_logout(name);
		org_logout(o);
		out = reply(json_pack("{s:b, s:s}", "ok", 1, "org", name));
	}
	json_decref(req);
	return out;
}
