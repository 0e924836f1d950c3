/*
 * A client of the control protocol (docs/control-protocol.md): one request
 * on a fresh connection, one answer, within a deadline. libc and jansson
 * only, no OpenSSL and no libcurl: ctteamsctl, the tests and the check
 * plugins link it, and a check must start fast.
 */
#ifndef CT_CTLCLIENT_H
#define CT_CTLCLIENT_H

#include <jansson.h>
#include <stddef.h>

enum cc_result {
	CC_OK,         /* an answer (which may still say "ok": false) */
	CC_NO_DAEMON,  /* nothing listens at the socket, or no permission */
	CC_DROPPED,    /* the connection closed before a whole answer */
	CC_TIMEOUT,    /* no whole answer within the deadline */
	CC_BAD_ANSWER, /* an answer that is not JSON */
};

/* Sends req (not consumed) to the socket at path; the answer in *ret.
 * why gets a line for a person when the result is not CC_OK. */
enum cc_result cc_call(const char *path, json_t *req, int timeout_ms, json_t **ret, char *why,
		       size_t why_len);

#endif
