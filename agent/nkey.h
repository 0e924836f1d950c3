/*
 * The agent's encryption keys for rich notifications: an RSA-2048 key pair
 * and a self-signed certificate, which Graph uses to wrap each payload's
 * key. Files in state_dir: notify-ID.key (0600) and notify-ID.crt. A new
 * pair is made when the current one is older than the rotation period;
 * older keys stay (for payloads still on their way) until they are twice
 * that old.
 */
#ifndef CT_NKEY_H
#define CT_NKEY_H

#include <jansson.h>
#include <openssl/evp.h>

int nkey_init(const char *state_dir, double rotation, char **ret_err);
void nkey_shutdown(void);
/* Makes a new pair if the current one is due; 1 when it did. */
int nkey_rotate_if_due(void);
const char *nkey_current_id(void);
/* Why the certificate needs a person (rotation failing, or overdue and
 * close to its expiry), or NULL. Free it. */
char *nkey_problem(void);
/* {id, created, expires, days_left, last_error} of the current
 * certificate, or null before there is one. */
json_t *nkey_status(void);
/* base64 DER of the current certificate, as Graph wants it */
const char *nkey_current_cert(void);
/* The private key for a certificate id, or NULL. */
EVP_PKEY *nkey_find(const char *id);

#endif
