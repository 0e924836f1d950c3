/*
 * Pacing of one org's message reads, chat by chat. Graph allows a Teams
 * app one GET of a chat message per second per chat, and 20 per second
 * per tenant (learn.microsoft.com/graph/throttling-limits, Teams service
 * limits). Reads of one chat go one at a time, a second apart, and a 429
 * holds only the chat it was for: chatter in one chat never queues ahead
 * of a notice in another.
 */
#ifndef CT_PACE_H
#define CT_PACE_H

#include <stdbool.h>
#include <stddef.h>

#define PACE_CHAT_GAP 1.0 /* seconds between reads of one chat */
#define PACE_ORG_RATE 20  /* reads per second for the org */

struct pace;

struct pace *pace_new(void);
void pace_free(struct pace *p);
/* May a read of this chat start now? If not, *ret_when says when it may
 * (a guess, when a read of the chat is in flight). */
bool pace_may_read(struct pace *p, const char *chat, double now, double *ret_when);
void pace_started(struct pace *p, const char *chat, double now);
/* The read ended; hold_until > now: Graph's Retry-After for the chat. */
void pace_done(struct pace *p, const char *chat, double hold_until);
/* Chats held by a Retry-After now. */
size_t pace_held(const struct pace *p, double now);

#endif
