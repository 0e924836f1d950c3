/*
 * Secrets at rest: AES-256-GCM under a 32-byte key file (0600) in the state
 * directory. Each sealed blob is bound to where it belongs (org and field)
 * through the additional data, so a blob copied to another slot fails.
 * Blob: version (1) | nonce (12) | ciphertext | tag (16).
 */
#ifndef CT_SEAL_H
#define CT_SEAL_H

#include <stddef.h>

struct seal;

/* Opens state_dir/seal.key, creating it on first start. -1 with a message
 * in *ret_err when the key is missing, unreadable or open to others. */
int seal_open(const char *state_dir, struct seal **ret, char **ret_err);
void seal_close(struct seal *s);
unsigned char *seal_encrypt(struct seal *s, const char *where, const char *plain, size_t *ret_len);
/* NULL when the blob was not sealed by this key for this place. */
char *seal_decrypt(struct seal *s, const char *where, const unsigned char *blob, size_t len);

#endif
