/* Narration for the demo programs: numbered steps, indented lines, and a
 * check that ends the program when a step does not behave. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "th.h"

static int step_no;

void
th_step(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("\n%d. ", ++step_no);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

void
th_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("   ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

void
th_check(bool ok, const char *what)
{
	if (!ok) {
		printf("   FAILED: %s\n", what);
		exit(1);
	}
}
