/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_policy.h: compile a libconfig policy file into the matcher's blob
 * (dataplane/match/cpm_blob.h) and hand it to the dataplane as a sealed memfd.
 * Used by chokepointd (reload, --check) and chokepointctl (policy test,
 * replay). The file format and every error message are in
 * docs/configuration.md.
 */
#ifndef CHOKEPOINT_CP_POLICY_H
#define CHOKEPOINT_CP_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* syslog = { host; port; ca; cert; key; format; queue; } (TLS, RFC 5425) */
struct cp_syslog_cfg {
	char *host;                 /* NULL: no syslog export */
	uint32_t port;              /* default 6514 */
	char *ca;                   /* CA file the collector's certificate must chain to */
	char *cert, *key;           /* client certificate and key, both or neither */
	uint32_t format;            /* CP_SYSLOG_JSON or CP_SYSLOG_OCSF */
	uint32_t queue;             /* bounded queue of messages (default 10000) */
};

/*
 * dns = { resolver; resolve_interval; ... }: out-of-band resolution of the
 * exact names of bind = "dns" rules (ctrlplane/cp_resolve.h).
 */
struct cp_dns_resolve_cfg {
	char *resolver;             /* "IP[:port]", NULL: off */
	uint32_t interval_s;        /* dns.resolve_interval (60) */
	uint32_t timeout_ms;        /* dns.resolve_timeout_ms, per attempt (2000) */
	uint32_t retries;           /* dns.resolve_retries (2) */
	uint32_t max_names;         /* dns.resolve_max_names (1024) */
	char **names;               /* exact sni/host names of bind = "dns" rules, unique */
	uint32_t n_names;
};

#define CP_DNS_RESOLVE_INTERVAL 60
#define CP_DNS_RESOLVE_TIMEOUT_MS 2000
#define CP_DNS_RESOLVE_RETRIES 2
#define CP_DNS_RESOLVE_MAX_NAMES 1024

/*
 * "IP[:port]" (IPv6 as "[addr]:port" or a bare address; port 53 when not
 * given) into a socket address. 0, or -EINVAL with a message in msg.
 */
int cp_dns_server_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
			char *msg, size_t msglen);

#define CP_SYSLOG_JSON 0
#define CP_SYSLOG_OCSF 1

struct cp_policy {
	uint8_t *blob;              /* load it with cpm_policy_load() */
	size_t blob_len;
	uint8_t sha256[32];         /* the policy hash: SHA-256 of manifest (below) */
	uint32_t n_rules;
	char *path;                 /* the path given to cp_policy_compile_file() */
	char *audit_path;           /* audit.path (default /var/log/chokepoint/audit.jsonl) */
	char *audit_signing_key;    /* audit.signing_key, NULL if not set */
	uint32_t checkpoint_records;  /* audit.checkpoint_records, 0 = no count trigger */
	uint32_t checkpoint_seconds;  /* audit.checkpoint_seconds, 0 = no time trigger */
	int audit_fsync;            /* 0 never 1 batch 2 always */
	uint32_t rotate_bytes;      /* audit.rotate_bytes, 0 = no size rotation */
	uint32_t rotate_seconds;    /* audit.rotate_seconds, 0 = no time rotation */
	uint8_t audit_overflow;     /* enum cpm_audit_overflow */
	struct cp_syslog_cfg syslog; /* export; host NULL when not configured */
	uint8_t mode;               /* enum cpm_mode */
	struct cp_dns_resolve_cfg dns; /* out-of-band resolution; resolver NULL when off */
	/*
	 * What the policy hash covers, in sha256sum's format: one
	 * "<sha256 hex>  <path>\n" line per file, the config file first (its
	 * path as given), then every list file in order of first use (its path
	 * as written in the config). sha256 == SHA-256 of these bytes, so
	 * `sha256sum CONFIG LISTS... | sha256sum` run from the config's
	 * directory reproduces it (for an absolute CONFIG path). See
	 * docs/configuration.md, "The policy hash".
	 */
	char *manifest;
	uint32_t n_files;           /* list files (the manifest has n_files + 1 lines) */
};

#define CP_FSYNC_NEVER  0
#define CP_FSYNC_BATCH  1
#define CP_FSYNC_ALWAYS 2

/*
 * Read, validate and compile the policy file at path and the list files it
 * names (sni_file, host_file, src_file, dst_file). Returns 0 (*out set;
 * free it with cp_policy_free), -EINVAL (invalid policy), -ENOENT (no such
 * file), -ENOMEM, or another -errno when the file cannot be read. On any
 * error err gets every problem found, one per line, each
 * "FILE:LINE: KEY: message\n" (see docs/configuration.md); err may be NULL.
 * The compiled blob has already been loaded once by cpm_policy_load() here.
 */
int cp_policy_compile_file(const char *path, struct cp_policy **out, char *err, size_t errlen);
void cp_policy_free(struct cp_policy *p);

/* p->manifest ("" for NULL): what `chokepointd --check` can print. */
const char *cp_policy_manifest(const struct cp_policy *p);

/*
 * A sealed memfd holding p->blob at offset 0 (file offset rewound to 0):
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL, close-on-exec.
 * Returns the fd (the caller closes it) or -errno.
 */
int cp_policy_memfd(const struct cp_policy *p);

#endif /* CHOKEPOINT_CP_POLICY_H */
