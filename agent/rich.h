/*
 * Rich notifications: every validationToken of the POST is checked (signed
 * by the identity platform, unexpired, for our app, sent by Graph's change
 * tracking app, for the org's tenant), then the payload's HMAC (in constant
 * time), then it is decrypted with the key its certificate id names.
 */
#ifndef CT_RICH_H
#define CT_RICH_H

#include <jansson.h>
#include <stdbool.h>

#include "conf.h"

#define GRAPH_CHANGE_TRACKING_APP "0bf30f3b-4a52-48df-9a82-234910c4a086"

enum rich_result { RICH_OK, RICH_WAIT, RICH_REJECT };

/* On RICH_OK the chatMessage; on RICH_REJECT the counter to bump and why.
 * received: when the notification was acknowledged (token expiry is judged
 * then). */
enum rich_result rich_open(const struct conf_org *o, json_t *item, double received,
			   json_t **ret_message, const char **ret_counter, char **ret_why);
/* The claims of one validationToken (already verified): NULL when right,
 * else the rejected_* counter to bump (free it). at: when it arrived. */
char *rich_claims_wrong(const struct conf_org *o, json_t *claims, const char *tenant, double at);
/* Opens an encryptedContent with the key its encryptionCertificateId
 * names: RSA-OAEP-SHA1 unwrap of dataKey, HMAC-SHA256 of data checked in
 * constant time, AES-256-CBC. The plaintext, or NULL with the rejected_*
 * counter that says why. rich_open calls it once the tokens are right. */
char *rich_decrypt(json_t *enc, const char **ret_counter);
/* Does iss name the org's cloud (or one of its token_issuers)? */
bool rich_issuer_ok(const struct conf_org *o, const char *iss, const char *tid, bool v1);

#endif
