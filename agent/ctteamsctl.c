/*
 * ctteamsctl: the operator's command line. It talks to ctteamsd over the
 * control socket and prints what a person reads at a glance, or the JSON
 * with --json.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctlclient.h"
#include "objects.h"
#include "text.h"

#define EXIT_USAGE     2
#define EXIT_NO_DAEMON 3
#define TIMEOUT_MS     10000

static void
usage(FILE *out)
{
	fprintf(out, "Usage: ctteamsctl [-S SOCKET] COMMAND [ARGS]\n\n"
		     "Commands:\n"
		     "  status [ORG] [--json]   sign-in state of every org, or one\n"
		     "  login ORG               print a one-time sign-in link (10 minutes)\n"
		     "  logout ORG              delete the subscription, forget the tokens\n"
		     "  renew ORG               renew the org's subscription now\n"
		     "  ack EVENT... [--by NAME]  note that someone has taken the events in hand\n"
		     "  events [ORG]            recent emergency events, newest first\n"
		     "  alarms [ORG]            the active alarms, oldest first\n"
		     "  dead-letters [ORG]      notifications set aside after failing again\n"
		     "                          and again, kept whole\n"
		     "  dead-letters ORG --clear   forget them, once dealt with\n"
		     "  test-match FILE [ORG]   run the org's detector on a saved chatMessage\n"
		     "                          JSON: exit 0 emergency, 1 not (like grep)\n"
		     "  config nagios|icinga    the console's hosts and services for the\n"
		     "                          agent's orgs, beside the shipped objects\n"
		     "  console-ack TYPE AUTHOR OUTPUT\n"
		     "                          what a console's notification command runs: for\n"
		     "                          an ACKNOWLEDGEMENT, acknowledge the event OUTPUT\n"
		     "                          (the service's last result) names, by AUTHOR\n\n"
		     "  -S, --socket PATH  control socket (default $CTTEAMS_SOCKET or\n"
		     "                     /run/ctteams/ctteamsd.sock)\n"
		     "  -V, --version      print the version\n"
		     "  -h, --help         print this help\n\n"
		     "Exit status: 0 done, 1 the daemon refused (or, for test-match, not an\n"
		     "emergency), 2 usage, 3 no daemon or the connection dropped.\n");
}

/* One request, one answer; no daemon or no answer ends the program. */
static json_t *
call(const char *path, json_t *req)
{
	char why[512];
	json_t *answer;
	enum cc_result r = cc_call(path, req, TIMEOUT_MS, &answer, why, sizeof(why));

	if (r != CC_OK) {
		fprintf(stderr, "ctteamsctl: %s\n", why);
		exit(r == CC_NO_DAEMON && strstr(why, "too long") ? EXIT_USAGE : EXIT_NO_DAEMON);
	}
	return answer;
}

static const char *
s(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "-";
}

static void
human_duration(char *buf, size_t len, json_t *secs)
{
	json_int_t v;

	if (!json_is_integer(secs)) {
		snprintf(buf, len, "-");
		return;
	}
	v = json_integer_value(secs);
	if (v < 0)
		snprintf(buf, len, "expired");
	else if (v < 120)
		snprintf(buf, len, "in %llds", (long long)v);
	else if (v < 7200)
		snprintf(buf, len, "in %lldm", (long long)(v / 60));
	else
		snprintf(buf, len, "in %lldh", (long long)(v / 3600));
}

static void
print_alarms(json_t *alarms)
{
	json_t *a;
	size_t i;

	if (json_array_size(alarms) == 0) {
		printf("no active alarms\n");
		return;
	}
	printf("%-21s %-9s %-10s %-20s %s\n", "RAISED", "SEVERITY", "ORG", "ALARM", "TEXT");
	json_array_foreach (alarms, i, a)
		printf("%-21s %-9s %-10s %-20s %.*s\n", s(a, "raised"), s(a, "severity"),
		       *s(a, "org") ? s(a, "org") : "(agent)", s(a, "type"),
		       (int)txt_cut(s(a, "text"), 200), s(a, "text"));
}

static void
print_status(json_t *ans)
{
	json_t *orgs = json_object_get(ans, "orgs"), *o;
	size_t i;

	print_alarms(json_object_get(ans, "alarms"));
	putchar('\n');
	printf("%-16s %-16s %-10s %-21s %-4s %s\n", "ORG", "AUTH", "TOKEN", "LAST REFRESH", "FAIL",
	       "SECRET");
	json_array_foreach (orgs, i, o) {
		char tok[32], secret[40];
		json_t *days = json_object_get(o, "client_secret_days_left");
		human_duration(tok, sizeof(tok), json_object_get(o, "access_token_expires_in"));
		if (json_is_integer(days))
			snprintf(secret, sizeof(secret), "%lld days left",
				 (long long)json_integer_value(days));
		else
			snprintf(secret, sizeof(secret), "expiry not configured");
		printf("%-16s %-16s %-10s %-21s %-4lld %s\n", s(o, "org"), s(o, "auth_state"), tok,
		       s(o, "last_refresh"),
		       (long long)json_integer_value(json_object_get(o, "consecutive_failures")),
		       secret);
	}
	printf("\n%-16s %-10s %-10s %-21s %-8s %-6s %s\n", "ORG", "SUBSCR.", "EXPIRES",
	       "LAST NOTIFICATION", "RECEIVED", "EVENTS", "REJECTED");
	json_array_foreach (orgs, i, o) {
		json_t *sub = json_object_get(o, "subscription"),
		       *cnt = json_object_get(o, "counters");
		char exp[32];
		long long rejected = 0;
		const char *key;
		json_t *v;
		human_duration(exp, sizeof(exp), json_object_get(sub, "expires_in"));
		json_object_foreach (cnt, key, v)
			if (!strncmp(key, "rejected_", 9))
				rejected += json_integer_value(v);
		printf("%-16s %-10s %-10s %-21s %-8lld %-6lld %lld\n", s(o, "org"), s(sub, "state"),
		       exp, s(sub, "last_notification"),
		       (long long)json_integer_value(json_object_get(cnt, "received")),
		       (long long)(json_integer_value(json_object_get(cnt, "emergencies")) +
				   json_integer_value(json_object_get(cnt, "unrecognised"))),
		       rejected);
	}
	json_array_foreach (orgs, i, o) {
		const char *serr = json_string_value(
		    json_object_get(json_object_get(o, "subscription"), "last_error"));
		const char *sst = s(json_object_get(o, "subscription"), "state");
		if (serr && strcmp(sst, "active") != 0)
			printf("\n%s: subscription %s: %s\n", s(o, "org"), sst, serr);
	}
	json_array_foreach (orgs, i, o) {
		const char *err = json_string_value(json_object_get(o, "last_error"));
		const char *st = s(o, "auth_state");
		if (strcmp(st, "valid") != 0 && err)
			printf("\n%s: %s\n", s(o, "org"), err);
		else if (!strcmp(st, "not_signed_in"))
			printf("\n%s: not signed in; run: ctteamsctl login %s\n", s(o, "org"),
			       s(o, "org"));
		const char *se = json_string_value(json_object_get(o, "last_signin_error"));
		if (se)
			printf("%s: last sign-in attempt failed: %s\n", s(o, "org"), se);
	}
}

static void
print_events(json_t *ans)
{
	json_t *ev = json_object_get(ans, "events"), *e;
	size_t i;

	if (json_array_size(ev) == 0) {
		printf("no events\n");
		return;
	}
	printf("%-5s %-10s %-12s %-20s %-6s %-20s %s\n", "ID", "ORG", "KIND", "RAISED", "NUMBER",
	       "CALLER", "LOCATION");
	json_array_foreach (ev, i, e) {
		char num[16];
		snprintf(num, sizeof(num), "%s%s", s(e, "number"),
			 json_is_true(json_object_get(e, "test_call")) ? "*" : "");
		printf("%-5lld %-10s %-12s %-20s %-6s %-20s %s\n",
		       (long long)json_integer_value(json_object_get(e, "id")), s(e, "org"),
		       s(e, "kind"), s(e, "raised"), num, s(e, "caller"), s(e, "location"));
	}
	printf("(* a test call)\n");
	json_array_foreach (ev, i, e)
		if (json_is_true(json_object_get(e, "acked")))
			printf("event %lld acknowledged by %s at %s\n",
			       (long long)json_integer_value(json_object_get(e, "id")),
			       s(e, "acked_by"), s(e, "acked_at"));
}

static void
print_dead_letters(json_t *ans)
{
	json_t *dl = json_object_get(ans, "dead_letters"), *d;
	size_t i;

	if (json_array_size(dl) == 0) {
		printf("no dead letters\n");
		return;
	}
	printf("%-6s %-10s %-12s %-20s %-5s %s\n", "SEQ", "ORG", "KIND", "RECEIVED", "TRIES",
	       "REASON");
	json_array_foreach (dl, i, d)
		printf("%-6lld %-10s %-12s %-20s %-5lld %s\n",
		       (long long)json_integer_value(json_object_get(d, "seq")), s(d, "org"),
		       s(d, "kind"), s(d, "received"),
		       (long long)json_integer_value(json_object_get(d, "tries")), s(d, "reason"));
	printf("(the whole notification of each is in --json)\n");
}

/* console-ack: what nagios/ctteams.cfg and ctteams-icinga2.conf run for
 * each notification of the emergency service. An acknowledgement in the
 * console acknowledges the event the service's last result named ("(event
 * 12;", "(event 12:" in Nagios); any other notification is none of ours. Over the monitoring
 * socket, which takes it when monitor_ack is on. */
static int
console_ack(const char *sock, const char *type, const char *author, const char *output)
{
	const char *at = NULL;
	char *end = NULL, *by;
	long id;
	json_t *req, *ans;
	int rc = 0;

	if (strcasecmp(type, "ACKNOWLEDGEMENT") != 0)
		return 0;
	/* the last one: the caller's name and the location come before it,
	 * from Teams, and could hold "(event 7;" to point at another call */
	for (const char *p = output; (p = strstr(p, "(event ")); p++)
		at = p;
	id = at ? strtol(at + 7, &end, 10) : 0;
	/* Nagios turns the ';' of a passive result's output into ':' */
	if (id <= 0 || !end || (*end != ';' && *end != ':')) {
		fprintf(stderr, "ctteamsctl: no event id in the service's output: %s\n", output);
		return 1;
	}
	{
		/* a console's author may be any bytes: valid UTF-8 for the request */
		char *who = txt_clean(*author ? author : "someone", 48);
		if (asprintf(&by, "%s (console)", who) < 0)
			abort();
		free(who);
	}
	req = json_pack("{s:s, s:I, s:s}", "cmd", "ack", "event", (json_int_t)id, "by", by);
	ans = call(sock, req);
	if (!json_is_true(json_object_get(ans, "ok"))) {
		fprintf(stderr, "ctteamsctl: event %ld: %s\n", id, s(ans, "error"));
		rc = 1;
	} else if (json_is_true(json_object_get(ans, "already"))) {
		printf("event %ld was acknowledged before, by %s\n", id, s(ans, "acked_by"));
	} else {
		printf("event %ld acknowledged by %s\n", id, by);
	}
	json_decref(ans);
	json_decref(req);
	free(by);
	return rc;
}

/* ack EVENT...: each acknowledged in turn, each said; 1 if any was not
 * (an unknown id, a refusal), 2 for something that is not an id */
static int
ack_events(const char *sock, int n, char **ids, const char *by)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		char *end;
		long id = strtol(ids[i], &end, 10);
		if (*end || id <= 0) {
			fprintf(stderr,
				"ctteamsctl: ack takes event ids (see ctteamsctl events): "
				"'%s'\n",
				ids[i]);
			return EXIT_USAGE;
		}
	}
	for (int i = 0; i < n; i++) {
		long id = strtol(ids[i], NULL, 10);
		json_t *req = json_pack("{s:s, s:I}", "cmd", "ack", "event", (json_int_t)id), *ans;
		if (by)
			json_object_set_new(req, "by", json_string(by));
		ans = call(sock, req);
		if (!json_is_true(json_object_get(ans, "ok"))) {
			fprintf(stderr, "ctteamsctl: event %ld: %s\n", id, s(ans, "error"));
			rc = 1;
		} else if (json_is_true(json_object_get(ans, "already"))) {
			printf("event %ld was acknowledged before, by %s\n", id,
			       s(ans, "acked_by"));
		} else {
			printf("event %ld acknowledged\n", id);
		}
		json_decref(ans);
		json_decref(req);
	}
	return rc;
}

/* config nagios|icinga: the objects for the agent's orgs, on stdout */
static int
config(const char *sock, const char *console)
{
	json_t *req = json_pack("{s:s}", "cmd", "config"), *ans;
	int rc = 0;

	if (strcmp(console, "nagios") != 0 && strcmp(console, "icinga") != 0) {
		fprintf(stderr, "ctteamsctl: config nagios or config icinga\n");
		json_decref(req);
		return EXIT_USAGE;
	}
	ans = call(sock, req);
	if (!json_is_true(json_object_get(ans, "ok"))) {
		fprintf(stderr, "ctteamsctl: %s\n", s(ans, "error"));
		rc = 1;
	} else {
		obj_print(stdout, console, ans);
	}
	json_decref(ans);
	json_decref(req);
	return rc;
}

/* test-match: 0 when the org's rules call the message an emergency. */
static int
test_match(const char *sock, const char *file, const char *org)
{
	json_error_t err;
	json_t *msg = json_load_file(file, 0, &err), *req, *ans, *res;
	const char *verdict;
	int rc;

	if (!msg) {
		fprintf(stderr, "ctteamsctl: %s:%d: %s\n", file, err.line, err.text);
		return EXIT_USAGE;
	}
	if (!org) {
		/* the first configured org's rules */
		req = json_pack("{s:s}", "cmd", "status");
		ans = call(sock, req);
		json_decref(req);
		org = s(json_array_get(json_object_get(ans, "orgs"), 0), "org");
		req = json_pack("{s:s, s:s, s:O}", "cmd", "test-match", "org", org, "message", msg);
		json_decref(ans);
	} else {
		req = json_pack("{s:s, s:s, s:O}", "cmd", "test-match", "org", org, "message", msg);
	}
	ans = call(sock, req);
	res = json_object_get(ans, "result");
	if (!res) {
		fprintf(stderr, "ctteamsctl: %s\n", s(ans, "error"));
		rc = 1;
	} else {
		verdict = s(res, "verdict");
		printf("verdict: %s (%s)\n", verdict, s(res, "why"));
		printf("text:    %.*s\n", (int)txt_cut(s(res, "text"), 300), s(res, "text"));
		if (!strcmp(verdict, "emergency"))
			printf("caller:  %s\nnumber:  %s%s\nwhere:   %s\n", s(res, "caller"),
			       s(res, "number"),
			       json_is_true(json_object_get(res, "test_call")) ? " (test call)"
									       : "",
			       s(res, "location"));
		rc = !strcmp(verdict, "emergency") ? 0 : 1;
	}
	json_decref(ans);
	json_decref(req);
	json_decref(msg);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"socket", required_argument, NULL, 'S'},
					   {"json", no_argument, NULL, 'j'},
					   {"clear", no_argument, NULL, 'c'},
					   {"by", required_argument, NULL, 'b'},
					   {"version", no_argument, NULL, 'V'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *sock = getenv("CTTEAMS_SOCKET");
	bool as_json = false, clear = false;
	const char *by = NULL;
	const char *cmd, *org = NULL;
	json_t *req, *ans;
	int c;

	if (!sock)
		sock = "/run/ctteams/ctteamsd.sock";
	/* a daemon that closes on us is reported, not a silent death */
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "S:jVh", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			clear = true;
			break;
		case 'b':
			by = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'V':
			printf("ctteamsctl %s\n", CT_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];
	if (!strcmp(cmd, "test-match")) {
		if (optind >= argc || argc - optind > 2) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return test_match(sock, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL);
	}
	if (!strcmp(cmd, "ack")) {
		if (optind >= argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return ack_events(sock, argc - optind, argv + optind, by);
	}
	if (!strcmp(cmd, "config")) {
		if (argc - optind != 1) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return config(sock, argv[optind]);
	}
	if (!strcmp(cmd, "console-ack")) {
		if (argc - optind != 3) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return console_ack(sock, argv[optind], argv[optind + 1], argv[optind + 2]);
	}
	if (optind < argc)
		org = argv[optind++];
	if (optind < argc ||
	    (!org && (!strcmp(cmd, "login") || !strcmp(cmd, "logout") || !strcmp(cmd, "renew") ||
		      !strcmp(cmd, "ack") || clear)) ||
	    (clear && strcmp(cmd, "dead-letters") != 0) || (by && strcmp(cmd, "ack") != 0)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "login") && strcmp(cmd, "logout") &&
	    strcmp(cmd, "events") && strcmp(cmd, "dead-letters") && strcmp(cmd, "alarms") &&
	    strcmp(cmd, "renew") && strcmp(cmd, "ack")) {
		fprintf(stderr, "ctteamsctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	req = json_pack("{s:s}", "cmd", cmd);
	if (org)
		json_object_set_new(req, "org", json_string(org));
	if (clear)
		json_object_set_new(req, "clear", json_true());
	ans = call(sock, req);
	json_decref(req);
	if (!json_is_true(json_object_get(ans, "ok"))) {
		fprintf(stderr, "ctteamsctl: %s\n", s(ans, "error"));
		json_decref(ans);
		return 1;
	}
	if (as_json) {
		json_dumpf(ans, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (!strcmp(cmd, "status")) {
		print_status(ans);
	} else if (!strcmp(cmd, "events")) {
		print_events(ans);
	} else if (!strcmp(cmd, "alarms")) {
		print_alarms(json_object_get(ans, "alarms"));
	} else if (!strcmp(cmd, "renew")) {
		printf("%s: renewing the subscription\n", org);
	} else if (clear) {
		printf("%s: %lld dead letter(s) cleared\n", org,
		       (long long)json_integer_value(json_object_get(ans, "cleared")));
	} else if (!strcmp(cmd, "dead-letters")) {
		print_dead_letters(ans);
	} else if (!strcmp(cmd, "login")) {
		printf("Open this link in a browser and sign in as the org's service user.\n"
		       "It works once, within %lld minutes:\n\n%s\n",
		       (long long)json_integer_value(json_object_get(ans, "expires_in")) / 60,
		       s(ans, "url"));
	} else {
		printf("%s: signed out; its subscription and tokens are deleted\n", org);
	}
	json_decref(ans);
	return 0;
}
