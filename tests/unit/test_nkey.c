/* Unit tests: agent/nkey.c, the encryption certificate's rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nkey.h"
#include "th.h"
#include "util.h"

static void
wait_s(double s)
{
	/* the rotation period passing is what is tested, not a race */
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

/* A rotation that cannot be written is a problem until one works. */
static void
test_rotation_failure_is_a_problem(void **state)
{
	char *dir = th_tmpdir("nkey"), *err = NULL, *moved, *problem, *first;
	FILE *f;

	(void)state;
	assert_int_equal(nkey_init(dir, 2.0, &err), 0);
	assert_null(nkey_problem());
	first = xstrdup(nkey_current_id());
	/* the state directory is gone: a file stands where it was */
	if (asprintf(&moved, "%s.moved", dir) < 0)
		abort();
	assert_int_equal(rename(dir, moved), 0);
	f = fopen(dir, "w");
	fclose(f);
	wait_s(2.2);
	assert_int_equal(nkey_rotate_if_due(), 0);
	problem = nkey_problem();
	assert_non_null(problem);
	assert_non_null(strstr(problem, "cannot be rotated"));
	free(problem);
	/* the old key still opens payloads meanwhile */
	assert_non_null(nkey_find(first));
	/* back: the next rotation works and the problem is gone */
	unlink(dir);
	assert_int_equal(rename(moved, dir), 0);
	assert_int_equal(nkey_rotate_if_due(), 1);
	assert_null(nkey_problem());
	assert_string_not_equal(nkey_current_id(), first);
	nkey_shutdown();
	free(first);
	free(moved);
	th_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rotation_failure_is_a_problem),
	};
	return cmocka_run_group_tests_name("nkey", tests, NULL, NULL);
}
