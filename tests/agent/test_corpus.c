/*
 * Every notice reaches every output: a corpus of 911 notices as real
 * sites send them (accented, CJK and right-to-left names and places, emoji
 * as characters and as surrogate-pair entities, a 2 KB location, control
 * bytes, heavy HTML, an application sender's chatEvent), rich and basic.
 * For each: exactly one event in `ctteamsctl events`, one row in the SNMP
 * event table, one trap at a real snmptrapd, one passive result in Nagios'
 * command file (a FIFO read as Nagios reads it) and one at the Icinga API;
 * every text valid UTF-8, and the caller and location in each equal to
 * the event's, or cut from it between characters.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ta.h"
#include "text.h"

struct notice {
	const char *caller;   /* display name; NULL: an application sends it */
	const char *html;     /* the message body: {C} the caller, {L} the location */
	const char *location; /* as posted */
	const char *want;     /* the location the event must carry (NULL: as posted) */
	const char *mtype;    /* messageType; NULL: message */
};

static char long_location[2100];

static const struct notice corpus[] = {
    {"José Müller-Šťastný", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "Bâtiment 3, 12 rue de l'Église, Montréal QC", NULL, NULL},
    {"山田 太郎", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "東京都千代田区丸の内1-1-1 丸ビル3階", NULL, NULL},
    {"محمد عبد الله", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "תל אביב, רחוב הרצל 5, קומה 2", NULL, NULL},
    {"Ana 🚑 Lima", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "Floor 2 🚨 Room 🔥 201 👩🏽‍🚒", NULL, NULL},
    /* Teams' HTML may carry astral characters as surrogate-pair entities */
    {"Zoë O'Brien", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "Dock &#xD83D;&#xDEA8; 7 &#55357;&#56593;", "Dock 🚨 7 🔑", NULL},
    {"Ψ Δοκιμή", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     long_location, NULL, NULL},
    /* control bytes in a display name and a place: neutralised everywhere */
    {"Eve\x1b[31m\rEvil", "<p>{C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "Lab\x07 4\x1b[0m, bay\t9", NULL, NULL},
    {"Łukasz Żółć",
     "<div><div style=\"color:red\"><span><strong>{C}</strong> has placed an "
     "<em>Emergency&nbsp;Call</em> to 911.</span></div><br/><div>"
     "<span>Location:&nbsp;{L}</span></div></div>",
     "Hall A &amp; B &lt;West&gt;", "Hall A & B <West>", NULL},
    {NULL,
     "<p>Emergency Services: {C} has placed an Emergency Call to 911.</p><p>Location: {L}</p>",
     "Gare du Nord, quai 3", NULL, "chatEvent"},
};
#define N_CORPUS (sizeof(corpus) / sizeof(corpus[0]))

static struct th_snmp snmp;
static struct ta_fifo fifo;
static struct th_hook *hook;

/* tmpl with {C} and {L} replaced */
static char *
fill(const char *tmpl, const char *caller, const char *location)
{
	size_t cap = strlen(tmpl) + strlen(caller) + strlen(location) + 1;
	char *out = calloc(1, cap);
	const char *at = tmpl;

	while (*at) {
		if (!strncmp(at, "{C}", 3) || !strncmp(at, "{L}", 3)) {
			strcat(out, at[1] == 'C' ? caller : location);
			at += 3;
		} else {
			strncat(out, at++, 1);
		}
	}
	return out;
}

/* A notice into its chat, as posted: the HTML's escapes are the author's;
 * control bytes go as they are (JSON escapes them on the way). */
static void
post(struct ta *t, const char *chat, const struct notice *n, const char *from_id)
{
	char *html;
	json_t *b;

	/* an application's notice names someone in its text */
	html = fill(n->html, n->caller ? n->caller : "An operator", n->location);
	b = json_pack("{s:s, s:s, s:s, s:s}", "chat", chat, "content", html, "content_type", "html",
		      "importance", "high");
	if (n->caller)
		json_object_set_new(b, "from", json_string(from_id));
	else
		json_object_set_new(b, "from_app",
				    json_pack("{s:s, s:s}", "id",
					      "2b9c1f6e-7d3a-4c5b-9e8f-1a2b3c4d5e6f",
					      "display_name", "Emergency Services 🚨"));
	if (n->mtype)
		json_object_set_new(b, "message_type", json_string(n->mtype));
	ta_sim_ok(t, "POST", "/messages", b);
	free(html);
}

/* got is want, or want cut between characters (an output's size limit). */
static bool
same_or_cut(const char *got, const char *want)
{
	size_t n = strlen(got);

	if (!txt_is_clean(got))
		return false;
	return !strncmp(got, want, n) && (want[n] == '\0' || (want[n] & 0xC0) != 0x80) &&
	       (n > 0 || want[0] == '\0');
}

/* The lines of text holding "(event ID;" */
static int
lines_with_event(const char *text, long id, char **ret_line)
{
	char *copy = strdup(text ? text : ""), *save = NULL, *line, *want;
	int n = 0;

	if (asprintf(&want, "(event %ld;", id) < 0)
		abort();
	*ret_line = NULL;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, want)) {
			if (!*ret_line)
				*ret_line = strdup(line);
			n++;
		}
	free(want);
	free(copy);
	return n;
}

/* s as the Nagios output has it (docs/nagios-icinga.md): quotes, the
 * backquote and '$' as their typographic kin, out of a shell's way */
static char *
nagios_kin(const char *s)
{
	char *out = calloc(1, 3 * strlen(s) + 1), *o = out;

	for (; *s; s++) {
		const char *kin = *s == '\''  ? "\u2019"
				  : *s == '"' ? "\u201d"
				  : *s == '`' ? "\u2018"
				  : *s == '$' ? "\uff04"
					      : NULL;
		if (kin)
			o = stpcpy(o, kin);
		else
			*o++ = *s;
	}
	return out;
}

/* The text between "(event " context markers in an output: the caller and
 * the location as the passive result's wording puts them (for Nagios,
 * with its kin for quotes). */
static void
check_passive(const char *line, const json_t *ev, bool nagios)
{
	char *caller_k = nagios ? nagios_kin(json_string_value(json_object_get(ev, "caller")))
				: strdup(json_string_value(json_object_get(ev, "caller")));
	char *loc_k = nagios ? nagios_kin(json_string_value(json_object_get(ev, "location")))
			     : strdup(json_string_value(json_object_get(ev, "location")));
	const char *caller = caller_k, *loc = loc_k;
	const char *at;
	char *got;

	assert_true(txt_is_clean(line));
	/* "...: CALLER dialled NUMBER from LOCATION at TIME (event ..." */
	at = strstr(line, caller);
	if (!at) {
		fprintf(stderr, "caller '%s' not in: %s\n", caller, line);
		fail();
	}
	at = strstr(line, " from ");
	assert_non_null(at);
	got = strndup(at + 6, (size_t)(strstr(at, " at 20") - at - 6));
	if (!same_or_cut(got, loc)) {
		fprintf(stderr, "location '%s', event's '%s'\n", got, loc);
		fail();
	}
	free(got);
	free(caller_k);
	free(loc_k);
}

static json_t *
wait_events(struct ta *t, size_t n)
{
	struct ta_ev_wait w = {t, n};
	json_t *ev;

	if (!th_wait_until(ta_enough_events, &w, 90)) {
		ev = ta_events(t);
		fprintf(stderr, "%zu event(s) of %zu:\n%s\n", json_array_size(ev), n,
			json_dumps(ev, JSON_INDENT(1)));
		fail();
	}
	return ta_events(t);
}

struct outputs_wait {
	struct ta *t;
	json_t *events;
};

/* Every event has its trap, its Nagios line and its Icinga result. */
static bool
all_delivered(void *arg)
{
	struct outputs_wait *w = arg;
	char *traps = th_snmp_traps(&snmp), *cmds = th_read_file(fifo.out), *line;
	json_t *posts = th_hook_posts(hook), *p, *ev;
	char *icinga = strdup("");
	size_t i;
	bool ok = true;

	json_array_foreach (posts, i, p) {
		const char *o =
		    json_string_value(json_object_get(json_object_get(p, "body"), "plugin_output"));
		char *more;
		if (!o || json_is_true(json_object_get(p, "answered_error")))
			continue;
		if (asprintf(&more, "%s%s\n", icinga, o) < 0)
			abort();
		free(icinga);
		icinga = more;
	}
	json_array_foreach (w->events, i, ev) {
		long id = (long)json_integer_value(json_object_get(ev, "id"));
		char *name;
		if (asprintf(&name, "ctTeamsEventLocation.%ld", id) < 0)
			abort();
		ok &= traps && strstr(traps, name) != NULL;
		free(name);
		ok &= lines_with_event(cmds, id, &line) > 0;
		free(line);
		ok &= lines_with_event(icinga, id, &line) > 0;
		free(line);
	}
	free(traps);
	free(cmds);
	free(icinga);
	json_decref(posts);
	return ok;
}

static void
check_outputs(json_t *events)
{
	char *traps = th_snmp_traps(&snmp), *cmds = th_read_file(fifo.out), *walk, *line;
	json_t *posts = th_hook_posts(hook), *p, *ev;
	size_t i;

	walk = th_snmp_walk(&snmp, "CT-TEAMS-MIB::ctTeamsEventTable");
	assert_non_null(walk);
	json_array_foreach (events, i, ev) {
		long id = (long)json_integer_value(json_object_get(ev, "id"));
		const char *loc = json_string_value(json_object_get(ev, "location"));
		const char *caller = json_string_value(json_object_get(ev, "caller"));
		char *name, *got;
		int traps_for = 0, icinga_for = 0;

		th_step("event %ld: %s", id, caller);
		/* the event table's row */
		if (asprintf(&name, "ctTeamsEventLocation.%ld", id) < 0)
			abort();
		got = th_snmp_value(walk, name);
		assert_non_null(got);
		if (!same_or_cut(got, loc)) {
			fprintf(stderr, "%s: '%s', event's '%s'\n", name, got, loc);
			fail();
		}
		free(got);
		/* its one trap, carrying the same */
		for (char *at = traps; (at = strstr(at, name)); at += strlen(name))
			traps_for++;
		assert_int_equal(traps_for, 1);
		got = th_snmp_value(strstr(traps, name), name);
		assert_true(same_or_cut(got, loc));
		free(got);
		free(name);
		if (asprintf(&name, "ctTeamsEventCaller.%ld", id) < 0)
			abort();
		got = th_snmp_value(walk, name);
		assert_non_null(got);
		assert_true(same_or_cut(got, caller));
		free(got);
		free(name);
		/* one passive result in the command file */
		assert_int_equal(lines_with_event(cmds, id, &line), 1);
		check_passive(line, ev, true);
		free(line);
		/* one at the Icinga API */
		size_t k;
		json_array_foreach (posts, k, p) {
			const char *o = json_string_value(
			    json_object_get(json_object_get(p, "body"), "plugin_output"));
			char *want;
			if (asprintf(&want, "(event %ld;", id) < 0)
				abort();
			if (o && strstr(o, want) &&
			    !json_is_true(json_object_get(p, "answered_error"))) {
				icinga_for++;
				check_passive(o, ev, false);
			}
			free(want);
		}
		assert_int_equal(icinga_for, 1);
	}
	free(walk);
	free(traps);
	free(cmds);
	json_decref(posts);
}

/* The event a notice must give: its caller and location as the agent
 * must carry them, valid UTF-8 without control characters. */
static void
check_event(const json_t *ev, const struct notice *n)
{
	const char *loc = json_string_value(json_object_get(ev, "location"));
	const char *caller = json_string_value(json_object_get(ev, "caller"));
	const char *want = n->want ? n->want : n->location;

	assert_string_equal(json_string_value(json_object_get(ev, "kind")), "emergency");
	assert_non_null(loc);
	assert_non_null(caller);
	assert_true(txt_is_clean(loc));
	assert_true(txt_is_clean(caller));
	/* control characters are neutralised: only what remains is known */
	if (n->caller && !strpbrk(n->caller, "\x1b\r"))
		assert_string_equal(caller, n->caller);
	if (strpbrk(want, "\x1b\x07\t"))
		return;
	if (strlen(want) > 500) {
		/* cut between characters, near the 500 bytes kept */
		assert_true(same_or_cut(loc, want));
		assert_true(strlen(loc) > 490 && strlen(loc) <= 500);
	} else if (strcmp(loc, want) != 0) {
		fprintf(stderr, "location '%s', want '%s'\n", loc, want);
		fail();
	}
}

static void
run_corpus(struct ta *t, bool rich)
{
	char *dir = th_tmpdir("corpus"), *cert, *key, *base, *pwfile, *conf;
	struct th_hook_cfg hc = {.notify_status = 200};
	json_t *events;
	char **chats = calloc(N_CORPUS, sizeof(char *)), **users = calloc(N_CORPUS, sizeof(char *));

	/* a 2 KB location of two- and three-byte characters */
	long_location[0] = '\0';
	while (strlen(long_location) + 40 < sizeof(long_location))
		strcat(long_location, "Große Straße 7 — 北棟 ");
	assert_int_equal(th_snmp_start(&snmp, NULL, NULL), 0);
	ta_fifo_make(&fifo, dir);
	ta_fifo_read(&fifo);
	assert_int_equal(th_selfsigned(dir, &cert, &key), 0);
	hook = th_hook_start(cert, key);
	th_hook_configure(hook, &hc);
	base = th_hook_url(hook, "");
	if (asprintf(&pwfile, "%s/icinga.pass", dir) < 0)
		abort();
	assert_int_equal(th_write_file(pwfile, "s3cret-api-pass\n"), 0);
	chmod(pwfile, 0600);
	if (asprintf(&conf,
		     "agentx_socket = %s\nagentx_reconnect = 1s\nnagios_command_file = %s\n"
		     "icinga_url = %s\nicinga_user = ctteams\nicinga_password_file = %s\n"
		     "icinga_ca_file = %s\nlog_level = info",
		     snmp.agentx, fifo.path, base, pwfile, cert) < 0)
		abort();
	assert_int_equal(
	    ta_start(t, conf, rich ? "rich_notifications = yes\n" : "rich_notifications = no\n"),
	    0);
	assert_int_equal(ta_signin(t, "acme", NULL), 200);
	assert_true(th_wait_until(ta_sub_active, t, 20));
	assert_true(th_wait_until(ta_snmp_connected, t, 20));

	for (size_t i = 0; i < N_CORPUS; i++) {
		char upn[64];
		json_t *c;
		long status;
		snprintf(upn, sizeof(upn), "caller%zu-%d@contoso.example", i, rich);
		users[i] = th_sim_user(&t->gs, TA_TENANT, upn,
				       corpus[i].caller ? corpus[i].caller : "Unused");
		c = th_sim(&t->gs, "POST", "/chats",
			   json_pack("{s:s, s:s, s:[s, s]}", "tenant", TA_TENANT, "chat_type",
				     "group", "members", users[i], t->svc),
			   &status);
		assert_int_equal(status, 201);
		chats[i] = strdup(ta_str(c, "id"));
		json_decref(c);
		post(t, chats[i], &corpus[i], users[i]);
	}
	events = wait_events(t, N_CORPUS);
	assert_int_equal(json_array_size(events), N_CORPUS);
	/* each notice's own event (by its chat) */
	for (size_t i = 0; i < N_CORPUS; i++) {
		json_t *ev, *mine = NULL;
		size_t k;
		json_array_foreach (events, k, ev)
			if (!strcmp(ta_str(ev, "chat_id"), chats[i])) {
				assert_null(mine);
				mine = ev;
			}
		assert_non_null(mine);
		th_step("notice %zu: %s", i, corpus[i].caller ? corpus[i].caller : "(app)");
		check_event(mine, &corpus[i]);
	}
	{
		struct outputs_wait w = {t, events};
		if (!th_wait_until(all_delivered, &w, 60)) {
			char *cmds = th_read_file(fifo.out), *traps = th_snmp_traps(&snmp);
			fprintf(stderr,
				"not every output has every event.\nNagios:\n%s\nTraps:\n%s\n",
				cmds, traps);
			fail();
		}
	}
	check_outputs(events);
	json_decref(events);
	assert_int_equal(ta_stop(t), 0);
	for (size_t i = 0; i < N_CORPUS; i++) {
		free(chats[i]);
		free(users[i]);
	}
	free(chats);
	free(users);
	th_hook_stop(hook);
	hook = NULL;
	ta_fifo_stop(&fifo);
	th_snmp_stop(&snmp);
	th_rmtree(dir);
	free(dir);
	free(cert);
	free(key);
	free(base);
	free(pwfile);
	free(conf);
}

static void
test_corpus_rich(void **state)
{
	run_corpus(*state, true);
}

static void
test_corpus_basic(void **state)
{
	run_corpus(*state, false);
}

static int
setup(void **state)
{
	return ta_setup(state, NULL);
}

static int
test_teardown(void **state)
{
	if (hook) {
		th_hook_stop(hook);
		hook = NULL;
	}
	ta_fifo_stop(&fifo);
	ta_test_teardown(state);
	th_snmp_stop(&snmp);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_corpus_rich, test_teardown),
	    cmocka_unit_test_teardown(test_corpus_basic, test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, ta_teardown);
}
