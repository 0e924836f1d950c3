/*
 * Per org, one array of values and one of what was already written. The
 * flush writes the differences in one transaction, so a burst of forged
 * notifications costs one fsync every few seconds, not one each.
 */
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "event.h"
#include "log.h"
#include "util.h"

#define FLUSH_EVERY 5.0

const char *const cnt_names[CNT_N] = {
    [CNT_RECEIVED] = "received",
    [CNT_LIFECYCLE_RECEIVED] = "lifecycle_received",
    [CNT_PROCESSED] = "processed",
    [CNT_EMERGENCIES] = "emergencies",
    [CNT_UNRECOGNISED] = "unrecognised",
    [CNT_DUPLICATES] = "duplicates",
    [CNT_MESSAGE_GONE] = "message_gone",
    [CNT_RECOVERED_BY_POLL] = "recovered_by_poll",
    [CNT_RECONCILE_SKIPPED_CHATS] = "reconcile_skipped_chats",
    [CNT_DEAD_LETTERED] = "dead_lettered",
    [CNT_REJECTED_SOURCE] = "rejected_source",
    [CNT_REJECTED_CONTENT_TYPE] = "rejected_content_type",
    [CNT_REJECTED_MALFORMED] = "rejected_malformed",
    [CNT_REJECTED_TOO_MANY] = "rejected_too_many",
    [CNT_REJECTED_UNKNOWN_SUBSCRIPTION] = "rejected_unknown_subscription",
    [CNT_REJECTED_CLIENT_STATE] = "rejected_client_state",
    [CNT_REJECTED_TENANT] = "rejected_tenant",
    [CNT_REJECTED_RESOURCE] = "rejected_resource",
    [CNT_REJECTED_TOKEN_MISSING] = "rejected_token_missing",
    [CNT_REJECTED_TOKEN_SIGNATURE] = "rejected_token_signature",
    [CNT_REJECTED_TOKEN_EXPIRED] = "rejected_token_expired",
    [CNT_REJECTED_TOKEN_AUDIENCE] = "rejected_token_audience",
    [CNT_REJECTED_TOKEN_CALLER] = "rejected_token_caller",
    [CNT_REJECTED_TOKEN_TENANT] = "rejected_token_tenant",
    [CNT_REJECTED_TOKEN_ISSUER] = "rejected_token_issuer",
    [CNT_REJECTED_SIGNATURE] = "rejected_signature",
    [CNT_REJECTED_PAYLOAD] = "rejected_payload",
    [CNT_REJECTED_CERTIFICATE] = "rejected_certificate",
};

struct org_counts {
	char *org;
	long value[CNT_N];
	long written[CNT_N];
	long base[CNT_N]; /* as the store kept them at this process's start */
};

static struct store *store;
static struct org_counts *orgs;
static size_t n_orgs;
static struct ev_timer *timer;

static struct org_counts *
counts(const char *org)
{
	json_t *kept;
	const char *name;
	json_t *v;

	for (size_t i = 0; i < n_orgs; i++)
		if (!strcmp(orgs[i].org, org))
			return &orgs[i];
	orgs = xrealloc(orgs, (n_orgs + 1) * sizeof(*orgs));
	memset(&orgs[n_orgs], 0, sizeof(*orgs));
	orgs[n_orgs].org = xstrdup(org);
	/* first use: what the store kept from earlier runs */
	kept = store ? store_counters(store, org) : NULL;
	json_object_foreach (kept, name, v) {
		for (int c = 0; c < CNT_N; c++)
			if (!strcmp(cnt_names[c], name))
				orgs[n_orgs].value[c] = orgs[n_orgs].written[c] =
				    orgs[n_orgs].base[c] = (long)json_integer_value(v);
	}
	json_decref(kept);
	return &orgs[n_orgs++];
}

void
cnt_add(const char *org, enum cnt c, long n)
{
	counts(org)->value[c] += n;
}

void
cnt_add_name(const char *org, const char *name, long n)
{
	for (int c = 0; c < CNT_N; c++) {
		if (!strcmp(cnt_names[c], name)) {
			cnt_add(org, (enum cnt)c, n);
			return;
		}
	}
	log_err("counter", "no counter named '%s' (a bug)", name);
}

long
cnt_get(const char *org, enum cnt c)
{
	return counts(org)->value[c];
}

long
cnt_since_start(const char *org, enum cnt c)
{
	struct org_counts *k = counts(org);

	return k->value[c] - k->base[c];
}

json_t *
cnt_json(const char *org)
{
	struct org_counts *k = counts(org);
	json_t *j = json_object();

	for (int c = 0; c < CNT_N; c++)
		json_object_set_new(j, cnt_names[c], json_integer(k->value[c]));
	return j;
}

static void
flush(void *arg)
{
	json_t *all = json_object();

	(void)arg;
	for (size_t i = 0; i < n_orgs; i++) {
		json_t *delta = json_object();
		for (int c = 0; c < CNT_N; c++)
			if (orgs[i].value[c] != orgs[i].written[c])
				json_object_set_new(
				    delta, cnt_names[c],
				    json_integer(orgs[i].value[c] - orgs[i].written[c]));
		if (json_object_size(delta))
			json_object_set_new(all, orgs[i].org, delta);
		else
			json_decref(delta);
	}
	if (json_object_size(all) && store_counters_add(store, all) == 0) {
		for (size_t i = 0; i < n_orgs; i++)
			memcpy(orgs[i].written, orgs[i].value, sizeof(orgs[i].value));
	}
	json_decref(all);
	if (timer)
		ev_timer_arm(timer, FLUSH_EVERY);
}

void
cnt_start(struct store *st)
{
	store = st;
	timer = ev_timer_new(flush, NULL);
	ev_timer_arm(timer, FLUSH_EVERY);
}

void
cnt_stop(void)
{
	ev_timer_free(timer);
	timer = NULL;
	flush(NULL);
	for (size_t i = 0; i < n_orgs; i++)
		free(orgs[i].org);
	free(orgs);
	orgs = NULL;
	n_orgs = 0;
}
