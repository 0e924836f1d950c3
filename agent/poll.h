/*
 * The reconcile poll. Graph is known to skip chat notifications, and a
 * skipped 911 notice looks like silence. Every poll_interval, per org, the
 * agent lists the service user's chats updated since its watermark, reads
 * their recent messages, and runs the same detector with the same dedup.
 * An event found this way was missed by the webhook: it is raised, and
 * counted as recovered_by_poll, which is itself an alarm (delivery gap).
 */
#ifndef CT_POLL_H
#define CT_POLL_H

#include <jansson.h>

#include "conf.h"
#include "store.h"

void poll_start(const struct conf *c, struct store *st);
void poll_reload(const struct conf *c);
void poll_stop(void);
json_t *poll_status(const char *org);
/* A pass now (Graph said notifications were missed or removed). */
void poll_now(const char *org);

#endif
