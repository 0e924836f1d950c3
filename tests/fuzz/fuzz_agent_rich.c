/*
 * libFuzzer target: the decoding of a rich notification's payload
 * (agent/rich.c rich_decrypt), with a real key of the agent's (agent/nkey.c).
 * Byte 0 picks what the rest is:
 *   0: an encryptedContent object as Graph would send it (any JSON; the
 *      certificate id set to the agent's when missing): refused or opened,
 *      never a crash or a leak;
 *   1: a plaintext, sealed as Graph seals it: it must open to exactly that
 *      text (up to a NUL, where the agent's string ends);
 *   2: a plaintext, sealed, then one byte of the data, the signature or the
 *      wrapped key changed (which, where, and how from the input): it must
 *      be refused with a counter, never opened.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nkey.h"
#include "rich.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *key_id;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xprintf("%s/fuzz-rich-XXXXXX", tmp && *tmp ? tmp : "/tmp"), *err = NULL;

	(void)argc;
	(void)argv;
	/* the key pair lives as long as the process; its directory is left
	 * in TMPDIR, as a test's */
	if (!mkdtemp(dir) || nkey_init(dir, 86400 * 30.0, &err) < 0)
		abort();
	free(dir);
	key_id = nkey_current_id();
	return 0;
}

static char *
b64(const unsigned char *in, size_t len)
{
	char *out = xcalloc(4 * ((len + 2) / 3) + 1, 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Graph's sealing: a random AES-256 key wrapped with RSA-OAEP-SHA1, the
 * data AES-256-CBC with IV = key[0..16], an HMAC-SHA256 of the data. */
static void
seal(const unsigned char *plain, size_t len, unsigned char **ret_data, size_t *ret_dlen,
     unsigned char *ret_sig, unsigned char **ret_wrapped, size_t *ret_wlen)
{
	EVP_PKEY *pub = nkey_find(key_id);
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pub, NULL);
	EVP_CIPHER_CTX *cctx = EVP_CIPHER_CTX_new();
	unsigned char key[32];
	unsigned int siglen = 0;
	int l1 = 0, l2 = 0;

	if (RAND_bytes(key, sizeof(key)) != 1)
		abort();
	*ret_data = xcalloc(len + 32, 1);
	if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key, key) != 1 ||
	    EVP_EncryptUpdate(cctx, *ret_data, &l1, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(cctx, *ret_data + l1, &l2) != 1)
		abort();
	*ret_dlen = (size_t)(l1 + l2);
	HMAC(EVP_sha256(), key, sizeof(key), *ret_data, *ret_dlen, ret_sig, &siglen);
	*ret_wlen = 0;
	if (EVP_PKEY_encrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha1()) != 1 ||
	    EVP_PKEY_encrypt(pctx, NULL, ret_wlen, key, sizeof(key)) != 1)
		abort();
	*ret_wrapped = xcalloc(*ret_wlen, 1);
	if (EVP_PKEY_encrypt(pctx, *ret_wrapped, ret_wlen, key, sizeof(key)) != 1)
		abort();
	EVP_PKEY_CTX_free(pctx);
	EVP_CIPHER_CTX_free(cctx);
}

static void
sealed(const uint8_t *data, size_t size, bool tamper)
{
	/* the last two bytes choose the change when tampering */
	size_t plen = tamper && size >= 2 ? size - 2 : size;
	unsigned char *ct, *wrapped, sig[32];
	size_t clen, wlen;
	char *d, *s, *k, *out;
	const char *counter = NULL;
	json_t *enc;

	seal(data, plen, &ct, &clen, sig, &wrapped, &wlen);
	if (tamper && size >= 2) {
		uint8_t where = data[size - 2], flip = data[size - 1] | 1;
		if (where % 3 == 0)
			ct[(where / 3) % clen] ^= flip;
		else if (where % 3 == 1)
			sig[(where / 3) % sizeof(sig)] ^= flip;
		else
			wrapped[(where / 3) % wlen] ^= flip;
	}
	d = b64(ct, clen);
	s = b64(sig, sizeof(sig));
	k = b64(wrapped, wlen);
	enc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "data", d, "dataSignature", s, "dataKey", k,
			"encryptionCertificateId", key_id, "encryptionCertificateThumbprint", "x");
	out = rich_decrypt(enc, &counter);
	if (tamper && size >= 2) {
		if (out || !counter)
			abort(); /* a changed byte never opens */
	} else if (!out || counter || strncmp(out, (const char *)data, plen) != 0 ||
		   strlen(out) != strnlen((const char *)data, plen)) {
		abort(); /* what was sealed opens to itself */
	}
	free(out);
	json_decref(enc);
	free(d);
	free(s);
	free(k);
	free(ct);
	free(wrapped);
}

static void
as_sent(const uint8_t *data, size_t size)
{
	json_t *enc = json_loadb((const char *)data, size, 0, NULL);
	const char *counter = NULL;
	char *out;

	if (!json_is_object(enc)) {
		json_decref(enc);
		return;
	}
	if (!json_object_get(enc, "encryptionCertificateId"))
		json_object_set_new(enc, "encryptionCertificateId", json_string(key_id));
	out = rich_decrypt(enc, &counter);
	if (!out == !counter)
		abort(); /* opened, or refused with a reason: one of the two */
	free(out);
	json_decref(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		as_sent(data + 1, size - 1);
		break;
	case 1:
		sealed(data + 1, size - 1, false);
		break;
	default:
		sealed(data + 1, size - 1, true);
		break;
	}
	return 0;
}
