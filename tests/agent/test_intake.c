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
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
