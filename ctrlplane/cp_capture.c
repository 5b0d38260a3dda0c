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

#include "dp_proto.h"
#include "cp_capture.h"

/* 1 if the file starts with a classic pcap magic (either byte order, us or ns). */
static int
is_classic(const char *path)
{
	uint8_t h[4];
	uint32_t magic;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	r = read(fd, h, sizeof(h));
	close(fd);
	if (r != (ssize_t)sizeof(h))
		return 0;
	magic = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	return magic == 0xa1b2c3d4u || magic == 0xa1b23c4du || magic == 0xd4c3b2a1u ||
	       magic == 0x4d3cb2a1u;
}

static pcap_t *
open_micro(const char *src, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p;

	p = pcap_open_offline_with_tstamp_precision(src, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (p == NULL)
		snprintf(err, errlen, "%s: cannot read capture: %s", src, ebuf);
	return p;
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

/* Open and read one input through: link type, packet count, format. */
static int
check_input(struct cp_capture *c, int *snaplen, char *err, size_t errlen)
{
	pcap_t *p = open_micro(c->src, err, errlen);
	int rc;

	if (p == NULL)
		return -EINVAL;
	c->linktype = pcap_datalink(p);
	c->converted = !is_classic(c->src);
	if (pcap_snapshot(p) > *snaplen)
		*snaplen = pcap_snapshot(p);
	rc = walk(p, NULL, c->src, &c->packets, err, errlen);
	pcap_close(p);
	return rc;
}

/* Write inputs first..last (one link type) into one classic pcap at port->path. */
static int
merge(struct cp_captures *cs, struct cp_capture_port *port, int snaplen, char *err,
      size_t errlen)
{
	pcap_t *dead;
	pcap_dumper_t *d;
	int rc = 0;

	dead = pcap_open_dead_with_tstamp_precision(port->linktype, snaplen,
						    PCAP_TSTAMP_PRECISION_MICRO);
	if (dead == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d = pcap_dump_open(dead, port->path);
	if (d == NULL) {
		snprintf(err, errlen, "%s: cannot write a classic copy to %s: %s",
			 cs->c[port->first].src, port->path, pcap_geterr(dead));
		pcap_close(dead);
		return -EIO;
	}
	for (int i = port->first; i <= port->last && rc == 0; i++) {
		unsigned long n;
		pcap_t *p = open_micro(cs->c[i].src, err, errlen);

		if (p == NULL) {
			rc = -EINVAL;
			break;
		}
		rc = walk(p, d, cs->c[i].src, &n, err, errlen);
		pcap_close(p);
	}
	if (pcap_dump_flush(d) != 0 && rc == 0) {
		snprintf(err, errlen, "%s: write failed", port->path);
		rc = -EIO;
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return rc;
}

static int
stage_port(struct cp_captures *cs, struct cp_capture_port *port, int snaplen, char *err,
	   size_t errlen)
{
	const struct cp_capture *c = &cs->c[port->first];
	char real[PATH_MAX];

	snprintf(port->path, sizeof(port->path), "%s/port%d.pcap", cs->dir,
		 (int)(port - cs->port));
	if (port->first == port->last && !c->converted) {
		if (realpath(c->src, real) == NULL || symlink(real, port->path) < 0) {
			snprintf(err, errlen, "%s: cannot stage it as %s: %s", c->src, port->path,
				 strerror(errno));
			return -errno;
		}
		return 0;
	}
	return merge(cs, port, snaplen, err, errlen);
}

int
cp_captures_prepare(struct cp_captures *cs, char *const *files, int n, char *err,
		    size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	int rc, snaplen = 65535;

	memset(cs, 0, sizeof(*cs));
	cs->c = calloc((size_t)n, sizeof(*cs->c));
	cs->port = calloc(DP_MAX_PORTS, sizeof(*cs->port));
	if (cs->c == NULL || cs->port == NULL)
		return -ENOMEM;
	cs->n = n;
	for (int i = 0; i < n; i++) {
		cs->c[i].src = files[i];
		rc = check_input(&cs->c[i], &snaplen, err, errlen);
		if (rc < 0)
			return rc;
		if (cs->n_ports > 0 && cs->port[cs->n_ports - 1].linktype == cs->c[i].linktype) {
			cs->port[cs->n_ports - 1].last = i;
			continue;
		}
		if (cs->n_ports == DP_MAX_PORTS) {
			snprintf(err, errlen, "%s: link type %d: the captures change link type more "
				 "than %d times; replay them in separate runs", files[i],
				 cs->c[i].linktype, DP_MAX_PORTS - 1);
			return -E2BIG;
		}
		cs->port[cs->n_ports].linktype = cs->c[i].linktype;
		cs->port[cs->n_ports].first = cs->port[cs->n_ports].last = i;
		cs->n_ports++;
	}
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
	for (int i = 0; i < cs->n_ports; i++) {
		rc = stage_port(cs, &cs->port[i], snaplen, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void
cp_captures_cleanup(struct cp_captures *cs)
{
	if (cs->dir[0] != '\0') {
		for (int i = 0; i < cs->n_ports; i++)
			if (cs->port[i].path[0] != '\0')
				unlink(cs->port[i].path);
		rmdir(cs->dir);
	}
	free(cs->c);
	free(cs->port);
	memset(cs, 0, sizeof(*cs));
}
