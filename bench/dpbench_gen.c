/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench_gen.c: the generated traffic of chokepoint-dpbench. Flows are a
 * pure function of their index (tuple, ISNs, request), so the capture a
 * mode writes and the packets another mode injects are the same flows.
 * Requests are real captured ClientHellos and HTTP request heads
 * (tests/data/clienthello, tests/data/http) with the name replaced and
 * every length that covers it fixed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dpbench.h"

#define MSS 1460

uint64_t
dpb_mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void
dpb_flow_of(uint32_t i, uint16_t dport, struct dpb_flow *f)
{
	uint64_t h = dpb_mix64(i);

	/* clients 10.0.0.0/8 (64 ports each), servers 198.18.0.0/15 (RFC 2544) */
	f->cip = 0x0a000001u + (i >> 6);
	f->cport = (uint16_t)(20000 + (i & 63));
	f->sip = 0xc6120000u + (uint32_t)(h & 0x1ffff);
	f->sport = dport;
	f->isn = (uint32_t)(h >> 32);
	f->sisn = (uint32_t)dpb_mix64(h);
	f->ipv6 = false;
}

/* ---- templates ------------------------------------------------------------ */

static uint8_t *
read_file(const char *path, uint32_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *b;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) <= 0 || n > 65536 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		return NULL;
	}
	b = malloc((size_t)n);
	if (b != NULL && fread(b, 1, (size_t)n, fp) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(fp);
	*len = (uint32_t)n;
	return b;
}

static uint32_t
be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Find the SNI host_name of a one-record ClientHello. 0 found. */
static int
find_sni(const uint8_t *b, uint32_t len, uint32_t *off, uint32_t *nlen)
{
	uint32_t p, end, ext_end;

	if (len < 9 || b[0] != 0x16 || b[5] != 0x01 || be16(b + 3) + 5 != len ||
	    be24(b + 6) + 9 != len)
		return -1;
	p = 9 + 2 + 32;
	if (p + 1 > len)
		return -1;
	p += 1 + b[p];                          /* session id */
	if (p + 2 > len)
		return -1;
	p += 2 + be16(b + p);                   /* cipher suites */
	if (p + 1 > len)
		return -1;
	p += 1 + b[p];                          /* compression */
	if (p + 2 > len)
		return -1;
	ext_end = p + 2 + be16(b + p);
	if (ext_end != len)
		return -1;
	for (p += 2; p + 4 <= ext_end; p = end) {
		uint32_t type = be16(b + p), el = be16(b + p + 2);

		end = p + 4 + el;
		if (end > ext_end)
			return -1;
		if (type == 0 && el >= 5 && b[p + 6] == 0 && p + 9 + be16(b + p + 7) == end) {
			*off = p + 9;
			*nlen = be16(b + p + 7);
			return 0;
		}
	}
	return -1;
}

/* Find the Host header value of a request head. 0 found. */
static int
find_host(const uint8_t *b, uint32_t len, uint32_t *off, uint32_t *nlen)
{
	for (uint32_t p = 0; p + 8 < len; p++) {
		if (b[p] == '\r' && b[p + 1] == '\n' && strncasecmp((const char *)b + p + 2,
								    "host:", 5) == 0) {
			uint32_t v = p + 7, e;

			while (v < len && b[v] == ' ')
				v++;
			for (e = v; e + 1 < len && !(b[e] == '\r' && b[e + 1] == '\n'); e++)
				;
			if (e + 1 >= len)
				return -1;
			*off = v;
			*nlen = e - v;
			return 0;
		}
	}
	return -1;
}

static int
tmpl_add(struct dpb_tmpls *ts, const char *dir, const char *sub, const char *file, int http)
{
	struct dpb_tmpl *t;
	char path[4096];

	if (ts->n == sizeof(ts->t) / sizeof(ts->t[0]))
		return -ENOSPC;
	t = &ts->t[ts->n];
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, file);
	t->bytes = read_file(path, &t->len);
	if (t->bytes == NULL) {
		fprintf(stderr, "dpbench: cannot read template %s\n", path);
		return -ENOENT;
	}
	if ((http ? find_host : find_sni)(t->bytes, t->len, &t->name_off, &t->name_len) != 0) {
		fprintf(stderr, "dpbench: %s: no %s found\n", path, http ? "Host" : "SNI");
		free(t->bytes);
		return -EINVAL;
	}
	t->http = http;
	snprintf(t->label, sizeof(t->label), "%.*s", (int)(strlen(file) - 4), file);
	ts->n++;
	if (http)
		ts->n_http++;
	else
		ts->n_tls++;
	return 0;
}

int
dpb_tmpls_load(struct dpb_tmpls *ts, const char *data_dir)
{
	/* TLS first (index < n_tls), then HTTP */
	static const char *const tls[] = {
		"chromium.bin", "curl-tls12.bin", "curl-tls13.bin", "gnutls.bin", "node.bin",
		"openssl-tls12.bin", "openssl-tls13.bin", "python-ssl.bin",
	};
	static const char *const http[] = {
		"curl-get.bin", "python-http-client.bin",
	};
	unsigned int i;
	int ret;

	memset(ts, 0, sizeof(*ts));
	for (i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
		if ((ret = tmpl_add(ts, data_dir, "clienthello", tls[i], 0)) != 0)
			goto err;
	for (i = 0; i < sizeof(http) / sizeof(http[0]); i++)
		if ((ret = tmpl_add(ts, data_dir, "http", http[i], 1)) != 0)
			goto err;
	return 0;
err:
	dpb_tmpls_free(ts);
	return ret;
}

void
dpb_tmpls_free(struct dpb_tmpls *ts)
{
	for (unsigned int i = 0; i < ts->n; i++)
		free(ts->t[i].bytes);
	memset(ts, 0, sizeof(*ts));
}

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
add16(uint8_t *p, int d)
{
	put16(p, (uint32_t)((int)be16(p) + d));
}

int
dpb_tmpl_render(const struct dpb_tmpl *t, const char *name, uint8_t *out, uint32_t cap)
{
	uint32_t nl = (uint32_t)strlen(name);
	uint32_t len = t->len - t->name_len + nl;
	int d = (int)nl - (int)t->name_len;

	if (len > cap || nl > 253)
		return -1;
	memcpy(out, t->bytes, t->name_off);
	memcpy(out + t->name_off, name, nl);
	memcpy(out + t->name_off + nl, t->bytes + t->name_off + t->name_len,
	       t->len - t->name_off - t->name_len);
	if (!t->http) {
		uint32_t hs = be24(out + 6) + (uint32_t)d, p, ext_len_off;

		add16(out + 3, d);                      /* record length */
		out[6] = (uint8_t)(hs >> 16);           /* handshake length */
		out[7] = (uint8_t)(hs >> 8);
		out[8] = (uint8_t)hs;
		put16(out + t->name_off - 2, nl);       /* host_name length */
		add16(out + t->name_off - 5, d);        /* server_name_list length */
		add16(out + t->name_off - 7, d);        /* extension length */
		/* the extensions block length: walk to it as find_sni did */
		p = 9 + 2 + 32;
		p += 1 + out[p];
		p += 2 + be16(out + p);
		p += 1 + out[p];
		ext_len_off = p;
		add16(out + ext_len_off, d);
	}
	return (int)len;
}

/* ---- names ------------------------------------------------------------------ */

int
dpb_names_load(struct dpb_names *nl, const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	uint32_t cap = 0;

	memset(nl, 0, sizeof(*nl));
	if (fp == NULL) {
		fprintf(stderr, "dpbench: cannot open names %s\n", path);
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t l = strcspn(line, "\r\n");

		line[l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		if (nl->n == cap) {
			char **v;

			cap = cap ? cap * 2 : 1024;
			v = realloc(nl->v, cap * sizeof(*v));
			if (v == NULL)
				break;
			nl->v = v;
		}
		nl->v[nl->n] = strdup(line);
		if (nl->v[nl->n] == NULL)
			break;
		nl->n++;
	}
	fclose(fp);
	return nl->n > 0 ? 0 : -EINVAL;
}

void
dpb_names_free(struct dpb_names *nl)
{
	for (uint32_t i = 0; i < nl->n; i++)
		free(nl->v[i]);
	free(nl->v);
	memset(nl, 0, sizeof(*nl));
}

/* ---- frames ------------------------------------------------------------------ */

static uint32_t
csum_add(uint32_t sum, const uint8_t *p, uint32_t n)
{
	for (; n > 1; n -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t
dpb_frame(uint8_t *buf, const struct dpb_flow *f, int c2s, uint8_t flags, uint32_t seq,
	  uint32_t ack, const uint8_t *payload, uint32_t plen)
{
	static const uint8_t mac_c[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t mac_s[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	uint8_t *ip = buf + 14, *tcp = ip + (f->ipv6 ? 40 : 20);
	uint32_t src = c2s ? f->cip : f->sip, dst = c2s ? f->sip : f->cip;
	uint16_t sp = c2s ? f->cport : f->sport, dp = c2s ? f->sport : f->cport;
	uint32_t tot = (uint32_t)(tcp - ip) + 20 + plen, sum, len;

	memcpy(buf, c2s ? mac_s : mac_c, 6);
	memcpy(buf + 6, c2s ? mac_c : mac_s, 6);
	buf[12] = f->ipv6 ? 0x86 : 0x08;
	buf[13] = f->ipv6 ? 0xdd : 0x00;
	if (f->ipv6) {
		/* client fd00::/96 + cip, server 2001:db8:18::/96 + sip */
		static const uint8_t pfx_c[12] = { 0xfd }, pfx_s[12] = { 0x20, 0x01, 0x0d, 0xb8,
								       0x00, 0x18 };

		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, 20 + plen);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, c2s ? pfx_c : pfx_s, 12);
		put16(ip + 20, src >> 16);
		put16(ip + 22, src & 0xffff);
		memcpy(ip + 24, c2s ? pfx_s : pfx_c, 12);
		put16(ip + 36, dst >> 16);
		put16(ip + 38, dst & 0xffff);
		goto l4;
	}
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, tot);
	put16(ip + 4, seq & 0xffff);
	put16(ip + 6, 0x4000);                  /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put16(ip + 10, 0);
	put16(ip + 12, src >> 16);
	put16(ip + 14, src & 0xffff);
	put16(ip + 16, dst >> 16);
	put16(ip + 18, dst & 0xffff);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
l4:
	put16(tcp, sp);
	put16(tcp + 2, dp);
	put16(tcp + 4, seq >> 16);
	put16(tcp + 6, seq & 0xffff);
	put16(tcp + 8, ack >> 16);
	put16(tcp + 10, ack & 0xffff);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (plen)
		memcpy(tcp + 20, payload, plen);
	/* pseudo-header + segment */
	sum = f->ipv6 ? csum_add(0, ip + 8, 32) : csum_add(0, ip + 12, 8);
	sum += 6 + 20 + plen;
	sum = csum_add(sum, tcp, 20 + plen);
	put16(tcp + 16, csum_fold(sum));
	len = 14 + tot;
	if (len < 60) {
		memset(buf + len, 0, 60 - len);
		len = 60;
	}
	return len;
}

uint32_t
dpb_size_at(enum dpb_size s, uint64_t k)
{
	/* frame lengths without the 4-byte FCS */
	switch (s) {
	case DPB_SIZE_IMIX: {
		unsigned int r = (unsigned int)(k % 12);

		return r < 7 ? 60 : r < 11 ? 590 : 1514;
	}
	case DPB_SIZE_1518:
		return 1514;
	default:
		return 60;
	}
}

const char *
dpb_size_name(enum dpb_size s)
{
	return s == DPB_SIZE_IMIX ? "imix" : s == DPB_SIZE_1518 ? "1518" : "64";
}

/* ---- pcap ------------------------------------------------------------------ */

int
dpb_pcap_open(struct dpb_pcap *p, const char *path)
{
	/* magic, v2.4, thiszone 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET */
	static const uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };

	memset(p, 0, sizeof(*p));
	p->f = fopen(path, "wb");
	if (p->f == NULL) {
		fprintf(stderr, "dpbench: cannot create %s\n", path);
		return -errno;
	}
	setvbuf(p->f, NULL, _IOFBF, 1 << 20);
	if (fwrite(hdr, 1, 24, p->f) != 24)
		return -EIO;
	return 0;
}

int
dpb_pcap_write(struct dpb_pcap *p, const uint8_t *frame, uint32_t len, uint64_t ts_us)
{
	uint32_t rec[4] = { (uint32_t)(ts_us / 1000000), (uint32_t)(ts_us % 1000000), len, len };

	if (fwrite(rec, 1, 16, p->f) != 16 || fwrite(frame, 1, len, p->f) != len)
		return -EIO;
	p->pkts++;
	p->bytes += len;
	return 0;
}

int
dpb_pcap_close(struct dpb_pcap *p)
{
	int ret = 0;

	if (p->f != NULL && fclose(p->f) != 0)
		ret = -EIO;
	p->f = NULL;
	return ret;
}

/* ---- new flows ------------------------------------------------------------------ */

/* Shuffle the n 2-byte items at p in place (Fisher-Yates, driven by h). */
static void
shuffle16(uint8_t *p, uint32_t n, uint64_t h)
{
	for (uint32_t k = n; k > 1; k--) {
		uint32_t j;
		uint8_t a, b;

		h = dpb_mix64(h);
		j = (uint32_t)(h % k);
		a = p[2 * (k - 1)];
		b = p[2 * (k - 1) + 1];
		p[2 * (k - 1)] = p[2 * j];
		p[2 * (k - 1) + 1] = p[2 * j + 1];
		p[2 * j] = a;
		p[2 * j + 1] = b;
	}
}

/*
 * --stacks: stack s's order of a rendered ClientHello's cipher suites (and
 * of its signature_algorithms when sigalgs is set), in place. The bytes
 * and every length stay, so the hello is as valid as the capture and its
 * JA4 (sorted ciphers) the same; the wire order, which the JA4 memo keys
 * on, is the stack's own.
 */
static void
stack_permute(uint8_t *b, uint32_t len, uint32_t s, bool sigalgs)
{
	uint64_t h = dpb_mix64((uint64_t)s ^ 0x57ac0000ull);
	uint32_t p = 9 + 2 + 32, cl, ext_end, end;

	p += 1 + b[p];                          /* session id */
	cl = be16(b + p);
	shuffle16(b + p + 2, cl / 2, h);
	if (!sigalgs)
		return;
	p += 2 + cl;
	p += 1 + b[p];                          /* compression */
	ext_end = p + 2 + be16(b + p);
	for (p += 2; p + 4 <= ext_end && ext_end <= len; p = end) {
		uint32_t type = be16(b + p), el = be16(b + p + 2);

		end = p + 4 + el;
		if (end > ext_end)
			return;
		if (type == 13 && el >= 2 && be16(b + p + 4) + 2 == el) {
			shuffle16(b + p + 6, (el - 2) / 2, ~h);
			return;
		}
	}
}

int
dpb_newflow_request(uint32_t i, const struct dpb_opts *o, const struct dpb_tmpls *ts,
		    const struct dpb_names *nl, uint8_t *out, uint32_t cap, int *denied,
		    uint16_t *dport, int *http)
{
	uint64_t h = dpb_mix64((uint64_t)i ^ 0x5eed0000ull ^ o->seed);
	const struct dpb_tmpl *t;
	char name[300];
	const char *n;
	int len;

	*http = ts->n_http > 0 && (uint32_t)(h % 100) < o->http_pct;
	h >>= 8;
	if (*http)
		t = &ts->t[ts->n_tls + (uint32_t)(h % ts->n_http)];
	else
		t = &ts->t[(uint32_t)(h % ts->n_tls)];
	h >>= 8;
	*denied = (uint32_t)(h % 100) < o->deny_pct;
	h >>= 8;
	if (!*denied && o->regex > 0 && (uint32_t)((h >> 32) % 100) < o->regex_pct) {
		/* --regex N: a name only gen-policy --regex N's regex rule allows */
		snprintf(name, sizeof(name), "r%u-%x.api.example.org",
			 (unsigned)((h >> 16) % o->regex), (unsigned)(h & 0xffff) + i);
	} else if (*denied) {
		snprintf(name, sizeof(name), "h%u.unlisted-%u.example.org", i, (unsigned)(h % 997));
	} else {
		n = nl->v[(uint32_t)(h % nl->n)];
		if (n[0] == '.')
			/* a suffix entry: some name under it */
			snprintf(name, sizeof(name), "w%u%s", (unsigned)(i % 97), n);
		else
			snprintf(name, sizeof(name), "%s", n);
	}
	*dport = *http ? 80 : 443;
	len = dpb_tmpl_render(t, name, out, cap);
	if (len > 0 && !*http && o->stacks > 0)
		stack_permute(out, (uint32_t)len, i % o->stacks, o->stacks_sigalgs);
	return len;
}

unsigned int
dpb_newflow_pkts(const struct dpb_flow *f, const uint8_t *req, uint32_t req_len,
		 unsigned int tail, struct dpb_pkt *out)
{
	uint32_t c_seq = f->isn + 1, s_seq = f->sisn + 1, off;
	unsigned int n = 0;
	out[n].side = 0;
	out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 1, 0x02, f->isn, 0, NULL, 0);
	n++;
	out[n].side = 1;
	out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 0, 0x12, f->sisn, c_seq, NULL, 0);
	n++;
	out[n].side = 0;
	out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 1, 0x10, c_seq, s_seq, NULL, 0);
	n++;
	for (off = 0; off < req_len; off += MSS) {
		uint32_t l = req_len - off < MSS ? req_len - off : MSS;

		out[n].side = 0;
		out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 1, 0x18, c_seq + off, s_seq,
						 req + off, l);
		n++;
	}
	if (tail & DPB_TAIL_SACK) {
		/* the server acknowledges the request (ends the retransmission check) */
		out[n].side = 1;
		out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 0, 0x10, s_seq,
						 c_seq + req_len, NULL, 0);
		n++;
	}
	if (tail & DPB_TAIL_DATA) {
		/* the client's next flight: one application_data record */
		static const uint8_t rec[6] = { 0x17, 0x03, 0x03, 0x00, 0x01, 0x00 };

		out[n].side = 0;
		out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 1, 0x18, c_seq + req_len,
						 s_seq, rec, sizeof(rec));
		n++;
		req_len += sizeof(rec);
	}
	if (tail & DPB_TAIL_RST) {
		/* the client resets: the flow is closing */
		out[n].side = 0;
		out[n].len = (uint16_t)dpb_frame(out[n].frame, f, 1, 0x14, c_seq + req_len,
						 s_seq, NULL, 0);
		n++;
	}
	return n;
}
