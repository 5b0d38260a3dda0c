/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_capture.h: captures for `chokepointctl replay`. Every file is opened
 * with libpcap before anything starts (a missing or corrupt file is an error
 * naming it). The dataplane's pcap PMD is handed classic pcap files under
 * safe names in a private temporary directory: a classic file is linked
 * there as is, anything else libpcap reads (pcapng) is rewritten as classic
 * pcap with pcap_dump. The link type comes from the classic file header.
 */
#ifndef CHOKEPOINT_CP_CAPTURE_H
#define CHOKEPOINT_CP_CAPTURE_H

#include <stddef.h>

struct cp_capture {
	const char *src;          /* as given */
	char path[4096];          /* classic pcap to hand to the PMD */
	int linktype;             /* LINKTYPE_* of the classic file */
	int converted;            /* 1: rewritten from pcapng */
	unsigned long packets;    /* counted while opening */
};

struct cp_captures {
	char dir[256];            /* temporary directory, "" if none */
	struct cp_capture *c;
	int n;
};

/* Open, check and stage every file. 0 or -errno with err naming the file. */
int cp_captures_prepare(struct cp_captures *cs, char *const *files, int n,
			char *err, size_t errlen);
/* Remove the staged files and the directory. */
void cp_captures_cleanup(struct cp_captures *cs);

#endif /* CHOKEPOINT_CP_CAPTURE_H */
