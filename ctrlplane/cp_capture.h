/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_capture.h: captures for `chokepointctl replay`. Every file is opened
 * with libpcap before anything starts (a missing or corrupt file is an error
 * naming it). The dataplane's pcap PMD is handed classic pcap files under
 * safe names in a private temporary directory. Consecutive captures of one
 * link type become one staged file (one dataplane port), in argument order, so
 * any number of rotated captures replays through one flow table; a lone
 * classic file is linked as is, anything else (several files, pcapng) is
 * written as classic pcap with pcap_dump, microsecond timestamps. A run can
 * change link type at most DP_MAX_PORTS - 1 times (one port per run of
 * captures sharing a link type).
 */
#ifndef CHOKEPOINT_CP_CAPTURE_H
#define CHOKEPOINT_CP_CAPTURE_H

#include <stddef.h>

struct cp_capture {
	const char *src;          /* as given */
	int linktype;             /* LINKTYPE_* (pcap_datalink) */
	int converted;            /* 1: not classic pcap (rewritten) */
	unsigned long packets;    /* counted while opening */
};

/* What the dataplane is handed: one pcap port per run of same-link-type captures. */
struct cp_capture_port {
	char path[4096];
	int linktype;
	int first, last;          /* indexes into cp_captures.c */
};

struct cp_captures {
	char dir[256];            /* temporary directory, "" if none */
	struct cp_capture *c;     /* the inputs, in argument order */
	int n;
	struct cp_capture_port *port;
	int n_ports;
};

/* Open, check and stage every file. 0 or -errno with err naming the file. */
int cp_captures_prepare(struct cp_captures *cs, char *const *files, int n,
			char *err, size_t errlen);
/* Remove the staged files and the directory. */
void cp_captures_cleanup(struct cp_captures *cs);

#endif /* CHOKEPOINT_CP_CAPTURE_H */
