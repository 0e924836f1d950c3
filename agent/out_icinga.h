/*
 * Passive results to Icinga 2 through its REST API
 * (POST /v1/actions/process-check-result), as the outbox consumer
 * "icinga": TLS verified against the Icinga CA alone, an API user, in
 * order, once, tried again while Icinga is away, given up and counted
 * after passive_max_age. Off unless icinga_url is set.
 */
#ifndef CT_OUT_ICINGA_H
#define CT_OUT_ICINGA_H

#include "conf.h"
#include "store.h"

void outi_start(const struct conf *c, struct store *st);
void outi_reload(const struct conf *c);
void outi_stop(void);

#endif
