/*
 * The control protocol on the local socket: one JSON object per line each
 * way. {"cmd":"status"[,"org":N]}, {"cmd":"login","org":N},
 * {"cmd":"logout","org":N}, {"cmd":"events"[,"org":N][,"limit":L]},
 * {"cmd":"test-match","org":N,"message":{...chatMessage...}}. Answers carry "ok" and never a token,
 * code or secret; a sign-in link is the one capability handed out, to whoever may open the socket
 * (mode 0660).
 */
#ifndef CT_CTL_H
#define CT_CTL_H

#include "conf.h"

struct store;

/* st may be NULL on reload: the store stays the same. */
void ctl_init(const struct conf *c, struct store *st);
char *ctl_handle(const char *line);

#endif
