/*
 * The agent's durable state: SQLite in WAL mode under state_dir. Tokens are
 * sealed before they are written; a write of an org's tokens is one
 * transaction, so a crash leaves either the old pair or the new one.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include "seal.h"

struct store;

struct store_auth {
	char *state; /* see org.h */
	char *access_token;
	char *refresh_token;
	double access_expires;
	double last_refresh; /* last successful token grant */
	char *user_id;
	char *user_upn;
	long failures;
	char *last_error;
	double updated;
};

int store_open(const char *state_dir, struct seal *seal, struct store **ret, char **ret_err);
void store_close(struct store *st);
/* 0 found, 1 nothing stored, -1 error (logged). */
int store_auth_get(struct store *st, const char *org, struct store_auth *ret);
int store_auth_put(struct store *st, const char *org, const struct store_auth *a);
int store_auth_delete(struct store *st, const char *org);
void store_auth_clear(struct store_auth *a);

#endif
