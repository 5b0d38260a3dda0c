/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_config.h: the validated policy, between cp_config.c (libconfig ->
 * struct cp_config, every error as "FILE:LINE: KEY: message") and
 * cp_compile.c (struct cp_config -> blob). Internal to ctrlplane/policy.
 */
#ifndef CHOKEPOINT_CP_CONFIG_H
#define CHOKEPOINT_CP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_policy.h"
#include "cpm.h"

/* Error collector: one "FILE:LINE: KEY: message\n" line per error. */
struct cp_errs {
	const char *file;
	char *buf;
	size_t len, cap;
	unsigned int count;
	bool oom;
};

void cp_err(struct cp_errs *e, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same, naming another file (a list file) instead of e->file. */
void cp_err_in(struct cp_errs *e, const char *file, int line, const char *key,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cp_errs_release(struct cp_errs *e);

struct cp_cidr {
	uint8_t family;          /* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16];
};

struct cp_cidrs {
	struct cp_cidr *v;
	size_t n;
};

struct cp_port_range {
	uint16_t lo, hi;
};

struct cp_ports {
	struct cp_port_range *v;
	size_t n;
};

enum cp_name_kind {
	CP_NAME_EXACT = 0,       /* api.openai.com */
	CP_NAME_SUFFIX,          /* .openai.com: the domain and every subdomain */
	CP_NAME_GLOB,            /* *.openai.com: subdomains only */
};

struct cp_name {
	char *name;              /* normalised, without the "." / "*." prefix */
	uint8_t kind;            /* enum cp_name_kind */
};

struct cp_names {
	struct cp_name *v;
	size_t n;
};

struct cp_strs {
	char **v;
	size_t n;
};

struct cp_rule {
	char *id;
	int line;
	uint8_t action;          /* enum cpm_action */
	uint8_t proto;           /* enum cpm_proto */
	bool force;
	/* a condition is present when its key is (a list file may be empty:
	 * the condition then holds for nothing, it never widens the rule) */
	bool has_sni, has_host, has_src, has_dst;
	struct cp_names sni, host;       /* sni + sni_file, host + host_file */
	struct cp_strs sni_regex, host_regex;
	struct cp_cidrs src, dst;        /* src + src_file, dst + dst_file */
	struct cp_ports dport;
	uint8_t bind;            /* enum cpm_bind (bind = "none" | "dns" | "pinned") */
	int bind_line;           /* line of the bind key, 0 when absent */
};

/* A list file, read once; its bytes are what was hashed and parsed. */
struct cp_listfile {
	char *written;           /* the path as written in the config */
	char *path;              /* resolved against the config file's directory */
	uint8_t sha256[32];
	char *text;              /* while parsing only (NULL after cp_config_parse) */
	size_t len;
};

struct cp_config {
	struct cpm_settings settings;
	bool internal_all;
	struct cp_cidrs internal, trusted;
	struct cp_names ech;     /* exact names */
	struct cp_names doh;     /* DoH names: doh_file, or the shipped list (cp_doh_builtin) */
	struct cp_rule *rules;
	size_t n_rules;
	char *audit_path;
	char *audit_signing_key;
	uint32_t checkpoint_records;
	uint32_t checkpoint_seconds;
	int audit_fsync;
	uint32_t rotate_bytes;      /* audit.rotate_bytes, 0 = no size rotation */
	uint32_t rotate_seconds;    /* audit.rotate_seconds, 0 = no time rotation */
	struct cp_syslog_cfg syslog; /* syslog = { ... }; host NULL when not set */
	struct cp_dns_resolve_cfg dns; /* dns.resolver & co; names from the rules */
	struct cp_listfile *files;   /* in order of first use */
	size_t n_files;
};

/*
 * Parse and validate text (the whole file, NUL-terminated at text[len]) into
 * cfg. e->file is the config's path: relative list-file paths resolve
 * against its directory. Returns 0, -EINVAL (errors in e) or -ENOMEM.
 */
int cp_config_parse(const char *text, size_t len, struct cp_config *cfg, struct cp_errs *e);
void cp_config_release(struct cp_config *cfg);
void cp_dns_resolve_cfg_release(struct cp_dns_resolve_cfg *d);

/* The shipped DoH list (etc/doh-names.txt, compiled in): the default of doh_file. */
extern const char cp_doh_builtin[];
extern const size_t cp_doh_builtin_len;
#define CP_DOH_BUILTIN_NAME "(built-in doh-names.txt)"

/*
 * Read a whole regular file (NUL-terminated at (*text)[*len], malloc'ed).
 * Returns 0 or -errno (-EINVAL: not a regular file).
 */
int cp_read_file(const char *path, char **text, size_t *len);

/*
 * Compile a validated config into a blob (cpm_blob.h), malloc'ed. Returns 0,
 * -EINVAL (errors in e: what Hyperscan refused at the whole-database step)
 * or -ENOMEM / -errno.
 */
int cp_compile_blob(const struct cp_config *cfg, const uint8_t sha256[32],
		    uint8_t **blob, size_t *blob_len, struct cp_errs *e);

/*
 * Normalise and check a configured name (sni/host/ech entry): lower-case,
 * one trailing dot removed, "." / "*." prefix split off into *kind. Returns
 * 0, or -EINVAL with a message in msg.
 */
int cp_name_parse(const char *in, char *out, size_t outlen, uint8_t *kind,
		  char *msg, size_t msglen);

#endif /* CHOKEPOINT_CP_CONFIG_H */
