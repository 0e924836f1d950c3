/* Unit tests: agent/cidr.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"

static void
test_match(void **state)
{
	struct cidr_list l;
	char *bad = NULL;

	(void)state;
	assert_int_equal(cidr_parse("192.0.2.0/24, 2001:db8::/32 10.1.2.3", &l, &bad), 0);
	assert_int_equal(l.n, 3);
	assert_true(cidr_match(&l, "192.0.2.77"));
	assert_true(cidr_match(&l, "::ffff:192.0.2.77"));
	assert_false(cidr_match(&l, "192.0.3.1"));
	assert_true(cidr_match(&l, "2001:db8:1::5"));
	assert_false(cidr_match(&l, "2001:db9::5"));
	assert_true(cidr_match(&l, "10.1.2.3"));
	assert_false(cidr_match(&l, "10.1.2.4"));
	assert_false(cidr_match(&l, "not an address"));
	cidr_clear(&l);
	assert_int_equal(cidr_parse("0.0.0.0/0", &l, &bad), 0);
	assert_true(cidr_match(&l, "203.0.113.9"));
	cidr_clear(&l);
	assert_int_equal(cidr_parse("192.0.2.0/33", &l, &bad), -1);
	assert_string_equal(bad, "192.0.2.0/33");
	free(bad);
	assert_int_equal(cidr_parse("example.com", &l, &bad), -1);
	free(bad);
}

static void
test_client_behind_proxies(void **state)
{
	struct cidr_list trusted;
	char *bad = NULL, buf[64];

	(void)state;
	assert_int_equal(cidr_parse("127.0.0.1 10.0.0.0/8", &trusted, &bad), 0);
	/* from a trusted proxy: the last hop it did not add itself */
	assert_string_equal(
	    cidr_client(&trusted, "127.0.0.1", "198.51.100.7, 10.0.0.5", buf, sizeof(buf)),
	    "198.51.100.7");
	/* a client forging the header gains nothing: its own claim is leftmost */
	assert_string_equal(
	    cidr_client(&trusted, "127.0.0.1", "52.1.1.1, 203.0.113.66", buf, sizeof(buf)),
	    "203.0.113.66");
	/* from anyone else the header is ignored */
	assert_string_equal(cidr_client(&trusted, "203.0.113.66", "52.1.1.1", buf, sizeof(buf)),
			    "203.0.113.66");
	assert_string_equal(cidr_client(&trusted, "127.0.0.1", NULL, buf, sizeof(buf)),
			    "127.0.0.1");
	/* an entry that is no address names no one (found by fuzz_agent_input:
	 * "100.7", an empty entry, bytes, or one too long for the buffer) */
	const char *const junk[] = {
	    "198.51.100.7, 100.7, 10.0.0.9", "198.51.100.7, ", "\x1b[31m1.2.3.4",
	    "::ffff:\x8e\x8e:1",
	    "2001:db8:0:0:0:0:0:1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_string_equal(cidr_client(&trusted, "127.0.0.1", junk[i], buf, sizeof(buf)),
				    CIDR_BAD_CLIENT);
	cidr_clear(&trusted);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_client_behind_proxies),
	};
	return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
