/*
 * Nagios takes objects one by one; Icinga's shipped apply rules make the
 * services of every org a host names in vars.ctteams_orgs, so for Icinga
 * only the hosts are printed, unless service_name differs from the names
 * those rules give (then every service is an object of its own). Names go
 * through names_fill(), as the agent's passive results do.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "names.h"
#include "objects.h"

#define DEFAULT_SOCKET  "/run/ctteams/ctteamsd-monitor.sock"
#define DEFAULT_SERVICE "ctteams-%c-%o"

/* What each check's service is made of, in both consoles. */
static const struct check {
	const char *check;       /* %c */
	const char *nagios;      /* the Nagios template */
	const char *icinga;      /* the Icinga template */
	const char *command;     /* the Icinga CheckCommand; Nagios: check_ + it */
	const char *args;        /* more plugin options, or "" */
	const char *nagios_more; /* more Nagios directives, or "" */
	const char *icinga_more; /* more Icinga attributes, or "" */
	const char *notes;       /* what to do, under runbook_base_url */
} checks[] = {
    {"emergency", "ctteams-emergency-service", "ctteams-emergency-service", "ctteams_emergency", "",
     "", "", "operator-procedure.md"},
    {"unacknowledged", "ctteams-unacknowledged-service", "ctteams-unacknowledged-service",
     "ctteams_emergency", "-a 3600", "", "\tvars.ctteams_emergency_age = 3600\n",
     "operator-procedure.md"},
    {"auth", "ctteams-service", "ctteams-service", "ctteams_auth", "", "", "",
     "alarms.md#sign-in-state-of-an-org-auth_state"},
    {"subscription", "ctteams-service", "ctteams-service", "ctteams_subscription", "", "", "",
     "alarms.md#subscription-subscriptionstate"},
    {"secret", "ctteams-service", "ctteams-service", "ctteams_secret",
     "-w 30: -c 7:", "    check_interval          60\n    notification_interval   1440\n",
     "\tcheck_interval = 1h\n", "alarms.md#client-secret-expiry"},
    {"delivery", "ctteams-service", "ctteams-service", "ctteams_delivery", "", "", "",
     "alarms.md#delivery-gap-polldelivery_gap-counter-recovered_by_poll-canarymissed"},
};

#define AGENT_NOTES "alarms.md#agent-liveness-heartbeat"

struct objs {
	FILE *out;
	const char *host_tmpl, *service_tmpl, *socket, *docs;
	const json_t *orgs;
	double heartbeat;
};

static const char *
str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : dflt;
}

static const char *
org_at(const struct objs *o, size_t i)
{
	return json_string_value(json_array_get(o->orgs, i));
}

/* The distinct hosts, in the orgs' order: one, or one per org. */
static size_t
hosts(const struct objs *o, char ***ret)
{
	size_t n = 0, k;
	char **h = calloc(json_array_size(o->orgs) + 1, sizeof(*h));

	if (!h)
		abort();
	for (size_t i = 0; i < json_array_size(o->orgs); i++) {
		char *name = names_fill(o->host_tmpl, org_at(o, i), "");
		for (k = 0; k < n && strcmp(h[k], name) != 0; k++)
			;
		if (k < n)
			free(name);
		else
			h[n++] = name;
	}
	*ret = h;
	return n;
}

static void
free_hosts(char **h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i]);
	free(h);
}

static void
header(const struct objs *o, const char *console, const char *shipped)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(o->out,
		"%s Written by ctteamsctl config %s at %s: the hosts and services of\n"
		"%s ctteamsd's %zu org(s), beside %s (its commands and templates;\n"
		"%s /usr/share/doc/ctteams/examples). Written again when orgs change.\n\n",
		console[0] == 'n' ? "#" : "//", console, when, console[0] == 'n' ? "#" : "//",
		json_array_size(o->orgs), shipped, console[0] == 'n' ? "#" : "//");
}

/* " -S PATH" when the agent's monitoring socket is not the plugins' default */
static const char *
socket_arg(const struct objs *o, char *buf, size_t len)
{
	if (!strcmp(o->socket, DEFAULT_SOCKET))
		return "";
	snprintf(buf, len, " -S %s", o->socket);
	return buf;
}

static void
nagios_org(const struct objs *o, const char *org)
{
	char *host = names_fill(o->host_tmpl, org, ""), sock[512];
	char *names[sizeof(checks) / sizeof(checks[0])];

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct check *c = &checks[i];
		char *svc = names_fill(o->service_tmpl, org, c->check);
		const char *more = socket_arg(o, sock, sizeof(sock));
		fprintf(o->out,
			"define service {\n"
			"    host_name               %s\n"
			"    service_description     %s\n"
			"    use                     %s\n"
			"%s"
			"    check_command           check_%s!%s%s%s%s\n"
			"    notes_url               %s/%s\n"
			"}\n\n",
			host, svc, c->nagios, c->nagios_more, c->command, org,
			*c->args || *more ? "!" : "", c->args, more, o->docs, c->notes);
		names[i] = svc;
	}
	/* the subscription and delivery wait on the sign-in: nagios/ctteams.cfg */
	fprintf(o->out,
		"define servicedependency {\n"
		"    host_name                       %s\n"
		"    service_description             %s\n"
		"    dependent_host_name             %s\n"
		"    dependent_service_description   %s,%s\n"
		"    notification_failure_criteria   c\n"
		"    execution_failure_criteria      n\n"
		"}\n\n",
		host, names[2], host, names[3], names[5]);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		free(names[i]);
	free(host);
}

static void
nagios(const struct objs *o)
{
	char **h;
	size_t n = hosts(o, &h);

	header(o, "nagios", "ctteams.cfg");
	for (size_t i = 0; i < n; i++) {
		fprintf(o->out,
			"define host {\n"
			"    host_name               %s\n"
			"    alias                   ctteamsd: Teams emergency calls\n"
			"    address                 127.0.0.1\n"
			"    use                     ctteams-host\n"
			"}\n\n",
			h[i]);
		/* no heartbeat for two intervals: CRITICAL */
		fprintf(o->out,
			"define service {\n"
			"    host_name               %s\n"
			"    service_description     ctteams-agent\n"
			"    use                     ctteams-agent-service\n"
			"    notes_url               %s/" AGENT_NOTES "\n",
			h[i], o->docs);
		if (o->heartbeat > 0)
			fprintf(o->out, "    freshness_threshold     %.0f\n", 2 * o->heartbeat);
		else
			fprintf(o->out, "    check_freshness         0\n");
		fprintf(o->out, "}\n\n");
	}
	for (size_t i = 0; i < json_array_size(o->orgs); i++)
		nagios_org(o, org_at(o, i));
	free_hosts(h, n);
}

/* Icinga's services, when service_name is not what the apply rules give */
static void
icinga_services(const struct objs *o, const char *org)
{
	char *host = names_fill(o->host_tmpl, org, "");

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct check *c = &checks[i];
		char *svc = names_fill(o->service_tmpl, org, c->check);
		fprintf(o->out,
			"object Service \"%s\" {\n"
			"\timport \"%s\"\n"
			"\thost_name = \"%s\"\n"
			"\tcheck_command = \"%s\"\n"
			"\tvars.ctteams_org = \"%s\"\n"
			"\tnotes_url = \"%s/%s\"\n"
			"%s"
			"}\n\n",
			svc, c->icinga, host, c->command, org, o->docs, c->notes, c->icinga_more);
		free(svc);
	}
	{
		char *auth = names_fill(o->service_tmpl, org, "auth");
		for (size_t i = 3; i < sizeof(checks) / sizeof(checks[0]); i += 2) {
			char *svc = names_fill(o->service_tmpl, org, checks[i].check);
			fprintf(o->out,
				"object Dependency \"ctteams-sign-in\" {\n"
				"\tparent_host_name = \"%s\"\n"
				"\tparent_service_name = \"%s\"\n"
				"\tchild_host_name = \"%s\"\n"
				"\tchild_service_name = \"%s\"\n"
				"\tstates = [ OK, Warning ]\n"
				"\tdisable_notifications = true\n"
				"}\n\n",
				host, auth, host, svc);
			free(svc);
		}
		free(auth);
	}
	free(host);
}

static void
icinga(const struct objs *o)
{
	bool by_rules = !strcmp(o->service_tmpl, DEFAULT_SERVICE);
	char **h;
	size_t n = hosts(o, &h);

	header(o, "icinga", "ctteams-icinga2.conf");
	for (size_t i = 0; i < n; i++) {
		fprintf(o->out,
			"object Host \"%s\" {\n"
			"\tcheck_command = \"hostalive\"\n"
			"\taddress = \"127.0.0.1\"\n",
			h[i]);
		/* the orgs whose services this host has: the apply rules' key */
		fprintf(o->out, "\tvars.%s = [", by_rules ? "ctteams_orgs" : "ctteams_orgs_named");
		for (size_t k = 0, first = 1; k < json_array_size(o->orgs); k++) {
			char *host = names_fill(o->host_tmpl, org_at(o, k), "");
			if (!strcmp(host, h[i])) {
				fprintf(o->out, "%s\"%s\"", first ? " " : ", ", org_at(o, k));
				first = 0;
			}
			free(host);
		}
		fprintf(o->out, " ]\n");
		if (strcmp(o->socket, DEFAULT_SOCKET) != 0)
			fprintf(o->out, "\tvars.ctteams_socket = \"%s\"\n", o->socket);
		/* the apply rules' notes_url: where the NOC reads docs/ */
		fprintf(o->out, "\tvars.ctteams_docs = \"%s\"\n", o->docs);
		fprintf(o->out, "}\n\n");
		if (!by_rules)
			fprintf(o->out,
				"object Service \"ctteams-agent\" {\n"
				"\timport \"ctteams-agent-service\"\n"
				"\thost_name = \"%s\"\n"
				"\tnotes_url = \"%s/" AGENT_NOTES "\"\n"
				"}\n\n",
				h[i], o->docs);
	}
	if (!by_rules)
		for (size_t i = 0; i < json_array_size(o->orgs); i++)
			icinga_services(o, org_at(o, i));
	free_hosts(h, n);
}

int
obj_print(FILE *out, const char *console, const json_t *cfg)
{
	struct objs o = {
	    .out = out,
	    .host_tmpl = str(cfg, "passive_host", "ctteams"),
	    .service_tmpl = str(cfg, "service_name", DEFAULT_SERVICE),
	    .socket = str(cfg, "monitor_socket", DEFAULT_SOCKET),
	    .docs = str(cfg, "runbook_base_url", "/usr/share/doc/ctteams"),
	    .orgs = json_object_get(cfg, "orgs"),
	    .heartbeat = json_number_value(json_object_get(cfg, "heartbeat_interval")),
	};

	if (!strcmp(console, "nagios"))
		nagios(&o);
	else if (!strcmp(console, "icinga"))
		icinga(&o);
	else
		return -1;
	return 0;
}
