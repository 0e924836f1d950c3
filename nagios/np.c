/*
 * The common run of a check: options, one request to the monitoring
 * socket, the verdict, one status line of at most NP_LINE_MAX characters,
 * long output, perfdata, and the exit code. A timeout (-t) is a deadline
 * for the request and, as a backstop, an alarm that ends the plugin
 * UNKNOWN whatever it is doing.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "np.h"
#include "text.h"

#define NP_LINE_MAX 80

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
static char timeout_line[128]; /* written by the alarm handler */

static void
append(char **buf, const char *sep, const char *text)
{
	size_t old = *buf ? strlen(*buf) : 0, n = strlen(text) + strlen(sep) + 1;
	char *b = realloc(*buf, old + n);

	if (!b)
		abort();
	if (old)
		strcpy(b + old, sep);
	else
		b[0] = '\0';
	strcat(b, text);
	*buf = b;
}

/* Text from outside can hold anything: keep the output's shape. */
static void
neutralise(char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			*s = '/';
		else if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
	}
}

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	neutralise(s);
	return s;
}

static void add(char **buf, const char *sep, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
add(char **buf, const char *sep, const char *fmt, va_list ap)
{
	char *s = vformat(fmt, ap);

	append(buf, sep, s);
	free(s);
}

void
np_say(struct np *np, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(&np->summary, ", ", fmt, ap);
	va_end(ap);
}

void
np_line(struct np *np, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add(&np->lines, "\n", fmt, ap);
	va_end(ap);
}

void
np_worse(struct np *np, enum np_state s)
{
	/* UNKNOWN only where nothing worse is known */
	if (s == NP_UNKNOWN ? np->state == NP_OK : (np->state == NP_UNKNOWN || s > np->state))
		np->state = s;
}

enum np_state
np_threshold(const struct np *np, double value)
{
	if (np_range_alert(&np->crit, value))
		return NP_CRITICAL;
	if (np_range_alert(&np->warn, value))
		return NP_WARNING;
	return NP_OK;
}

void
np_finish(struct np *np)
{
	char head[NP_LINE_MAX + 1];
	int n;

	n = snprintf(head, sizeof(head), "CTTEAMS %s %s - %s", np->service, state_names[np->state],
		     np->summary ? np->summary : "");
	/* cut between characters: a name or place in any script stays whole
	 * UTF-8 in the console */
	if (n >= (int)sizeof(head))
		strcpy(head + txt_cut(head, sizeof(head) - 4), "...");
	alarm(0);
	printf("%s", head);
	if (np->perf.len)
		printf(" | %s", np->perf.text);
	printf("\n");
	/* a status line cut short: the whole of it first in the long output */
	if (n >= (int)sizeof(head) && np->summary)
		printf("%s\n", np->summary);
	if (np->lines)
		printf("%s\n", np->lines);
	fflush(stdout);
	exit((int)np->state);
}

void
np_unknown(struct np *np, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	np->state = NP_UNKNOWN;
	free(np->summary);
	np->summary = s;
	np_perf_free(&np->perf);
	np_finish(np);
}

static void
on_alarm(int sig)
{
	(void)sig;
	/* async-signal-safe: write(2) and _exit(2) only */
	if (write(STDOUT_FILENO, timeout_line, strlen(timeout_line)) < 0)
		_exit(NP_UNKNOWN);
	_exit(NP_UNKNOWN);
}

json_t *
np_query(struct np *np, json_t *req)
{
	char why[256];
	json_t *ans = NULL;
	enum cc_result rc;

	rc = cc_call(np->socket, req, np->timeout * 1000, &ans, why, sizeof(why));
	json_decref(req);
	/* the reason first: the status line is cut at 80 characters, and
	 * the socket's path would take them */
	if (rc != CC_OK)
		np_unknown(np, "ctteamsd did not answer: %s (socket %s)", why, np->socket);
	if (!json_is_true(json_object_get(ans, "ok"))) {
		const char *err = np_str(ans, "error");
		np_unknown(np, "ctteamsd says: %s", err ? err : "request failed");
	}
	if (np->verbose >= 3) {
		char *dump = json_dumps(ans, JSON_COMPACT);
		np_line(np, "answer: %s", dump);
		free(dump);
	}
	return ans;
}

json_t *
np_orgs(struct np *np, const json_t *status)
{
	json_t *all = json_object_get(status, "orgs"), *o, *out = json_array();
	size_t i;

	json_array_foreach (all, i, o)
		if (!np->org || !strcmp(np_str(o, "org") ? np_str(o, "org") : "", np->org))
			json_array_append(out, o);
	if (np->org && json_array_size(out) == 0)
		np_unknown(np, "ctteamsd has no org named '%s'", np->org);
	if (json_array_size(out) == 0)
		np_unknown(np, "ctteamsd has no orgs configured");
	return out;
}

void
np_alarms(struct np *np, const json_t *status, const char *check)
{
	const json_t *a;
	size_t i;

	json_array_foreach (json_object_get(status, "alarms"), i, a) {
		const char *org = np_str(a, "org") ? np_str(a, "org") : "";
		json_int_t st = json_integer_value(json_object_get(a, "check_state"));
		if (strcmp(np_str(a, "check") ? np_str(a, "check") : "", check) != 0)
			continue;
		/* the operator's -w/-c decide what the agent's own threshold
		 * alarm would (its threshold is the default, not a floor) */
		if (np->own_thresholds && np->thresholded &&
		    !strcmp(np_str(a, "type") ? np_str(a, "type") : "", np->thresholded))
			continue;
		/* the agent's own alarms (org "") concern every org */
		if (np->org && *org && strcmp(org, np->org) != 0)
			continue;
		np_worse(np, st >= 0 && st <= 3 ? (enum np_state)st : NP_UNKNOWN);
		np_say(np, "%s%s%s", *org ? org : "", *org ? " " : "", np_str(a, "type"));
		np_line(np, "%s: %s%s%s: %s (since %s)", state_names[st >= 0 && st <= 3 ? st : 3],
			*org ? org : "agent", " ", np_str(a, "type"), np_str(a, "text"),
			np_str(a, "raised"));
	}
}

static void
usage(const struct np *np, const struct np_args *args, FILE *out)
{
	fprintf(out,
		"Usage: %s [-O ORG] [-S SOCKET] [-w RANGE] [-c RANGE] [-t SECONDS] [-v] %s\n"
		"       %s -V | -h\n",
		np->prog, args->usage ? args->usage : "", np->prog);
}

static void
help(const struct np *np, const struct np_args *args)
{
	printf("%s (ctteams %s)\n\n%s\n\n", np->prog, CT_VERSION, args->help);
	usage(np, args, stdout);
	printf("\nOptions:\n"
	       "  -O, --org ORG        check this org only (default: every org)\n"
	       "  -S, --socket PATH    ctteamsd's monitoring socket (default %s)\n"
	       "  -w, --warning RANGE  WARNING threshold%s%s\n"
	       "  -c, --critical RANGE CRITICAL threshold%s%s\n"
	       "  -t, --timeout SECS   give up UNKNOWN after this long (default %d)\n"
	       "  -v, --verbose        more detail (-vvv: the agent's answer)\n"
	       "  -V, --version        print the version and exit\n"
	       "  -h, --help           print this help and exit\n\n"
	       "RANGE: N (alert outside 0..N), N: (below N), ~:N (above N), N:M (outside\n"
	       "N..M), @N:M (inside N..M). Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n",
	       NP_SOCKET, args->warn ? ", default " : "", args->warn ? args->warn : "",
	       args->crit ? ", default " : "", args->crit ? args->crit : "", NP_TIMEOUT);
}

static void
set_range(struct np *np, struct np_range *r, const char *text, const char *what)
{
	if (np_range_parse(text, r) < 0)
		np_unknown(np, "%s: '%s' is not a range (N, N:, ~:N, N:M or @N:M)", what, text);
}

static struct option *
merge_options(const struct option *extra)
{
	static const struct option common[] = {
	    {"org", required_argument, NULL, 'O'},     {"socket", required_argument, NULL, 'S'},
	    {"warning", required_argument, NULL, 'w'}, {"critical", required_argument, NULL, 'c'},
	    {"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},       {"help", no_argument, NULL, 'h'},
	};
	size_t n_common = sizeof(common) / sizeof(common[0]), n_extra = 0;
	struct option *all;

	while (extra && extra[n_extra].name)
		n_extra++;
	all = calloc(n_common + n_extra + 1, sizeof(*all));
	if (!all)
		abort();
	memcpy(all, common, sizeof(common));
	if (n_extra)
		memcpy(all + n_common, extra, n_extra * sizeof(*all));
	return all;
}

void
np_start(struct np *np, const char *prog, const char *service, int argc, char **argv,
	 const struct np_args *args)
{
	char shortopts[64];
	struct option *longopts = merge_options(args->longopts);
	char *end;
	int c;

	memset(np, 0, sizeof(*np));
	np->prog = prog;
	np->service = service;
	np->socket = NP_SOCKET;
	np->timeout = NP_TIMEOUT;
	np->thresholded = args->thresholded;
	if (args->warn)
		set_range(np, &np->warn, args->warn, "-w");
	if (args->crit)
		set_range(np, &np->crit, args->crit, "-c");
	snprintf(shortopts, sizeof(shortopts), "O:S:w:c:t:vVh%s",
		 args->shortopts ? args->shortopts : "");
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'O':
			np->org = optarg;
			break;
		case 'S':
			np->socket = optarg;
			break;
		case 'w':
			set_range(np, &np->warn, optarg, "-w");
			np->own_thresholds = true;
			break;
		case 'c':
			set_range(np, &np->crit, optarg, "-c");
			np->own_thresholds = true;
			break;
		case 't':
			np->timeout = (int)strtol(optarg, &end, 10);
			if (*end || np->timeout < 1 || np->timeout > 3600)
				np_unknown(np, "-t: a number of seconds from 1 to 3600");
			break;
		case 'v':
			np->verbose++;
			break;
		case 'V': /* UNKNOWN, as the Monitoring Plugins do: not a check */
			printf("%s (ctteams %s)\n", prog, CT_VERSION);
			exit(NP_UNKNOWN);
		case 'h':
			help(np, args);
			exit(NP_UNKNOWN);
		default:
			if (args->on_option && c != '?') {
				args->on_option(np, c, optarg);
				break;
			}
			usage(np, args, stdout);
			np_unknown(np, "bad arguments (see %s -h)", prog);
		}
	}
	free(longopts);
	if (optind < argc)
		np_unknown(np, "unexpected argument '%s' (see %s -h)", argv[optind], prog);
	snprintf(timeout_line, sizeof(timeout_line),
		 "CTTEAMS %s UNKNOWN - no answer within %d s (-t)\n", service, np->timeout);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)np->timeout);
}

const char *
np_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

const char *
np_duration(double s, char *buf, size_t len)
{
	double a = s < 0 ? -s : s;

	if (a < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (a < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else if (a < 172800)
		snprintf(buf, len, "%.0fh", s / 3600);
	else
		snprintf(buf, len, "%.0fd", s / 86400);
	return buf;
}

bool
np_age(const char *iso, double *ret)
{
	struct tm tm = {0};
	int n = 0;

	if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ret = difftime(time(NULL), timegm(&tm));
	return true;
}

void
np_check_orgs(struct np *np, const char *check, void (*check_org)(struct np *, const json_t *),
	      const char *ok_text)
{
	json_t *status = np_query(np, json_pack("{s:s}", "cmd", "status"));
	json_t *orgs = np_orgs(np, status), *o;
	size_t i;

	np_alarms(np, status, check);
	json_array_foreach (orgs, i, o)
		check_org(np, o);
	if (np->state == NP_OK)
		np_say(np, "%zu org(s): %s", json_array_size(orgs), ok_text);
	json_decref(orgs);
	json_decref(status);
	np_finish(np);
}
