/*
 * Who gets a connection to the public listener, and for how long.
 *
 * Anyone who reaches the port can open connections and send nothing, or a
 * header line every few seconds, or a slow body, or half a TLS handshake.
 * Idle timeouts that each byte restarts do not stop that; this module
 * gives every connection deadlines for its whole header (TLS handshake
 * included) and its whole body, refuses addresses outside allow_from,
 * signin_from and trust_proxy before a byte is read, bounds the memory of
 * buffered bodies, and, when slots run short, closes the slowest and
 * idlest connections first, so that a client that sends its request
 * promptly (Graph) gets through.
 */
#ifndef CT_ADMIT_H
#define CT_ADMIT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf.h"

void adm_configure(const struct conf *c);
void adm_shutdown(void);

/* The accept policy given to MHD_start_daemon: MHD_YES to take it. */
enum MHD_Result adm_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* MHD_OPTION_NOTIFY_CONNECTION: started and closed. */
void adm_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		enum MHD_ConnectionNotificationCode code);

/* The request's header has arrived / its body has / it is answered and
 * the connection waits for the next one (keep-alive). */
void adm_headers_done(struct MHD_Connection *conn);
void adm_body_done(struct MHD_Connection *conn);
void adm_request_done(struct MHD_Connection *conn);

/* Room for n more bytes of a body, body_len bytes long with them, in the
 * global budget (max_body_total); false when there is none. Each reserve
 * is given back once, with the same count, when the body is freed. */
bool adm_body_reserve(size_t n, size_t body_len);
void adm_body_release(size_t n);

/* What the intake has had to do, for status: connections refused at
 * accept, closed at a deadline, closed to make room, bodies refused for
 * want of memory. */
struct adm_counts {
	long refused_source, header_deadline, body_deadline, evicted, body_budget;
	long connections, body_bytes;
};
void adm_counts(struct adm_counts *ret);
/* Connections with a request under way: its body arriving, or being
 * decided or answered (a stop waits for them). */
long adm_in_flight(void);

#endif
