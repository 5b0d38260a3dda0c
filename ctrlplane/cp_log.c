/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_log.c: stderr log sink with a program prefix. One fprintf per line, so
 * lines from concurrent processes sharing stderr do not interleave within a
 * line.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cp_log.h"

static const char *log_prefix = "chokepoint";
static enum cp_log_level log_max = CP_LOG_INFO;

void
cp_log_setup(const char *prefix, enum cp_log_level max)
{
	if (prefix != NULL)
		log_prefix = prefix;
	log_max = max;
}

void
cp_log(enum cp_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	char line[2048];
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s%s\n", log_prefix, tag[lvl], line);
}
