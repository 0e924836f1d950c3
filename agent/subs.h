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

struct org;

/* The org's subscription part, made and freed with the org (org.c);
 * configure: the org's configuration was reloaded. */
void subs_attach(struct org *o);
void subs_configure(struct org *o, const struct conf_org *old);
void subs_detach(struct org *o);
/* The org's sign-in changed: maybe create or renew now. */
void subs_org_changed(struct org *o);
/* The clientState of the org's subscription with this id (current, or the
 * one just replaced); NULL if the id is not ours. */
const char *subs_client_state(const struct org *o, const char *sub_id);
void subs_notified(struct org *o);
/* Does a reauthorizationRequired call for a PATCH? Only when the token
 * Graph holds (held_expires, handed over at held_given; 0: not known) is
 * near its end, where the agent reauthorizes on its own anyway. Graph may
 * ask every 15 minutes through a token's life: a PATCH each time changes
 * nothing that the agent's own reauthorization would not. */
bool subs_reauth_needed(double held_expires, double held_given, double now);
/* reauthorizationRequired, subscriptionRemoved, missed, or other. */
void subs_lifecycle(struct org *o, const char *sub_id, const char *event);
void subs_logout(struct org *o);
/* An operator asks for a renewal now (ctteamsctl renew); -1: none. */
int subs_renew_now(struct org *o);
/* Is the org's subscription there and delivering, as far as we know? */
bool subs_active(const struct org *o);
/* What the subscription alarm is decided from (health.c). The strings are
 * borrowed: they last until the loop's next turn. */
struct subs_health {
	bool active;            /* subs_active() */
	bool broken;            /* lapsed or failed: an alarm at once */
	const char *state;      /* the state's name */
	const char *id;         /* NULL: none */
	const char *last_error; /* NULL: none */
};
void subs_health(const struct org *o, struct subs_health *ret);
json_t *subs_status(const struct org *o);

/* The standby (ha.c): the subscription the active last wrote. */
void subs_standby_sync(struct org *o, const char *id, double expires);

#endif
