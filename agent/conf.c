/*
 * The configuration parser: libinih reads the INI syntax; a counting reader
 * gives every key its line; a table maps keys to checkers. Problems are
 * collected, not fatal one by one, so an operator sees them all at once.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

struct parse {
	struct conf *c;
	struct conf_org *org; /* current [org] section, NULL in [agent] */
	bool in_agent;
	bool bad_section;
	FILE *f;
	int line;
	char section[256]; /* the section being read */
	bool started;
	char *errors;
	size_t n_errors;
	char seen[64][40]; /* keys seen in the current section */
	int n_seen;
	char empty[32][300]; /* "section key" given with no value: said once */
	int n_empty;
};

/* Appends "FILE:LINE: [kind: ]message" to *list (line 0: the file as a
 * whole, e.g. something missing). */
static void __attribute__((format(printf, 4, 0)))
note(struct parse *p, char **list, const char *kind, const char *fmt, va_list ap)
{
	char msg[512], where[32] = "";
	char *joined;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (p->line > 0)
		snprintf(where, sizeof(where), ":%d", p->line);
	joined = xprintf("%s%s%s: %s%s\n", *list ? *list : "", p->c->path, where, kind, msg);
	free(*list);
	*list = joined;
}

static void __attribute__((format(printf, 2, 3))) problem(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(p, &p->errors, "", fmt, ap);
	va_end(ap);
	p->n_errors++;
}

/* Valid, but worth a second look: kept apart from the errors. */
static void __attribute__((format(printf, 2, 3))) warning(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(p, &p->c->warnings, "warning: ", fmt, ap);
	va_end(ap);
}

static void section_start(struct parse *p, const char *section);

/* yes/true/on or no/false/off */
static void
yes_no(struct parse *p, const char *k, const char *v, bool *ret)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
		*ret = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
		*ret = false;
	else
		problem(p, "%s: yes or no", k);
}

static char *
reader(char *buf, int size, void *stream)
{
	struct parse *p = stream;
	char *r = fgets(buf, size, p->f);

	if (r) {
		size_t n = strlen(r);
		const char *t = r + strspn(r, " \t");
		const char *close = t[0] == '[' ? strchr(t, ']') : NULL;
		p->line++;
		/* inih only reports keys; a section header is seen here, so an
		 * empty or misnamed section is still checked, at its own line */
		if (close) {
			char name[256];
			const char *a = t + 1 + strspn(t + 1, " \t"), *b = close;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			snprintf(name, sizeof(name), "%.*s", (int)(b - a), a);
			p->started = true;
			snprintf(p->section, sizeof(p->section), "%s", name);
			section_start(p, name);
		}
		if (n == (size_t)size - 1 && r[n - 1] != '\n') {
			/* a line longer than inih's buffer would be split silently */
			problem(p,
				"line longer than %d characters; split a list over repeated "
				"keys",
				size - 2);
			int ch;
			while ((ch = fgetc(p->f)) != EOF && ch != '\n')
				;
		}
	}
	return r;
}

int
conf_duration(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		*ret = v;
	else if (!strcmp(end, "m"))
		*ret = v * 60;
	else if (!strcmp(end, "h"))
		*ret = v * 3600;
	else if (!strcmp(end, "d"))
		*ret = v * 86400;
	else
		return -1;
	return 0;
}

bool
conf_org_name_valid(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	for (; *name; name++)
		if (!isalnum((unsigned char)*name) && *name != '-' && *name != '_')
			return false;
	return true;
}

static bool
is_guid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* https://host[:port] (http:// only for loopback hosts, for tests). */
static const char *
url_check(const char *v, bool allow_path)
{
	struct url u;

	if (url_parse(v, &u) < 0)
		return "not a URL of the form https://host[:port]";
	if (!strcmp(u.scheme, "http") && !url_host_is_loopback(u.host))
		return "must be https (http only for loopback hosts)";
	if (strcmp(u.scheme, "http") && strcmp(u.scheme, "https"))
		return "must be https";
	if (!allow_path && u.path[0] && strcmp(u.path, "/"))
		return "must not have a path";
	return NULL;
}

static char *
strip_slash(const char *v)
{
	char *s = xstrdup(v);
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

/* ---- [agent] keys ---- */

static int
set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
	return 0;
}

static void secret_file_check(struct parse *p, const char *key, const char *v);

/* A host or service name, with %o (org) and %c (check) to be filled in:
 * what Nagios and Icinga take in a name, nothing a command could split. */
static bool
name_template_valid(const char *v)
{
	if (!*v || strlen(v) > 128)
		return false;
	for (; *v; v++) {
		if (*v == '%' && (v[1] == 'o' || v[1] == 'c' || v[1] == '%'))
			v++;
		else if (!isalnum((unsigned char)*v) && !strchr("-_.", *v))
			return false;
	}
	return true;
}

/* The passive check results' keys; false: not one of them. */
static bool
passive_key(struct parse *p, const char *k, const char *v)
{
	struct conf *c = p->c;
	const char *why;
	double d;

	if (!strcmp(k, "passive_host") || !strcmp(k, "service_name")) {
		if (!name_template_valid(v))
			problem(
			    p,
			    "%s: a name as Nagios or Icinga knows it: letters, digits, '-', '_', "
			    "'.', with %%o for the org%s",
			    k, !strcmp(k, "service_name") ? " and %c for the check" : "");
		else if (!strcmp(k, "service_name") && !strstr(v, "%c"))
			problem(p, "service_name: needs %%c, the check (emergency, auth, ...)");
		else if (!strcmp(k, "passive_host") && strstr(v, "%c"))
			problem(p, "passive_host: %%o only; the check is the service's");
		set_str(!strcmp(k, "passive_host") ? &c->passive_host : &c->service_name, v);
	} else if (!strcmp(k, "nagios_command_file") || !strcmp(k, "icinga_ca_file")) {
		if (v[0] != '/')
			problem(p, "%s: must be an absolute path", k);
		set_str(!strcmp(k, "nagios_command_file") ? &c->nagios_command_file
							  : &c->icinga_ca_file,
			v);
	} else if (!strcmp(k, "icinga_url")) {
		if ((why = url_check(v, false)))
			problem(p, "icinga_url: %s", why);
		else {
			free(c->icinga_url);
			c->icinga_url = strip_slash(v);
		}
	} else if (!strcmp(k, "icinga_user")) {
		set_str(&c->icinga_user, v);
	} else if (!strcmp(k, "icinga_password_file")) {
		secret_file_check(p, k, v);
		set_str(&c->icinga_password_file, v);
	} else if (!strcmp(k, "runbook_base_url")) {
		if ((v[0] != '/' && strncmp(v, "https://", 8) != 0 &&
		     strncmp(v, "http://", 7) != 0) ||
		    strpbrk(v, " \t\"'\\<>`$"))
			/* it goes into the consoles' objects, quoted, and into traps */
			problem(p, "runbook_base_url: an http(s) URL or an absolute path, "
				   "without spaces or quotes");
		free(c->runbook_base_url);
		c->runbook_base_url = strip_slash(v);
	} else if (!strcmp(k, "monitor_ack")) {
		yes_no(p, k, v, &c->monitor_ack);
	} else if (!strcmp(k, "heartbeat_interval")) {
		if (conf_duration(v, &d) < 0 || d < 0)
			problem(p, "heartbeat_interval: a duration such as 5m, or 0 for none");
		else
			c->heartbeat_interval = d;
	} else if (!strcmp(k, "icinga_ttl") || !strcmp(k, "passive_max_age")) {
		if (conf_duration(v, &d) < 0 || d <= 0)
			problem(p, "%s: a positive duration such as 5m or 24h", k);
		else if (!strcmp(k, "icinga_ttl"))
			c->icinga_ttl = d;
		else
			c->passive_max_age = d;
	} else
		return false;
	return true;
}

/* tcp:A.B.C.D:PORT */
static bool
agentx_tcp_ok(const char *v)
{
	char host[64];
	const char *colon;
	struct in_addr a;
	char *end;
	long port;

	if (strncmp(v, "tcp:", 4) != 0 || !(colon = strrchr(v + 4, ':')) ||
	    (size_t)(colon - (v + 4)) >= sizeof(host))
		return false;
	memcpy(host, v + 4, (size_t)(colon - (v + 4)));
	host[colon - (v + 4)] = '\0';
	port = strtol(colon + 1, &end, 10);
	return inet_pton(AF_INET, host, &a) == 1 && !*end && port > 0 && port < 65536;
}

/* The SNMP subagent's keys; false: not one of them. */
static bool
snmp_key(struct parse *p, const char *k, const char *v)
{
	struct conf *c = p->c;
	char *end;
	double d;
	long n;

	if (!strcmp(k, "agentx_socket")) {
		if (!strcmp(v, "off")) {
			free(c->agentx_socket);
			c->agentx_socket = NULL;
		} else if (v[0] != '/' && !agentx_tcp_ok(v))
			/* net-snmp resolves names and connects blocking: an
			 * address literal keeps a lookup out of the event loop */
			problem(p,
				"agentx_socket: an absolute path, tcp:IPV4-ADDRESS:PORT, or off");
		else
			set_str(&c->agentx_socket, v);
	} else if (!strcmp(k, "agentx_timeout") || !strcmp(k, "agentx_reconnect") ||
		   !strcmp(k, "trap_max_age")) {
		if (conf_duration(v, &d) < 0 || d <= 0)
			problem(p, "%s: a positive duration such as 1s, 30s or 1h", k);
		else if (!strcmp(k, "agentx_timeout") && d > 60)
			problem(p, "agentx_timeout: at most 60s (a slow master must not stall "
				   "the agent)");
		else if (!strcmp(k, "agentx_reconnect") && d < 1)
			problem(p, "agentx_reconnect: at least 1s");
		else if (!strcmp(k, "agentx_timeout"))
			c->agentx_timeout = d;
		else if (!strcmp(k, "agentx_reconnect"))
			c->agentx_reconnect = d;
		else
			c->trap_max_age = d;
	} else if (!strcmp(k, "agentx_retries") || !strcmp(k, "snmp_events")) {
		bool retries = !strcmp(k, "agentx_retries");
		n = strtol(v, &end, 10);
		if (*end || n < (retries ? 0 : 1) || n > (retries ? 10 : 1000))
			problem(p, retries ? "agentx_retries: from 0 to 10"
					   : "snmp_events: from 1 to 1000 rows");
		else if (retries)
			c->agentx_retries = n;
		else
			c->snmp_events = n;
	} else
		return false;
	return true;
}

/* metrics_listen: off, a port (on loopback), or ADDRESS:PORT */
static void
metrics_key(struct parse *p, const char *v)
{
	struct conf *c = p->c;
	char *host = NULL, *end;
	struct sockaddr_storage ss;
	long port;
	int iport;
	bool v6;

	free(c->metrics_addr);
	c->metrics_addr = NULL;
	if (!strcmp(v, "off"))
		return;
	port = strtol(v, &end, 10);
	if (*end == '\0' && port > 0 && port < 65536) {
		c->metrics_addr = xstrdup("127.0.0.1");
		c->metrics_port = (int)port;
	} else if (addr_parse(v, &host, &iport) == 0 && sockaddr_of(host, iport, &ss, &v6) == 0) {
		/* an address, as the listener needs it: no name to look up */
		c->metrics_addr = host;
		c->metrics_port = iport;
	} else {
		free(host);
		problem(p, "metrics_listen: off, a port (on loopback), or IP-ADDRESS:PORT, e.g. "
			   "127.0.0.1:9911 or [::1]:9911");
	}
}

/* user:password@ in a URI's authority, or a password= parameter */
static bool
uri_has_password(const char *uri)
{
	const char *auth = strstr(uri, "://"), *at, *end;

	if (strstr(uri, "password="))
		return true;
	if (!auth)
		return false;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	return at && memchr(auth, ':', (size_t)(at - auth));
}

static void
agent_key(struct parse *p, const char *k, const char *v)
{
	struct conf *c = p->c;
	const char *why;
	double d;

	if (snmp_key(p, k, v) || passive_key(p, k, v))
		return;
	if (!strcmp(k, "public_url")) {
		if ((why = url_check(v, false)))
			problem(p, "public_url: %s", why);
		else {
			free(c->public_url);
			c->public_url = strip_slash(v);
		}
	} else if (!strcmp(k, "listen")) {
		char *host;
		int port;
		if (addr_parse(v, &host, &port) < 0)
			problem(p, "listen: expected ADDRESS:PORT, e.g. 0.0.0.0:443 or [::]:8443");
		else {
			free(c->listen_addr);
			c->listen_addr = host;
			c->listen_port = port;
		}
	} else if (!strcmp(k, "metrics_listen")) {
		metrics_key(p, v);
	} else if (!strcmp(k, "tls_cert") || !strcmp(k, "tls_key") || !strcmp(k, "ca_file")) {
		if (access(v, R_OK) != 0)
			problem(p, "%s: cannot read %s: %s", k, v, strerror(errno));
		set_str(!strcmp(k, "tls_cert")  ? &c->tls_cert
			: !strcmp(k, "tls_key") ? &c->tls_key
						: &c->ca_file,
			v);
	} else if (!strcmp(k, "monitor_socket")) {
		if (!strcmp(v, "off")) {
			free(c->monitor_socket);
			c->monitor_socket = NULL;
		} else if (v[0] != '/')
			problem(p, "monitor_socket: an absolute path, or off");
		else
			set_str(&c->monitor_socket, v);
	} else if (!strcmp(k, "monitor_group")) {
		struct group *g = getgrnam(v);
		if (!g)
			problem(p, "monitor_group: no group named '%s'", v);
		else
			c->monitor_group = (long)g->gr_gid;
	} else if (!strcmp(k, "database")) {
		if (!strcmp(v, "sqlite")) {
			free(c->database);
			c->database = NULL;
		} else if (strncmp(v, "postgresql://", 13) && strncmp(v, "postgres://", 11))
			problem(p, "database: sqlite, or a postgresql:// URI");
		else if (uri_has_password(v))
			/* the configuration is readable by more than the agent */
			problem(p, "database: no password in the URI: put it in "
				   "database_password_file");
		else
			set_str(&c->database, v);
	} else if (!strcmp(k, "database_password_file")) {
		if (v[0] != '/')
			problem(p, "%s: must be an absolute path", k);
		else if (access(v, R_OK) != 0)
			problem(p, "%s: cannot read %s: %s", k, v, strerror(errno));
		set_str(&c->database_password_file, v);
	} else if (!strcmp(k, "agent_name")) {
		if (!*v ||
		    strspn(v,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
			strlen(v) ||
		    strlen(v) > 64)
			problem(p, "agent_name: letters, digits, '.', '-' and '_', at most 64");
		else
			set_str(&c->agent_name, v);
	} else if (!strcmp(k, "lease_time")) {
		if (conf_duration(v, &d) < 0 || d < 3 || d > 300)
			problem(p, "lease_time: a duration from 3s to 5m");
		else
			c->lease_time = d;
	} else if (!strcmp(k, "state_dir") || !strcmp(k, "control_socket")) {
		if (v[0] != '/')
			problem(p, "%s: must be an absolute path", k);
		set_str(!strcmp(k, "state_dir") ? &c->state_dir : &c->control_socket, v);
	} else if (!strcmp(k, "authority_host") || !strcmp(k, "graph_endpoint")) {
		if ((why = url_check(v, false)))
			problem(p, "%s: %s", k, why);
		else {
			char **f =
			    !strcmp(k, "authority_host") ? &c->authority_host : &c->graph_endpoint;
			free(*f);
			*f = strip_slash(v);
		}
	} else if (!strcmp(k, "allow_from") || !strcmp(k, "trust_proxy") ||
		   !strcmp(k, "signin_from")) {
		struct cidr_list *l = !strcmp(k, "allow_from")    ? &c->allow_from
				      : !strcmp(k, "signin_from") ? &c->signin_from
								  : &c->trust_proxy;
		char *bad = NULL;
		cidr_clear(l);
		if (cidr_parse(v, l, &bad) < 0) {
			problem(p, "%s: '%s' is not an address or CIDR block", k, bad);
			free(bad);
		}
	} else if (!strcmp(k, "log_level")) {
		if (log_level_parse(v, &c->log_level) < 0)
			problem(p, "log_level: one of error, warning, info, debug");
	} else if (!strcmp(k, "refresh_margin") || !strcmp(k, "http_connect_timeout") ||
		   !strcmp(k, "http_timeout") || !strcmp(k, "subscription_lifetime") ||
		   !strcmp(k, "renew_margin") || !strcmp(k, "reconcile_interval") ||
		   !strcmp(k, "poll_interval") || !strcmp(k, "backfill_delay") ||
		   !strcmp(k, "event_alarm_hold") || !strcmp(k, "event_retention") ||
		   !strcmp(k, "encryption_cert_rotation") || !strcmp(k, "header_timeout") ||
		   !strcmp(k, "body_timeout") || !strcmp(k, "throttle_alarm_after") ||
		   !strcmp(k, "output_stuck_after")) {
		if (conf_duration(v, &d) < 0 || d <= 0)
			problem(p, "%s: a positive duration such as 30s, 10m or 1h", k);
		else if ((!strcmp(k, "header_timeout") || !strcmp(k, "body_timeout")) && d > 3600)
			problem(p, "%s: at most 1h", k);
		else if (!strcmp(k, "subscription_lifetime") && d > 4320 * 60)
			problem(p, "subscription_lifetime: Graph allows at most 4320m (3 days) for "
				   "chat messages");
		else if (!strcmp(k, "subscription_lifetime"))
			c->subscription_lifetime = d;
		else if (!strcmp(k, "renew_margin"))
			c->renew_margin = d;
		else if (!strcmp(k, "backfill_delay"))
			c->backfill_delay = d;
		else if (!strcmp(k, "event_alarm_hold"))
			c->event_alarm_hold = d;
		else if (!strcmp(k, "event_retention"))
			c->event_retention = d;
		else if (!strcmp(k, "reconcile_interval") || !strcmp(k, "poll_interval")) {
			/* poll_interval: the name before the reconcile was rebuilt */
			if (!strcmp(k, "poll_interval"))
				warning(p, "poll_interval is now called reconcile_interval");
			if (d < 3600)
				warning(p,
					"%s: Microsoft allows polling a Teams resource for "
					"changes about once a day; a sweep every %.0f s may get "
					"the app throttled or suspended",
					k, d);
			c->reconcile_interval = d;
		} else if (!strcmp(k, "encryption_cert_rotation"))
			c->cert_rotation = d;
		else if (!strcmp(k, "header_timeout"))
			c->header_timeout = d;
		else if (!strcmp(k, "throttle_alarm_after"))
			c->throttle_alarm_after = d;
		else if (!strcmp(k, "output_stuck_after"))
			c->output_stuck_after = d;
		else if (!strcmp(k, "body_timeout"))
			c->body_timeout = d;
		else if (!strcmp(k, "refresh_margin"))
			c->refresh_margin = d;
		else if (!strcmp(k, "http_connect_timeout"))
			c->http_connect_timeout = d;
		else
			c->http_timeout = d;
	} else if (!strcmp(k, "event_max")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 10 || n > 100000000)
			problem(p, "event_max: a number of events from 10 up");
		else
			c->event_max = n;
	} else if (!strcmp(k, "dead_letter_after")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 1000)
			problem(p, "dead_letter_after: a number of tries from 1 to 1000");
		else
			c->dead_letter_after = n;
	} else if (!strcmp(k, "max_connections_per_address")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 0 || n > 100000)
			problem(p, "max_connections_per_address: a number of connections (0: no "
				   "limit)");
		else
			c->max_per_address = n;
	} else if (!strcmp(k, "max_connections") || !strcmp(k, "max_body") ||
		   !strcmp(k, "max_body_total")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > (!strcmp(k, "max_body_total") ? 1073741824L : 100000000L))
			problem(p, "%s: a positive integer", k);
		else if (!strcmp(k, "max_connections"))
			c->max_connections = n;
		else if (!strcmp(k, "max_body_total"))
			c->max_body_total = n;
		else
			c->max_body = n;
	} else {
		problem(p, "unknown key '%s' in [agent]", k);
	}
}

/* ---- [org NAME] keys ---- */

static int
date_parse(const char *v, time_t *ret)
{
	struct tm tm = {0};
	int n = 0;

	if (sscanf(v, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || v[n] ||
	    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ret = timegm(&tm);
	return 0;
}

static void
secret_file_check(struct parse *p, const char *key, const char *v)
{
	struct stat st;

	if (v[0] != '/')
		problem(p, "%s: must be an absolute path", key);
	else if (stat(v, &st) != 0)
		problem(p, "%s: %s: %s", key, v, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		problem(p, "%s: %s is not a regular file", key, v);
	else if (st.st_mode & 0007)
		problem(p,
			"%s: %s is readable by others (mode %03o); chmod 600 "
			"and give it to the daemon's user",
			key, v, (unsigned int)(st.st_mode & 0777));
	else if (st.st_mode & 0070)
		warning(p,
			"%s: %s is open to its group (mode %03o): every member "
			"can read the secret; chmod 600 and give it to the daemon's user",
			key, v, (unsigned int)(st.st_mode & 0777));
}

static void
org_key(struct parse *p, const char *k, const char *v)
{
	struct conf_org *o = p->org;
	const char *why;

	if (!strcmp(k, "tenant_id")) {
		if (!is_guid(v) && !strchr(v, '.'))
			problem(p, "tenant_id: a Directory (tenant) ID GUID or a verified domain");
		set_str(&o->tenant_id, v);
	} else if (!strcmp(k, "client_id")) {
		if (!is_guid(v))
			problem(p, "client_id: the Application (client) ID, a GUID");
		set_str(&o->client_id, v);
	} else if (!strcmp(k, "client_secret_file")) {
		secret_file_check(p, "client_secret_file", v);
		set_str(&o->client_secret_file, v);
	} else if (!strcmp(k, "client_secret_expires")) {
		if (date_parse(v, &o->client_secret_expires) < 0)
			problem(p, "client_secret_expires: a date, YYYY-MM-DD");
	} else if (!strcmp(k, "service_user")) {
		if (!strchr(v, '@') || strchr(v, ' '))
			problem(p, "service_user: the user principal name, e.g. "
				   "svc-911@contoso.com");
		set_str(&o->service_user, v);
	} else if (!strcmp(k, "authority_host") || !strcmp(k, "graph_endpoint")) {
		if ((why = url_check(v, false)))
			problem(p, "%s: %s", k, why);
		else {
			char **f =
			    !strcmp(k, "authority_host") ? &o->authority_host : &o->graph_endpoint;
			free(*f);
			*f = strip_slash(v);
		}
	} else if (!strcmp(k, "emergency_regex")) {
		regex_t re;
		int rc = regcomp(&re, v, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char buf[200];
			regerror(rc, &re, buf, sizeof(buf));
			problem(p, "emergency_regex: not a POSIX extended regular expression: %s",
				buf);
		} else {
			regfree(&re);
		}
		set_str(&o->emergency_regex, v);
	} else if (!strcmp(k, "canary_chat")) {
		/* a chat id such as 19:...@thread.v2: no spaces, no slashes */
		if (!*v || strpbrk(v, " /?#"))
			problem(p, "canary_chat: a Teams chat id such as 19:...@thread.v2");
		set_str(&o->canary_chat, v);
	} else if (!strcmp(k, "canary_interval") || !strcmp(k, "canary_timeout")) {
		double d;
		if (conf_duration(v, &d) < 0 || d <= 0)
			problem(p, "%s: a positive duration such as 30s, 10m or 1h", k);
		else if ((!strcmp(k, "header_timeout") || !strcmp(k, "body_timeout")) && d > 3600)
			problem(p, "%s: at most 1h", k);
		else if (!strcmp(k, "canary_interval"))
			o->canary_interval = d;
		else
			o->canary_timeout = d;
	} else if (!strcmp(k, "token_issuers")) {
		/* space-separated; each an https URL, {tenant} standing for the id */
		for (const char *q = v; *q;) {
			size_t n = strcspn(q, " ");
			if (n && strncmp(q, "https://", 8) != 0)
				problem(p, "token_issuers: '%.*s' is not an https URL", (int)n, q);
			q += n;
			q += strspn(q, " ");
		}
		set_str(&o->token_issuers, v);
	} else if (!strcmp(k, "rich_notifications")) {
		yes_no(p, k, v, &o->rich_notifications);
		o->rich_given = true;
	} else if (!strcmp(k, "emergency_phrases") || !strcmp(k, "test_numbers")) {
		set_str(!strcmp(k, "test_numbers") ? &o->test_numbers : &o->emergency_phrases, v);
	} else {
		problem(p, "unknown key '%s' in [org %s]", k, o->name);
	}
}

static void
section_start(struct parse *p, const char *section)
{
	p->n_seen = 0;
	p->org = NULL;
	p->in_agent = false;
	p->bad_section = false;
	if (!strcmp(section, "agent")) {
		p->in_agent = true;
		return;
	}
	if (!strncmp(section, "org ", 4)) {
		const char *name = section + 4;
		while (*name == ' ')
			name++;
		if (!conf_org_name_valid(name)) {
			problem(p, "[org %s]: names use letters, digits, '-' and '_' only", name);
		} else if (conf_org_find(p->c, name)) {
			problem(p, "[org %s] appears twice", name);
		} else {
			struct conf_org *o = xcalloc(1, sizeof(*o));
			o->name = xstrdup(name);
			o->rich_notifications = true;
			o->canary_interval = 3600;
			o->canary_timeout = 600;
			p->c->orgs = xrealloc(p->c->orgs, (p->c->n_orgs + 1) * sizeof(*p->c->orgs));
			p->c->orgs[p->c->n_orgs++] = o;
			p->org = o;
			return;
		}
	} else if (!*section) {
		problem(p, "a key outside any section; start with [agent]");
	} else {
		problem(p, "unknown section [%s]; expected [agent] or [org NAME]", section);
	}
	p->bad_section = true;
}

static int
on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	/* Debian's inih does not call the handler at a section start; a
	 * change of section name marks one */
	if (!p->started || strcmp(p->section, section) != 0) {
		p->started = true;
		snprintf(p->section, sizeof(p->section), "%s", section);
		section_start(p, section);
	}
	if (p->bad_section)
		return 1;
	for (int i = 0; i < p->n_seen; i++) {
		if (!strcmp(p->seen[i], name)) {
			problem(p, "'%s' given twice in this section", name);
			return 1;
		}
	}
	if (p->n_seen < 64)
		snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", name);
	if (!*value) {
		problem(p, "'%s' has no value", name);
		if (p->n_empty < 32)
			snprintf(p->empty[p->n_empty++], sizeof(p->empty[0]), "%s %s", p->section,
				 name);
	} else if (p->in_agent)
		agent_key(p, name, value);
	else
		org_key(p, name, value);
	return 1;
}

static void
defaults(struct conf *c)
{
	c->state_dir = xstrdup("/var/lib/ctteams");
	c->lease_time = 15;
	c->control_socket = xstrdup("/run/ctteams/ctteamsd.sock");
	c->monitor_socket = xstrdup("/run/ctteams/ctteamsd-monitor.sock");
	c->monitor_group = -1;
	c->authority_host = xstrdup("https://login.microsoftonline.com");
	c->graph_endpoint = xstrdup("https://graph.microsoft.com");
	c->log_level = LOG_LVL_INFO;
	c->refresh_margin = 600;
	/* close to Graph's 4320 minutes, with room for clock skew */
	c->subscription_lifetime = 4230 * 60;
	c->renew_margin = 24 * 3600;
	c->reconcile_interval = 24 * 3600;
	c->dead_letter_after = 20;
	c->backfill_delay = 120;
	c->event_alarm_hold = 24 * 3600;
	c->throttle_alarm_after = 300;
	c->output_stuck_after = 600;
	c->heartbeat_interval = 300;
	c->runbook_base_url = xstrdup("/usr/share/doc/ctteams");
	c->event_retention = 90 * 86400;
	c->event_max = 100000;
	c->cert_rotation = 30 * 86400;
	c->http_connect_timeout = 10;
	c->http_timeout = 30;
	c->max_connections = 256;
	c->max_per_address = 32;
	c->max_body = 1024 * 1024;
	c->max_body_total = 64L * 1024 * 1024;
	c->header_timeout = 10;
	c->body_timeout = 30;
	/* the sign-in pages: loopback and private networks unless set */
	cidr_parse("127.0.0.0/8 ::1 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7",
		   &c->signin_from, NULL);
	/* net-snmp's default master socket; off if snmpd is not a master */
	c->agentx_socket = xstrdup("/var/agentx/master");
	c->agentx_timeout = 1;
	c->agentx_retries = 0;
	c->agentx_reconnect = 5;
	c->trap_max_age = 24 * 3600;
	c->snmp_events = 50;
	c->passive_host = xstrdup("ctteams");
	/* the check first: Icinga's "apply Service PREFIX for (org in ...)"
	 * names a service PREFIX + org */
	c->service_name = xstrdup("ctteams-%c-%o");
	c->passive_max_age = 24 * 3600;
}

/* A required key given with no value was said at its line already. */
static bool
given_empty(const struct parse *p, const char *section, const char *key)
{
	char want[sizeof(p->empty[0])];

	snprintf(want, sizeof(want), "%s %s", section, key);
	for (int i = 0; i < p->n_empty; i++)
		if (!strcmp(p->empty[i], want))
			return true;
	return false;
}

static void
finish(struct parse *p)
{
	struct conf *c = p->c;
	struct url u;

	p->line = 0;
	if (!c->public_url && !given_empty(p, "agent", "public_url"))
		problem(p,
			"[agent] public_url is required: the https URL Graph and browsers reach");
	if (c->max_body_total < c->max_body)
		problem(p, "[agent] max_body_total (%ld) must be at least max_body (%ld)",
			c->max_body_total, c->max_body);
	if (!!c->tls_cert != !!c->tls_key)
		problem(p, "[agent] tls_cert and tls_key go together (neither: plain HTTP behind a "
			   "TLS proxy)");
	if (!c->listen_addr && c->public_url && url_parse(c->public_url, &u) == 0) {
		c->listen_addr = xstrdup("0.0.0.0");
		c->listen_port = u.port;
	}
	if (c->n_orgs == 0)
		problem(p, "no [org NAME] section: nothing to monitor");
	if (c->icinga_url && (!c->icinga_user || !c->icinga_password_file || !c->icinga_ca_file))
		problem(p, "[agent] icinga_url needs icinga_user, icinga_password_file and "
			   "icinga_ca_file (the Icinga CA certificate)");
	if (c->renew_margin >= c->subscription_lifetime)
		problem(p, "[agent] renew_margin must be shorter than subscription_lifetime");
	if (c->n_orgs > 1 && !strstr(c->service_name, "%o") && !strstr(c->passive_host, "%o"))
		problem(p, "[agent] service_name or passive_host needs %%o: with several orgs, "
			   "each needs services of its own");
	for (size_t i = 0; i < c->n_orgs; i++) {
		struct conf_org *o = c->orgs[i];
		static const char *const req[] = {"tenant_id", "client_id", "client_secret_file",
						  "service_user"};
		const char *have[] = {o->tenant_id, o->client_id, o->client_secret_file,
				      o->service_user};
		char *section = xprintf("org %s", o->name);
		for (size_t k = 0; k < 4; k++)
			if (!have[k] && !given_empty(p, section, req[k]))
				problem(p, "[org %s] %s is required", o->name, req[k]);
		free(section);
		if (o->canary_chat && o->canary_timeout >= o->canary_interval)
			problem(p, "[org %s] canary_timeout must be shorter than canary_interval",
				o->name);
		/* each agent of a pair has its own encryption certificate: what
		 * Graph sealed for the active's, the standby cannot open */
		if (c->database && o->rich_notifications && o->rich_given)
			problem(p,
				"[org %s] rich_notifications = yes needs the agent's own "
				"encryption certificate, which a second agent sharing the "
				"database does not have: set it to no (high-availability.md)",
				o->name);
		else if (c->database)
			o->rich_notifications = false;
		if (!o->authority_host)
			o->authority_host = xstrdup(c->authority_host);
		if (!o->graph_endpoint)
			o->graph_endpoint = xstrdup(c->graph_endpoint);
	}
}

struct conf *
conf_load(const char *path, char **ret_errors)
{
	struct parse p = {0};
	int rc;

	p.c = xcalloc(1, sizeof(*p.c));
	p.c->path = xstrdup(path);
	defaults(p.c);
	p.f = fopen(path, "r");
	if (!p.f) {
		*ret_errors = xprintf("%s: %s\n", path, strerror(errno));
		conf_free(p.c);
		return NULL;
	}
	rc = ini_parse_stream(reader, &p, on_entry, &p);
	fclose(p.f);
	if (rc > 0 && p.n_errors == 0) {
		p.line = rc;
		problem(&p, "not INI syntax: expected [section] or key = value");
	}
	finish(&p);
	if (p.n_errors) {
		*ret_errors = p.errors;
		conf_free(p.c);
		return NULL;
	}
	*ret_errors = NULL;
	return p.c;
}

void
conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_orgs; i++) {
		struct conf_org *o = c->orgs[i];
		free(o->name);
		free(o->tenant_id);
		free(o->client_id);
		free(o->client_secret_file);
		free(o->service_user);
		free(o->authority_host);
		free(o->graph_endpoint);
		free(o->emergency_phrases);
		free(o->emergency_regex);
		free(o->test_numbers);
		free(o->token_issuers);
		free(o->canary_chat);
		free(o);
	}
	free(c->orgs);
	free(c->path);
	free(c->warnings);
	free(c->monitor_socket);
	free(c->agentx_socket);
	free(c->passive_host);
	free(c->service_name);
	free(c->runbook_base_url);
	free(c->nagios_command_file);
	free(c->icinga_url);
	free(c->icinga_user);
	free(c->icinga_password_file);
	free(c->icinga_ca_file);
	free(c->public_url);
	free(c->listen_addr);
	free(c->metrics_addr);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->state_dir);
	free(c->database);
	free(c->database_password_file);
	free(c->agent_name);
	free(c->control_socket);
	free(c->authority_host);
	free(c->graph_endpoint);
	free(c->ca_file);
	cidr_clear(&c->allow_from);
	cidr_clear(&c->trust_proxy);
	cidr_clear(&c->signin_from);
	free(c);
}

struct conf_org *
conf_org_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_orgs; i++)
		if (!strcmp(c->orgs[i]->name, name))
			return c->orgs[i];
	return NULL;
}
