/*
 * The webhook intake under attack: connections that hold slots and send
 * nothing, or a header line now and then, or a slow body; forged POSTs;
 * malformed HTTP. A prompt, valid request is answered within a second
 * throughout, and nothing an attacker sends costs a disk write.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ta.h"

#define IDLE_MAX 64

/* n connections from address from to the agent, that send nothing. */
static int
idle(struct ta *t, const char *from, int n, int *fds)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
	struct sockaddr_in src = {.sin_family = AF_INET};

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	inet_pton(AF_INET, from, &src.sin_addr);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&src, sizeof(src)) != 0 ||
		    connect(fds[i], (struct sockaddr *)&to, sizeof(to)) != 0)
			return -1;
	}
	return 0;
}

static void
close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Graph's validation handshake from 127.0.0.1: seconds until the answer's
 * first byte, or -1 when none came within timeout. */
static double
handshake(struct ta *t, double timeout)
{
	static const char req[] = "POST /api/org/acme/ms-teams/notify?validationToken=ok "
				  "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double start = th_now(), took = -1;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[64];

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
	    write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1) &&
	    poll(&p, 1, (int)(timeout * 1000)) == 1 && read(fd, buf, sizeof(buf)) > 0 &&
	    !strncmp(buf, "HTTP/1.1 200", 12))
		took = th_now() - start;
	close(fd);
	return took;
}

/* Every slot held by idle connections: the oldest are closed to make room
 * for a prompt request; once they are freed, the next is answered at
 * once (libmicrohttpd pauses its listener at its limit; the loop must run
 * it again, not sleep). */
static void
test_slots_freed(void **state)
{
	struct ta *t = *state;
	int fds[IDLE_MAX];

	assert_int_equal(ta_start(t, "max_connections = 8\nmax_connections_per_address = 0", NULL),
			 0);
	assert_true(handshake(t, 5) >= 0);
	/* three rounds: the agent's own timers also wake its loop (every
	 * second or two), so one quick answer could be luck */
	for (int round = 0; round < 3; round++) {
		assert_int_equal(idle(t, "127.0.0.1", 12, fds), 0);
		/* the slots are taken: idle ones are closed to make room */
		double took = handshake(t, 5);
		if (took < 0 || took >= 1.0)
			fail_msg("round %d, slots taken: answered after %.2f s", round, took);
		close_all(fds, 12);
		/* ... and once they are free, at once */
		took = handshake(t, 5);
		if (took < 0 || took >= 0.5)
			fail_msg("round %d: answered after %.2f s", round, took);
	}
	assert_int_equal(ta_stop(t), 0);
}

/* One address holding connections gets only its share of the slots. */
static void
test_one_address_cannot_take_all(void **state)
{
	struct ta *t = *state;
	int fds[IDLE_MAX];

	assert_int_equal(ta_start(t, "max_connections = 8\nmax_connections_per_address = 3", NULL),
			 0);
	assert_int_equal(idle(t, "127.0.0.2", 20, fds), 0);
	for (int i = 0; i < 5; i++) {
		double took = handshake(t, 2);
		assert_true(took >= 0 && took < 1.0);
	}
	close_all(fds, 20);
	assert_int_equal(ta_stop(t), 0);
}

/* A POST of n items for the live subscription with a forged clientState. */
static long
forged_post(struct ta *t, const char *sub, int n)
{
	json_t *value = json_array(), *body;
	const char *headers[] = {"Content-Type: application/json", NULL};
	struct th_resp r;
	char *url, *text;
	long status;

	for (int i = 0; i < n; i++)
		json_array_append_new(value,
				      json_pack("{s:s, s:s, s:s, s:s, s:s}", "subscriptionId", sub,
						"clientState", "forged", "changeType", "created",
						"tenantId", TA_TENANT, "resource",
						"chats('19:x@thread.v2')/messages('1')"));
	body = json_pack("{s:o}", "value", value);
	text = json_dumps(body, JSON_COMPACT);
	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", t->base) < 0)
		abort();
	assert_int_equal(th_http("POST", url, NULL, headers, text, &r), 0);
	status = r.status;
	th_resp_free(&r);
	free(url);
	free(text);
	json_decref(body);
	return status;
}

struct count_wait {
	struct ta *t;
	long n;
};

static bool
counted(void *arg)
{
	struct count_wait *w = arg;

	return ta_counter(w->t, "rejected_client_state") >= w->n;
}

static int
lines_with(const char *path, const char *needle)
{
	char *text = th_read_file(path), *at = text;
	int n = 0;

	while (at && (at = strstr(at, needle))) {
		n++;
		at += strlen(needle);
	}
	free(text);
	return n;
}

/* One address over its limit, again and again, cannot flood the log:
 * libmicrohttpd's refusal is said once a minute, with how many were held
 * (it was a line for each connection: 16,000 a second). */
static void
test_refusals_do_not_flood_the_log(void **state)
{
	struct ta *t = *state;
	int fds[IDLE_MAX];
	int lines;

	assert_int_equal(ta_start(t, "max_connections = 8\nmax_connections_per_address = 2", NULL),
			 0);
	for (int round = 0; round < 10; round++) {
		assert_int_equal(idle(t, "127.0.0.3", IDLE_MAX, fds), 0);
		json_decref(ta_ctl(t, "ping", NULL)); /* the agent took them in */
		close_all(fds, IDLE_MAX);
	}
	lines = lines_with(t->log, "connection limit");
	if (lines < 1 || lines > 2)
		fail_msg("%d log lines for 640 refused connections", lines);
	assert_int_equal(ta_stop(t), 0);
}

/* Forged notifications are counted in memory and said once in a while:
 * two POSTs of 1,000 forged items make one log line. */
static void
test_forgeries_are_one_decision(void **state)
{
	struct ta *t = *state;
	json_t *sub;
	char *id;

	ta_ready(t, NULL);
	sub = ta_sub_status(t);
	id = strdup(ta_str(sub, "id"));
	json_decref(sub);
	assert_int_equal(forged_post(t, id, 1000) / 100, 2);
	assert_int_equal(forged_post(t, id, 1000) / 100, 2);
	struct count_wait w = {t, 2000};
	assert_true(th_wait_until(counted, &w, 10));
	assert_int_equal(lines_with(t->log, "carried the wrong clientState"), 1);
	assert_int_equal(lines_with(t->log, "1000 notification(s)"), 1);
	free(id);
	assert_int_equal(ta_stop(t), 0);
}

/* Sends a raw request from 127.0.0.1; the answer's first bytes in buf.
 * Returns the status code, or -1 when nothing came within timeout. */
static int
raw(struct ta *t, const char *req, size_t len, double timeout, char *buf, size_t size)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
	double end = th_now() + timeout;
	size_t got = 0;

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	buf[0] = '\0';
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0 ||
	    write(fd, req, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	/* until the header is in, the peer closes, or time is up */
	while (got + 1 < size && !strstr(buf, "\r\n\r\n")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int ms = (int)((end - th_now()) * 1000);
		ssize_t n;
		if (ms <= 0 || poll(&p, 1, ms) != 1 ||
		    (n = read(fd, buf + got, size - got - 1)) <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
	}
	close(fd);
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	return status;
}

static int
raw_str(struct ta *t, const char *req, char *buf, size_t size)
{
	return raw(t, req, strlen(req), 5, buf, size);
}

/* Malformed and awkward HTTP gets a clear answer, with the headers every
 * page of ours carries, before any body is read. */
static void
test_http_hygiene(void **state)
{
	struct ta *t = *state;
	char buf[4096], *req;
	size_t len, at;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	/* request smuggling: both framings */
	assert_int_equal(raw_str(t,
				 "POST /api/org/acme/ms-teams/notify HTTP/1.1\r\nHost: x\r\n"
				 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "0\r\n\r\n",
				 buf, sizeof(buf)),
			 400);
	assert_non_null(strstr(buf, "X-Content-Type-Options: nosniff"));
	/* HTTP/1.1 needs Host */
	assert_int_equal(
	    raw_str(t, "GET /api/org/acme/ms-teams/login HTTP/1.1\r\n\r\n", buf, sizeof(buf)), 400);
	/* a body larger than max_body is refused from its Content-Length,
	 * before it is sent */
	assert_int_equal(raw_str(t,
				 "POST /api/org/acme/ms-teams/notify HTTP/1.1\r\nHost: x\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: 99999999\r\n\r\n",
				 buf, sizeof(buf)),
			 413);
	assert_non_null(strstr(buf, "Content-Security-Policy: default-src 'none'"));
	/* an unknown path: 404 at once, whatever body was announced */
	assert_int_equal(
	    raw_str(t, "POST /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", buf,
		    sizeof(buf)),
	    404);
	assert_non_null(strstr(buf, "X-Frame-Options: DENY"));
	/* too many query parameters: refused by us, with our headers */
	req = malloc(20000);
	len = (size_t)sprintf(req, "GET /api/org/acme/ms-teams/login?");
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(req + len, "p%d=%d&", i, i);
	at = len;
	len += (size_t)sprintf(req + at, " HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(raw(t, req, len, 5, buf, sizeof(buf)), 400);
	assert_non_null(strstr(buf, "X-Content-Type-Options: nosniff"));
	/* a thousand: more than the connection's buffer holds; libmicrohttpd
	 * answers or closes at once, never a hang */
	len = (size_t)sprintf(req, "GET /api/org/acme/ms-teams/login?");
	for (int i = 0; i < 1000; i++)
		len += (size_t)sprintf(req + len, "p%d=%d&", i, i);
	at = len;
	len += (size_t)sprintf(req + at, " HTTP/1.1\r\nHost: x\r\n\r\n");
	double asked = th_now();
	int status = raw(t, req, len, 5, buf, sizeof(buf));
	if (status < 400 && (status != -1 || th_now() - asked > 4))
		fail_msg("a thousand parameters: %d after %.1f s\n%s", status, th_now() - asked,
			 buf);
	free(req);
	/* a header past the connection's buffer: libmicrohttpd's own answer */
	req = malloc(300000);
	len =
	    (size_t)sprintf(req, "GET /api/org/acme/ms-teams/login HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + len, 'a', 200000);
	len += 200000;
	len += (size_t)sprintf(req + len, "\r\n\r\n");
	status = raw(t, req, len, 5, buf, sizeof(buf));
	if (status < 400)
		fail_msg("a 200 KB header: %d\n%s", status, buf);
	free(req);
	assert_int_equal(ta_stop(t), 0);
}

/* A HEAD (a link checker, a proxy) never spends a sign-in link, and a
 * forged callback never replaces the org's last real sign-in error. */
static void
test_signin_links_and_forged_callbacks(void **state)
{
	struct ta *t = *state;
	char *link = NULL, *url;
	struct th_resp r;
	json_t *org;

	assert_int_equal(ta_start(t, NULL, NULL), 0);
	link = ta_link(t, "acme");
	assert_int_equal(th_http("HEAD", link, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	th_resp_free(&r);
	assert_int_equal(th_http("GET", link, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.status, 302);
	th_resp_free(&r);
	if (asprintf(&url, "%s/api/org/acme/ms-teams/callback?state=forged&code=x", t->base) < 0)
		abort();
	for (int i = 0; i < 50; i++) {
		assert_int_equal(th_http("GET", url, NULL, NULL, NULL, &r), 0);
		assert_int_equal(r.status, 400);
		th_resp_free(&r);
	}
	org = ta_org_status(t, "acme");
	assert_true(json_is_null(json_object_get(org, "last_signin_error")));
	json_decref(org);
	assert_true(lines_with(t->log, "unknown, used or expired state") <= 1);
	free(url);
	free(link);
	assert_int_equal(ta_stop(t), 0);
}

enum attack { A_IDLE, A_SLOWLORIS, A_SLOW_BODY, A_BIG_BODY, A_TLS_HALF };

struct attacker {
	int fd;
	double next;
};

/* One attacker connection from 127.0.1.(1 + i % n_addr): what it sends
 * first. -1 when it could not connect. */
static int
attack_open(int port, int i, int n_addr, enum attack kind)
{
	static char big[1 << 20];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	char from[32];
	const char *head = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(from, sizeof(from), "127.0.1.%d", 1 + i % n_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	inet_pton(AF_INET, from, &src.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (kind == A_TLS_HALF)
		/* the start of a TLS record carrying a ClientHello, and no more */
		head = "\x16\x03\x01\x01\x00";
	else if (kind == A_SLOWLORIS)
		head = "POST /api/org/acme/ms-teams/notify HTTP/1.1\r\nHost: x\r\n";
	else if (kind == A_SLOW_BODY || kind == A_BIG_BODY)
		head = "POST /api/org/acme/ms-teams/notify HTTP/1.1\r\nHost: x\r\n"
		       "Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{";
	if (head && write(fd, head, strlen(head)) < 0)
		return fd;
	if (kind == A_BIG_BODY) {
		/* all but the last byte, then nothing */
		memset(big, ' ', sizeof(big));
		for (size_t sent = 1; sent < sizeof(big) - 1;) {
			ssize_t n = write(fd, big, sizeof(big) - 1 - sent);
			if (n <= 0)
				break;
			sent += (size_t)n;
		}
	}
	return fd;
}

/* The attack, in a child until killed: n connections that reopen when
 * closed and send a byte now and then. */
/* Children still running: a failed assertion jumps past stop_attack, and
 * the teardown must not leave them (ctest would wait on them). */
static pid_t children[8];

static void
child_started(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] <= 0) {
			children[i] = pid;
			return;
		}
}

static int
intake_teardown(void **state)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	return ta_test_teardown(state);
}

/* fork(): in the parent the child's pid, registered for the teardown; in
 * the child 0, with SIGPIPE ignored and death when this process dies. */
static pid_t
child(void)
{
	pid_t pid = fork();

	if (pid < 0)
		abort(); /* never hand kill() a -1 */
	if (pid != 0) {
		child_started(pid);
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static pid_t
attack(int port, int n, int n_addr, enum attack kind, bool reopen)
{
	pid_t pid = child();

	if (pid != 0)
		return pid;
	struct attacker *a = calloc((size_t)n, sizeof(*a));
	for (int i = 0; i < n; i++)
		a[i].fd = -1;
	for (bool first = true;; first = false) {
		for (int i = 0; i < n; i++) {
			struct pollfd p = {.fd = a[i].fd, .events = POLLIN};
			char buf[256];
			if (a[i].fd >= 0 && poll(&p, 1, 0) == 1 &&
			    read(a[i].fd, buf, sizeof(buf)) <= 0) {
				close(a[i].fd);
				a[i].fd = -1;
			}
			if (a[i].fd < 0 && (first || reopen)) {
				a[i].fd = attack_open(port, i, n_addr, kind);
				a[i].next = th_now() + 0.5;
			}
			if (a[i].fd >= 0 && kind != A_IDLE && kind != A_TLS_HALF &&
			    th_now() > a[i].next) {
				/* a header line, or a byte of body */
				const char *more = kind == A_SLOWLORIS ? "X-a: b\r\n" : " ";
				if (write(a[i].fd, more, strlen(more)) < 0) {
					close(a[i].fd);
					a[i].fd = -1;
				}
				a[i].next = th_now() + 0.5;
			}
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static void
stop_attack(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

/* Each attack from many addresses, more connections than slots: Graph's
 * handshake is answered within a second throughout and after. */
static void
test_slow_attacks_do_not_block(void **state)
{
	struct ta *t = *state;
	const enum attack kinds[] = {A_IDLE, A_SLOWLORIS, A_SLOW_BODY};
	const char *names[] = {"idle", "slowloris", "slow body"};

	assert_int_equal(
	    ta_start(t, "max_connections = 64\nmax_connections_per_address = 16", NULL), 0);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		pid_t pid = attack(t->port, 300, 20, kinds[k], true);
		double worst = 0;
		for (int i = 0; i < 12; i++) {
			struct timespec ts = {0, 250 * 1000 * 1000};
			nanosleep(&ts, NULL);
			double took = handshake(t, 2);
			if (took < 0 || took >= 1.0)
				fail_msg("%s attack, probe %d: answered after %.2f s", names[k], i,
					 took);
			worst = took > worst ? took : worst;
		}
		stop_attack(pid);
		double took = handshake(t, 2);
		if (took < 0 || took >= 1.0)
			fail_msg("%s attack over: answered after %.2f s", names[k], took);
		print_message("%s attack: slowest answer %.3f s\n", names[k], worst);
	}
	assert_true(ta_intake_count(t, "evicted") > 0);
	assert_int_equal(ta_stop(t), 0);
}

/* Half-open TLS handshakes from many addresses, more than the slots: a
 * client that completes its handshake and request promptly is answered
 * within a second throughout. */
static void
test_half_open_tls_does_not_block(void **state)
{
	struct ta *t = *state;
	char *dir = th_tmpdir("tls"), *cert, *key, *extra, *url;

	th_selfsigned(dir, &cert, &key);
	if (asprintf(&extra,
		     "tls_cert = %s\ntls_key = %s\nmax_connections = 32\n"
		     "max_connections_per_address = 16",
		     cert, key) < 0)
		abort();
	assert_int_equal(ta_start(t, extra, NULL), 0);
	if (asprintf(&url, "https://127.0.0.1:%d/api/org/acme/ms-teams/login?link=x", t->port) < 0)
		abort();
	pid_t pid = attack(t->port, 150, 10, A_TLS_HALF, true);
	double worst = 0;
	for (int i = 0; i < 10; i++) {
		struct th_resp r;
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
		double start = th_now();
		assert_int_equal(th_http("GET", url, cert, NULL, NULL, &r), 0);
		double took = th_now() - start;
		assert_int_equal(r.status, 403); /* an unknown link: answered */
		th_resp_free(&r);
		if (took >= 1.0)
			fail_msg("probe %d: answered after %.2f s", i, took);
		worst = took > worst ? took : worst;
	}
	stop_attack(pid);
	print_message("half-open TLS: slowest answer %.3f s\n", worst);
	assert_true(ta_intake_count(t, "evicted") > 0);
	assert_int_equal(ta_stop(t), 0);
	th_rmtree(dir);
	free(dir);
	free(cert);
	free(key);
	free(extra);
	free(url);
}

static bool
budget_refused(void *arg)
{
	return ta_intake_count(arg, "body_budget") > 0;
}

/* 250 bodies of almost 1 MiB that never finish: buffered bodies stay
 * within max_body_total, and the intake still answers. */
static void
test_body_memory_ceiling(void **state)
{
	struct ta *t = *state;
	long before, during;

	assert_int_equal(ta_start(t,
				  "max_connections = 400\nmax_body_total = 16777216\n"
				  "body_timeout = 60s",
				  NULL),
			 0);
	before = ta_rss_kb(t);
	pid_t pid = attack(t->port, 250, 10, A_BIG_BODY, false);
	assert_true(th_wait_until(budget_refused, t, 30));
	during = ta_rss_kb(t);
	double took = handshake(t, 2);
	stop_attack(pid);
	print_message("RSS %ld kB before, %ld kB during\n", before, during);
#if !defined(__SANITIZE_ADDRESS__)
	/* the budget, the connections' own buffers (32 KiB each), slack */
	assert_true(during - before < (16384 + 250 * 32 + 16384));
#endif
	assert_true(took >= 0 && took < 1.0);
	assert_int_equal(ta_stop(t), 0);
}

#define GC_CHAT "19:groupcommit@thread.v2"

/* A basic notification of message id msg in GC_CHAT, for the live
 * subscription (its clientState from graphsim). */
static char *
gc_notification(json_t *sub, const char *msg)
{
	char *res, *out;
	json_t *j;

	if (asprintf(&res, "chats('%s')/messages('%s')", GC_CHAT, msg) < 0)
		abort();
	j = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:{s:s}}]}", "value", "subscriptionId",
		      ta_str(sub, "id"), "changeType", "created", "clientState",
		      ta_str(sub, "clientState"), "tenantId", TA_TENANT, "resource", res,
		      "resourceData", "id", msg);
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(res);
	return out;
}

static sqlite3 *
gc_db(struct ta *t)
{
	sqlite3 *db = NULL;
	char *path;

	if (asprintf(&path, "%s/state/ctteams.db", t->dir) < 0)
		abort();
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	free(path);
	return db;
}

/* Rows in the inbox for message msg of GC_CHAT. */
static int
gc_rows(sqlite3 *db, const char *msg)
{
	sqlite3_stmt *s;
	char *key;
	int n = -1;

	if (asprintf(&key, "%s|%s", GC_CHAT, msg) < 0)
		abort();
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM inbox WHERE msg_key = ?", -1, &s, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	free(key);
	return n;
}

/* A burst of POSTs, conc at a time. Each one answered 202 is looked up in
 * the inbox at once; after kill_after answers the agent is SIGKILLed. */
struct burst {
	struct ta *t;
	sqlite3 *db;
	json_t *sub;
	const char *prefix;
	int n, conc, kill_after;
	long *status;
	int answered, missing;
};

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *
burst_add(struct burst *b, CURLM *m, int i, char **bodies, struct curl_slist *h)
{
	CURL *c = curl_easy_init();
	char *url, msg[64];

	snprintf(msg, sizeof(msg), "%s-%d", b->prefix, i);
	bodies[i] = gc_notification(b->sub, msg);
	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", b->t->base) < 0)
		abort();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, bodies[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)(intptr_t)i);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_multi_add_handle(m, c);
	free(url);
	return c;
}

static void
burst_done(struct burst *b, CURL *c)
{
	intptr_t i;
	long status = 0;
	char msg[64];

	curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&i);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	b->status[i] = status;
	snprintf(msg, sizeof(msg), "%s-%d", b->prefix, (int)i);
	if (status == 202 && gc_rows(b->db, msg) != 1)
		b->missing++;
	if (status && ++b->answered == b->kill_after && b->t->pid > 0)
		ta_kill(b->t);
}

static void
burst_run(struct burst *b)
{
	CURLM *m = curl_multi_init();
	char **bodies = calloc((size_t)b->n, sizeof(*bodies));
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	int next = 0, running = 0, active = 0;

	h = curl_slist_append(h, "Expect:");
	b->status = calloc((size_t)b->n, sizeof(*b->status));
	for (; next < b->n && next < b->conc; next++, active++)
		burst_add(b, m, next, bodies, h);
	/* until every transfer added has ended (curl's running count says
	 * nothing of those added since the last perform) */
	while (active > 0) {
		CURLMsg *msg;
		int left;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			burst_done(b, msg->easy_handle);
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
			active--;
			if (next < b->n) {
				burst_add(b, m, next++, bodies, h);
				active++;
			}
		}
		if (active > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(h);
	for (int i = 0; i < b->n; i++)
		free(bodies[i]);
	free(bodies);
}

/* Basic mode, with Graph's message reads held (503, Retry-After 10 min),
 * so that what the intake stores stays in the inbox to be counted. */
static json_t *
gc_start(struct ta *t)
{
	json_t *sub;

	/* Graph delivers from many addresses; these all come from one */
	assert_int_equal(ta_start(t, "max_connections_per_address = 0", "rich_notifications = no"),
			 0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	ta_sim_ok(t, "POST", "/faults",
		  json_pack("{s:s, s:s, s:i, s:i, s:i}", "path", "/v1.0/chats/", "method", "GET",
			    "count", 100000, "status", 503, "retry_after", 600));
	sub = ta_sim_sub(t);
	assert_non_null(sub);
	return sub;
}

/* Every POST answered 202 is in the inbox when the 202 is seen, through
 * bursts of concurrent POSTs and SIGKILLs in the middle of them; none is
 * stored twice. */
static void
test_group_commit_is_durable(void **state)
{
	struct ta *t = *state;
	json_t *sub = gc_start(t);
	sqlite3 *db = gc_db(t);
	struct burst b = {t, db, sub, "calm", 200, 200, 0, NULL, 0, 0};
	unsigned int seed = (unsigned int)time(NULL);
	int acked = 0;

	burst_run(&b);
	for (int i = 0; i < b.n; i++)
		assert_int_equal(b.status[i], 202);
	assert_int_equal(b.missing, 0);
	free(b.status);
	print_message("SIGKILL seed %u\n", seed);
	for (int rep = 0; rep < 20; rep++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "kill%d", rep);
		if (rep > 0) {
			assert_int_equal(ta_restart(t), 0);
			json_decref(sub);
			assert_true(th_wait_until(ta_sub_active, t, 20));
			sub = ta_sim_sub(t);
		}
		struct burst k = {
		    t, db, sub, prefix, 2000, 64, 100 + (int)(rand_r(&seed) % 1800), NULL, 0, 0};
		burst_run(&k);
		if (t->pid > 0)
			ta_kill(t);
		for (int i = 0; i < k.n; i++) {
			char msg[64];
			snprintf(msg, sizeof(msg), "%s-%d", prefix, i);
			int rows = gc_rows(db, msg);
			/* answered: stored once; not answered: once or not at all */
			assert_true(rows == 0 || rows == 1);
			if (k.status[i] == 202)
				assert_int_equal(rows, 1), acked++;
		}
		assert_int_equal(k.missing, 0);
		free(k.status);
	}
	print_message("%d notifications acknowledged around 20 SIGKILLs, all stored once\n", acked);
	assert_int_equal(ta_restart(t), 0);
	sqlite3_close(db);
	json_decref(sub);
	assert_int_equal(ta_stop(t), 0);
}

/* A commit that fails answers 503 to every POST of its batch, and stores
 * none of them. */
static void
test_failed_commit_acknowledges_nothing(void **state)
{
	struct ta *t = *state;
	json_t *sub = gc_start(t);
	sqlite3 *db = gc_db(t);
	struct burst b = {t, db, sub, "locked", 20, 20, 0, NULL, 0, 0};

	/* the test holds the database's write lock */
	/* the agent may be writing this moment: wait for it, as a backup tool would */
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	burst_run(&b);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < b.n; i++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "locked-%d", i);
		assert_int_equal(b.status[i], 503);
		assert_int_equal(gc_rows(db, msg), 0);
	}
	free(b.status);
	sqlite3_close(db);
	json_decref(sub);
	assert_int_equal(ta_stop(t), 0);
}

/* The forger, in a child until killed: conns keep-alive connections, each
 * POSTing body again as soon as the last answer is in. */
static pid_t
forger(int port, int conns, const char *body)
{
	pid_t pid = child();

	if (pid != 0)
		return pid;
	char *req;
	int fds[64];
	if (asprintf(&req,
		     "POST /api/org/acme/ms-teams/notify HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     strlen(body), body) < 0)
		_exit(1);
	for (int i = 0; i < conns; i++)
		fds[i] = -1;
	for (;;) {
		for (int i = 0; i < conns; i++) {
			struct pollfd p = {.fd = fds[i], .events = POLLIN};
			char buf[4096];
			if (fds[i] >= 0 && poll(&p, 1, 0) == 1) {
				if (read(fds[i], buf, sizeof(buf)) <= 0) {
					close(fds[i]);
					fds[i] = -1;
				} else if (write(fds[i], req, strlen(req)) < 0) {
					close(fds[i]);
					fds[i] = -1;
				}
			}
			if (fds[i] < 0) {
				struct sockaddr_in to = {.sin_family = AF_INET,
							 .sin_port = htons((uint16_t)port)};
				inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
				fds[i] = socket(AF_INET, SOCK_STREAM, 0);
				if (connect(fds[i], (struct sockaddr *)&to, sizeof(to)) != 0 ||
				    write(fds[i], req, strlen(req)) < 0) {
					close(fds[i]);
					fds[i] = -1;
				}
			}
		}
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* 32 connections posting 1,000 forged items each, back to back: a valid
 * notification is still acknowledged within 100 ms at the 99th
 * percentile. */
static void
test_forgeries_do_not_slow_valid_ones(void **state)
{
	struct ta *t = *state;
	json_t *sub = gc_start(t), *value = json_array(), *forged;
	char *body, *url;
	double lat[200];
	const char *headers[] = {"Content-Type: application/json", NULL};

	for (int i = 0; i < 1000; i++)
		json_array_append_new(value, json_pack("{s:s, s:s, s:s, s:s, s:s}",
						       "subscriptionId", ta_str(sub, "id"),
						       "clientState", "forged", "changeType",
						       "created", "tenantId", TA_TENANT, "resource",
						       "chats('19:x@thread.v2')/messages('1')"));
	forged = json_pack("{s:o}", "value", value);
	body = json_dumps(forged, JSON_COMPACT);
	pid_t pid = forger(t->port, 32, body);
	if (asprintf(&url, "%s/api/org/acme/ms-teams/notify", t->base) < 0)
		abort();
	struct count_wait w = {t, 32000};
	assert_true(th_wait_until(counted, &w, 30));
	/* what forgeries cost the disk: the counters' flush (every 5 s), no
	 * row per POST or per item */
	json_t *st = ta_ctl(t, "status", NULL);
	long long rows =
	    json_integer_value(json_object_get(json_object_get(st, "agent"), "store_rows_written"));
	long forged_before = ta_counter(t, "rejected_client_state");
	json_decref(st);
	struct count_wait more = {t, forged_before + 32000};
	assert_true(th_wait_until(counted, &more, 30));
	st = ta_ctl(t, "status", NULL);
	rows = json_integer_value(
		   json_object_get(json_object_get(st, "agent"), "store_rows_written")) -
	       rows;
	json_decref(st);
	print_message("32,000 forged notifications: %lld database rows written\n", rows);
	assert_true(rows < 100);
	for (int i = 0; i < 200; i++) {
		char msg[32], *good;
		struct th_resp r;
		snprintf(msg, sizeof(msg), "valid-%d", i);
		good = gc_notification(sub, msg);
		double start = th_now();
		assert_int_equal(th_http("POST", url, NULL, headers, good, &r), 0);
		lat[i] = th_now() - start;
		assert_int_equal(r.status, 202);
		th_resp_free(&r);
		free(good);
	}
	stop_attack(pid);
	qsort(lat, 200, sizeof(lat[0]), cmp_double);
	print_message("valid notifications under forgery: p50 %.1f ms, p99 %.1f ms\n",
		      lat[100] * 1000, lat[197] * 1000);
#if defined(__SANITIZE_ADDRESS__)
	assert_true(lat[197] < 0.3); /* the sanitizers slow every parse ~3x */
#else
	assert_true(lat[197] < 0.1);
#endif
	free(url);
	free(body);
	json_decref(forged);
	json_decref(sub);
	assert_int_equal(ta_stop(t), 0);
}

static bool
two_connections(void *arg)
{
	return ta_intake_count(arg, "connections") >= 2;
}

/* Stopped (SIGTERM) with POSTs just read, large and small, not yet
 * answered: each gets its answer and ctteamsd exits cleanly
 * (libmicrohttpd aborts a stop with a connection still suspended). */
static void
test_stop_with_posts_in_flight(void **state)
{
	struct ta *t = *state;
	json_t *sub = gc_start(t), *value = json_array(), *big;
	char *body, *req, *small;
	int fds[2];

	for (int i = 0; i < 1000; i++)
		json_array_append_new(value, json_pack("{s:s, s:s, s:s}", "subscriptionId",
						       ta_str(sub, "id"), "clientState", "forged",
						       "resource", "chats('19:x@thread.v2')"));
	big = json_pack("{s:o}", "value", value);
	body = json_dumps(big, JSON_COMPACT);
	small = gc_notification(sub, "at-stop");
	for (int i = 0; i < 2; i++) {
		const char *b = i == 0 ? body : small;
		struct sockaddr_in to = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)t->port)};
		inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&to, sizeof(to)), 0);
		if (asprintf(&req,
			     "POST /api/org/acme/ms-teams/notify HTTP/1.1\r\nHost: x\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     strlen(b)) < 0)
			abort();
		/* the header first, so the connection is accepted before the stop */
		assert_true(write(fds[i], req, strlen(req)) > 0);
		free(req);
	}
	/* both accepted, so that the stop finds them (a connection still in
	 * the kernel's queue when the listener closes is refused, rightly) */
	assert_true(th_wait_until(two_connections, t, 10));
	kill(t->pid, SIGSTOP);
	for (int i = 0; i < 2; i++) {
		const char *b = i == 0 ? body : small;
		assert_true(write(fds[i], b, strlen(b)) == (ssize_t)strlen(b));
	}
	kill(t->pid, SIGTERM);
	kill(t->pid, SIGCONT);
	assert_int_equal(ta_stop(t), 0);
	for (int i = 0; i < 2; i++) {
		char buf[256] = "";
		int status = 0;
		ssize_t n = read(fds[i], buf, sizeof(buf) - 1);
		/* an answer, whichever: 202 if it was decided before the stop */
		if (n <= 0 || sscanf(buf, "HTTP/1.1 %d", &status) != 1 || status < 200)
			fail_msg("POST %d at the stop: no answer", i);
		close(fds[i]);
	}
	free(body);
	free(small);
	json_decref(big);
	json_decref(sub);
}

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_slots_freed, intake_teardown),
	    cmocka_unit_test_teardown(test_one_address_cannot_take_all, intake_teardown),
	    cmocka_unit_test_teardown(test_refusals_do_not_flood_the_log, intake_teardown),
	    cmocka_unit_test_teardown(test_forgeries_are_one_decision, intake_teardown),
	    cmocka_unit_test_teardown(test_http_hygiene, intake_teardown),
	    cmocka_unit_test_teardown(test_signin_links_and_forged_callbacks, intake_teardown),
	    cmocka_unit_test_teardown(test_slow_attacks_do_not_block, intake_teardown),
	    cmocka_unit_test_teardown(test_half_open_tls_does_not_block, intake_teardown),
	    cmocka_unit_test_teardown(test_body_memory_ceiling, intake_teardown),
	    cmocka_unit_test_teardown(test_group_commit_is_durable, intake_teardown),
	    cmocka_unit_test_teardown(test_failed_commit_acknowledges_nothing, intake_teardown),
	    cmocka_unit_test_teardown(test_forgeries_do_not_slow_valid_ones, intake_teardown),
	    cmocka_unit_test_teardown(test_stop_with_posts_in_flight, intake_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
