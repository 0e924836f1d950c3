/*
 * Prometheus metrics on their own listener (metrics_listen): GET /metrics,
 * the control socket's model in the text exposition format.
 */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include <stddef.h>

#include "conf.h"

/* Listens when metrics_listen is set (else does nothing); -1 with *ret_err
 * when it cannot. A change of metrics_listen takes a restart. */
int met_start(const struct conf *c, char **ret_err);
void met_stop(void);
/* The exposition now, for the listener and the tests; the caller frees. */
char *met_render(size_t *len);

#endif
