/*
 * net-snmp 5.9.3 (Debian 12's libnetsnmp40) leaks the 110-byte peer
 * address that its AF_UNIX transport allocates for every read, when the
 * read fails: netsnmp_unix_recv() (snmplib/transports/snmpUnixDomain.c)
 * returns recvfrom()'s error before handing the buffer to its caller.
 * An AgentX master that stops while the subagent has written to it
 * resets the connection (ECONNRESET), so ctteamsd's reconnect tests hit
 * it.
 *
 * This program shows it with libnetsnmp alone: a listening AF_UNIX
 * socket, a net-snmp client transport that writes to it, the server
 * closing without reading (the kernel resets the connection), and one
 * read through net-snmp.
 *
 *   unix_recv_leak           takes the pending error first, as ctteamsd's
 *                            loop does (agent/event.c): the read returns
 *                            0, the address is handed over and freed
 *   unix_recv_leak --bare    net-snmp alone: the read fails, and under
 *                            LeakSanitizer the 110 bytes are reported
 *
 * Both run in the sanitized build (tests/CMakeLists.txt): the first must be
 * clean, the second must still leak; the day Debian's library is fixed,
 * the second fails, and the work-around can go.
 */
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int bare = argc > 1 && !strcmp(argv[1], "--bare"), err = 0;
	socklen_t elen = sizeof(err);
	char path[] = "/tmp/netsnmp-leak-XXXXXX",
	     spec[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	char buf[64];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	netsnmp_transport *t;
	void *opaque = NULL;
	int olen = 0, srv, conn, rc;

	if (!mkdtemp(path))
		return 2;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", path);
	snprintf(spec, sizeof(spec), "unix:%s", sun.sun_path);
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(srv, 1) < 0)
		return 2;
	netsnmp_tdomain_init();
	t = netsnmp_tdomain_transport(spec, 0, "unix");
	if (!t)
		return 2;
	conn = accept(srv, NULL, NULL);
	if (conn < 0 || netsnmp_transport_send(t, "hello", 5, NULL, NULL) != 5)
		return 2;
	close(conn); /* unread data: the kernel resets the connection */
	if (!bare && getsockopt(t->sock, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return 2;
	rc = netsnmp_transport_recv(t, buf, sizeof(buf), &opaque, &olen);
	printf("pending error taken first: %s; netsnmp_transport_recv: %d (%s), opaque %s\n",
	       bare ? "no" : strerror(err), rc, rc < 0 ? strerror(errno) : "end of stream",
	       opaque ? "handed over" : "not handed over");
	fflush(stdout);
	free(opaque);
	netsnmp_transport_free(t);
	close(srv);
	unlink(sun.sun_path);
	rmdir(path);
	/* bare: the failing read is the case shown; else the end of stream */
	return bare ? rc >= 0 : !(rc == 0 && opaque);
}
