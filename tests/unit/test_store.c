/* Unit tests: agent/seal.c, and the store's promises (docs/scaling.md) on
 * both engines: SQLite, then a PostgreSQL server the test starts. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "seal.h"
#include "store.h"
#include "th.h"
#include "util.h"

/* The second run: PostgreSQL, a database per test directory. */
static struct th_pg pg;
static bool on_pg;

static char *
db_for(const char *dir)
{
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char *name = strdup(base);

	for (char *p = name; *p; p++)
		*p = *p == '-' ? '_' : (char)tolower((unsigned char)*p);
	return name;
}

/* Does the file hold these bytes anywhere? */
static bool
file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 20, n;
	char *buf = malloc(cap);
	bool hit;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	hit = memmem(buf, n, needle, strlen(needle)) != NULL;
	free(buf);
	return hit;
}

static void
count_org(void *arg, const char *org)
{
	(void)org;
	(*(int *)arg)++;
}

/* The store under test: SQLite under dir, or dir's own database. */
static int
open_store(const char *dir, struct seal *s, struct store **st)
{
	char *err = NULL, *name, *uri, *out = NULL, *q;
	int rc;

	if (!on_pg)
		return store_open(dir, s, st, &err);
	name = db_for(dir);
	if (asprintf(&q, "SELECT count(*) FROM pg_database WHERE datname='%s'", name) < 0)
		abort();
	assert_int_equal(th_pg_sql(&pg, "postgres", q, &out), 0);
	uri = atoi(out) ? th_pg_uri(&pg, name) : th_pg_newdb(&pg, name);
	assert_non_null(uri);
	rc = store_open_pg(uri, pg.pwfile, s, st, &err);
	if (rc < 0)
		fprintf(stderr, "store_open_pg: %s\n", err);
	assert_true(store_shared(*st));
	/* the password is nowhere in what the store says of where it is */
	assert_null(strstr(store_where(*st), "pw-"));
	free(err);
	free(q);
	free(out);
	free(uri);
	free(name);
	return rc;
}

static void
test_seal_round_trip_and_binding(void **state)
{
	char *dir = th_tmpdir("seal"), *err = NULL, *plain, *path;
	struct seal *s;
	unsigned char *blob;
	size_t len;
	struct stat st;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	if (asprintf(&path, "%s/seal.key", dir) < 0)
		abort();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	blob = seal_encrypt(s, "org/a/refresh", "the secret", &len);
	assert_null(memmem(blob, len, "the secret", 10));
	plain = seal_decrypt(s, "org/a/refresh", blob, len);
	assert_string_equal(plain, "the secret");
	free(plain);
	/* sealed for one place, it does not open in another */
	assert_null(seal_decrypt(s, "org/b/refresh", blob, len));
	/* nor when a byte changed */
	blob[len / 2] ^= 1;
	assert_null(seal_decrypt(s, "org/a/refresh", blob, len));
	free(blob);
	seal_close(s);
	/* the same key opens again; a key others can read is refused */
	assert_int_equal(seal_open(dir, &s, &err), 0);
	seal_close(s);
	chmod(path, 0644);
	assert_int_equal(seal_open(dir, &s, &err), -1);
	assert_non_null(strstr(err, "0600"));
	free(err);
	free(path);
	th_rmtree(dir);
	free(dir);
}

static void
test_store_keeps_tokens_sealed(void **state)
{
	char *dir = th_tmpdir("store"), *err = NULL, *db;
	struct seal *s;
	struct store *st;
	struct store_auth a = {.state = "valid",
			       .access_token = "ACCESS-TOKEN-PLAIN",
			       .refresh_token = "REFRESH-TOKEN-PLAIN",
			       .access_expires = 1000,
			       .user_upn = "svc@contoso.example"},
			  b;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &st), 0);
	assert_int_equal(store_auth_get(st, "acme", &b), 1);
	assert_int_equal(store_auth_put(st, "acme", &a), 0);
	assert_int_equal(store_auth_get(st, "acme", &b), 0);
	assert_string_equal(b.refresh_token, "REFRESH-TOKEN-PLAIN");
	assert_string_equal(b.state, "valid");
	store_auth_clear(&b);
	store_close(st);
	/* nothing in the database is readable as a token */
	if (on_pg) {
		char *name = db_for(dir), *out = NULL;
		assert_int_equal(th_pg_sql(&pg, name, "COPY org_auth TO STDOUT", &out), 0);
		assert_non_null(strstr(out, "svc@contoso.example"));
		assert_null(strstr(out, "TOKEN-PLAIN"));
		/* nor as bytes: the sealed columns decoded */
		free(out);
		assert_int_equal(
		    th_pg_sql(&pg, name,
			      "SELECT position('TOKEN-PLAIN'::bytea IN access) + "
			      "position('TOKEN-PLAIN'::bytea IN refresh) FROM org_auth",
			      &out),
		    0);
		assert_int_equal(atoi(out), 0);
		free(out);
		free(name);
		db = NULL;
	} else {
		if (asprintf(&db, "%s/ctteams.db", dir) < 0)
			abort();
		FILE *f = fopen(db, "rb");
		char buf[1 << 16];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		assert_null(memmem(buf, n, "TOKEN-PLAIN", 11));
	}
	assert_int_equal(open_store(dir, s, &st), 0);
	assert_int_equal(store_auth_delete(st, "acme"), 0);
	assert_int_equal(store_auth_get(st, "acme", &b), 1);
	store_close(st);
	seal_close(s);
	free(db);
	th_rmtree(dir);
	free(dir);
}

static json_t *
notification(const char *chat, const char *msg)
{
	char *res;
	json_t *j;

	if (asprintf(&res, "chats('%s')/messages('%s')", chat, msg) < 0)
		abort();
	j = json_pack("[{s:s, s:s}]", "resource", res, "changeType", "created");
	free(res);
	return j;
}

/* The inbox: per org, per-item backoff, in-flight rows looked past, the
 * webhook's messages known to the reconcile, dead letters kept whole. */
static void
test_inbox_backoff_and_dead_letters(void **state)
{
	char *dir = th_tmpdir("inbox"), *err = NULL;
	struct seal *s;
	struct store *st;
	struct store_inbox_row row;
	json_t *items, *dl;
	double now = now_wall(), due = 0;
	long first, busy[1];

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &st), 0);
	items = notification("19:a@thread.v2", "1");
	assert_int_equal(store_inbox_add(st, "acme", "notification", items), 0);
	json_decref(items);
	items = notification("19:b@thread.v2", "2");
	assert_int_equal(store_inbox_add(st, "acme", "notification", items), 0);
	assert_int_equal(store_inbox_add(st, "beta", "notification", items), 0);
	json_decref(items);
	assert_true(store_inbox_has(st, "acme", "19:a@thread.v2", "1"));
	assert_false(store_inbox_has(st, "beta", "19:a@thread.v2", "1"));
	/* acme's first row fails and waits: the second is next */
	assert_int_equal(store_inbox_next(st, "acme", 0, now, &row), 0);
	first = row.seq;
	assert_true(row.received > now - 5);
	/* what processing needs to pace it, without parsing the item */
	assert_string_equal(row.msg_key, "19:a@thread.v2|1");
	assert_false(row.rich);
	store_inbox_row_clear(&row);
	assert_int_equal(store_inbox_retry(st, first, now + 60, "HTTP 503"), 0);
	assert_int_equal(store_inbox_next(st, "acme", 0, now, &row), 0);
	assert_true(row.seq > first);
	/* with the second in flight, the next due is the first's retry */
	busy[0] = row.seq;
	assert_int_equal(store_inbox_due(st, "acme", -1, busy, 1, &due), 0);
	assert_true(due >= now + 59 && due <= now + 61);
	store_inbox_row_clear(&row);
	/* past the bound: a dead letter, whole, with its reason and tries */
	assert_int_equal(store_inbox_dead(st, first, "HTTP 503"), 0);
	assert_false(store_inbox_has(st, "acme", "19:a@thread.v2", "1"));
	assert_int_equal(store_dead_count(st, "acme"), 1);
	assert_int_equal(store_dead_count(st, "beta"), 0);
	dl = store_dead_letters(st, "acme", 10);
	assert_int_equal(json_array_size(dl), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(dl, 0), "reason")),
			    "HTTP 503");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(dl, 0), "tries")), 2);
	assert_non_null(
	    json_object_get(json_object_get(json_array_get(dl, 0), "item"), "resource"));
	json_decref(dl);
	assert_int_equal(store_inbox_pending(st, "acme"), 1);
	assert_true(json_is_null(store_trouble(st)));
	store_close(st);
	/* opened again: the upgrades find their columns in place */
	assert_int_equal(open_store(dir, s, &st), 0);
	assert_int_equal(store_inbox_pending(st, "beta"), 1);
	/* a rich notification is known as one */
	items = notification("19:c@thread.v2", "3");
	json_object_set_new(json_array_get(items, 0), "encryptedContent",
			    json_pack("{s:s}", "data", "x"));
	assert_int_equal(store_inbox_add(st, "gamma", "notification", items), 0);
	json_decref(items);
	assert_int_equal(store_inbox_next(st, "gamma", 0, now_wall(), &row), 0);
	assert_true(row.rich);
	store_inbox_row_clear(&row);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* Events and outbox entries: in one transaction, in order; retention by
 * count and age, counting outbox entries an output had not taken. */
static void
test_events_outbox_and_retention(void **state)
{
	char *dir = th_tmpdir("outbox"), *err = NULL, id[8];
	struct seal *s;
	struct store *st;
	long eid, unsent = -1;
	json_t *ev, *ob;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &st), 0);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "%d", i);
		/* the first an emergency nobody acknowledged, then four other events */
		struct store_event e = {.org = "acme",
					.chat_id = "19:c@thread.v2",
					.message_id = id,
					.kind = i == 0 ? "emergency" : "unrecognised",
					.number = "911",
					.source = "webhook"};
		assert_int_equal(store_event_add(st, &e, 0, &eid), 0);
		/* the same message again: known, and no second outbox entry */
		assert_int_equal(store_event_add(st, &e, 0, &eid), 1);
	}
	/* a notice with no chat is an error, not a known event: it stays in
	 * the inbox to be tried again and set aside, never dropped as a
	 * duplicate */
	{
		struct store_event e = {.org = "acme",
					.message_id = "no-chat",
					.kind = "emergency",
					.source = "webhook"};
		assert_int_equal(store_event_add(st, &e, 0, &eid), -1);
	}
	ob = store_outbox_since(st, 0, 100);
	assert_int_equal(json_array_size(ob), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ob, 4), "kind")),
			    "event");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ob, 4), "message_id")),
			    "4");
	json_decref(ob);
	/* keep the newest two, and the open emergency however old */
	assert_int_equal(store_prune(st, 0, 2, -1, &unsent), 2);
	assert_int_equal(unsent, 0);
	ev = store_events(st, "acme", 10);
	assert_int_equal(json_array_size(ev), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 2), "kind")),
			    "emergency");
	json_decref(ev);
	/* a pruned event's message met again (a read-back) is still known */
	{
		struct store_event e = {.org = "acme",
					.chat_id = "19:c@thread.v2",
					.message_id = "1",
					.kind = "unrecognised",
					.source = "poll"};
		assert_int_equal(store_event_add(st, &e, 0, &eid), 1);
	}
	/* an output that has taken nothing yet: what is pruned is counted */
	assert_int_equal(store_cursor_put(st, "test", 0), 0);
	assert_int_equal(store_prune(st, now_wall() + 1, 100, 0, &unsent), 2);
	assert_int_equal(unsent, 5);
	assert_int_equal(store_outbox_last(st), 0);
	/* the cursor of an output no longer configured ("gone", at 0) counts
	 * nothing as lost when the outputs configured took everything (it was
	 * a false error every hour) */
	for (int i = 10; i < 12; i++) {
		snprintf(id, sizeof(id), "%d", i);
		struct store_event e = {.org = "acme",
					.chat_id = "19:d@thread.v2",
					.message_id = id,
					.kind = "unrecognised",
					.source = "webhook"};
		assert_int_equal(store_event_add(st, &e, 0, &eid), 0);
	}
	assert_int_equal(store_cursor_put(st, "gone", 0), 0);
	assert_int_equal(store_prune(st, now_wall() + 1, 100, store_outbox_last(st), &unsent), 2);
	assert_int_equal(unsent, 0);
	/* by age, everything known goes too: the message is new again */
	{
		struct store_event e = {.org = "acme",
					.chat_id = "19:c@thread.v2",
					.message_id = "1",
					.kind = "unrecognised",
					.source = "poll"};
		assert_int_equal(store_event_add(st, &e, 0, &eid), 0);
	}
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* Two agents on one database: an event raised once whoever records it,
 * outbox numbers that only grow, one number per org. */
static void
test_two_agents_share_one_database(void **state)
{
	char *dir = th_tmpdir("pair"), *err = NULL;
	struct seal *s;
	struct store *a, *b;
	long id_a = 0, id_b = 0, seq;
	json_t *ob;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &a), 0);
	assert_int_equal(open_store(dir, s, &b), 0);
	struct store_event e = {.org = "acme",
				.chat_id = "19:c@thread.v2",
				.message_id = "1",
				.kind = "emergency",
				.number = "911",
				.location = "Zürich, Bahnhofstraße 1 🚑",
				.source = "webhook"};
	assert_int_equal(store_event_add(a, &e, 0, &id_a), 0);
	assert_int_equal(store_event_add(b, &e, 0, &id_b), 1);
	assert_true(id_a > 0);
	ob = store_outbox_since(b, 0, 10);
	assert_int_equal(json_array_size(ob), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ob, 0), "location")),
			    "Zürich, Bahnhofstraße 1 🚑");
	json_decref(ob);
	{
		/* each agent's entry numbered after the other's: they only grow */
		json_t *beat = json_object();
		long s1 = store_outbox_post(b, "heartbeat", beat), s2, s3;
		s2 = store_outbox_post(a, "heartbeat", beat);
		s3 = store_outbox_post(b, "heartbeat", beat);
		json_decref(beat);
		assert_true(s1 > 0 && s2 > s1 && s3 > s2);
		seq = s3;
		assert_int_equal(store_outbox_last(a), seq);
	}
	assert_int_equal(store_org_index(a, "acme"), store_org_index(b, "acme"));
	assert_true(store_org_index(b, "beta") != store_org_index(a, "acme"));
	/* a token written by one is read by the other */
	struct store_auth t = {.state = "valid", .refresh_token = "R1"}, r;
	assert_int_equal(store_auth_put(a, "acme", &t), 0);
	assert_int_equal(store_auth_get(b, "acme", &r), 0);
	assert_string_equal(r.refresh_token, "R1");
	store_auth_clear(&r);
	store_close(a);
	store_close(b);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* Sign-in links and states: by hash only, the verifier sealed, each used
 * once; a new sign-in outranks tokens of the one before it. */
static void
test_signin_tickets_and_generations(void **state)
{
	char *dir = th_tmpdir("tickets"), *err = NULL, *v = NULL;
	struct seal *s;
	struct store *st;
	struct store_auth a = {.state = "valid", .refresh_token = "OLD"}, b;
	long gen = 0;
	int n = 0;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &st), 0);
	assert_int_equal(store_ticket_put(st, STORE_LINK, "link-secret-1", "acme", NULL, 600), 0);
	assert_int_equal(store_ticket_put(st, STORE_LINK, "link-secret-2", "acme", NULL, -1), 0);
	/* another org's, a wrong one, an expired one: not valid */
	assert_int_equal(store_link_use(st, "link-secret-1", "beta"), 1);
	assert_int_equal(store_link_use(st, "link-secret-X", "acme"), 1);
	assert_int_equal(store_link_use(st, "link-secret-2", "acme"), 1);
	assert_int_equal(store_link_use(st, "link-secret-1", "acme"), 0);
	assert_int_equal(store_link_use(st, "link-secret-1", "acme"), 2);
	assert_int_equal(
	    store_ticket_put(st, STORE_STATE, "state-secret-1", "acme", "VERIFIER-PLAIN", 600), 0);
	/* nothing readable: not the secrets, not the verifier */
	if (on_pg) {
		char *name = db_for(dir), *out = NULL;
		assert_int_equal(th_pg_sql(&pg, name,
					   "SELECT count(*) FROM signin WHERE hash LIKE '%secret%' "
					   "OR position('VERIFIER'::bytea IN verifier) > 0",
					   &out),
				 0);
		assert_int_equal(atoi(out), 0);
		free(out);
		free(name);
	} else {
		for (int i = 0; i < 2; i++) {
			char *db;
			if (asprintf(&db, "%s/ctteams.db%s", dir, i ? "-wal" : "") < 0)
				abort();
			assert_false(file_has(db, "secret-1"));
			assert_false(file_has(db, "VERIFIER"));
			free(db);
		}
	}
	assert_int_equal(store_state_take(st, "state-secret-1", "beta", &v), 1);
	assert_null(v);
	assert_int_equal(store_state_take(st, "state-secret-1", "acme", &v), 0);
	assert_string_equal(v, "VERIFIER-PLAIN");
	free_secret(v);
	/* taken: a replay finds nothing */
	assert_int_equal(store_state_take(st, "state-secret-1", "acme", &v), 1);
	assert_int_equal(store_ticket_put(st, STORE_STATE, "state-secret-2", "acme", "V2", -1), 0);
	assert_int_equal(store_state_take(st, "state-secret-2", "acme", &v), 1);
	/* a used link is kept a while past its end, then forgotten */
	assert_int_equal(store_tickets_prune(st, 600), 0);
	assert_int_equal(store_link_use(st, "link-secret-1", "acme"), 2);
	assert_int_equal(store_tickets_prune(st, -601), 0);
	assert_int_equal(store_link_use(st, "link-secret-1", "acme"), 1);

	/* the active's tokens from sign-in 1; the other agent stores sign-in 2 */
	assert_int_equal(store_auth_signin(st, "acme", &a, false, &gen), 0);
	assert_int_equal(gen, 1);
	a.gen = 1;
	a.refresh_token = "NEW";
	assert_int_equal(store_auth_signin(st, "acme", &a, true, &gen), 0);
	assert_int_equal(gen, 2);
	/* a refresh of sign-in 1 answered late writes nothing */
	a.refresh_token = "OLD-ROTATED";
	assert_int_equal(store_auth_put(st, "acme", &a), 1);
	assert_int_equal(store_auth_to_adopt(st, count_org, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_auth_get(st, "acme", &b), 0);
	assert_string_equal(b.refresh_token, "NEW");
	assert_int_equal(b.gen, 2);
	assert_int_equal(store_auth_adopted(st, "acme", b.gen), 0);
	n = 0;
	assert_int_equal(store_auth_to_adopt(st, count_org, &n), 0);
	assert_int_equal(n, 0);
	/* tokens of sign-in 2 are written */
	a.gen = 2;
	a.refresh_token = "NEW-ROTATED";
	assert_int_equal(store_auth_put(st, "acme", &a), 0);
	store_auth_clear(&b);
	assert_int_equal(store_auth_get(st, "acme", &b), 0);
	assert_string_equal(b.refresh_token, "NEW-ROTATED");
	store_auth_clear(&b);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* The orgs with rows in the inbox, each once, and none when it is empty
 * (the processing's look at every org, one query). */
static void
test_inbox_orgs(void **state)
{
	char *dir = th_tmpdir("orgs"), *err = NULL;
	const char *orgs[] = {"acme", "beta", "Zürich-öffentlich", "acme"};
	json_t *items = notification("19:a@thread.v2", "1");
	struct seal *s;
	struct store *st;
	int n = 0;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &st), 0);
	assert_int_equal(store_inbox_orgs(st, count_org, &n), 0);
	assert_int_equal(n, 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_inbox_add(st, orgs[i], "notification", items), 0);
	assert_int_equal(store_inbox_orgs(st, count_org, &n), 0);
	assert_int_equal(n, 3);
	json_decref(items);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

/* The server goes away: writes fail at once (the webhook answers 503),
 * store trouble says why; it comes back: the next write reconnects. */
static void
test_server_restart(void **state)
{
	char *dir = th_tmpdir("restart"), *err = NULL;
	struct seal *s;
	struct store *st;
	json_t *items = notification("19:a@thread.v2", "1");
	double t0;

	(void)state;
	assert_int_equal(seal_open(dir, &s, &err), 0);
	assert_int_equal(open_store(dir, s, &st), 0);
	assert_int_equal(store_inbox_add(st, "acme", "notification", items), 0);
	assert_int_equal(th_pg_halt(&pg), 0);
	t0 = th_now();
	assert_int_equal(store_inbox_add(st, "acme", "notification", items), -1);
	assert_int_equal(store_inbox_add(st, "acme", "notification", items), -1);
	/* failing, not waiting: well under libpq's connect timeout */
	assert_true(th_now() - t0 < 2.5);
	assert_non_null(store_trouble_why(st));
	assert_int_equal(th_pg_resume(&pg), 0);
	t0 = th_now();
	while (store_inbox_add(st, "acme", "notification", items) < 0 && th_now() - t0 < 10)
		usleep(100 * 1000);
	assert_null(store_trouble_why(st));
	/* the rows acknowledged before are all there: two */
	assert_int_equal(store_inbox_pending(st, "acme"), 2);
	json_decref(items);
	store_close(st);
	seal_close(s);
	th_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_round_trip_and_binding),
	    cmocka_unit_test(test_store_keeps_tokens_sealed),
	    cmocka_unit_test(test_inbox_backoff_and_dead_letters),
	    cmocka_unit_test(test_events_outbox_and_retention),
	    cmocka_unit_test(test_signin_tickets_and_generations),
	    cmocka_unit_test(test_inbox_orgs),
	};
	const struct CMUnitTest shared[] = {
	    cmocka_unit_test(test_two_agents_share_one_database),
	    cmocka_unit_test(test_server_restart),
	};
	int failed = cmocka_run_group_tests_name("seal and store: SQLite", tests, NULL, NULL);

	/* the same promises on PostgreSQL, and what only a shared one has */
	if (th_pg_start(&pg) < 0) {
		fprintf(stderr, "PostgreSQL could not be started: scripts/bootstrap installs it\n");
		return 1;
	}
	on_pg = true;
	failed += cmocka_run_group_tests_name("store: PostgreSQL", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("store: PostgreSQL, two agents", shared, NULL, NULL);
	th_pg_stop(&pg);
	return failed;
}
