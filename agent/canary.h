/*
 * The delivery canary (optional, per org): every canary_interval the
 * service user posts a short marker in canary_chat, and the webhook must
 * bring it back within canary_timeout. Graph can stop delivering without a
 * word; a marker that does not come back is the one signal that says so.
 * Then the delivery-gap alarm is raised and the time since the last marker
 * that did come back is read back. Needs the delegated permission
 * ChatMessage.Send, which the sign-in asks for only when a canary is set.
 */
#ifndef CT_CANARY_H
#define CT_CANARY_H

#include <jansson.h>
#include <stdbool.h>

struct org;

/* The org's canary part, made and freed with the org (org.c); configure:
 * the org's configuration was reloaded. */
void canary_attach(struct org *o);
void canary_configure(struct org *o);
void canary_detach(struct org *o);
/* A message the webhook brought: true when it is the org's marker. */
bool canary_seen(struct org *o, const char *chat_id, const char *content);
/* {enabled, last_sent, last_delivered, missed, last_error}; null if off. */
json_t *canary_status(const struct org *o);
/* The canary did not come back: since when (0: it did, or there is none). */
double canary_missed_since(const struct org *o);
/* While markers keep missing, the wait before the next read-back: 1 h,
 * then doubling (*gap keeps the last; 0 before the first), and 0 once it
 * reaches sweep, the reconcile_interval, when the sweep reads the rest. */
double canary_backoff(double *gap, double sweep);

#endif
