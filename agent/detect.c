#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detect.h"
#include "mtext.h"
#include "text.h"
#include "util.h"

#define LOCATION_MAX   500  /* bytes of the location kept */
#define NAME_MAX_BYTES 1024 /* and of a display name (Entra: 256 characters) */

static size_t
split(const char *list, char ***ret)
{
	char *copy = xstrdup(list), *save = NULL;
	size_t n = 0;

	*ret = NULL;
	for (char *t = strtok_r(copy, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
		while (isspace((unsigned char)*t))
			t++;
		size_t len = strlen(t);
		while (len > 0 && isspace((unsigned char)t[len - 1]))
			t[--len] = '\0';
		if (!len)
			continue;
		*ret = xrealloc(*ret, (n + 1) * sizeof(char *));
		(*ret)[n++] = xstrdup(t);
	}
	free(copy);
	return n;
}

int
detect_rules_init(struct detect_rules *r, const char *phrases, const char *regex,
		  const char *test_numbers, char **ret_err)
{
	memset(r, 0, sizeof(*r));
	r->n_phrases = split(phrases ? phrases : DETECT_DEFAULT_PHRASE, &r->phrases);
	r->n_test_numbers = split(test_numbers ? test_numbers : "933", &r->test_numbers);
	if (regex) {
		int rc = regcomp(&r->regex, regex, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char buf[256];
			regerror(rc, &r->regex, buf, sizeof(buf));
			*ret_err = xprintf("not a POSIX extended regular expression: %s", buf);
			detect_rules_clear(r);
			return -1;
		}
		r->has_regex = true;
	}
	return 0;
}

void
detect_rules_clear(struct detect_rules *r)
{
	for (size_t i = 0; i < r->n_phrases; i++)
		free(r->phrases[i]);
	for (size_t i = 0; i < r->n_test_numbers; i++)
		free(r->test_numbers[i]);
	free(r->phrases);
	free(r->test_numbers);
	if (r->has_regex)
		regfree(&r->regex);
	free(r->service_user_id);
	memset(r, 0, sizeof(*r));
}

/* Appends the UTF-8 encoding of code point cp. */
static char *
put_utf8(char *p, unsigned long cp)
{
	/* a UTF-16 surrogate alone is no character: U+FFFD */
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		*p++ = (char)cp;
	} else if (cp < 0x800) {
		*p++ = (char)(0xc0 | (cp >> 6));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (char)(0xe0 | (cp >> 12));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x110000) {
		*p++ = (char)(0xf0 | (cp >> 18));
		*p++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	}
	return p;
}

/* A numeric character reference at s (after '&': "#N;" or "#xH;"): the
 * chars it takes, 0 if none; its value in *ret. */
static size_t
char_ref(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long cp;

	if (*s != '#')
		return 0;
	cp = s[1] == 'x' || s[1] == 'X' ? strtoul(s + 2, &end, 16) : strtoul(s + 1, &end, 10);
	if (*end != ';' || end == s + 1 || cp == 0 || cp > 0x10ffff)
		return 0;
	*ret = cp;
	return (size_t)(end - s) + 1;
}

/* Decodes one entity at s (after '&'); returns chars consumed, 0 if none. */
static size_t
entity(const char *s, char **out)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} named[] = {{"amp;", '&'},  {"lt;", '<'},       {"gt;", '>'},
		     {"quot;", '"'}, {"apos;", '\''},    {"nbsp;", ' '},
		     {"#39;", '\''}, {"ndash;", 0x2013}, {"mdash;", 0x2014}};
	const char *semi;

	if (*s == '#') {
		unsigned long cp = 0, lo = 0;
		size_t n = char_ref(s, &cp), m;
		if (!n)
			return 0;
		/* an emoji written as UTF-16 ("&#xD83D;&#xDEA8;"): one character */
		if (cp >= 0xd800 && cp <= 0xdbff && s[n] == '&' && (m = char_ref(s + n + 1, &lo)) &&
		    lo >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			n += 1 + m;
		}
		*out = put_utf8(*out, cp == 0xa0 ? ' ' : cp);
		return n;
	}
	semi = strchr(s, ';');
	if (!semi || semi - s > 8)
		return 0;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);
		if (!strncmp(s, named[i].name, n)) {
			*out = put_utf8(*out, named[i].cp);
			return n;
		}
	}
	return 0;
}

char *
detect_normalise(const char *html)
{
	/* entities never grow beyond 4 bytes from at least 4 in */
	char *out = xcalloc(strlen(html) + 1, 1), *p = out;
	bool space = true; /* drops leading white space */

	for (const char *s = html; *s;) {
		if (*s == '<') {
			/* a tag is a word break: "<p>a</p><p>b</p>" reads "a b" */
			const char *close = strchr(s, '>');
			s = close ? close + 1 : s + strlen(s);
			if (!space) {
				*p++ = ' ';
				space = true;
			}
			continue;
		}
		if (*s == '&') {
			char *before = p;
			size_t used = entity(s + 1, &p);
			if (used) {
				s += used + 1;
				if (p - before == 1 && *before == ' ') {
					p = before;
					if (!space) {
						*p++ = ' ';
						space = true;
					}
				} else {
					space = false;
				}
				continue;
			}
		}
		if (isspace((unsigned char)*s)) {
			if (!space) {
				*p++ = ' ';
				space = true;
			}
		} else {
			*p++ = *s;
			space = false;
		}
		s++;
	}
	while (p > out && p[-1] == ' ')
		p--;
	*p = '\0';
	return out;
}

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A dial string at p: 2 to 15 digits, an optional leading '+', standing
 * alone (not part of a longer number or word). */
static char *
dial_string_at(const char *p)
{
	const char *d = *p == '+' ? p + 1 : p;
	size_t n = strspn(d, "0123456789");

	if (n < 2 || n > 15 || isalnum((unsigned char)d[n]))
		return NULL;
	return xstrndup(p, (size_t)(d + n - p));
}

/* The dialled number, only where the notice says what was dialled: "…
 * Emergency Call to 911", "dialed 933", "called 112". A street number or
 * any other digits never count, and the text after "Location:" is not
 * read, so "933 Elm St" is not a test call. Unknown stays NULL. */
static char *
find_number(const char *text, const char *after)
{
	static const char *const lead[] = {"call to ", "calls to ", "dialed ",  "dialled ",
					   "called ",  "calling ",  "dialing ", "dialling "};
	const char *end = strcasestr(text, "location:");
	size_t len = end ? (size_t)(end - text) : strlen(text);
	char *head, *num = NULL;

	/* right after the matched phrase: "… Emergency Call to 911", "(933)" */
	while (after && (*after == ' ' || *after == '(' || *after == ':' || *after == '-'))
		after++;
	if (after && !strncasecmp(after, "to ", 3))
		after += 3;
	if (after && (num = dial_string_at(after)))
		return num;
	head = xstrndup(text, len);

	for (const char *p = head; *p && !num; p++) {
		if (p != head && isalpha((unsigned char)p[-1]))
			continue;
		for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]) && !num; i++) {
			size_t n = strlen(lead[i]);
			if (!strncasecmp(p, lead[i], n))
				num = dial_string_at(p + n);
		}
	}
	free(head);
	return num;
}

static char *
find_location(const char *text)
{
	const char *p = strcasestr(text, "location:");
	size_t n;

	if (!p)
		return NULL;
	p += 9;
	while (*p == ' ')
		p++;
	n = strcspn(p, (char[]){MTEXT_SEP, '\0'});
	/* cut between characters: half a character is no UTF-8, and jansson
	 * refuses a string that is not (the event would vanish from the
	 * outputs) */
	if (!n)
		return NULL;
	{
		char *part = xstrndup(p, n), *loc = txt_clean(part, LOCATION_MAX);
		free(part);
		return loc;
	}
}

static void judge(const struct detect_rules *r, json_t *m, const char *text,
		  struct detect_result *res);

void
detect_run(const struct detect_rules *r, json_t *m, struct detect_result *res)
{
	json_t *from = json_object_get(m, "from");
	json_t *user = json_object_get(from, "user");
	const char *importance = str(m, "importance");
	char *text;

	memset(res, 0, sizeof(*res));
	res->chat_id = xstrdup(str(m, "chatId"));
	res->message_id = xstrdup(str(m, "id"));
	res->created = xstrdup(str(m, "createdDateTime"));
	res->importance = xstrdup(importance ? importance : "normal");
	/* Teams sends the notice as the caller; an application or a system
	 * event (another shape Graph may use) still goes through the rules */
	if (!json_is_object(user))
		user = json_object_get(from, "application");
	res->caller_name = txt_clean(str(user, "displayName"), NAME_MAX_BYTES);
	res->caller_id = xstrdup(str(user, "id"));
	/* the body, and what a card or a system event's detail carries; the
	 * rules read every part, the location ends with its part */
	text = mtext_gather(m, detect_normalise);
	res->text = xstrdup(text);
	for (char *p = res->text; (p = strchr(p, MTEXT_SEP)); p++)
		*p = ' ';
	judge(r, m, text, res);
	free(text);
}

static void
judge(const struct detect_rules *r, json_t *m, const char *text, struct detect_result *res)
{
	const char *hit = NULL;

	if (str(m, "deletedDateTime")) {
		res->verdict = DETECT_IGNORED;
		res->why = xstrdup("the message was deleted");
		return;
	}
	if (r->service_user_id && res->caller_id && !strcmp(r->service_user_id, res->caller_id)) {
		res->verdict = DETECT_IGNORED;
		res->why = xstrdup("sent by the service user itself");
		return;
	}
	for (size_t i = 0; i < r->n_phrases && !hit; i++) {
		const char *at = strcasestr(text, r->phrases[i]);
		if (at) {
			hit = at + strlen(r->phrases[i]);
			res->why = xprintf("matches phrase \"%s\"", r->phrases[i]);
		}
	}
	if (!hit && r->has_regex && regexec(&r->regex, text, 0, NULL, 0) == 0) {
		hit = text;
		res->why = xstrdup("matches emergency_regex");
	}
	if (!hit) {
		bool important =
		    !strcmp(res->importance, "high") || !strcmp(res->importance, "urgent");
		res->verdict = important ? DETECT_UNRECOGNISED : DETECT_NONE;
		res->why = important ? xprintf("importance %s but no rule matches: possibly a "
					       "notice in wording the rules do not know",
					       res->importance)
				     : xstrdup("no rule matches");
		return;
	}
	res->verdict = DETECT_EMERGENCY;
	res->number = find_number(text, hit == text ? NULL : hit);
	res->location = find_location(text);
	for (size_t i = 0; res->number && i < r->n_test_numbers; i++)
		if (!strcmp(res->number, r->test_numbers[i]))
			res->test_call = true;
}

void
detect_result_clear(struct detect_result *res)
{
	free(res->why);
	free(res->text);
	free(res->caller_name);
	free(res->caller_id);
	free(res->number);
	free(res->location);
	free(res->importance);
	free(res->created);
	free(res->chat_id);
	free(res->message_id);
	memset(res, 0, sizeof(*res));
}
