/* Unit tests: when a reauthorizationRequired calls for a PATCH (agent/subs.c),
 * and when the canary reads back while it keeps missing (agent/canary.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "canary.h"
#include "subs.h"

#define T0 1796000000.0 /* a time in December 2026 */

/* Graph asks every 15 minutes while a delegated token of 60-90 minutes is
 * in use. No PATCH until the token Graph holds nears its end (5 minutes,
 * or a quarter of a short token's life), where the agent reauthorizes on
 * its own anyway; one not known always gets one. */
static void
test_reauth_needed(void **state)
{
	double hour = T0 + 3600;

	(void)state;
	/* the cadence: 15, 30 and 45 minutes into an hour's token */
	for (int m = 15; m <= 45; m += 15)
		assert_false(subs_reauth_needed(hour, T0, T0 + m * 60));
	/* near its end, or past it: reauthorize */
	assert_true(subs_reauth_needed(hour, T0, hour - 200));
	assert_true(subs_reauth_needed(hour, T0, hour + 10));
	/* not known what Graph holds (a restart before any PATCH) */
	assert_true(subs_reauth_needed(0, 0, T0 + 60));
	/* a 40 s token (tests): the lead is a quarter of it */
	assert_false(subs_reauth_needed(T0 + 40, T0, T0 + 29));
	assert_true(subs_reauth_needed(T0 + 40, T0, T0 + 31));
}

/* The canary's read-backs while markers keep missing: after 1 h, 2 h, 4 h,
 * 8 h, 16 h, then the daily sweep reads the rest; with a compressed sweep,
 * the sweep at once. */
static void
test_canary_backoff(void **state)
{
	const double want[] = {3600, 7200, 14400, 28800, 57600, 0};
	double gap = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_true(canary_backoff(&gap, 86400) == want[i]);
	gap = 0;
	assert_true(canary_backoff(&gap, 20) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reauth_needed),
	    cmocka_unit_test(test_canary_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
