/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_capture.c: open, validate and stage replay captures. See cp_capture.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "cp_capture.h"

/* LINKTYPE of a classic pcap header; -1 if it is not one (pcapng, other). */
static int
classic_linktype(const uint8_t h[24])
{
	uint32_t magic = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
			 (uint32_t)h[3] << 24;
	uint32_t lt;

	if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du)
		lt = (uint32_t)h[20] | (uint32_t)h[21] << 8 | (uint32_t)h[22] << 16 |
		     (uint32_t)h[23] << 24;
	else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u)
		lt = (uint32_t)h[23] | (uint32_t)h[22] << 8 | (uint32_t)h[21] << 16 |
		     (uint32_t)h[20] << 24;
	else
		return -1;
	return (int)(lt & 0xffff);   /* upper bits: FCS length */
}

static int
read_header(const char *path, uint8_t h[24])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, h, 24);
	close(fd);
	return r == 24 ? 0 : -EINVAL;
}

/* Read every packet (catches a corrupt body before the dataplane starts); dump if d. */
static int
walk(pcap_t *p, pcap_dumper_t *d, const char *src, unsigned long *count,
     char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;

	*count = 0;
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		if (d != NULL)
			pcap_dump((u_char *)d, h, data);
		(*count)++;
	}
	if (r == PCAP_ERROR) {
		snprintf(err, errlen, "%s: corrupt capture after %lu packets: %s", src, *count,
			 pcap_geterr(p));
		return -EINVAL;
	}
	return 0;
}

static int
stage(struct cp_captures *cs, int i, char *err, size_t errlen)
{
	struct cp_capture *c = &cs->c[i];
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	char real[PATH_MAX];
	pcap_dumper_t *d = NULL;
	uint8_t h[24];
	pcap_t *p;
	int rc, lt;

	p = pcap_open_offline(c->src, ebuf);
	if (p == NULL) {
		snprintf(err, errlen, "%s: cannot read capture: %s", c->src, ebuf);
		return -EINVAL;
	}
	snprintf(c->path, sizeof(c->path), "%s/capture%d.pcap", cs->dir, i);
	rc = read_header(c->src, h);
	lt = rc == 0 ? classic_linktype(h) : -1;
	if (lt < 0) {
		/* pcapng (or another format libpcap reads): rewrite as classic pcap */
		d = pcap_dump_open(p, c->path);
		if (d == NULL) {
			snprintf(err, errlen, "%s: cannot write a classic copy to %s: %s", c->src,
				 c->path, pcap_geterr(p));
			pcap_close(p);
			return -EIO;
		}
		c->converted = 1;
	}
	rc = walk(p, d, c->src, &c->packets, err, errlen);
	if (d != NULL)
		pcap_dump_close(d);
	pcap_close(p);
	if (rc < 0)
		return rc;
	if (!c->converted) {
		if (realpath(c->src, real) == NULL || symlink(real, c->path) < 0) {
			snprintf(err, errlen, "%s: cannot stage it as %s: %s", c->src, c->path,
				 strerror(errno));
			return -errno;
		}
	} else if (read_header(c->path, h) < 0 || (lt = classic_linktype(h)) < 0) {
		snprintf(err, errlen, "%s: the classic copy %s is unreadable", c->src, c->path);
		return -EIO;
	}
	c->linktype = lt;
	return 0;
}

int
cp_captures_prepare(struct cp_captures *cs, char *const *files, int n, char *err,
		    size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	int rc;

	memset(cs, 0, sizeof(*cs));
	cs->c = calloc((size_t)n, sizeof(*cs->c));
	if (cs->c == NULL)
		return -ENOMEM;
	cs->n = n;
	for (int i = 0; i < n; i++)
		cs->c[i].src = files[i];
	/* the path goes into a DPDK devargs string: no ',', '=' or blanks in it */
	if (tmp == NULL || tmp[0] != '/' || strpbrk(tmp, ",= \t\n") != NULL ||
	    strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(cs->dir, sizeof(cs->dir), "%s/chokepointctl-replay.XXXXXX", tmp);
	if (mkdtemp(cs->dir) == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create a temporary directory: %s", cs->dir,
			 strerror(errno));
		cs->dir[0] = '\0';
		return rc;
	}
	for (int i = 0; i < n; i++) {
		rc = stage(cs, i, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void
cp_captures_cleanup(struct cp_captures *cs)
{
	if (cs->dir[0] != '\0') {
		for (int i = 0; i < cs->n; i++)
			if (cs->c[i].path[0] != '\0')
				unlink(cs->c[i].path);
		rmdir(cs->dir);
	}
	free(cs->c);
	memset(cs, 0, sizeof(*cs));
}
