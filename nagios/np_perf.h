/*
 * Performance data as the Monitoring Plugins guidelines define it:
 * 'label'=value[UOM];[warn];[crit];[min];[max], space separated.
 */
#ifndef NP_PERF_H
#define NP_PERF_H

#include <stddef.h>

#include "np_range.h"

struct np_perf {
	char *text; /* the whole perfdata, growing */
	size_t len;
};

/* Appends one item. uom: "s", "%", "B", "c" (a counter) or "" (a number).
 * min/max: NULL for none. Labels are quoted when they need it, and a quote
 * in a label is doubled. */
void np_perf_add(struct np_perf *p, const char *label, double value, const char *uom,
		 const struct np_range *warn, const struct np_range *crit, const char *min,
		 const char *max);
void np_perf_free(struct np_perf *p);

#endif
