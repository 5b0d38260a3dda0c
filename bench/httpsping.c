/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * httpsping.c: chokepoint-httpsping, the one client of the latency benchmark
 * (bench/latency.py) for every path: direct (kernel bridge, chokepoint
 * inline) or through a forward proxy (CONNECT, as the proxy's users do).
 * wrk cannot speak CONNECT, hence this program.
 *
 *   chokepoint-httpsping --addr IP --port N --sni NAME [--proxy IP:PORT]
 *       [--requests N] [--warmup N] [--keepalive] [--ca FILE] [--path P]
 *       [--samples FILE]
 *
 * New connection per request (default): each sample is TCP connect (+ the
 * CONNECT round trip) + a full TLS handshake (no resumption) + GET + the whole
 * response. --keepalive: one connection; each sample is GET + the whole
 * response. Prints one JSON object: count, errors, reconnects, min, mean,
 * p50, p90, p99, p99.9, max in microseconds; --samples writes every sample
 * (microseconds, one per line, in the order taken).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct opts {
	const char *addr;
	int port;
	const char *sni;
	const char *proxy;       /* IP:PORT or NULL */
	const char *ca;
	const char *path;
	const char *samples;     /* file for every sample, or NULL */
	long requests;
	long warmup;
	int keepalive;
};

struct conn {
	int fd;
	SSL *ssl;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
tcp_connect(const char *ip, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "httpsping: bad address %s\n", ip);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* CONNECT sni:443 through the proxy on fd; 0 when it answered 2xx. */
static int
proxy_connect(int fd, const char *sni)
{
	char req[512], resp[2048];
	size_t got = 0;
	int n;

	n = snprintf(req, sizeof(req), "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", sni,
		     sni);
	if (write(fd, req, (size_t)n) != n)
		return -1;
	/* read the status line and headers byte-exactly: TLS follows at once */
	while (got < sizeof(resp) - 1) {
		ssize_t r = read(fd, resp + got, 1);

		if (r <= 0)
			return -1;
		got++;
		if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	resp[got] = '\0';
	return strncmp(resp, "HTTP/1.1 2", 10) == 0 || strncmp(resp, "HTTP/1.0 2", 10) == 0 ?
	       0 : -1;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int
conn_open(struct conn *c, SSL_CTX *ctx, const struct opts *o)
{
	c->ssl = NULL;
	if (o->proxy != NULL) {
		char ip[64];
		const char *colon = strrchr(o->proxy, ':');

		if (colon == NULL || (size_t)(colon - o->proxy) >= sizeof(ip))
			return -1;
		memcpy(ip, o->proxy, (size_t)(colon - o->proxy));
		ip[colon - o->proxy] = '\0';
		c->fd = tcp_connect(ip, atoi(colon + 1));
		if (c->fd < 0)
			return -1;
		if (proxy_connect(c->fd, o->sni) != 0)
			goto err;
	} else {
		c->fd = tcp_connect(o->addr, o->port);
		if (c->fd < 0)
			return -1;
	}
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, o->sni) != 1 || SSL_set1_host(c->ssl, o->sni) != 1)
		goto err;
	if (SSL_connect(c->ssl) != 1)
		goto err;
	return 0;
err:
	conn_close(c);
	return -1;
}

/* GET path, read the whole response (Content-Length). 0 ok. */
static int
request(struct conn *c, const struct opts *o, int close_after)
{
	char req[512], buf[16384];
	int n, got = 0, hdr_end = -1;
	long clen = -1;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
		     "chokepoint-httpsping\r\n%s\r\n", o->path, o->sni,
		     close_after ? "Connection: close\r\n" : "");
	if (SSL_write(c->ssl, req, n) != n)
		return -1;
	for (;;) {
		int r = SSL_read(c->ssl, buf + got, (int)sizeof(buf) - 1 - got);

		if (r <= 0)
			return -1;
		got += r;
		buf[got] = '\0';
		if (hdr_end < 0) {
			char *e = strstr(buf, "\r\n\r\n"), *cl;

			if (e == NULL) {
				if (got >= (int)sizeof(buf) - 1)
					return -1;
				continue;
			}
			hdr_end = (int)(e - buf) + 4;
			if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
				return -1;
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl == NULL || cl > e)
				return -1;
			clen = strtol(cl + 17, NULL, 10);
		}
		if (got - hdr_end >= clen)
			return 0;
		if (got >= (int)sizeof(buf) - 1) {
			/* a large body: keep only the count */
			clen -= got - hdr_end;
			got = hdr_end = 0;
		}
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, long n, double p)
{
	long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "addr", required_argument, NULL, 'a' }, { "port", required_argument, NULL, 'p' },
		{ "sni", required_argument, NULL, 's' }, { "proxy", required_argument, NULL, 'x' },
		{ "ca", required_argument, NULL, 'c' }, { "path", required_argument, NULL, 'P' },
		{ "requests", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "keepalive", no_argument, NULL, 'k' },
		{ "samples", required_argument, NULL, 'S' }, { NULL, 0, NULL, 0 },
	};
	struct opts o = { .addr = NULL, .port = 443, .path = "/", .requests = 1000, .warmup = 20 };
	struct conn c = { .fd = -1, .ssl = NULL };
	long i, n = 0, errors = 0, reconnects = 0;
	double *lat, sum = 0, t0;
	SSL_CTX *ctx;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'a': o.addr = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 's': o.sni = optarg; break;
		case 'x': o.proxy = optarg; break;
		case 'c': o.ca = optarg; break;
		case 'P': o.path = optarg; break;
		case 'n': o.requests = atol(optarg); break;
		case 'w': o.warmup = atol(optarg); break;
		case 'k': o.keepalive = 1; break;
		case 'S': o.samples = optarg; break;
		default:
			fprintf(stderr, "usage: chokepoint-httpsping --addr IP [--port N] --sni NAME "
				"[--proxy IP:PORT] [--requests N] [--warmup N] [--keepalive] "
				"[--ca FILE] [--path P]\n");
			return 2;
		}
	}
	if ((o.addr == NULL && o.proxy == NULL) || o.sni == NULL || o.requests <= 0 ||
	    o.warmup < 0) {
		fprintf(stderr, "httpsping: --addr (or --proxy), --sni and --requests > 0 needed\n");
		return 2;
	}
	lat = calloc((size_t)o.requests, sizeof(*lat));
	ctx = SSL_CTX_new(TLS_client_method());
	if (lat == NULL || ctx == NULL)
		return 1;
	/* every new connection is a full handshake: no tickets, no session cache */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (o.ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, o.ca, NULL) != 1) {
			fprintf(stderr, "httpsping: cannot load CA %s\n", o.ca);
			return 1;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	for (i = 0; i < o.warmup + o.requests; i++) {
		double t;
		int ok;

		if (o.keepalive) {
			if (c.ssl == NULL) {
				if (conn_open(&c, ctx, &o) != 0) {
					errors++;
					if (errors > 100)
						break;
					continue;
				}
				if (i > 0)
					reconnects++;
			}
			t0 = now_us();
			ok = request(&c, &o, 0) == 0;
			t = now_us() - t0;
			if (!ok)
				conn_close(&c);
		} else {
			t0 = now_us();
			ok = conn_open(&c, ctx, &o) == 0 && request(&c, &o, 1) == 0;
			t = now_us() - t0;
			if (c.ssl != NULL)
				SSL_shutdown(c.ssl);
			conn_close(&c);
		}
		if (!ok) {
			errors++;
			ERR_clear_error();
			if (errors > 100)
				break;
			continue;
		}
		if (i >= o.warmup) {
			lat[n++] = t;
			sum += t;
		}
	}
	conn_close(&c);
	SSL_CTX_free(ctx);
	if (n == 0) {
		printf("{\"count\":0,\"errors\":%ld}\n", errors);
		return 1;
	}
	if (o.samples != NULL) {
		FILE *f = fopen(o.samples, "w");

		if (f == NULL) {
			perror(o.samples);
			return 1;
		}
		for (i = 0; i < n; i++)
			fprintf(f, "%.1f\n", lat[i]);
		if (fclose(f) != 0)
			return 1;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("{\"count\":%ld,\"errors\":%ld,\"reconnects\":%ld,\"keepalive\":%s,\"proxy\":%s,"
	       "\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
	       "\"max\":%.1f}\n", n, errors, reconnects, o.keepalive ? "true" : "false",
	       o.proxy ? "true" : "false", lat[0], sum / (double)n, pct(lat, n, 50),
	       pct(lat, n, 90), pct(lat, n, 99), pct(lat, n, 99.9), lat[n - 1]);
	free(lat);
	return errors > 0 ? 1 : 0;
}
