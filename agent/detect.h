/*
 * The emergency-notice detector: does a chatMessage announce a 911 call?
 * Microsoft's wording is known only from one public fragment ("has placed
 * an Emergency Call") and may change or be localised, so a silent miss is
 * the worst failure: an important message that no rule matches is reported
 * as a possible unrecognised notice, for an operator to look at.
 */
#ifndef CT_DETECT_H
#define CT_DETECT_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>

#define DETECT_DEFAULT_PHRASE "has placed an Emergency Call"

struct detect_rules {
	char **phrases; /* case-insensitive substrings of the normalised text */
	size_t n_phrases;
	regex_t regex; /* optional, POSIX ERE, case-insensitive */
	bool has_regex;
	char **test_numbers; /* dial strings that mark a test call, e.g. 933 */
	size_t n_test_numbers;
	char *service_user_id; /* its own messages are never emergencies */
};

enum detect_verdict {
	DETECT_NONE,         /* an ordinary message */
	DETECT_EMERGENCY,    /* a notice: raise an event */
	DETECT_UNRECOGNISED, /* important, but no rule matched: keep and count */
	DETECT_IGNORED,      /* not a candidate at all (system, deleted, own) */
};

struct detect_result {
	enum detect_verdict verdict;
	char *why;  /* one line, for test-match and logs */
	char *text; /* the normalised text */
	char *caller_name;
	char *caller_id;
	char *number;
	bool test_call;
	char *location;
	char *importance;
	char *created;
	char *chat_id;
	char *message_id;
};

/* phrases and test numbers: '|'-separated lists; regex may be NULL.
 * -1 with *ret_err on a bad regular expression. */
int detect_rules_init(struct detect_rules *r, const char *phrases, const char *regex,
		      const char *test_numbers, char **ret_err);
void detect_rules_clear(struct detect_rules *r);
void detect_run(const struct detect_rules *r, json_t *message, struct detect_result *ret);
void detect_result_clear(struct detect_result *res);
/* HTML to text: tags dropped, entities decoded, white space folded. */
char *detect_normalise(const char *html);

#endif
