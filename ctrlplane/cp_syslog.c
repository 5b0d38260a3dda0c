/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_syslog.c: syslog over TLS exporter thread (see cp_syslog.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cp_export.h"
#include "cp_log.h"
#include "cp_syslog.h"
#include "cp_util.h"

#define IO_TIMEOUT_MS 5000        /* connect and handshake */
#define TICK_MS 200               /* how often a blocked thread looks at the stop flag */
#define BACKOFF_MAX_MS 10000
#define SNDBUF (64 * 1024)        /* kernel send buffer of the collector connection */

struct item {
	char *line;
	size_t len;
};

struct cp_syslog {
	/* configuration (copied) */
	char *host, *port, *ca, *cert, *key;
	int ocsf;
	char hostname[256];
	int pid;
	/* queue */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *q;
	uint32_t cap, head, count;
	bool stop;
	uint64_t drain_until_ms;
	/* thread */
	pthread_t th;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	struct cp_syslog_stats st;   /* under mu */
	char frame[CP_EXPORT_MAX];
};

static void
set_error(struct cp_syslog *s, const char *fmt, const char *a)
{
	char ebuf[128];
	unsigned long e = ERR_get_error();

	pthread_mutex_lock(&s->mu);
	if (e != 0) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		snprintf(s->st.last_error, sizeof(s->st.last_error), "%s: %s", a, ebuf);
	} else {
		snprintf(s->st.last_error, sizeof(s->st.last_error), fmt, a);
	}
	s->st.failures++;
	pthread_mutex_unlock(&s->mu);
	ERR_clear_error();
}

static bool
stopping(struct cp_syslog *s)
{
	bool r;

	pthread_mutex_lock(&s->mu);
	r = s->stop && (s->count == 0 || cp_mono_ms() >= s->drain_until_ms);
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void
disconnect(struct cp_syslog *s)
{
	if (s->ssl != NULL) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	pthread_mutex_lock(&s->mu);
	s->st.connected = false;
	pthread_mutex_unlock(&s->mu);
}

/* Wait until fd is ready for what SSL wants; false on timeout/stop. */
static bool
wait_io(struct cp_syslog *s, int want, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = s->fd, .events = want == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
		uint64_t now = cp_mono_ms();

		if (stopping(s) || (deadline_ms != 0 && now >= deadline_ms))
			return false;
		if (poll(&p, 1, TICK_MS) > 0)
			return true;
	}
}

static int
tcp_connect(struct cp_syslog *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	uint64_t deadline = cp_mono_ms() + IO_TIMEOUT_MS;
	int rc, fd = -1, sndbuf = SNDBUF;

	rc = getaddrinfo(s->host, s->port, &hints, &res);
	if (rc != 0) {
		set_error(s, "resolve: %s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		/* the bounded queue is where a stall is absorbed and counted, not megabytes of
		 * kernel buffer that autotuning would grow behind our back */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		s->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_io(s, SSL_ERROR_WANT_WRITE, deadline) &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0))
			break;
		set_error(s, "connect: %s", strerror(soerr != 0 ? soerr : errno));
		close(fd);
		s->fd = fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? 0 : -1;
}

static int
tls_connect(struct cp_syslog *s)
{
	struct in6_addr a6;
	uint64_t deadline;
	int r;

	if (tcp_connect(s) < 0)
		return -1;
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1) {
		set_error(s, "%s", "SSL_new");
		return -1;
	}
	/* the collector's certificate must name what we connect to */
	if (inet_pton(AF_INET, s->host, &a6) == 1 || inet_pton(AF_INET6, s->host, &a6) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host) != 1) {
			set_error(s, "%s", "verify param");
			return -1;
		}
	} else if (SSL_set1_host(s->ssl, s->host) != 1 ||
		   SSL_set_tlsext_host_name(s->ssl, s->host) != 1) {
		set_error(s, "%s", "verify param");
		return -1;
	}
	deadline = cp_mono_ms() + IO_TIMEOUT_MS;
	while ((r = SSL_connect(s->ssl)) != 1) {
		int e = SSL_get_error(s->ssl, r);

		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    !wait_io(s, e, deadline)) {
			long v = SSL_get_verify_result(s->ssl);

			if (v != X509_V_OK)
				set_error(s, "certificate: %s", X509_verify_cert_error_string(v));
			else
				set_error(s, "%s", "TLS handshake");
			return -1;
		}
	}
	pthread_mutex_lock(&s->mu);
	s->st.connected = true;
	s->st.connects++;
	pthread_mutex_unlock(&s->mu);
	CP_INFO("syslog: connected to %s:%s (%s)", s->host, s->port, SSL_get_version(s->ssl));
	return 0;
}

/* Write all of buf; 0, or -1 (connection to drop) / -2 (stopping). */
static int
tls_write(struct cp_syslog *s, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t n = 0;
		int r = SSL_write_ex(s->ssl, buf + off, len - off, &n);

		if (r == 1) {
			off += n;
			continue;
		}
		r = SSL_get_error(s->ssl, r);
		if (r != SSL_ERROR_WANT_READ && r != SSL_ERROR_WANT_WRITE) {
			set_error(s, "write: %s", r == SSL_ERROR_SYSCALL ? strerror(errno) : "TLS error");
			return -1;
		}
		/* a stalled collector: wait here, the queue (and only it) absorbs the rest */
		if (!wait_io(s, r, 0))
			return -2;
	}
	return 0;
}

static void *
run(void *arg)
{
	struct cp_syslog *s = arg;
	uint64_t backoff = 500;

	while (!stopping(s)) {
		struct item it;
		int n, rc;

		if (s->ssl == NULL) {
			if (tls_connect(s) < 0) {
				uint64_t until = cp_mono_ms() + backoff;

				disconnect(s);
				if (backoff == 500 || backoff >= BACKOFF_MAX_MS)
					CP_WARN("syslog: %s:%s: %s; retrying", s->host, s->port,
						s->st.last_error);
				while (!stopping(s) && cp_mono_ms() < until)
					usleep(TICK_MS * 1000);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = 500;
		}
		pthread_mutex_lock(&s->mu);
		while (s->count == 0 && !s->stop) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += TICK_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
		if (s->count == 0) {
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		it = s->q[s->head];      /* stays queued until written */
		pthread_mutex_unlock(&s->mu);
		n = cp_export_syslog(it.line, it.len, s->ocsf, s->hostname, s->pid, s->frame,
				     sizeof(s->frame));
		if (n < 0) {
			CP_WARN("syslog: a record could not be rendered (%s): not exported",
				strerror(-n));
			rc = 0;
		} else {
			rc = tls_write(s, s->frame, (size_t)n);
		}
		if (rc == -2)
			break;
		if (rc < 0) {
			CP_WARN("syslog: %s:%s: %s; reconnecting", s->host, s->port, s->st.last_error);
			disconnect(s);
			continue;        /* the same message goes again */
		}
		pthread_mutex_lock(&s->mu);
		free(s->q[s->head].line);
		s->head = (s->head + 1) % s->cap;
		s->count--;
		if (n >= 0)
			s->st.sent++;
		pthread_mutex_unlock(&s->mu);
	}
	if (s->ssl != NULL)
		SSL_shutdown(s->ssl);
	disconnect(s);
	return NULL;
}

static char *
dupz(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
release(struct cp_syslog *s)
{
	for (uint32_t i = 0; i < s->count; i++)
		free(s->q[(s->head + i) % s->cap].line);
	free(s->q);
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->host);
	free(s->port);
	free(s->ca);
	free(s->cert);
	free(s->key);
	free(s);
}

int
cp_syslog_start(const struct cp_syslog_cfg *cfg, struct cp_syslog **out, char *err,
		size_t errlen)
{
	struct cp_syslog *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	char ebuf[160];
	int rc;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->fd = -1;
	s->cap = cfg->queue > 0 ? cfg->queue : 10000;
	s->ocsf = cfg->format == CP_SYSLOG_OCSF;
	s->pid = (int)getpid();
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
		s->hostname[0] = '\0';
	s->host = dupz(cfg->host);
	s->ca = dupz(cfg->ca);
	s->cert = dupz(cfg->cert);
	s->key = dupz(cfg->key);
	s->q = calloc(s->cap, sizeof(*s->q));
	if (asprintf(&s->port, "%u", cfg->port) < 0)
		s->port = NULL;
	if (s->host == NULL || s->ca == NULL || s->port == NULL || s->q == NULL ||
	    (cfg->cert != NULL && s->cert == NULL) || (cfg->key != NULL && s->key == NULL)) {
		release(s);
		return -ENOMEM;
	}
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL || SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "syslog: TLS context: %s",
			 ERR_error_string(ERR_get_error(), ebuf));
		release(s);
		return -EIO;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(s->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_load_verify_locations(s->ctx, s->ca, NULL) != 1) {
		snprintf(err, errlen, "syslog.ca %s: not a readable PEM CA file (%s)", s->ca,
			 ERR_error_string(ERR_get_error(), ebuf));
		release(s);
		return -EINVAL;
	}
	if (s->cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(s->ctx, s->cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(s->ctx, s->key, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(s->ctx) != 1)) {
		snprintf(err, errlen, "syslog.cert %s / syslog.key %s: %s", s->cert, s->key,
			 ERR_error_string(ERR_get_error(), ebuf));
		release(s);
		return -EINVAL;
	}
	ERR_clear_error();
	/* signals stay with the main thread (chokepointd reads them from a signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->th, NULL, run, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "syslog: thread: %s", strerror(rc));
		release(s);
		return -rc;
	}
	*out = s;
	return 0;
}

void
cp_syslog_stop(struct cp_syslog *s, int drain_ms)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	s->drain_until_ms = cp_mono_ms() + (uint64_t)(drain_ms > 0 ? drain_ms : 0);
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	if (s->count > 0)
		CP_WARN("syslog: %u record(s) not exported at exit (they are in the file trail)",
			s->count);
	release(s);
}

void
cp_syslog_submit(void *arg, const char *line, size_t len)
{
	struct cp_syslog *s = arg;
	char *copy;

	pthread_mutex_lock(&s->mu);
	s->st.submitted++;
	if (s->count == s->cap || (copy = malloc(len)) == NULL) {
		s->st.dropped++;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	memcpy(copy, line, len);
	s->q[(s->head + s->count) % s->cap] = (struct item){ .line = copy, .len = len };
	s->count++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
cp_syslog_get_stats(struct cp_syslog *s, struct cp_syslog_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	out->queued = s->count;
	pthread_mutex_unlock(&s->mu);
}
