/* The fuzz targets' agent: one org, its files in a fresh directory under
 * /tmp (conf->state_dir). Aborts when it cannot be made. */
#ifndef FUZZ_CONF_H
#define FUZZ_CONF_H

#include "conf.h"

struct conf *fz_conf(void);

#endif
