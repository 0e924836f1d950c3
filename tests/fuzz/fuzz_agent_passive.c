/*
 * libFuzzer target: the text path into the Nagios and Icinga outputs
 * (agent/passive.c), on any outbox entry: every result's output is one
 * line of valid UTF-8 without control characters, without the '|' that
 * starts perfdata, within what Nagios reads of an external command.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_conf.h"
#include "passive.h"
#include "text.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The agent's orgs and their names (service_name, passive_host) are what
 * the results are named by: one org, as fz_conf makes it. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_agent(fz_conf());
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *entry = json_loadb((const char *)data, size, 0, NULL);
	struct passive_result *r;
	size_t n;

	if (!entry)
		return 0;
	n = passive_results(entry, &r);
	for (size_t i = 0; i < n; i++)
		if (!txt_is_clean(r[i].output) || strchr(r[i].output, '|') ||
		    strlen(r[i].output) > 4096 || r[i].state < 0 || r[i].state > 3 || !*r[i].host ||
		    !*r[i].service)
			abort();
	passive_results_free(r, n);
	json_decref(entry);
	return 0;
}
