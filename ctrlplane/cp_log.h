/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_log.h: the one log sink of the control-plane processes. Library code
 * returns errors to its caller; it logs only what no caller can act on (a
 * bad message from the dataplane, a torn audit line that was cut). Lines go
 * to stderr with the program's prefix ("chokepointd: "); every message names
 * its object (file, socket, generation, worker).
 */
#ifndef CHOKEPOINT_CP_LOG_H
#define CHOKEPOINT_CP_LOG_H

enum cp_log_level {
	CP_LOG_ERR = 0,
	CP_LOG_WARN,
	CP_LOG_INFO,
	CP_LOG_DEBUG,
};

/* prefix: program name without ": " (kept by pointer); max: highest level printed. */
void cp_log_setup(const char *prefix, enum cp_log_level max);

void cp_log(enum cp_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define CP_ERR(...)   cp_log(CP_LOG_ERR, __VA_ARGS__)
#define CP_WARN(...)  cp_log(CP_LOG_WARN, __VA_ARGS__)
#define CP_INFO(...)  cp_log(CP_LOG_INFO, __VA_ARGS__)
#define CP_DEBUG(...) cp_log(CP_LOG_DEBUG, __VA_ARGS__)

#endif /* CHOKEPOINT_CP_LOG_H */
