/*
 * ctteamsctl: the operator's command line. It talks to ctteamsd over the
 * control socket and prints what a person reads at a glance, or the JSON
 * with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

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
		     "  logout ORG              forget the org's tokens\n\n"
		     "  -S, --socket PATH  control socket (default $CTTEAMS_SOCKET or\n"
		     "                     /run/ctteams/ctteamsd.sock)\n"
		     "  -V, --version      print the version\n"
		     "  -h, --help         print this help\n\n"
		     "Exit status: 0 done, 1 the daemon refused, 2 usage, 3 no daemon.\n");
}

/* One request, one answer line. */
static json_t *
call(const char *path, json_t *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *line = json_dumps(req, JSON_COMPACT), *buf = NULL;
	size_t len = 0;
	int fd;
	json_t *answer = NULL;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ctteamsctl: socket path too long\n");
		exit(EXIT_USAGE);
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "ctteamsctl: cannot reach ctteamsd at %s: %s\n", path,
			strerror(errno));
		exit(EXIT_NO_DAEMON);
	}
	if (dprintf(fd, "%s\n", line) < 0)
		goto broken;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char chunk[4096];
		ssize_t n;
		if (poll(&p, 1, TIMEOUT_MS) != 1)
			goto broken;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			goto broken;
		buf = xrealloc(buf, len + (size_t)n + 1);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len))
			break;
	}
	answer = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	if (!answer)
		goto broken;
	close(fd);
	free(buf);
	free(line);
	return answer;
broken:
	fprintf(stderr, "ctteamsctl: no answer from ctteamsd at %s\n", path);
	exit(EXIT_NO_DAEMON);
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
print_status(json_t *ans)
{
	json_t *orgs = json_object_get(ans, "orgs"), *o;
	size_t i;

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

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"socket", required_argument, NULL, 'S'},
					   {"json", no_argument, NULL, 'j'},
					   {"version", no_argument, NULL, 'V'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	const char *sock = getenv("CTTEAMS_SOCKET");
	bool as_json = false;
	const char *cmd, *org = NULL;
	json_t *req, *ans;
	int c;

	if (!sock)
		sock = "/run/ctteams/ctteamsd.sock";
	while ((c = getopt_long(argc, argv, "S:jVh", lo, NULL)) != -1) {
		switch (c) {
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
	if (optind < argc)
		org = argv[optind++];
	if (optind < argc || (!org && (!strcmp(cmd, "login") || !strcmp(cmd, "logout")))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "login") && strcmp(cmd, "logout")) {
		fprintf(stderr, "ctteamsctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	req = json_pack("{s:s}", "cmd", cmd);
	if (org)
		json_object_set_new(req, "org", json_string(org));
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
	} else if (!strcmp(cmd, "login")) {
		printf("Open this link in a browser and sign in as the org's service user.\n"
		       "It works once, within %lld minutes:\n\n%s\n",
		       (long long)json_integer_value(json_object_get(ans, "expires_in")) / 60,
		       s(ans, "url"));
	} else {
		printf("%s: signed out; its tokens are deleted\n", org);
	}
	json_decref(ans);
	return 0;
}
