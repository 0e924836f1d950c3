/*
 * The alarm evaluator: reads each module's state and tells the alarm
 * table what is true (see alarm.h). Runs every few seconds and on a kick.
 */
#ifndef CT_HEALTH_H
#define CT_HEALTH_H

#include "conf.h"
#include "store.h"

void health_start(const struct conf *c, struct store *st);
void health_reload(const struct conf *c);
void health_stop(void);
/* Something changed: evaluate now. */
void health_kick(void);

#endif
