/*
 * What every check_ctteams_* plugin shares: the Monitoring Plugins
 * conventions (exit codes 0-3, one status line then long output, perfdata,
 * -w/-c ranges, -t ending in a clean UNKNOWN, -V, -h, -v), the query to
 * ctteamsd's read-only monitoring socket, and the verdict of the agent's
 * alarm table, so that a plugin and a trap never disagree. libc, jansson
 * and the control protocol's client only: a check must start fast.
 */
#ifndef NP_H
#define NP_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "np_perf.h"
#include "np_range.h"

enum np_state { NP_OK = 0, NP_WARNING = 1, NP_CRITICAL = 2, NP_UNKNOWN = 3 };

#define NP_SOCKET  "/run/ctteams/ctteamsd-monitor.sock"
#define NP_TIMEOUT 10

struct np {
	const char *prog;    /* check_ctteams_auth */
	const char *service; /* AUTH: the status line's first word after CTTEAMS */
	const char *socket;
	const char *org; /* -O; NULL: every org */
	int timeout;
	int verbose;
	struct np_range warn, crit;
	bool own_thresholds;     /* -w or -c given */
	const char *thresholded; /* the agent's alarm they replace, or NULL */
	enum np_state state;
	char *summary; /* the status line's text */
	char *lines;   /* long output */
	struct np_perf perf;
};

/* What a plugin adds to the common options. */
struct np_args {
	const char *usage;       /* e.g. "[-a SECONDS]" */
	const char *help;        /* what it checks, and its own options */
	const char *warn, *crit; /* default ranges, or NULL */
	/* the agent's alarm of the same measure (its default threshold): an
	 * operator's -w/-c replace it; NULL when none */
	const char *thresholded;
	const struct option *longopts;
	const char *shortopts;
	void (*on_option)(struct np *np, int c, const char *arg);
};

void np_start(struct np *np, const char *prog, const char *service, int argc, char **argv,
	      const struct np_args *args);
/* The answer to a request on the monitoring socket; on any failure the
 * plugin ends UNKNOWN, saying why. */
json_t *np_query(struct np *np, json_t *req);
/* status's orgs that -O selects; UNKNOWN if -O names none. */
json_t *np_orgs(struct np *np, const json_t *status);
/* Raises the state to s if it is worse. */
void np_worse(struct np *np, enum np_state s);
/* Text for the status line (joined with ", ") and long output lines.
 * Text from Graph or Entra may hold anything: '|' and line breaks are
 * replaced, so it can never break the output format. */
void np_say(struct np *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void np_line(struct np *np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The alarms of the agent's table that belong to this check (check is
 * the alarm's "check": auth, subscription, secret, delivery), for the
 * selected orgs and the agent's own: each raises the state and is said;
 * the one args.thresholded names not when the operator gave -w or -c. */
void np_alarms(struct np *np, const json_t *status, const char *check);
/* The run of a per-org check: the status, the alarms of check, then
 * check_org for each org -O selects; ok_text when all is well. Prints and
 * exits. */
__attribute__((noreturn)) void np_check_orgs(struct np *np, const char *check,
					     void (*check_org)(struct np *, const json_t *),
					     const char *ok_text);
/* Checks value against -w/-c: the state it calls for. */
enum np_state np_threshold(const struct np *np, double value);
/* Prints the result and exits with the state. */
__attribute__((noreturn)) void np_finish(struct np *np);
__attribute__((noreturn)) void np_unknown(struct np *np, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "12s", "3m", "5h", "2d" from seconds, for text. */
const char *np_duration(double seconds, char *buf, size_t len);
/* Seconds from an ISO 8601 UTC time to now (negative: in the future);
 * false when there is no time. */
bool np_age(const char *iso, double *ret);
const char *np_str(const json_t *o, const char *key);

#endif
