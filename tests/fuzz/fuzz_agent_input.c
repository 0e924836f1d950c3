/*
 * libFuzzer target: the small parsers of outside input on the webhook's
 * path, fed lines of one input: a trust_proxy CIDR list, the peer address
 * and an X-Forwarded-For header (the client the agent logs and admits
 * must be the peer, a well-formed address, or CIDR_BAD_CLIENT), a notification's resource
 * (a chat and a message id, both non-empty, or nothing), and a
 * validationToken's claims with an issuer (judged without crashing or
 * leaking). Each line is taken as text, as the listener would pass it.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidr.h"
#include "conf.h"
#include "fuzz_conf.h"
#include "rich.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf *cf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cf = fz_conf();
	return 0;
}

static bool
is_address(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void
client(const char *list, const char *peer, const char *xff)
{
	struct cidr_list trusted = {0};
	char *bad = NULL, buf[64];
	const char *who;

	if (cidr_parse(list, &trusted, &bad) < 0) {
		if (!bad)
			abort(); /* a refusal names what it refused */
		free(bad);
		return;
	}
	who = cidr_client(&trusted, peer, xff, buf, sizeof(buf));
	if (!who ||
	    (strcmp(who, peer) != 0 && !is_address(who) && strcmp(who, CIDR_BAD_CLIENT) != 0))
		abort();
	cidr_match(&trusted, xff);
	cidr_clear(&trusted);
}

static void
resource(const char *res)
{
	char *chat = NULL, *msg = NULL;

	if (graph_message_ids(res, &chat, &msg) == 0 && (!chat || !msg || !*chat || !*msg))
		abort();
	free(chat);
	free(msg);
}

static void
claims(const char *text, const char *iss)
{
	json_t *c = json_loads(text, 0, NULL);
	char *wrong =
	    rich_claims_wrong(cf->orgs[0], c, "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10", 1796000000);

	free(wrong);
	json_decref(c);
	rich_issuer_ok(cf->orgs[0], iss, json_string_value(json_object_get(c, "tid")), true);
	rich_issuer_ok(cf->orgs[0], iss, "8f0d3f8e-1c4e-4a51-9a2f-5b2c8d7e6a10", false);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *field[6] = {""}, *at, *nl;
	size_t n = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (at = copy; n < 6; at = nl + 1) {
		field[n++] = at;
		if (!(nl = strchr(at, '\n')))
			break;
		*nl = '\0';
	}
	for (size_t i = n; i < 6; i++)
		field[i] = "";
	/* the peer comes from the socket: always an address */
	client(field[0], is_address(field[1]) ? field[1] : "192.0.2.7", field[2]);
	resource(field[3]);
	claims(field[4], field[5]);
	free(copy);
	return 0;
}
