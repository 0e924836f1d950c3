/*
 * graphsim's start-up: options, keys and certificates, the listener, the
 * delivery threads; then it waits for SIGTERM or SIGINT. Readiness is the
 * port file appearing (written atomically), so tests wait on a condition
 * rather than a sleep.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gs.h"

static int
write_file_atomic(const char *path, const char *text)
{
	char *tmp = gs_printf("%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (f && fputs(text, f) >= 0 && fclose(f) == 0 && rename(tmp, path) == 0)
		rc = 0;
	else if (f)
		fclose(f);
	if (rc < 0)
		perror(path);
	free(tmp);
	return rc;
}

int
main(int argc, char **argv)
{
	char *cert = NULL, *key = NULL, *ca = NULL, *base, *port;
	sigset_t set;
	int sig, rc;

	gs_config_defaults();
	rc = gs_config_parse_args(argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;

	/* the listener and delivery threads must not see these signals */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	gs_keys_init();
	if (gs_cfg.tls) {
		gs_tls_make(gs_cfg.public_host, &cert, &key, &ca);
		if (gs_cfg.ca_out && write_file_atomic(gs_cfg.ca_out, ca) < 0)
			return 1;
	}
	if (gs_cfg.seed_file && gs_seed_load(gs_cfg.seed_file) < 0)
		return 1;
	if (gs_http_start(cert, key) < 0)
		return 1;
	if (gs_deliver_start() < 0) {
		fprintf(stderr, "graphsim: cannot start delivery threads\n");
		return 1;
	}
	base = gs_base_url();
	fprintf(stderr, "graphsim: listening on %s\n", base);
	if (gs_cfg.port_file) {
		port = gs_printf("%d\n", gs_http_port());
		rc = write_file_atomic(gs_cfg.port_file, port);
		free(port);
		if (rc < 0)
			return 1;
	}

	do {
		sigwait(&set, &sig);
	} while (sig == SIGHUP);

	fprintf(stderr, "graphsim: stopping\n");
	gs_http_stop();
	gs_deliver_stop();
	curl_global_cleanup();
	free(base);
	free(cert);
	if (key)
		memset(key, 0, strlen(key));
	free(key);
	free(ca);
	return 0;
}
