/* Shared by store.c and store_work.c: the database handle and helpers. */
#ifndef CT_STORE_PRIV_H
#define CT_STORE_PRIV_H

#include <sqlite3.h>

#include "seal.h"

struct store {
	sqlite3 *db;
	struct seal *seal;
	/* writes failing since (0: healthy), how often, the last reason */
	double trouble_since;
	long trouble_failures;
	char *trouble_error;
	void (*on_recover)(double since);
};

char *store_col_text(sqlite3_stmt *s, int i);
char *store_col_unseal(struct store *st, sqlite3_stmt *s, int i, const char *org,
		       const char *field);
void store_bind_sealed(struct store *st, sqlite3_stmt *s, int i, const char *org, const char *field,
		       const char *plain);

#endif
