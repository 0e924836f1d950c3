/* Unit tests: agent/util.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

static void
test_secret_equal(void **state)
{
	(void)state;
	assert_true(secret_equal("abc", "abc"));
	assert_false(secret_equal("abc", "abd"));
	assert_false(secret_equal("abc", "abcd"));
	assert_false(secret_equal("abcd", "abc"));
	assert_false(secret_equal("", "a"));
	assert_true(secret_equal("", ""));
	assert_false(secret_equal(NULL, "a"));
	assert_false(secret_equal("a", NULL));
}

static void
test_b64url_round_trip(void **state)
{
	unsigned char in[64], *out;
	size_t n;

	(void)state;
	for (size_t len = 0; len < sizeof(in); len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 37 + len);
		char *enc = b64url_encode(in, len);
		assert_null(strpbrk(enc, "+/="));
		out = b64url_decode(enc, &n);
		assert_non_null(out);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		free(out);
		free(enc);
	}
	assert_null(b64url_decode("ab+c", &n)); /* standard alphabet is not base64url */
	assert_null(b64url_decode("a", &n));
}

static void
test_url_parse(void **state)
{
	struct url u;

	(void)state;
	assert_int_equal(url_parse("https://ctteams.example.net", &u), 0);
	assert_string_equal(u.host, "ctteams.example.net");
	assert_int_equal(u.port, 443);
	assert_int_equal(url_parse("http://127.0.0.1:8080/x?y", &u), 0);
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/x?y");
	assert_int_equal(url_parse("https://[::1]:9443", &u), 0);
	assert_string_equal(u.host, "[::1]");
	assert_int_equal(u.port, 9443);
	assert_int_equal(url_parse("https://user@evil.example", &u), -1);
	assert_int_equal(url_parse("https://x:99999", &u), -1);
	assert_int_equal(url_parse("nourl", &u), -1);
	assert_true(url_host_is_loopback("127.0.0.1"));
	assert_false(url_host_is_loopback("128.0.0.1"));
}

static void
test_escaping(void **state)
{
	char *h = html_escape("<a href=\"x\">'&'</a>"), *u = url_encode("a b/c?d=e&f~");

	(void)state;
	assert_string_equal(h, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	assert_string_equal(u, "a%20b%2Fc%3Fd%3De%26f~");
	free(h);
	free(u);
}

static void
test_addr_parse(void **state)
{
	char *host;
	int port;

	(void)state;
	assert_int_equal(addr_parse("0.0.0.0:443", &host, &port), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 443);
	free(host);
	assert_int_equal(addr_parse("[::]:8443", &host, &port), 0);
	assert_string_equal(host, "::");
	free(host);
	assert_int_equal(addr_parse("nocolon", &host, &port), -1);
	assert_int_equal(addr_parse("1.2.3.4:70000", &host, &port), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secret_equal), cmocka_unit_test(test_b64url_round_trip),
	    cmocka_unit_test(test_url_parse),    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_addr_parse),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
