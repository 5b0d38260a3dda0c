/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_util.c: hex, time stamps, directories, full writes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cp_util.h"

char *
cp_hex(const void *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	const uint8_t *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 0xf];
	}
	out[2 * n] = '\0';
	return out;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cp_unhex(const char *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int h = hexval(in[2 * i]), l = hexval(in[2 * i + 1]);

		if (h < 0 || l < 0)
			return -EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

void
cp_fmt_ts(uint64_t ns, char out[CP_TS_LEN])
{
	/* the date and time of the last second seen, per thread: records come in bursts */
	static __thread time_t last_sec = -1;
	static __thread char last[CP_TS_LEN];
	static __thread size_t last_n;
	time_t sec = (time_t)(ns / 1000000000u);
	unsigned usec = (unsigned)((ns % 1000000000u) / 1000u);
	struct tm tm;

	if (sec != last_sec) {
		if (gmtime_r(&sec, &tm) == NULL) {
			snprintf(out, CP_TS_LEN, "1970-01-01T00:00:00.000000Z");
			return;
		}
		last_n = strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm);
		last_sec = sec;
	}
	memcpy(out, last, last_n);
	out[last_n] = '.';
	for (int i = 6; i >= 1; i--) {
		out[last_n + (size_t)i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	out[last_n + 7] = 'Z';
	out[last_n + 8] = '\0';
}

uint64_t
cp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
cp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
cp_mkdir_parent(const char *path, mode_t mode)
{
	char dir[PATH_MAX];
	char *slash;
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	/* every component, so /run/chokepoint works on a fresh tmpfs */
	for (char *p = dir + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(dir, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int
cp_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}
