/*
 * The Microsoft identity platform's signing keys (JWKS), fetched from
 * {authority_host}/common/discovery/v2.0/keys, cached per authority, and
 * fetched again when a token names a key the cache does not hold (keys
 * rotate), at most once a minute. RS256 signatures are checked here.
 */
#ifndef CT_JWKS_H
#define CT_JWKS_H

#include <jansson.h>

enum jwks_result { JWKS_VALID, JWKS_WAIT, JWKS_INVALID };

/* ready() is called when keys arrive, so waiting work can resume. */
void jwks_init(void (*ready)(void));
void jwks_shutdown(void);
/* The authority's key set, as fetched (the JWKS "keys" array, not taken):
 * what a fetch does with its answer, and how tests and fuzzing give keys. */
void jwks_put(const char *authority, json_t *keys);
/* Verifies the signature; the claims on success, a reason otherwise.
 * JWKS_WAIT: the keys are being fetched; try again after ready(). */
enum jwks_result jwks_verify(const char *authority, const char *jwt, json_t **ret_claims,
			     char **ret_why);

#endif
