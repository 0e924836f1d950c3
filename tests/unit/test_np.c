/*
 * The check plugins' ranges and perfdata, by the Monitoring Plugins
 * development guidelines: every range form and its edges, and perfdata
 * that their grammar accepts.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "np_perf.h"
#include "np_range.h"

static struct np_range
range(const char *text)
{
	struct np_range r;

	assert_int_equal(np_range_parse(text, &r), 0);
	return r;
}

/* alert[i] for values[i] */
static void
expect(const char *text, const double *values, const bool *alert, size_t n)
{
	struct np_range r = range(text);

	for (size_t i = 0; i < n; i++) {
		if (np_range_alert(&r, values[i]) != alert[i])
			fail_msg("range %s, value %g: alert should be %d", text, values[i],
				 alert[i]);
	}
}

#define EXPECT(text, ...)                                                                          \
	do {                                                                                       \
		static const struct {                                                              \
			double v;                                                                  \
			bool a;                                                                    \
		} c[] = {__VA_ARGS__};                                                             \
		double v[sizeof(c) / sizeof(c[0])];                                                \
		bool a[sizeof(c) / sizeof(c[0])];                                                  \
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {                            \
			v[i] = c[i].v;                                                             \
			a[i] = c[i].a;                                                             \
		}                                                                                  \
		expect(text, v, a, sizeof(c) / sizeof(c[0]));                                      \
	} while (0)

static void
test_ranges(void **state)
{
	(void)state;
	/* "10": outside 0..10, both ends inside */
	EXPECT("10", {-1, true}, {-0.001, true}, {0, false}, {5, false}, {10, false},
	       {10.001, true}, {11, true});
	/* "10:": below 10 */
	EXPECT("10:", {9.999, true}, {10, false}, {1e12, false}, {-5, true});
	/* "~:10": above 10 */
	EXPECT("~:10", {-1e12, false}, {10, false}, {10.5, true});
	/* "10:20": outside 10..20 */
	EXPECT("10:20", {9, true}, {10, false}, {15, false}, {20, false}, {21, true});
	/* "@10:20": inside 10..20, inclusive */
	EXPECT("@10:20", {9, false}, {10, true}, {15, true}, {20, true}, {20.1, false});
	/* negative and fractional bounds */
	EXPECT("-5:-1", {-6, true}, {-5, false}, {-1, false}, {0, true});
	EXPECT("0.5:1.5", {0.4, true}, {0.5, false}, {1.5, false}, {1.6, true});
	/* "0": anything above zero */
	EXPECT("0", {0, false}, {1, true}, {-1, true});
	/* "@0:0": exactly zero */
	EXPECT("@0:0", {0, true}, {1, false});
	/* "~:": never (minus to plus infinity) */
	EXPECT("~:", {-1e300, false}, {1e300, false});
}

static void
test_bad_ranges(void **state)
{
	static const char *const bad[] = {"",   "abc", "10:5", "@",   ":",   "1:2:3", "~",  "@~",
					  "1e", "10x", "x:10", "nan", "inf", "@:5",   " 10"};
	struct np_range r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (np_range_parse(bad[i], &r) == 0)
			fail_msg("'%s' parsed as a range", bad[i]);
	/* not set: never an alert */
	memset(&r, 0, sizeof(r));
	assert_false(np_range_alert(&r, 1e9));
}

/* The guidelines' grammar: 'label'=value[UOM];[warn];[crit];[min];[max] */
static void
assert_perf_grammar(const char *perf)
{
	regex_t re;
	/* numbers without exponents; ranges of [-0-9.:~@] */
	const char *pattern = "^('([^']|'')+'|[^ ='\\\\]+)=-?[0-9.]+(s|ms|us|%|B|KB|MB|TB|c)?"
			      "(;[-0-9.:~@]*(;[-0-9.:~@]*(;-?[0-9.]*(;-?[0-9.]*)?)?)?)?"
			      "( ('([^']|'')+'|[^ ='\\\\]+)=-?[0-9.]+(s|ms|us|%|B|KB|MB|TB|c)?"
			      "(;[-0-9.:~@]*(;[-0-9.:~@]*(;-?[0-9.]*(;-?[0-9.]*)?)?)?)?)*$";

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, perf, 0, NULL, 0) != 0)
		fail_msg("perfdata does not parse: %s", perf);
	regfree(&re);
}

static void
test_perfdata(void **state)
{
	struct np_perf p = {0};
	struct np_range w = range("7200"), c = range("@10:20");

	(void)state;
	np_perf_add(&p, "acme_refresh_age", 12, "s", &w, &c, "0", NULL);
	assert_string_equal(p.text, "'acme_refresh_age'=12s;7200;@10:20;0");
	np_perf_add(&p, "it's a label", 0.25, "", NULL, NULL, NULL, NULL);
	np_perf_add(&p, "count", 123456789012.0, "c", NULL, NULL, "0", NULL);
	np_perf_add(&p, "neg", -3, "", NULL, &c, NULL, "10");
	assert_string_equal(p.text, "'acme_refresh_age'=12s;7200;@10:20;0 'it''s a label'=0.25 "
				    "'count'=123456789012c;;;0 'neg'=-3;;@10:20;;10");
	assert_perf_grammar(p.text);
	np_perf_free(&p);
	/* large and small values print without an exponent */
	np_perf_add(&p, "big", 1e15, "B", NULL, NULL, NULL, NULL);
	np_perf_add(&p, "small", 0.0000004, "s", NULL, NULL, NULL, NULL);
	assert_string_equal(p.text, "'big'=1000000000000000B 'small'=0s");
	assert_perf_grammar(p.text);
	np_perf_free(&p);
	/* a label with what would break the line */
	np_perf_add(&p, "a|b\nc=d", 1, "", NULL, NULL, NULL, NULL);
	assert_null(strchr(p.text, '|'));
	assert_null(strchr(p.text, '\n'));
	assert_perf_grammar(p.text);
	np_perf_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_bad_ranges),
	    cmocka_unit_test(test_perfdata),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
