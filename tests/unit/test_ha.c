/* Unit tests: agent/ha.c's own deadline. An active agent believes its
 * lease only until 0.9 × lease_time after its renewal was sent, by its own
 * clock: here the loop never runs, so nothing renews, and the duties must
 * stop at that deadline (ha_may_act a margin before it), while the
 * database's lease still has time left and no other agent can take it. A
 * build that drops the deadline check fails here every time (the pair
 * test, with SIGSTOP, catches it only when a duty comes due in the
 * window). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "ha.h"
#include "seal.h"
#include "store.h"
#include "th.h"
#include "util.h"

static struct th_pg pg;

static void
until(double t)
{
	while (now_boot() < t)
		usleep(10 * 1000);
}

static bool
taken(void *arg)
{
	return store_lease_take(arg, "duties", "beta#test", 5) > 0;
}

static void
test_deadline(void **state)
{
	char *dir = th_tmpdir("ha"), *err = NULL, *uri = th_pg_newdb(&pg, "ha");
	struct conf c = {
	    .agent_name = "alpha", .lease_time = 5, .http_timeout = 1, .http_connect_timeout = 1};
	struct seal *s;
	struct store *a, *b;
	double t0;

	(void)state;
	assert_non_null(uri);
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(store_open_pg(uri, pg.pwfile, s, &a, &err), 0);
	assert_int_equal(store_open_pg(uri, pg.pwfile, s, &b, &err), 0);
	t0 = now_boot();
	assert_int_equal(ha_start(&c, a), 0);
	/* the deadline is 4.5 s after the lease was taken, at t0 or a little
	 * later: the duties may act, with a second to spare, until 3.5 s */
	assert_true(ha_active());
	assert_true(ha_gate(NULL));
	assert_true(ha_may_act(1));
	until(t0 + 3.6);
	assert_true(ha_active());
	assert_false(ha_may_act(1));
	assert_false(ha_gate(NULL));
	/* past the deadline (and ha_start's own time): paused, by this
	 * agent's clock alone, while the database still holds the lease for
	 * it another half second */
	until(t0 + 4.6);
	assert_false(ha_active());
	assert_true(ha_paused());
	assert_false(ha_gate(NULL));
	assert_int_equal(store_lease_take(b, "duties", "beta#test", 5), 0);
	/* the other agent takes it once the database's lease has run out */
	assert_true(th_wait_until(taken, b, 5));
	ha_stop();
	store_close(a);
	store_close(b);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
	free(uri);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deadline),
	};
	int failed;

	if (th_pg_start(&pg) < 0) {
		fprintf(stderr, "PostgreSQL could not be started: scripts/bootstrap installs it\n");
		return 1;
	}
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	th_pg_stop(&pg);
	return failed;
}
