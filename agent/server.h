/*
 * The public HTTP listener: only /api/org/{org}/ms-teams/{login,callback}
 * answer (the webhook paths arrive with the subscription work); anything
 * else is 404, a wrong method 405. TLS 1.2 or 1.3 when tls_cert/tls_key are
 * set, plain HTTP (behind a TLS proxy) otherwise.
 */
#ifndef CT_SERVER_H
#define CT_SERVER_H

#include "conf.h"

struct srv_req;

int srv_start(const struct conf *c, char **ret_err);
/* Deadlines, budgets and address lists at reload. */
void srv_reload(const struct conf *c);
/* Stop accepting; in-flight requests finish. */
void srv_quiesce(void);
void srv_stop(void);
int srv_busy(void); /* requests under way: arriving, decided, or waiting on work */

const char *srv_arg(struct srv_req *r, const char *name);
const char *srv_header(struct srv_req *r, const char *name);
const char *srv_body(struct srv_req *r, size_t *ret_len);
/* A plain answer: the validation echo, a bare 202. */
void srv_text(struct srv_req *r, unsigned int status, const char *ctype, const char *text);
const char *srv_peer(struct srv_req *r);
/* A small HTML page; title and message are escaped here. */
void srv_page(struct srv_req *r, unsigned int status, const char *title, const char *message);
void srv_redirect(struct srv_req *r, const char *location);
/* The handler will answer later, from a completion callback. */
void srv_suspend(struct srv_req *r);

#endif
