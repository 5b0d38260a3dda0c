/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_util.h: small helpers shared by the control-plane modules.
 */
#ifndef CHOKEPOINT_CP_UTIL_H
#define CHOKEPOINT_CP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Lower-case hex of n bytes into out (2n+1 bytes). Returns out. */
char *cp_hex(const void *in, size_t n, char *out);
/* Parse exactly 2n lower/upper hex digits. 0 or -EINVAL. */
int cp_unhex(const char *in, size_t n, uint8_t *out);

/* RFC 3339 UTC with microseconds: 2026-11-25T23:51:24.123456Z (28 chars + NUL). */
#define CP_TS_LEN 32
void cp_fmt_ts(uint64_t ns, char out[CP_TS_LEN]);
uint64_t cp_now_ns(void);        /* CLOCK_REALTIME */
uint64_t cp_mono_ms(void);       /* CLOCK_MONOTONIC */

/* Create the directory that will hold path (one level, or more) with mode. 0 or -errno. */
int cp_mkdir_parent(const char *path, mode_t mode);

/* write(2) all of buf, retrying on EINTR and short writes. 0 or -errno. */
int cp_write_all(int fd, const void *buf, size_t n);

#endif /* CHOKEPOINT_CP_UTIL_H */
