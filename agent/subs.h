/*
 * The Graph change-notification subscription of each org, on
 * /users/{id}/chats/getAllMessages: created once the service user is signed
 * in, renewed well before Graph's 3-day limit, recreated when Graph says it
 * is gone, reconciled with GET /subscriptions at start, deleted at logout.
 * A lapse is an alarm: no subscription, no 911 notices.
 */
#ifndef CT_SUBS_H
#define CT_SUBS_H

#include <jansson.h>
#include <stdbool.h>

#include "conf.h"
#include "store.h"

struct org;

void subs_start(const struct conf *c, struct store *st);
void subs_reload(const struct conf *c);
void subs_stop(void);
/* The org's sign-in changed: maybe create or renew now. */
void subs_org_changed(struct org *o);
/* The clientState of the org's subscription with this id (current, or the
 * one just replaced); NULL if the id is not ours. */
const char *subs_client_state(const char *org, const char *sub_id);
void subs_notified(const char *org);
/* reauthorizationRequired, subscriptionRemoved, missed, or other. */
void subs_lifecycle(const char *org, const char *sub_id, const char *event);
void subs_logout(const char *org);
/* An operator asks for a renewal now (ctteamsctl renew); -1: none. */
int subs_renew_now(const char *org);
/* Is the org's subscription there and delivering, as far as we know? */
bool subs_active(const char *org);
json_t *subs_status(const char *org);

#endif
