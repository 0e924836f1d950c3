/*
 * Graph's webhooks: the validation handshake (answered at once, with no
 * database or network work first) and change and lifecycle notifications.
 * A notification is checked (its subscription is ours, its clientState
 * matches, compared in constant time, its tenant is the org's) and written
 * to the durable inbox before the 202 goes back, together with the other
 * POSTs of the same listener run (group commit); a 503 only when that
 * write fails, so Graph retries. Rejections are counted by reason.
 */
#ifndef CT_WEBHOOK_H
#define CT_WEBHOOK_H

#include <stdbool.h>

struct srv_req;
struct org;
struct store;

#define WH_MAX_ITEMS 1000

struct conf;

void wh_init(struct store *st, void (*kick)(void));
/* allow_from and trust_proxy; again at reload. */
void wh_configure(const struct conf *c);
/* allow_from, once the header is in: false after answering 403. */
bool wh_check_source(struct srv_req *r, struct org *o);
void wh_notify(struct srv_req *r, struct org *o);
void wh_lifecycle(struct srv_req *r, struct org *o);
/* After each run of the listener: commit what it took in, answer each
 * POST; true when it answered any. */
bool wh_flush(void);
/* At shutdown: decide the POSTs still set aside, and flush. */
void wh_finish(void);
void wh_shutdown(void);

#endif
