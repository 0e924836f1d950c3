/*
 * The agent's counters: one fixed set of names, every one reported from
 * zero, per org. Increments are in memory (a forged POST costs no disk
 * write) and are written to the store every few seconds and at shutdown;
 * a crash loses at most those seconds of counting, never an event.
 */
#ifndef CT_COUNTER_H
#define CT_COUNTER_H

#include <jansson.h>

#include "store.h"

enum cnt {
	CNT_RECEIVED,
	CNT_LIFECYCLE_RECEIVED,
	CNT_PROCESSED,
	CNT_EMERGENCIES,
	CNT_UNRECOGNISED,
	CNT_DUPLICATES,
	CNT_MESSAGE_GONE,
	CNT_RECOVERED_BY_POLL,
	CNT_RECONCILE_SKIPPED_CHATS,
	CNT_DEAD_LETTERED,
	CNT_REJECTED_SOURCE,
	CNT_REJECTED_CONTENT_TYPE,
	CNT_REJECTED_MALFORMED,
	CNT_REJECTED_TOO_MANY,
	CNT_REJECTED_UNKNOWN_SUBSCRIPTION,
	CNT_REJECTED_CLIENT_STATE,
	CNT_REJECTED_TENANT,
	CNT_REJECTED_RESOURCE,
	CNT_REJECTED_TOKEN_MISSING,
	CNT_REJECTED_TOKEN_SIGNATURE,
	CNT_REJECTED_TOKEN_EXPIRED,
	CNT_REJECTED_TOKEN_AUDIENCE,
	CNT_REJECTED_TOKEN_CALLER,
	CNT_REJECTED_TOKEN_TENANT,
	CNT_REJECTED_TOKEN_ISSUER,
	CNT_REJECTED_SIGNATURE,
	CNT_REJECTED_PAYLOAD,
	CNT_REJECTED_CERTIFICATE,
	CNT_N
};

extern const char *const cnt_names[CNT_N];

/* Loads what the store kept; starts the flush timer. */
void cnt_start(struct store *st);
/* Writes what is not written yet; stops the timer. */
void cnt_stop(void);
void cnt_add(const char *org, enum cnt c, long n);
/* By name (a rejection reason, say); an unknown name is a bug, logged. */
void cnt_add_name(const char *org, const char *name, long n);
/* Counted by this process alone: never lower than at an earlier look, as a
 * Prometheus counter must be (the kept totals are written every few
 * seconds, so after a crash they can be lower than what was shown). */
long cnt_since_start(const char *org, enum cnt c);
/* {name: value} for every counter, zero included. */
json_t *cnt_json(const char *org);
long cnt_get(const char *org, enum cnt c);

#endif
