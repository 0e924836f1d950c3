/*
 * The reconcile (backfill). Graph is known to skip chat notifications, and
 * Microsoft allows polling a Teams resource for changes about once a day
 * (Teams API overview, "Polling requirements"). So the agent reads back
 * exactly the windows in which delivery may have broken (downtime, a lapsed
 * or recreated subscription, a late reauthorization, lost sign-in, store
 * trouble, a 5xx answered to Graph, `missed`), plus one sweep every
 * reconcile_interval. Chats are found by their last message
 * (lastMessagePreview), never by lastUpdatedDateTime, which moves only on a
 * rename or a membership change. An event found this way was missed by the
 * webhook: it is raised, and counted as recovered_by_poll, which is itself
 * an alarm (delivery gap).
 */
#ifndef CT_POLL_H
#define CT_POLL_H

#include <jansson.h>
#include <stdbool.h>

struct org;

/* The org's reconcile part, made and freed with the org (org.c). Freed at
 * a clean stop, it notes that delivery was good until then. */
void poll_attach(struct org *o);
void poll_detach(struct org *o);
json_t *poll_status(const struct org *o);
/* What the delivery and reconcile alarms are decided from (health.c); the
 * string is borrowed until the loop's next turn. */
struct poll_health {
	bool delivery_gap;      /* a notice was found by reading back lately */
	double last_recovery;   /* 0: never */
	bool known;             /* a pass has ended or failed since the start */
	const char *last_error; /* the last pass failed: why; NULL: it worked */
};
void poll_health(const struct org *o, struct poll_health *ret);
/* Read back [from, to] (to in the future is fine: it is read once it has
 * passed and settled). Windows waiting to be read merge. */
void poll_backfill(struct org *o, double from, double to, const char *why);
void poll_backfill_all(double from, double to, const char *why);
/* Graph said notifications were missed: everything since the last sweep. */
void poll_now(struct org *o);
/* The subscription was just made or renewed: delivery is good now (it is
 * also noted every few minutes while it stays so). */
void poll_delivery_good(struct org *o);
/* A renewal ended a token pause of the subscription, [from, to]: Graph
 * holds what came in it and delivers it late, within its retry window (4 h,
 * or reconcile_interval if shorter). What the read-back raises from that
 * time first is a delivery gap only if Graph has not delivered it by then. */
void poll_held(struct org *o, double from, double to);
/* The webhook brought a message that is already an event. */
void poll_delivered(struct org *o, const char *chat_id, const char *message_id);
/* The org's sign-in became usable or stopped being so. */
void poll_auth_changed(struct org *o, bool usable);

#endif
