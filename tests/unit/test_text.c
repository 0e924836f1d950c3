/* Unit tests: agent/text.c, outside text made fit for every output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

static void
clean_is(const char *in, size_t max, const char *want)
{
	char *got = txt_clean(in, max);

	assert_string_equal(got, want);
	assert_true(txt_is_clean(got));
	free(got);
}

/* Names and places in every script, and emoji, pass unchanged. */
static void
test_valid_text_unchanged(void **state)
{
	static const char *const texts[] = {
	    "Jane Doe",
	    "José Müller, Zürich",
	    "Łódź, ul. Piotrkowska 104",
	    "東京都千代田区",
	    "서울특별시",
	    "עברית ירושלים",
	    "القاهرة، شارع التحرير",
	    "Ελληνικά",
	    "🚨 911 🚒 👩🏽‍🚒",
	    "Ñandú — “quotes”",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		clean_is(texts[i], 0, texts[i]);
	assert_null(txt_clean(NULL, 10));
}

/* What is not UTF-8 becomes U+FFFD, one for each maximal bad subpart. */
static void
test_invalid_replaced(void **state)
{
	(void)state;
	clean_is("a\xff"
		 "b",
		 0,
		 "a\xef\xbf\xbd"
		 "b");                             /* a byte that starts nothing */
	clean_is("caf\xc3", 0, "caf\xef\xbf\xbd"); /* cut short at the end */
	clean_is("\xe6\x9d"
		 "x",
		 0,
		 "\xef\xbf\xbd"
		 "x");                                       /* cut short in the middle */
	clean_is("\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong '/' */
	clean_is("\xed\xa0\xbd", 0,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* a surrogate, CESU-8 style */
	clean_is("\xf4\x90\x80\x80", 0,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* past U+10FFFF */
}

/* Control characters (C0, DEL, C1, line and paragraph separators) are
 * spaces: no forged log line, no terminal escape. */
static void
test_controls_neutralised(void **state)
{
	(void)state;
	clean_is("a\nb\r\tc", 0, "a b  c");
	clean_is("x\x1b[31my\x7f", 0, "x [31my ");
	clean_is("1\xc2\x85"
		 "2\xe2\x80\xa8"
		 "3",
		 0, "1 2 3");
}

/* Cuts fall between characters. */
static void
test_cut_at_boundaries(void **state)
{
	(void)state;
	clean_is("aé", 2, "a");
	clean_is("aé", 3, "aé");
	clean_is("🚨🚨", 7, "🚨");
	clean_is("東京", 5, "東");
	clean_is("abc", 0, "abc");
	assert_int_equal(txt_cut("aé", 2), 1);
	assert_int_equal(txt_cut("🚨x", 3), 0);
	assert_int_equal(txt_cut("🚨x", 5), 5);
	assert_int_equal(txt_cut("abc", 10), 3);
	/* a bad byte counts as itself, and is kept whole or not at all */
	assert_int_equal(txt_cut("a\xff"
				 "b",
				 2),
			 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_text_unchanged),
	    cmocka_unit_test(test_invalid_replaced),
	    cmocka_unit_test(test_controls_neutralised),
	    cmocka_unit_test(test_cut_at_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
