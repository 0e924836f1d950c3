/* Unit tests: agent/outbox.c, on the real event loop and store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "outbox.h"
#include "seal.h"
#include "store.h"
#include "th.h"
#include "util.h"

struct receiver {
	long seen[64];
	size_t n;
	int fail_first; /* refuse this many deliveries */
	bool always_fail;
	size_t want;
};

static void
deliver(struct outbox_consumer *c, json_t *entry, void *arg)
{
	struct receiver *r = arg;

	if (r->always_fail || r->fail_first > 0) {
		r->fail_first--;
		outbox_done(c, false, "receiver away");
		return;
	}
	r->seen[r->n++] = (long)json_integer_value(json_object_get(entry, "seq"));
	outbox_done(c, true, NULL);
}

static struct receiver *watched;
static struct outbox_consumer *watched_c; /* also stop once it gave one up */

static bool
gave_up(void)
{
	json_t *st = watched_c ? outbox_consumer_status(watched_c) : NULL;
	bool yes = json_integer_value(json_object_get(st, "given_up")) > 0;

	json_decref(st);
	return yes;
}

static void
check(void *arg)
{
	struct ev_timer **self = arg;

	if (watched->n >= watched->want || gave_up())
		ev_stop();
	else
		ev_timer_arm(*self, 0.01);
}

static void
deadline(void *arg)
{
	(void)arg;
	ev_stop();
}

/* Runs the loop until r has seen `want` entries or 10 s pass. */
static void
run_until(struct receiver *r, size_t want)
{
	static struct ev_timer *t, *d;

	watched = r;
	r->want = want;
	t = ev_timer_new(check, &t);
	d = ev_timer_new(deadline, NULL);
	ev_timer_arm(t, 0.01);
	ev_timer_arm(d, 10);
	ev_run();
	ev_timer_free(t);
	ev_timer_free(d);
}

static void
append(struct store *st, const char *type, bool raise)
{
	struct store_alarm a = {type, "acme", "major", now_wall(), "x", false};

	assert_int_equal(store_alarm_transition(st, &a, raise), 0);
}

/* An entry posted from memory (an alarm about the store while it cannot
 * write) goes out before the store's next entry, through a receiver's
 * failure; its copy written later with "early" is passed over, not sent
 * twice, and what follows it is sent in order. */
static void
test_early_entry(void **state)
{
	char *dir = th_tmpdir("outbox"), *err = NULL;
	struct outbox_opts o = {.backoff_min = 0.02, .backoff_max = 0.1, .max_age = 3600};
	struct receiver r = {.fail_first = 1};
	struct store_alarm late = {"storeTrouble", "", "critical", now_wall(), "locked", true};
	struct outbox_consumer *c;
	struct seal *s;
	struct store *st;
	json_t *body, *stat;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(store_open(dir, s, &st, &err), 0);
	c = outbox_consumer_new(st, "test", &o, deliver, &r);
	body = store_alarm_body(&late, true);
	outbox_post_early("alarm", body);
	json_decref(body);
	run_until(&r, 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.seen[0], 0);
	/* the store works again: the late copy, then the clear */
	assert_int_equal(store_alarm_transition(st, &late, true), 0);
	late.early = false;
	assert_int_equal(store_alarm_transition(st, &late, false), 0);
	outbox_kick();
	run_until(&r, 2);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seen[1], 2); /* the clear; entry 1 passed over */
	stat = outbox_consumer_status(c);
	assert_int_equal(json_integer_value(json_object_get(stat, "pending")), 0);
	assert_int_equal(json_integer_value(json_object_get(stat, "delivered")), 2);
	json_decref(stat);
	outbox_consumer_free(c);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* A receiver that fails three times, then recovers, gets every entry
 * once, in order; a consumer made again (a restart) resumes after the
 * last one taken. */
static void
test_retry_in_order_and_resume(void **state)
{
	char *dir = th_tmpdir("outbox"), *err = NULL;
	struct outbox_opts o = {.backoff_min = 0.02, .backoff_max = 0.1, .max_age = 3600};
	struct receiver r = {.fail_first = 3};
	struct outbox_consumer *c;
	struct seal *s;
	struct store *st;
	json_t *stat;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(store_open(dir, s, &st, &err), 0);
	append(st, "old", true); /* before the output existed: not handed out */
	c = outbox_consumer_new(st, "test", &o, deliver, &r);
	for (int i = 0; i < 5; i++)
		append(st, i % 2 ? "b" : "a", i < 2);
	outbox_kick();
	run_until(&r, 5);
	assert_int_equal(r.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(r.seen[i], (long)i + 2);
	stat = outbox_consumer_status(c);
	assert_int_equal(json_integer_value(json_object_get(stat, "pending")), 0);
	assert_int_equal(json_integer_value(json_object_get(stat, "failures")), 0);
	json_decref(stat);
	outbox_consumer_free(c);
	/* again, as after a restart: nothing twice, the new one once */
	memset(&r, 0, sizeof(r));
	c = outbox_consumer_new(st, "test", &o, deliver, &r);
	append(st, "c", true);
	run_until(&r, 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.seen[0], 7);
	outbox_consumer_free(c);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* A receiver gone for longer than max_age: the entry is given up,
 * counted, and the next one is not held back. */
static void
test_give_up_old(void **state)
{
	char *dir = th_tmpdir("outbox"), *err = NULL;
	struct outbox_opts o = {.backoff_min = 0.02, .backoff_max = 0.05, .max_age = 0.3};
	struct receiver r = {.always_fail = true};
	struct outbox_consumer *c;
	struct seal *s;
	struct store *st;
	json_t *stat = NULL;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(store_open(dir, s, &st, &err), 0);
	c = outbox_consumer_new(st, "gone", &o, deliver, &r);
	watched_c = c;
	append(st, "a", true);
	run_until(&r, 1);
	watched_c = NULL;
	stat = outbox_consumer_status(c);
	assert_int_equal(json_integer_value(json_object_get(stat, "given_up")), 1);
	assert_int_equal(json_integer_value(json_object_get(stat, "pending")), 0);
	json_decref(stat);
	outbox_consumer_free(c);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

static int
loop_up(void **state)
{
	(void)state;
	return ev_init();
}

static int
loop_down(void **state)
{
	(void)state;
	ev_shutdown();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_in_order_and_resume),
	    cmocka_unit_test(test_early_entry),
	    cmocka_unit_test(test_give_up_old),
	};
	return cmocka_run_group_tests_name("outbox", tests, loop_up, loop_down);
}
