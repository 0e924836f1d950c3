#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "ctl.h"
#include "org.h"
#include "util.h"

static const struct conf *cfg;
static double started;

void
ctl_init(const struct conf *c)
{
	cfg = c;
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
		if (!org || !strcmp(o->conf->name, org))
			json_array_append_new(arr, org_status(o));
	}
	if (org && json_array_size(arr) == 0) {
		json_decref(arr);
		free(since);
		return error("no such org");
	}
	agent = json_pack("{s:s, s:i, s:s, s:s, s:I}", "version", CT_VERSION, "pid", (int)getpid(),
			  "started", since, "public_url", cfg->public_url, "orgs",
			  (json_int_t)orgs_count());
	free(since);
	return reply(json_pack("{s:b, s:o, s:o}", "ok", 1, "agent", agent, "orgs", arr));
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
	else if (strcmp(cmd, "login") && strcmp(cmd, "logout"))
		out = error("unknown command");
	else if (!o)
		out = error(name ? "no such org" : "org is required");
	else if (!strcmp(cmd, "login")) {
		char *link = auth_link_new(o, cfg->public_url);
		out = reply(json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "org", name, "url", link,
				      "expires_in", AUTH_LINK_TTL));
		free_secret(link);
	} else {
		org_logout(o);
		out = reply(json_pack("{s:b, s:s}", "ok", 1, "org", name));
	}
	json_decref(req);
	return out;
}
