/*
 * libFuzzer target: what the agent reads from Entra's token endpoint (any
 * status, any body), the id_token it decodes, and URLs and base64url it
 * parses. Nothing here may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {0, 200, 400, 401, 429, 500, 503};
	struct oauth_result r;
	struct oauth_claims c;
	struct url u;
	unsigned char *raw;
	size_t n;
	char *s;

	if (size < 1)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	oauth_classify(statuses[data[0] % 7], s, strlen(s), data[0] & 1 ? 5 : -1, "x", &r);
	oauth_result_clear(&r);
	if (oauth_id_claims(s, &c) == 0)
		oauth_claims_clear(&c);
	oauth_claims_clear(&c);
	(void)url_parse(s, &u);
	raw = b64url_decode(s, &n);
	free(raw);
	free(html_escape(s));
	free(s);
	return 0;
}
