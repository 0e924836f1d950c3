/*
 * Threshold ranges as the Monitoring Plugins development guidelines define
 * them: "10" (alert outside 0..10), "10:" (below 10), "~:10" (above 10),
 * "10:20" (outside 10..20), "@10:20" (inside 10..20, inclusive).
 */
#ifndef NP_RANGE_H
#define NP_RANGE_H

#include <stdbool.h>

struct np_range {
	bool set;          /* a range was given */
	bool inside;       /* '@': alert inside instead of outside */
	bool no_start;     /* '~': minus infinity */
	bool no_end;       /* "N:": plus infinity */
	double start, end; /* the bounds, inclusive */
	char text[64];     /* as given, for perfdata */
};

/* 0, or -1 for text that is not a range (start above end included). */
int np_range_parse(const char *text, struct np_range *ret);
/* Does value call for an alert? false when no range was set. */
bool np_range_alert(const struct np_range *r, double value);

#endif
