/*
 * Passive results to Nagios through its external command file
 * (PROCESS_SERVICE_CHECK_RESULT), as the outbox consumer "nagios": in
 * order, once, tried again while Nagios is not reading, given up and
 * counted after passive_max_age. Off unless nagios_command_file is set.
 */
#ifndef CT_OUT_NAGIOS_H
#define CT_OUT_NAGIOS_H

#include "conf.h"
#include "store.h"

void outn_start(const struct conf *c, struct store *st);
void outn_reload(const struct conf *c);
void outn_stop(void);

#endif
