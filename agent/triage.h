/*
 * Which of an org's waiting message reads go first. In basic mode every
 * notification costs a read of Graph, at most 20 a second per tenant, so a
 * 911 notice behind 300 ordinary messages would wait 15 s in arrival
 * order. Teams starts a new group chat for each emergency call: a row
 * whose chat the agent has never read a message of, or one whose chat
 * carried a notice before, is likely to be one, and is read first. Rich
 * notifications carry their message and have no such queue.
 *
 * What is known of chats lives in memory: after a restart every chat is
 * new, so the rows are read in arrival order until chats are known again.
 */
#ifndef CT_TRIAGE_H
#define CT_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct triage;

struct triage *triage_new(void);
void triage_free(struct triage *t);
/* A message of the chat was read and judged (notice: it was one). */
void triage_chat_read(struct triage *t, const char *chat, bool notice);
/* New rows may have arrived (the inbox took some). */
void triage_kick(struct triage *t);
/* Looks at the org's rows that arrived since the last look and keeps
 * those likely to be a notice; no query when none can have come. 0, or -1
 * if the store failed. */
int triage_scan(struct triage *t, struct store *st, const char *org);
/* The likely rows kept, oldest first. */
size_t triage_count(const struct triage *t);
long triage_at(const struct triage *t, size_t i);
/* The row was started, or is gone: no longer kept. */
void triage_drop(struct triage *t, long seq);

#endif
