/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dns.c: DNS response parser (see dns.h). Names are walked in place over the
 * message with a cursor; a compression pointer must point strictly before the
 * start of the name segment it was found in (and past the header), so every
 * jump goes further back and no crafted message can make a walk loop. Two
 * passes: the first validates the header, the question and every answer and
 * remembers where each answer is; the second follows the CNAME chain from the
 * question name and collects the addresses on it.
 */
#include <stdint.h>
#include <string.h>

#include "dns.h"

#define DNS_HDR_LEN 12
#define DNS_WIRE_NAME_MAX 255

struct name_cur {
	size_t pos;     /* next byte to read */
	size_t seg;     /* start of the current segment: pointers must go before it */
	size_t end;     /* offset just past the name where it is written (set when known) */
	unsigned wire;  /* wire length so far (labels + length bytes) */
	int jumped;
};

struct rr_ref {
	uint32_t owner;
	uint32_t rdata;
	uint32_t ttl;
	uint16_t type;
	uint16_t rdlen;
	uint8_t in;     /* class IN */
};

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
cur_init(struct name_cur *c, size_t off)
{
	c->pos = off;
	c->seg = off;
	c->end = 0;
	c->wire = 0;
	c->jumped = 0;
}

/*
 * The next label of the name: its length (0 = the root, the name ends) with
 * *lab pointing at its bytes, or -DNS_TRUNCATED / -DNS_MALFORMED.
 */
static int
label_next(const uint8_t *m, size_t len, struct name_cur *c, const uint8_t **lab)
{
	for (;;) {
		uint8_t b;
		size_t t;

		if (c->pos >= len)
			return -DNS_TRUNCATED;
		b = m[c->pos];
		if ((b & 0xc0) == 0xc0) {
			if (c->pos + 1 >= len)
				return -DNS_TRUNCATED;
			t = ((size_t)(b & 0x3f) << 8) | m[c->pos + 1];
			if (t < DNS_HDR_LEN || t >= c->seg)
				return -DNS_MALFORMED;
			if (!c->jumped) {
				c->end = c->pos + 2;
				c->jumped = 1;
			}
			c->seg = t;
			c->pos = t;
			continue;
		}
		if (b & 0xc0)
			return -DNS_MALFORMED;  /* 0x40 extended, 0x80 reserved */
		if (c->pos + 1 + b > len)
			return -DNS_TRUNCATED;
		c->wire += b + 1u;
		if (c->wire > DNS_WIRE_NAME_MAX)
			return -DNS_MALFORMED;
		*lab = m + c->pos + 1;
		c->pos += 1u + b;
		if (b == 0 && !c->jumped)
			c->end = c->pos;
		return b;
	}
}

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/*
 * Walks the name at off, checking every label byte is writable in text form.
 * On success returns 0 and *end is just past the name in place; with txt set,
 * writes the lower-cased dotted name (no trailing dot) and its length.
 */
static int
name_walk(const uint8_t *m, size_t len, size_t off, size_t *end, char *txt, uint16_t *txt_len)
{
	struct name_cur c;
	const uint8_t *lab;
	size_t tl = 0;
	int n, i;

	cur_init(&c, off);
	while ((n = label_next(m, len, &c, &lab)) > 0) {
		if (tl != 0 && txt != NULL)
			txt[tl] = '.';
		if (tl != 0)
			tl++;
		for (i = 0; i < n; i++) {
			if (lab[i] < 0x21 || lab[i] > 0x7e || lab[i] == '.')
				return -DNS_MALFORMED;
			if (txt != NULL)
				txt[tl] = (char)lower(lab[i]);
			tl++;
		}
	}
	if (n < 0)
		return n;
	/* wire <= 255 keeps the text within DNS_NAME_MAX */
	if (txt != NULL) {
		txt[tl] = '\0';
		*txt_len = (uint16_t)tl;
	}
	*end = c.end;
	return 0;
}

/* 1 if the (already validated) names at a and b are equal, ignoring ASCII case */
static int
name_eq(const uint8_t *m, size_t len, size_t a, size_t b)
{
	struct name_cur ca, cb;
	const uint8_t *la, *lb;
	int na, nb, i;

	if (a == b)
		return 1;
	cur_init(&ca, a);
	cur_init(&cb, b);
	for (;;) {
		na = label_next(m, len, &ca, &la);
		nb = label_next(m, len, &cb, &lb);
		if (na < 0 || nb < 0 || na != nb)
			return 0;
		if (na == 0)
			return 1;
		for (i = 0; i < na; i++)
			if (lower(la[i]) != lower(lb[i]))
				return 0;
	}
}

static inline uint32_t
min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static enum dns_result
parse_answers(const uint8_t *m, size_t len, size_t pos, struct dns_response *out,
	      struct rr_ref *rr, unsigned *n_rr)
{
	unsigned i, n = 0;
	size_t end;
	int rc;

	for (i = 0; i < out->ancount; i++) {
		size_t owner = pos;
		uint16_t type, rdlen;
		uint32_t ttl;

		rc = name_walk(m, len, pos, &end, NULL, NULL);
		if (rc < 0)
			return (enum dns_result)-rc;
		pos = end;
		if (len - pos < 10)
			return DNS_TRUNCATED;
		type = rd16(m + pos);
		ttl = rd32(m + pos + 4);
		if (ttl & 0x80000000u)
			ttl = 0;        /* RFC 2181 8: the top bit set means zero */
		rdlen = rd16(m + pos + 8);
		pos += 10;
		if (len - pos < rdlen)
			return DNS_TRUNCATED;
		if (rd16(m + pos - 8) == DNS_CLASS_IN) {
			if ((type == DNS_TYPE_A && rdlen != 4) ||
			    (type == DNS_TYPE_AAAA && rdlen != 16))
				return DNS_MALFORMED;
			if (type == DNS_TYPE_CNAME) {
				/* the target must be exactly the record's data */
				rc = name_walk(m, pos + rdlen, pos, &end, NULL, NULL);
				if (rc < 0 || end != pos + rdlen)
					return DNS_MALFORMED;
			}
		}
		if (n < DNS_RR_MAX) {
			rr[n].owner = (uint32_t)owner;
			rr[n].rdata = (uint32_t)pos;
			rr[n].ttl = ttl;
			rr[n].type = type;
			rr[n].rdlen = rdlen;
			rr[n].in = rd16(m + pos - 8) == DNS_CLASS_IN;
			n++;
		} else {
			out->rr_dropped++;
		}
		pos += rdlen;
	}
	out->answers_end = (uint32_t)pos;
	*n_rr = n;
	return DNS_OK;
}

static void
follow_chain(const uint8_t *m, size_t len, struct dns_response *out,
	     const struct rr_ref *rr, unsigned n_rr)
{
	uint32_t names[DNS_CNAME_MAX + 1], path_ttl[DNS_CNAME_MAX + 1];
	uint8_t used[DNS_RR_MAX];
	unsigned i, k, depth = 0;
	size_t end;

	memset(used, 0, sizeof(used));
	names[0] = DNS_HDR_LEN;
	path_ttl[0] = UINT32_MAX;
	for (;;) {
		for (i = 0; i < n_rr; i++)
			if (!used[i] && rr[i].in && rr[i].type == DNS_TYPE_CNAME &&
			    name_eq(m, len, rr[i].owner, names[depth]))
				break;
		if (i == n_rr)
			break;
		if (depth == DNS_CNAME_MAX) {
			out->chain_cut = 1;
			break;
		}
		used[i] = 1;
		names[depth + 1] = rr[i].rdata;
		path_ttl[depth + 1] = min32(path_ttl[depth], rr[i].ttl);
		depth++;
	}
	out->chain_len = (uint8_t)depth;
	/* validated in the first pass: cannot fail */
	if (name_walk(m, len, names[depth], &end, out->canon, &out->canon_len) < 0)
		out->canon_len = 0;

	for (i = 0; i < n_rr; i++) {
		struct dns_addr *a;

		if (used[i])
			continue;
		if (!rr[i].in || (rr[i].type != DNS_TYPE_A && rr[i].type != DNS_TYPE_AAAA)) {
			out->ignored++;
			continue;
		}
		for (k = 0; k <= depth; k++)
			if (name_eq(m, len, rr[i].owner, names[k]))
				break;
		if (k > depth) {
			out->ignored++;
			continue;
		}
		if (out->n_addrs == DNS_ADDR_MAX) {
			out->addrs_dropped++;
			continue;
		}
		a = &out->addrs[out->n_addrs++];
		memset(a, 0, sizeof(*a));
		a->family = rr[i].type == DNS_TYPE_A ? 4 : 6;
		memcpy(a->addr, m + rr[i].rdata, rr[i].rdlen);
		a->ttl = min32(path_ttl[k], rr[i].ttl);
	}
}

enum dns_result
dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *out)
{
	struct rr_ref rr[DNS_RR_MAX];
	unsigned n_rr = 0;
	uint16_t flags;
	size_t end;
	enum dns_result res;
	int rc;

	memset(out, 0, offsetof(struct dns_response, addrs));
	if (len < DNS_HDR_LEN)
		return DNS_TRUNCATED;
	out->id = rd16(msg);
	flags = rd16(msg + 2);
	out->tc = (flags >> 9) & 1;
	out->rcode = flags & 0xf;
	out->ancount = rd16(msg + 6);
	if (!(flags & 0x8000))
		return DNS_NOT_RESPONSE;
	if (((flags >> 11) & 0xf) != 0 || rd16(msg + 4) != 1)
		return DNS_UNSUPPORTED;
	rc = name_walk(msg, len, DNS_HDR_LEN, &end, out->qname, &out->qname_len);
	if (rc < 0)
		return (enum dns_result)-rc;
	if (len - end < 4)
		return DNS_TRUNCATED;
	out->qtype = rd16(msg + end);
	out->qclass = rd16(msg + end + 2);
	res = parse_answers(msg, len, end + 4, out, rr, &n_rr);
	if (res != DNS_OK)
		return res;
	follow_chain(msg, len, out, rr, n_rr);
	return DNS_OK;
}

const char *
dns_result_str(enum dns_result r)
{
	switch (r) {
	case DNS_OK: return "ok";
	case DNS_TRUNCATED: return "truncated";
	case DNS_MALFORMED: return "malformed";
	case DNS_NOT_RESPONSE: return "not_response";
	case DNS_UNSUPPORTED: return "unsupported";
	}
	return "unknown";
}

/* ---- SVCB / HTTPS records: scan, and strip the ech SvcParam -------------- */

#define DNS_TYPE_NS 2
#define DNS_TYPE_SOA 6
#define DNS_TYPE_PTR 12
#define DNS_TYPE_MX 15
#define DNS_TYPE_SRV 33
#define DNS_TYPE_DNAME 39

struct svc_cut {
	uint32_t start;         /* the ech param's key */
	uint32_t len;           /* key + length + value */
	uint32_t rdlen_off;     /* its record's RDLENGTH */
};

struct svc_walk {
	int strip;
	uint32_t ptrs[DNS_STRIP_PTRS_MAX];      /* positions of compression pointers */
	uint32_t seg_end[DNS_STRIP_PTRS_MAX];   /* the label bytes a pointer leads to: [target,
						 * seg_end), the next pointer excluded */
	unsigned np;
	struct svc_cut cuts[DNS_STRIP_CUTS_MAX];
	unsigned nc;
	struct dns_svcb_info *info;
};

/*
 * Walk the name at off (ending by limit), as name_walk but without text:
 * *end just past it in place; with w->strip, every pointer's position on the
 * way is remembered (those reached by a jump too: they move with their bytes).
 */
static int
name_ptrs(const uint8_t *m, size_t limit, size_t off, size_t *end, struct svc_walk *w)
{
	struct name_cur c;
	int last = -1;          /* the pointer whose target segment is being walked */

	cur_init(&c, off);
	for (;;) {
		uint8_t b;
		size_t t;

		if (c.pos >= limit)
			return -DNS_TRUNCATED;
		b = m[c.pos];
		if ((b & 0xc0) == 0xc0) {
			if (c.pos + 1 >= limit)
				return -DNS_TRUNCATED;
			t = ((size_t)(b & 0x3f) << 8) | m[c.pos + 1];
			if (t < DNS_HDR_LEN || t >= c.seg)
				return -DNS_MALFORMED;
			if (w->strip) {
				if (w->np == DNS_STRIP_PTRS_MAX)
					return -DNS_UNSUPPORTED;
				if (last >= 0)
					w->seg_end[last] = (uint32_t)c.pos;
				last = (int)w->np;
				w->ptrs[w->np++] = (uint32_t)c.pos;
			}
			if (!c.jumped) {
				c.end = c.pos + 2;
				c.jumped = 1;
			}
			c.seg = t;
			c.pos = t;
			continue;
		}
		if (b & 0xc0)
			return -DNS_MALFORMED;
		if (c.pos + 1 + b > limit)
			return -DNS_TRUNCATED;
		c.wire += b + 1u;
		if (c.wire > DNS_WIRE_NAME_MAX)
			return -DNS_MALFORMED;
		c.pos += 1u + b;
		if (b == 0) {
			if (!c.jumped)
				c.end = c.pos;
			if (last >= 0)
				w->seg_end[last] = (uint32_t)c.pos;
			*end = c.end;
			return 0;
		}
	}
}

/* a name inside rdata [rd, rd_end): it must end within the record */
static int
rdata_name(const uint8_t *m, size_t len, size_t at, size_t rd_end, struct svc_walk *w)
{
	size_t end;
	int rc;

	if (at >= rd_end)
		return -DNS_MALFORMED;
	rc = name_ptrs(m, len, at, &end, w);
	if (rc < 0)
		return rc == -DNS_TRUNCATED ? -DNS_MALFORMED : rc;
	return end <= rd_end ? (int)(end - at) : -DNS_MALFORMED;
}

/* SvcPriority, TargetName, SvcParams of one SVCB/HTTPS record */
static int
svc_params(const uint8_t *m, size_t len, size_t rd, size_t rd_end, uint32_t rdlen_off,
	   struct svc_walk *w)
{
	int has_ech = 0, ech_mandatory = 0, rc;
	long prev = -1;
	size_t p;

	w->info->n_svcb++;
	if (rd_end - rd < 3)
		return -DNS_MALFORMED;
	rc = rdata_name(m, len, rd + 2, rd_end, w);
	if (rc < 0)
		return rc;
	for (p = rd + 2 + (size_t)rc; p < rd_end;) {
		uint16_t key, vlen;

		if (rd_end - p < 4)
			return -DNS_MALFORMED;
		key = rd16(m + p);
		vlen = rd16(m + p + 2);
		if (rd_end - p - 4 < vlen || (long)key <= prev)
			return -DNS_MALFORMED;      /* keys strictly increasing (RFC 9460 2.2) */
		prev = key;
		if (key == DNS_SVC_KEY_MANDATORY) {
			if (vlen & 1)
				return -DNS_MALFORMED;
			for (size_t i = 0; i < vlen; i += 2)
				if (rd16(m + p + 4 + i) == DNS_SVC_KEY_ECH)
					ech_mandatory = 1;
		} else if (key == DNS_SVC_KEY_ECH) {
			has_ech = 1;
			if (w->strip) {
				if (w->nc == DNS_STRIP_CUTS_MAX)
					return -DNS_UNSUPPORTED;
				w->cuts[w->nc].start = (uint32_t)p;
				w->cuts[w->nc].len = 4u + vlen;
				w->cuts[w->nc].rdlen_off = rdlen_off;
				w->nc++;
			}
		}
		p += 4u + vlen;
	}
	if (has_ech)
		w->info->n_ech++;
	if (w->strip && has_ech && ech_mandatory)
		return -DNS_MALFORMED;
	return 0;
}

/* every section of the message */
static enum dns_result
svc_walk_msg(const uint8_t *m, size_t len, struct svc_walk *w)
{
	size_t pos = DNS_HDR_LEN, end;
	unsigned qd, n, i;
	int rc;

	memset(w->info, 0, sizeof(*w->info));
	if (len < DNS_HDR_LEN)
		return DNS_TRUNCATED;
	qd = rd16(m + 4);
	n = (unsigned)rd16(m + 6) + rd16(m + 8) + rd16(m + 10);
	for (i = 0; i < qd; i++) {
		rc = name_ptrs(m, len, pos, &end, w);
		if (rc < 0)
			return (enum dns_result)-rc;
		if (len - end < 4)
			return DNS_TRUNCATED;
		pos = end + 4;
	}
	for (i = 0; i < n; i++) {
		uint16_t type, class, rdlen;
		size_t rd, rd_end;

		rc = name_ptrs(m, len, pos, &end, w);
		if (rc < 0)
			return (enum dns_result)-rc;
		if (len - end < 10)
			return DNS_TRUNCATED;
		type = rd16(m + end);
		class = rd16(m + end + 2);
		rdlen = rd16(m + end + 8);
		rd = end + 10;
		if (len - rd < rdlen)
			return DNS_TRUNCATED;
		rd_end = rd + rdlen;
		rc = 0;
		switch (type) {
		case DNS_TYPE_NS:
		case DNS_TYPE_CNAME:
		case DNS_TYPE_PTR:
		case DNS_TYPE_DNAME:
			rc = rdata_name(m, len, rd, rd_end, w);
			break;
		case DNS_TYPE_MX:
			rc = rdata_name(m, len, rd + 2, rd_end, w);
			break;
		case DNS_TYPE_SRV:
			rc = rdata_name(m, len, rd + 6, rd_end, w);
			break;
		case DNS_TYPE_SOA:
			rc = rdata_name(m, len, rd, rd_end, w);
			if (rc >= 0)
				rc = rdata_name(m, len, rd + (size_t)rc, rd_end, w);
			break;
		case DNS_TYPE_SVCB:
		case DNS_TYPE_HTTPS:
			if (class == DNS_CLASS_IN)
				rc = svc_params(m, len, rd, rd_end, (uint32_t)(end + 8), w);
			break;
		default:
			break;
		}
		if (rc < 0)
			return (enum dns_result)-rc;
		pos = rd_end;
	}
	return DNS_OK;
}

enum dns_result
dns_svcb_scan(const uint8_t *msg, size_t len, struct dns_svcb_info *info)
{
	struct svc_walk w;

	w.strip = 0;
	w.np = 0;
	w.nc = 0;
	w.info = info;
	return svc_walk_msg(msg, len, &w);
}

enum dns_result
dns_strip_ech(uint8_t *msg, size_t len, size_t *new_len, struct dns_svcb_info *info)
{
	struct svc_walk w;     /* ~1.4 KiB of stack */
	uint16_t newt[DNS_STRIP_PTRS_MAX];
	enum dns_result res;
	unsigned i, j, k;
	size_t out;

	w.strip = 1;
	w.np = 0;
	w.nc = 0;
	w.info = info;
	*new_len = len;
	res = svc_walk_msg(msg, len, &w);
	if (res != DNS_OK)
		return res;
	if (w.nc == 0)
		return DNS_OK;
	/* every pointer's new target, from the message as it is */
	for (i = 0; i < w.np; i++) {
		uint32_t t = ((uint32_t)(msg[w.ptrs[i]] & 0x3f) << 8) | msg[w.ptrs[i] + 1];
		uint32_t shift = 0;

		for (k = 0; k < w.nc; k++) {
			uint32_t cs = w.cuts[k].start, ce = cs + w.cuts[k].len;

			/* the label bytes it leads to, and its own bytes, must all stay */
			if ((t < ce && cs < w.seg_end[i]) || (w.ptrs[i] < ce && cs < w.ptrs[i] + 2))
				return DNS_MALFORMED;
			if (cs < t)
				shift += w.cuts[k].len;
		}
		newt[i] = (uint16_t)(t - shift);
	}
	/*
	 * Bytes that are rewritten (a moved pointer, a shortened RDLENGTH) must
	 * not also be read as label bytes by some name: a crafted name can run
	 * over them, and would read differently afterwards.
	 */
	for (i = 0; i < w.np; i++) {
		uint32_t t = ((uint32_t)(msg[w.ptrs[i]] & 0x3f) << 8) | msg[w.ptrs[i] + 1];

		for (j = 0; j < w.np; j++) {
			uint32_t tj = ((uint32_t)(msg[w.ptrs[j]] & 0x3f) << 8) | msg[w.ptrs[j] + 1];

			if (newt[j] != tj && w.ptrs[j] < w.seg_end[i] && t < w.ptrs[j] + 2)
				return DNS_MALFORMED;
		}
		for (k = 0; k < w.nc; k++)
			if (w.cuts[k].rdlen_off < w.seg_end[i] && t < w.cuts[k].rdlen_off + 2)
				return DNS_MALFORMED;
	}
	/* nothing written before here: a refusal leaves the message as it was */
	for (i = 0; i < w.np; i++) {
		msg[w.ptrs[i]] = (uint8_t)(0xc0 | newt[i] >> 8);
		msg[w.ptrs[i] + 1] = (uint8_t)newt[i];
	}
	for (k = 0; k < w.nc; k++) {
		uint16_t rl = rd16(msg + w.cuts[k].rdlen_off);

		rl = (uint16_t)(rl - w.cuts[k].len);
		msg[w.cuts[k].rdlen_off] = (uint8_t)(rl >> 8);
		msg[w.cuts[k].rdlen_off + 1] = (uint8_t)rl;
	}
	out = w.cuts[0].start;
	for (k = 0; k < w.nc; k++) {
		size_t from = w.cuts[k].start + w.cuts[k].len;
		size_t to = k + 1 < w.nc ? w.cuts[k + 1].start : len;

		memmove(msg + out, msg + from, to - from);
		out += to - from;
	}
	info->n_ptrs = (uint16_t)w.np;
	info->removed = (uint32_t)(len - out);
	*new_len = out;
	return DNS_OK;
}
