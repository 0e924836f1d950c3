/* Unit tests: agent/event.c's timers (a heap by due time): each runs once
 * per arming, not before its time, the earliest first; stopped, re-armed
 * and freed ones, also from inside a callback, behave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "util.h"

#define N 300

struct shot {
	struct ev_timer *t;
	/* when it was armed for lies between these: the clock read just
	 * before and just after ev_timer_arm (a slow or busy build may be
	 * held between them) */
	double lo, hi;
	int runs;   /* how often it ran */
	double ran; /* when it last ran */
	int again;  /* arm itself again this many times */
	int kill;   /* free this other timer when run (index + 1) */
};

static struct shot shots[N];
static double latest_lo; /* the latest `lo` of those run so far */
static bool out_of_order;
static int ran_total, ran_expected;

static void arm(struct shot *s, double in);

static void
fired(void *arg)
{
	struct shot *s = arg;
	double now = now_mono();

	s->runs++;
	s->ran = now;
	ran_total++;
	/* everything here is armed before the loop runs, or (again) for a
	 * time after every run so far: they run in the order of their times,
	 * so none runs after one that was surely due later */
	if (s->hi < latest_lo)
		out_of_order = true;
	if (s->lo > latest_lo)
		latest_lo = s->lo;
	if (s->again > 0) {
		s->again--;
		arm(s, 0.01);
	}
	if (s->kill) {
		struct shot *k = &shots[s->kill - 1];
		ev_timer_free(k->t);
		k->t = NULL;
	}
	/* every run the test expects has come: no waiting on a clock */
	if (ran_total == ran_expected)
		ev_stop();
}

static void
arm(struct shot *s, double in)
{
	s->lo = now_mono() + in;
	ev_timer_arm(s->t, in);
	s->hi = now_mono() + in;
}

static void
stop_loop(void *arg)
{
	(void)arg;
	ev_stop();
}

static void
test_timers(void **state)
{
	struct ev_timer *end;

	(void)state;
	assert_int_equal(ev_init(), 0);
	srand(7);
	for (int i = 0; i < N; i++) {
		double in = (double)(rand() % 200) / 1000.0;
		shots[i].t = ev_timer_new(fired, &shots[i]);
		arm(&shots[i], in);
	}
	/* every tenth stopped; every seventh armed again, later; the first
	 * re-arms itself twice; number 5 frees number 250 if that has not
	 * run yet (it is armed for the last moment) */
	for (int i = 0; i < N; i += 10)
		ev_timer_stop(shots[i].t);
	for (int i = 3; i < N; i += 7) {
		if (i % 10 == 0)
			continue;
		arm(&shots[i], 0.25);
	}
	shots[1].again = 2;
	shots[5].kill = 251;
	shots[7].kill = 8; /* frees itself, running */
	arm(&shots[5], 0);
	arm(&shots[250], 0.3);
	/* all but the 30 stopped (number 250 among them, armed again and
	 * freed before its time), and number 1 twice more */
	ran_expected = N - 30 + 2;
	end = ev_timer_new(stop_loop, NULL);
	ev_timer_arm(end, 30);
	ev_run();
	for (int i = 0; i < N; i++) {
		struct shot *s = &shots[i];
		if (i == 250) {
			assert_int_equal(s->runs, 0);
			continue;
		}
		if (i % 10 == 0) {
			assert_int_equal(s->runs, 0);
			continue;
		}
		assert_int_equal(s->runs, i == 1 ? 3 : 1);
		assert_true(s->ran >= s->lo);
		if (s->t)
			assert_false(ev_timer_armed(s->t));
	}
	assert_false(out_of_order);
	assert_int_equal(ran_total, ran_expected);
	assert_null(shots[7].t);
	for (int i = 0; i < N; i++)
		ev_timer_free(shots[i].t);
	ev_timer_free(end);
	ev_shutdown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
