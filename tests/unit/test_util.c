/* Unit tests: agent/util.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
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

static char logged[1024];

static void
capture(enum log_level level, const char *sub, const char *msg)
{
	(void)level, (void)sub;
	snprintf(logged, sizeof(logged), "%s", msg);
}

/* A log record is one line whatever it carries: a display name with a
 * new line and an escape sequence cannot forge another record. */
static void
test_log_lines_are_escaped(void **state)
{
	(void)state;
	log_set_sink(capture);
	log_set_level(LOG_LVL_ERROR); /* the sink sees it; stderr does not */
	log_warnx("event", "caller %s", "Eve\nctteamsd[ctl] info: admin logout\x1b[2J\r\t\xff");
	assert_null(strchr(logged, '\n'));
	assert_null(strchr(logged, '\r'));
	assert_null(strchr(logged, 0x1b));
	assert_string_equal(logged,
			    "caller Eve\\nctteamsd[ctl] info: admin logout\\x1b[2J\\r\\t\\xff");
	/* text in any script passes as it is */
	log_warnx("event", "caller %s", "José 東京 🚨");
	assert_string_equal(logged, "caller José 東京 🚨");
	log_set_sink(NULL);
}

/* The one backoff policy: doubling from min, capped at max, and with
 * jitter somewhere in the upper half of that. */
static void
test_backoff(void **state)
{
	(void)state;
	assert_true(backoff_delay(5, 600, 0, false) == 5);
	assert_true(backoff_delay(5, 600, 3, false) == 40);
	assert_true(backoff_delay(5, 600, 7, false) == 600);
	assert_true(backoff_delay(5, 600, 1000000, false) == 600);
	for (int i = 0; i < 100; i++) {
		double d = backoff_delay(5, 600, 2, true);
		assert_true(d >= 10 && d <= 20);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_secret_equal),
	    cmocka_unit_test(test_b64url_round_trip),
	    cmocka_unit_test(test_url_parse),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_log_lines_are_escaped),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
