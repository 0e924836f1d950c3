/*
 * Sign-in links and OAuth states, in the store so that a pair of agents
 * shares them: `ctteamsctl login` on one agent, the link opened on either,
 * the browser's callback landing on either (docs/high-availability.md).
 * Each is kept by the SHA-256 of its secret, never the secret: a reader
 * of the database cannot use one, and a lookup by hash tells a guesser's
 * timing nothing about the secret itself. The PKCE verifier is sealed,
 * bound to its state. Each ticket is used once: the database decides
 * which of two racing uses wins.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "util.h"

static const char *const kinds[] = {[STORE_LINK] = "link", [STORE_STATE] = "state"};

/* Hex SHA-256 of the secret (65 bytes with the NUL). */
static void
ticket_hash(const char *secret, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		abort(); /* SHA-256 of a short string cannot fail but for lack of memory */
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Prepares sql and frees it: for statements with the database's clock
 * written in (store_db_now). */
static struct db_stmt *
prep_owned(struct store *st, char *sql)
{
	struct db_stmt *s = store_prep(st, sql);

	free(sql);
	return s;
}

int
store_ticket_put(struct store *st, enum store_ticket kind, const char *secret, const char *org,
		 const char *verifier, double ttl)
{
	struct db_stmt *s = prep_owned(st, xprintf("INSERT INTO signin (hash, kind, org, verifier, "
						   "expires) VALUES (?, ?, ?, ?, %s + ?)",
						   store_db_now(st)));
	char hash[65], *field;

	if (!s)
		return -1;
	ticket_hash(secret, hash);
	field = xprintf("pkce/%s", hash);
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, kinds[kind]);
	db_bind_text(s, 3, org);
	store_bind_sealed(st, s, 4, org, field, verifier);
	db_bind_double(s, 5, ttl);
	free(field);
	return store_step_free(st, s) == 1 ? 0 : -1;
}

int
store_link_use(struct store *st, const char *secret, const char *org)
{
	struct db_stmt *s =
	    prep_owned(st, xprintf("UPDATE signin SET used=1 WHERE hash=? AND kind='link' "
				   "AND org=? AND expires >= %s AND used=0",
				   store_db_now(st)));
	char hash[65];
	enum db_step rc;
	long n;

	if (!s)
		return -1;
	ticket_hash(secret, hash);
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, org);
	n = store_step_free(st, s);
	if (n != 0)
		return n == 1 ? 0 : -1;
	/* not taken now: used before, or never good (told apart for the page) */
	s = prep_owned(st,
		       xprintf("SELECT used FROM signin WHERE hash=? AND kind='link' AND org=? AND "
			       "expires >= %s",
			       store_db_now(st)));
	if (!s)
		return -1;
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, org);
	rc = db_step(s);
	n = rc == DB_ROW ? (long)db_col_int64(s, 0) : 0;
	db_finalize(s);
	return rc == DB_ERROR ? -1 : n ? 2 : 1;
}

int
store_state_take(struct store *st, const char *secret, const char *org, char **ret_verifier)
{
	struct db_stmt *s =
	    prep_owned(st, xprintf("DELETE FROM signin WHERE hash=? AND kind='state' AND "
				   "org=? RETURNING verifier, expires - %s",
				   store_db_now(st)));
	char hash[65], *field;
	enum db_step rc;
	int out = 1;

	*ret_verifier = NULL;
	if (!s)
		return -1;
	ticket_hash(secret, hash);
	db_bind_text(s, 1, hash);
	db_bind_text(s, 2, org);
	rc = db_step(s);
	if (rc == DB_ROW && db_col_double(s, 1) >= 0) {
		field = xprintf("pkce/%s", hash);
		*ret_verifier = store_col_unseal(st, s, 0, org, field);
		free(field);
		out = *ret_verifier ? 0 : 1;
	} else if (rc == DB_ERROR) {
		store_failed(st, "taking a sign-in state");
		out = -1;
	}
	db_finalize(s);
	return out;
}

int
store_tickets_prune(struct store *st, double kept)
{
	struct db_stmt *s =
	    prep_owned(st, xprintf("DELETE FROM signin WHERE expires + ? < %s", store_db_now(st)));

	if (!s)
		return -1;
	db_bind_double(s, 1, kept);
	return store_step_free(st, s) < 0 ? -1 : 0;
}
