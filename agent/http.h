/*
 * Outbound HTTPS to Entra and Graph, in one place: connect and total
 * timeouts, certificate verification (with ca_file's extra anchors), a
 * response size limit, no redirects. Requests run on the event loop; done()
 * is called exactly once.
 */
#ifndef CT_HTTP_H
#define CT_HTTP_H

#include <stddef.h>

#include "conf.h"

struct hc_resp {
	long status; /* 0: no HTTP answer (see error) */
	char *body;
	size_t len;
	char *content_type;
	double retry_after; /* seconds; -1 when absent */
	char *error;        /* transport problem, for logs */
};

typedef void (*hc_done)(const struct hc_resp *resp, void *arg);

void hc_configure(const struct conf *c);
/* POST application/x-www-form-urlencoded. The form may hold a secret: it is
 * wiped once the request is done. */
int hc_post_form(const char *url, char *form, hc_done done, void *arg);
/* A Graph call with a bearer token (NULL: none); body may be NULL. */
int hc_graph(const char *method, const char *url, const char *token, const char *json_body,
	     hc_done done, void *arg);

/* POST JSON with basic authentication, trusting the CA in ca alone (a
 * receiver with its own CA, such as Icinga 2's API). The password is
 * wiped once the request is done. */
int hc_post_json_basic(const char *url, const char *ca, const char *user, const char *password,
		       const char *json_body, hc_done done, void *arg);

#endif
