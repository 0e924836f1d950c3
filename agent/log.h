/*
 * Logging with a subsystem token per message (lldpd's habit): to stderr in
 * the foreground, to syslog otherwise. Never pass a token, code, secret or
 * clientState to these functions: log what happened and to which org.
 */
#ifndef CT_LOG_H
#define CT_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, bool use_syslog, enum log_level level);
void log_set_level(enum log_level level);
int log_level_parse(const char *s, enum log_level *ret);
/* A test hook: every formatted line also goes here when set. */
void log_set_sink(void (*sink)(enum log_level, const char *sub, const char *msg));

void log_err(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warnx(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* log_warn appends strerror(errno). */
void log_warn(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_info(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_debug(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A warning anyone on the network can cause (a forged webhook, a bad
 * sign-in link): at most one line per key every `every` seconds, the
 * next saying how many were held back. */
void log_warn_limited(const char *sub, const char *key, double every, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
