/*
 * Signing an org's service user in: one-time links from ctteamsctl, the
 * redirect to Entra with state and PKCE, and the callback that redeems the
 * code and checks that the right account signed in to the right tenant.
 */
#ifndef CT_AUTH_H
#define CT_AUTH_H

struct srv_req;
struct org;

/* A one-time link for org (URL; free it), valid for AUTH_LINK_TTL seconds. */
#define AUTH_LINK_TTL 600
char *auth_link_new(struct org *o, const char *public_url);
void auth_login(struct srv_req *r, struct org *o);
void auth_callback(struct srv_req *r, struct org *o);
void auth_init(const char *public_url);
void auth_shutdown(void);

#endif
