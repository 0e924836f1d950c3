/*
 * Graph's webhooks: the validation handshake (answered at once, with no
 * database or network work first) and change and lifecycle notifications.
 * A notification is checked (its subscription is ours, its clientState
 * matches, compared in constant time, its tenant is the org's) and written
 * to the durable inbox before the 202 goes back; a 5xx only when that
 * write fails, so Graph retries. Rejections are counted by reason.
 */
#ifndef CT_WEBHOOK_H
#define CT_WEBHOOK_H

struct srv_req;
struct org;
struct store;

#define WH_MAX_ITEMS 1000

struct conf;

void wh_init(struct store *st, void (*kick)(void));
/* allow_from and trust_proxy; again at reload. */
void wh_configure(const struct conf *c);
void wh_notify(struct srv_req *r, struct org *o);
void wh_lifecycle(struct srv_req *r, struct org *o);

#endif
