#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seal.h"
#include "util.h"

#define KEY_LEN   32
#define NONCE_LEN 12
#define TAG_LEN   16
#define VERSION   1

struct seal {
	unsigned char key[KEY_LEN];
};

static int
key_create(const char *path, unsigned char *key, char **ret_err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0) {
		*ret_err = xprintf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	random_bytes(key, KEY_LEN);
	if (write(fd, key, KEY_LEN) != KEY_LEN || fsync(fd) != 0) {
		*ret_err = xprintf("cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int
seal_open(const char *state_dir, struct seal **ret, char **ret_err)
{
	char *path = xprintf("%s/seal.key", state_dir);
	struct seal *s = xcalloc(1, sizeof(*s));
	struct stat st;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		rc = key_create(path, s->key, ret_err);
		goto out;
	}
	if (fd < 0) {
		*ret_err = xprintf("cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077)) {
		*ret_err = xprintf("%s must be a regular file of mode 0600 (it is %03o)", path,
				   (unsigned int)(st.st_mode & 0777));
	} else if (read(fd, s->key, KEY_LEN) != KEY_LEN) {
		*ret_err = xprintf("%s: not a %d-byte key", path, KEY_LEN);
	} else {
		rc = 0;
	}
	close(fd);
out:
	free(path);
	if (rc < 0) {
		seal_close(s);
		return -1;
	}
	*ret = s;
	return 0;
}

void
seal_close(struct seal *s)
{
	if (s) {
		OPENSSL_cleanse(s->key, sizeof(s->key));
		free(s);
	}
}

unsigned char *
seal_encrypt(struct seal *s, const char *where, const char *plain, size_t *ret_len)
{
	size_t plen = strlen(plain);
	unsigned char *out = xcalloc(1 + NONCE_LEN + plen + TAG_LEN, 1);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, f = 0;

	out[0] = VERSION;
	random_bytes(out + 1, NONCE_LEN);
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, s->key, out + 1) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)where, (int)strlen(where)) !=
		1 ||
	    EVP_EncryptUpdate(ctx, out + 1 + NONCE_LEN, &n, (const unsigned char *)plain,
			      (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + 1 + NONCE_LEN + n, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + 1 + NONCE_LEN + plen) !=
		1)
		abort(); /* only a broken OpenSSL fails here */
	EVP_CIPHER_CTX_free(ctx);
	*ret_len = 1 + NONCE_LEN + plen + TAG_LEN;
	return out;
}

char *
seal_decrypt(struct seal *s, const char *where, const unsigned char *blob, size_t len)
{
	size_t clen;
	char *out;
	EVP_CIPHER_CTX *ctx;
	int n = 0, f = 0, ok;

	if (len < 1 + NONCE_LEN + TAG_LEN || blob[0] != VERSION)
		return NULL;
	clen = len - 1 - NONCE_LEN - TAG_LEN;
	out = xcalloc(clen + 1, 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, s->key, blob + 1) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)where, (int)strlen(where)) ==
		 1 &&
	     EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, blob + 1 + NONCE_LEN, (int)clen) ==
		 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				 (void *)(blob + 1 + NONCE_LEN + clen)) == 1 &&
	     EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &f) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(out, clen);
		free(out);
		return NULL;
	}
	return out;
}
