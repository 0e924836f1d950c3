/* The fuzz targets' agent: one org, its files in a fresh directory under
 * /tmp (conf->state_dir). Aborts when it cannot be made. */
#ifndef FUZZ_CONF_H
#define FUZZ_CONF_H

#include "conf.h"

struct conf *fz_conf(void);
/* Its store (sealed, in conf->state_dir), the loop made, the alarms and
 * the orgs started on it, as the daemon has them. Aborts when it cannot. */
struct store *fz_agent(struct conf *c);

#endif
