/*
 * The webhook intake against connections that hold slots and send
 * nothing: one address cannot take every slot, and once the slots are free
 * again the agent answers at once (libmicrohttpd pauses its listener at the
 * limit; the loop must run it again, not sleep).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Every slot held, then freed: the next request is answered at once. */
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
		assert_int_equal(idle(t, "127.0.0.1", 8, fds), 0);
		/* the slots are taken: nothing is answered */
		assert_true(handshake(t, 1) < 0);
		close_all(fds, 8);
		/* ... and once they are free, at once */
		double took = handshake(t, 5);
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

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_slots_freed, ta_test_teardown),
	    cmocka_unit_test_teardown(test_one_address_cannot_take_all, ta_test_teardown),
	    cmocka_unit_test_teardown(test_forgeries_are_one_decision, ta_test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
