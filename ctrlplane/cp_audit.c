/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_audit.c: audit trail writer: resume, chain, whole-line writes, fsync.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cp_audit.h"
#include "cp_log.h"
#include "cp_record.h"
#include "cp_sign.h"
#include "cp_util.h"

#define TAIL_MAX (64 * 1024)   /* a record is < 8 KiB; more without a newline is not ours */

struct cp_audit {
	int fd;
	int own_fd;
	int do_fsync;
	int dirty;
	int seekable;
	char *path;
	uint64_t seq;             /* last written */
	uint8_t prev[32];
	off_t size;               /* bytes of complete lines */
	uint8_t torn_sha[32];     /* of the torn tail cut at open */
	/* checkpoints */
	const struct cp_key *key;
	uint32_t ckpt_records, ckpt_seconds;
	uint64_t since_ckpt;      /* records after the last checkpoint */
	uint64_t last_ckpt_ms;    /* monotonic */
	bool in_ckpt;
	/* rotation */
	uint64_t rotate_bytes;
	uint32_t rotate_seconds;
	uint64_t opened_ms;       /* monotonic: when the current file was opened */
	bool in_rotate;
	/* export */
	cp_audit_sink_fn sink;
	void *sink_arg;
	struct cp_audit_stats st;
	char line[CP_LINE_MAX];
	/* batch: lines gathered for one write(2), and the state to go back to */
	bool batching;
	char *bbuf;
	size_t blen, bcap;
	uint64_t b_seq, b_since, b_records;
	uint8_t b_prev[32];
	off_t b_size;
};

static int
sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int l = 0;

	if (EVP_Digest(p, n, out, &l, EVP_sha256(), NULL) != 1 || l != 32)
		return -EIO;
	return 0;
}

static struct cp_audit *
alloc_trail(int fd, int own, int do_fsync, const char *path)
{
	struct cp_audit *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->path = strdup(path);
	if (a->path == NULL) {
		free(a);
		return NULL;
	}
	a->fd = fd;
	a->own_fd = own;
	a->do_fsync = do_fsync;
	a->opened_ms = a->last_ckpt_ms = cp_mono_ms();
	return a;
}

/*
 * Find the last complete line of fd (size bytes), cutting a torn tail.
 * Fills a->seq / a->prev / a->size.
 */
static int
resume(struct cp_audit *a, off_t size, struct cp_audit_resume *info,
       char *err, size_t errlen)
{
	size_t want = size > TAIL_MAX ? TAIL_MAX : (size_t)size;
	off_t base = size - (off_t)want;
	struct cp_audit_line li;
	char why[256];
	size_t end, start;
	char *buf;
	ssize_t r;
	int rc = 0;

	buf = malloc(want + 1);
	if (buf == NULL)
		return -ENOMEM;
	r = pread(a->fd, buf, want, base);
	if (r != (ssize_t)want) {
		rc = r < 0 ? -errno : -EIO;
		snprintf(err, errlen, "%s: cannot read the trail's tail: %s", a->path,
			 strerror(-rc));
		goto out;
	}
	end = want;
	if (buf[want - 1] != '\n') {
		/* torn: a write cut short by a crash; keep everything up to the last newline */
		char *nl = memrchr(buf, '\n', want);

		if (nl == NULL && base > 0) {
			rc = -EBADMSG;
			snprintf(err, errlen, "%s: last %zu bytes hold no newline: not an audit trail",
				 a->path, want);
			goto out;
		}
		end = nl != NULL ? (size_t)(nl - buf) + 1 : 0;
		if (ftruncate(a->fd, base + (off_t)end) < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot cut torn last line: %s", a->path,
				 strerror(errno));
			goto out;
		}
		info->torn_bytes = want - end;
		if (sha256(buf + end, want - end, a->torn_sha) < 0) {
			rc = -EIO;
			goto out;
		}
	}
	a->size = base + (off_t)end;
	if (end == 0) {
		/* nothing complete left: a new chain */
		a->seq = 0;
		memset(a->prev, 0, sizeof(a->prev));
		goto out;
	}
	/* the last complete line is buf[start .. end-1) */
	start = end - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && base > 0) {
		rc = -EBADMSG;
		snprintf(err, errlen, "%s: last line longer than %d bytes: not an audit trail",
			 a->path, TAIL_MAX);
		goto out;
	}
	if (cp_audit_check_line(buf + start, end - 1 - start, &li, why, sizeof(why)) < 0) {
		rc = -EBADMSG;
		snprintf(err, errlen,
			 "%s: last line: %s; refusing to extend a broken chain (verify the file, move it aside)",
			 a->path, why);
		goto out;
	}
	a->seq = li.seq;
	memcpy(a->prev, li.hash, 32);
	/* records after the last checkpoint: at least this one, unless it is one */
	a->since_ckpt = strcmp(li.type, "audit.checkpoint") != 0;
out:
	free(buf);
	return rc;
}

/* Rotated name of path at realtime ns: PATH.YYYYmmddTHHMMSS.uuuuuuZ */
static int
rotated_name(const char *path, uint64_t ns, char *out, size_t outlen)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	char t[32];

	if (gmtime_r(&sec, &tm) == NULL || strftime(t, sizeof(t), "%Y%m%dT%H%M%S", &tm) == 0)
		return -EINVAL;
	if (snprintf(out, outlen, "%s.%s.%06uZ", path, t,
		     (unsigned)((ns % 1000000000u) / 1000u)) >= (int)outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* name (a directory entry) is base + ".YYYYmmddTHHMMSS.uuuuuuZ" */
static bool
is_rotated_of(const char *name, const char *base)
{
	static const char shape[] = "DDDDDDDDTDDDDDD.DDDDDDZ";
	size_t bl = strlen(base);

	if (strncmp(name, base, bl) != 0 || name[bl] != '.' ||
	    strlen(name + bl + 1) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char c = name[bl + 1 + i];

		if (shape[i] == 'D' ? (c < '0' || c > '9') : c != shape[i])
			return false;
	}
	return true;
}

int
cp_audit_rotated_files(const char *path, char ***out, size_t *n)
{
	char *d1 = strdup(path), *d2 = strdup(path);
	struct dirent **ents = NULL;
	const char *dir, *base;
	char **v = NULL;
	size_t k = 0;
	int m, rc = 0;

	*out = NULL;
	*n = 0;
	if (d1 == NULL || d2 == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	dir = dirname(d1);
	base = basename(d2);
	m = scandir(dir, &ents, NULL, alphasort);
	if (m < 0) {
		rc = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	v = calloc((size_t)m + 1, sizeof(*v));
	for (int i = 0; i < m; i++) {
		if (v != NULL && is_rotated_of(ents[i]->d_name, base)) {
			if (asprintf(&v[k], "%s/%s", dir, ents[i]->d_name) < 0)
				rc = -ENOMEM;
			else
				k++;
		}
		free(ents[i]);
	}
	free(ents);
	if (v == NULL)
		rc = -ENOMEM;
	if (rc < 0) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
		goto out;
	}
	*out = v;
	*n = k;
out:
	free(d1);
	free(d2);
	return rc;
}

/* path is empty: continue the chain of the newest rotated file, if there is one */
static int
resume_rotated(struct cp_audit *a, struct cp_audit_resume *info, char *err, size_t errlen)
{
	struct cp_audit_resume sub;
	struct cp_audit *r = NULL;
	char **v = NULL;
	size_t n = 0;
	int rc, fd;

	rc = cp_audit_rotated_files(a->path, &v, &n);
	if (rc < 0 || n == 0) {
		free(v);
		return rc;
	}
	fd = open(v[n - 1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", v[n - 1], strerror(errno));
		goto out;
	}
	r = alloc_trail(fd, 1, 0, v[n - 1]);
	if (r == NULL) {
		close(fd);
		rc = -ENOMEM;
		goto out;
	}
	memset(&sub, 0, sizeof(sub));
	{
		struct stat st;

		if (fstat(fd, &st) == 0 && st.st_size > 0)
			rc = resume(r, st.st_size, &sub, err, errlen);
	}
	if (rc == 0 && sub.torn_bytes > 0) {
		/* resume() cannot cut a read-only file: a rotated file is complete by design */
		snprintf(err, errlen, "%s: rotated file ends with a torn line", v[n - 1]);
		rc = -EBADMSG;
	}
	if (rc == 0) {
		a->seq = r->seq;
		memcpy(a->prev, r->prev, 32);
		a->since_ckpt = r->since_ckpt;
		snprintf(info->from, sizeof(info->from), "%s", v[n - 1]);
	}
	cp_audit_close(r);
out:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}

static int append_line(struct cp_audit *a, struct cp_json *j, uint64_t seq);

static int
write_recovered(struct cp_audit *a, uint64_t torn_bytes)
{
	struct cp_json j;
	uint64_t seq = a->seq + 1;
	int rc;

	rc = cp_record_recovered(&j, a->line, sizeof(a->line), seq, cp_now_ns(), a->path,
				 torn_bytes, a->torn_sha);
	if (rc < 0)
		return -ENOSPC;
	rc = append_line(a, &j, seq);
	if (rc == 0)
		rc = cp_audit_sync(a);
	return rc;
}

int
cp_audit_open(const char *path, int do_fsync, struct cp_audit **out,
	      struct cp_audit_resume *info, char *err, size_t errlen)
{
	struct cp_audit_resume dummy;
	struct cp_audit *a;
	struct stat st;
	int fd, rc;

	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	rc = cp_mkdir_parent(path, 0750);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(-rc));
		return rc;
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	a = alloc_trail(fd, 1, do_fsync, path);
	if (a == NULL) {
		close(fd);
		return -ENOMEM;
	}
	a->seekable = 1;
	if (st.st_size > 0) {
		rc = resume(a, st.st_size, info, err, errlen);
		if (rc < 0) {
			cp_audit_close(a);
			return rc;
		}
	}
	if (a->size == 0) {
		rc = resume_rotated(a, info, err, errlen);
		if (rc < 0) {
			cp_audit_close(a);
			return rc;
		}
	}
	info->seq = a->seq;
	if (info->torn_bytes > 0) {
		rc = write_recovered(a, info->torn_bytes);
		if (rc < 0) {
			snprintf(err, errlen, "%s: cannot record the cut torn line: %s", path,
				 strerror(-rc));
			cp_audit_close(a);
			return rc;
		}
	}
	*out = a;
	return 0;
}

int
cp_audit_open_fd(int fd, int do_fsync, struct cp_audit **out)
{
	struct cp_audit *a = alloc_trail(fd, 0, do_fsync, "-");
	struct stat st;

	if (a == NULL)
		return -ENOMEM;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		a->seekable = 1;
		a->size = lseek(fd, 0, SEEK_CUR);
		if (a->size < 0)
			a->size = 0;
	}
	*out = a;
	return 0;
}

void
cp_audit_close(struct cp_audit *a)
{
	if (a == NULL)
		return;
	cp_audit_sync(a);
	if (a->own_fd)
		close(a->fd);
	free(a->bbuf);
	free(a->path);
	free(a);
}

uint64_t
cp_audit_next_seq(const struct cp_audit *a)
{
	return a->seq + 1;
}

void
cp_audit_head(const struct cp_audit *a, char out[65])
{
	cp_hex(a->prev, 32, out);
}

const char *
cp_audit_path(const struct cp_audit *a)
{
	return a->path;
}

/* Finish (prev, hash), write and account one line. */
static int
append_line(struct cp_audit *a, struct cp_json *j, uint64_t seq)
{
	char hex[65];
	uint8_t h[32];
	int rc;

	if (seq != a->seq + 1 || j->depth != 1)
		return -EINVAL;
	cp_json_key(j, "prev");
	cp_json_strz(j, cp_hex(a->prev, 32, hex));
	if (cp_json_error(j) < 0)
		return -ENOSPC;
	if (sha256(j->buf, j->len, h) < 0)
		return -EIO;
	cp_json_key(j, "hash");
	cp_json_strz(j, cp_hex(h, 32, hex));
	cp_json_obj_end(j);
	cp_json_raw(j, "\n", 1);
	if (cp_json_error(j) < 0)
		return -ENOSPC;
	if (a->batching) {
		if (a->blen + j->len > a->bcap) {
			size_t cap = a->bcap ? a->bcap * 2 : 256 * 1024;
			char *nb;

			while (cap < a->blen + j->len)
				cap *= 2;
			nb = realloc(a->bbuf, cap);
			if (nb == NULL)
				return -ENOMEM;
			a->bbuf = nb;
			a->bcap = cap;
		}
		memcpy(a->bbuf + a->blen, j->buf, j->len);
		a->blen += j->len;
		a->size += (off_t)j->len;
		a->seq = seq;
		memcpy(a->prev, h, 32);
		a->st.records++;
		return 0;
	}
	rc = cp_write_all(a->fd, j->buf, j->len);
	if (rc < 0) {
		/* never leave half a line: the next record would follow garbage */
		if (a->seekable && ftruncate(a->fd, a->size) < 0)
			return rc;
		return rc;
	}
	a->size += (off_t)j->len;
	a->seq = seq;
	memcpy(a->prev, h, 32);
	a->dirty = 1;
	a->st.records++;
	if (a->sink != NULL)
		a->sink(a->sink_arg, j->buf, j->len);
	if (a->do_fsync >= 2)
		return cp_audit_sync(a);
	return 0;
}

static int
write_checkpoint(struct cp_audit *a, const char *cause)
{
	uint8_t msg[CP_SIGN_MSG_LEN], sig[CP_SIG_LEN];
	char ts[CP_TS_LEN];
	uint64_t seq = a->seq + 1, ns = cp_now_ns(), n = a->since_ckpt;
	struct cp_json j;
	int rc;

	cp_fmt_ts(ns, ts);
	cp_sign_message(msg, seq, a->prev, ts, cp_key_id(a->key));
	rc = cp_sign(a->key, msg, sizeof(msg), sig);
	if (rc < 0)
		return rc;
	rc = cp_record_checkpoint(&j, a->line, sizeof(a->line), seq, ns, cause, n,
				  cp_key_id_hex(a->key), sig);
	if (rc < 0)
		return -ENOSPC;
	rc = append_line(a, &j, seq);
	if (rc < 0)
		return rc;
	a->since_ckpt = 0;
	a->last_ckpt_ms = cp_mono_ms();
	a->st.checkpoints++;
	a->st.last_checkpoint_seq = seq;
	/* a checkpoint is durable whatever the fsync policy says ("never" aside) */
	return cp_audit_sync(a);
}

int
cp_audit_checkpoint(struct cp_audit *a, const char *cause)
{
	int rc;

	if (a->key == NULL || a->since_ckpt == 0 || a->in_ckpt)
		return 0;
	a->in_ckpt = true;
	rc = write_checkpoint(a, cause);
	a->in_ckpt = false;
	if (rc < 0) {
		a->st.errors++;
		CP_ERR("audit %s: checkpoint (%s) at seq %llu failed: %s", a->path, cause,
		       (unsigned long long)(a->seq + 1), strerror(-rc));
	}
	return rc;
}

static int
fsync_dir(const char *path)
{
	char *d = strdup(path);
	int fd, rc = 0;

	if (d == NULL)
		return -ENOMEM;
	fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(d);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

static int
rotate(struct cp_audit *a)
{
	char name[PATH_MAX];
	uint64_t ns = cp_now_ns();
	int rc, fd;

	if (!a->own_fd || a->size == 0 || a->in_rotate)
		return 0;
	a->in_rotate = true;
	rc = cp_audit_checkpoint(a, "rotate");
	if (rc == 0 && a->dirty && fsync(a->fd) < 0)
		rc = -errno;
	a->dirty = 0;
	/* a name nobody has: the next microsecond if two rotations meet */
	for (int tries = 0; rc == 0; tries++, ns += 1000) {
		rc = rotated_name(a->path, ns, name, sizeof(name));
		if (rc < 0)
			break;
		if (renameat2(AT_FDCWD, a->path, AT_FDCWD, name, RENAME_NOREPLACE) == 0)
			break;
		rc = -errno;
		if (rc != -EEXIST || tries > 1000)
			break;
		rc = 0;
	}
	if (rc < 0)
		goto out;
	fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		CP_ERR("audit %s: rotated to %s but cannot create the new file: %s", a->path, name,
		       strerror(errno));
		/* keep writing to the renamed file: the chain stays whole */
		goto out;
	}
	close(a->fd);
	a->fd = fd;
	a->size = 0;
	a->opened_ms = cp_mono_ms();
	a->st.rotations++;
	rc = fsync_dir(a->path);
	CP_INFO("audit %s: rotated to %s at seq %llu", a->path, name, (unsigned long long)a->seq);
out:
	a->in_rotate = false;
	if (rc < 0) {
		a->st.errors++;
		CP_ERR("audit %s: rotation failed: %s", a->path, strerror(-rc));
	}
	return rc;
}

int
cp_audit_append(struct cp_audit *a, struct cp_json *j, uint64_t seq)
{
	int rc = append_line(a, j, seq);

	if (rc < 0)
		return rc;
	a->since_ckpt++;
	if (a->batching)
		return 0;         /* checkpoint and rotation when the batch is written */
	/* the record is written: what follows is logged and counted, never its error */
	if (a->key != NULL && a->ckpt_records > 0 && a->since_ckpt >= a->ckpt_records)
		cp_audit_checkpoint(a, "records");
	if (a->rotate_bytes > 0 && (uint64_t)a->size >= a->rotate_bytes)
		rotate(a);
	return 0;
}

int
cp_audit_tick(struct cp_audit *a)
{
	uint64_t now = cp_mono_ms();
	int rc = 0;

	if (a->key != NULL && a->ckpt_seconds > 0 && a->since_ckpt > 0 &&
	    now - a->last_ckpt_ms >= (uint64_t)a->ckpt_seconds * 1000)
		rc = cp_audit_checkpoint(a, "seconds");
	if (a->rotate_seconds > 0 && a->size > 0 &&
	    now - a->opened_ms >= (uint64_t)a->rotate_seconds * 1000)
		rc = rotate(a);
	return rc;
}

int
cp_audit_tick_due_ms(const struct cp_audit *a)
{
	uint64_t now = cp_mono_ms(), due = UINT64_MAX;

	if (a->key != NULL && a->ckpt_seconds > 0 && a->since_ckpt > 0)
		due = a->last_ckpt_ms + (uint64_t)a->ckpt_seconds * 1000;
	if (a->rotate_seconds > 0 && a->size > 0 &&
	    a->opened_ms + (uint64_t)a->rotate_seconds * 1000 < due)
		due = a->opened_ms + (uint64_t)a->rotate_seconds * 1000;
	if (due == UINT64_MAX)
		return -1;
	return due <= now ? 0 : due - now > INT32_MAX ? INT32_MAX : (int)(due - now);
}

void
cp_audit_set_signer(struct cp_audit *a, const struct cp_key *key, uint32_t every_records,
		    uint32_t every_seconds)
{
	a->key = key;
	a->ckpt_records = every_records;
	a->ckpt_seconds = every_seconds;
	a->last_ckpt_ms = cp_mono_ms();
}

void
cp_audit_set_rotation(struct cp_audit *a, uint64_t rotate_bytes, uint32_t rotate_seconds)
{
	a->rotate_bytes = rotate_bytes;
	a->rotate_seconds = rotate_seconds;
}

void
cp_audit_set_sink(struct cp_audit *a, cp_audit_sink_fn fn, void *arg)
{
	a->sink = fn;
	a->sink_arg = arg;
}

void
cp_audit_stats(const struct cp_audit *a, struct cp_audit_stats *out)
{
	*out = a->st;
	out->since_checkpoint = a->since_ckpt;
	out->key_id = a->key != NULL ? cp_key_id_hex(a->key) : NULL;
}

void
cp_audit_batch_begin(struct cp_audit *a)
{
	/* "always" syncs every line: nothing to gather */
	if (a->batching || a->do_fsync >= 2)
		return;
	a->batching = true;
	a->blen = 0;
	a->b_seq = a->seq;
	memcpy(a->b_prev, a->prev, 32);
	a->b_size = a->size;
	a->b_since = a->since_ckpt;
	a->b_records = a->st.records;
}

void
cp_audit_batch_abort(struct cp_audit *a)
{
	if (!a->batching)
		return;
	a->batching = false;
	a->blen = 0;
	a->seq = a->b_seq;
	memcpy(a->prev, a->b_prev, 32);
	a->size = a->b_size;
	a->since_ckpt = a->b_since;
	a->st.records = a->b_records;
}

int
cp_audit_batch_commit(struct cp_audit *a)
{
	const char *p, *end;
	int rc;

	if (!a->batching)
		return 0;
	if (a->blen == 0) {
		a->batching = false;
		return 0;
	}
	rc = cp_write_all(a->fd, a->bbuf, a->blen);
	if (rc < 0) {
		/* nothing of the batch stays: cut what went out, go back to before it */
		if (a->seekable && ftruncate(a->fd, a->b_size) < 0)
			a->st.errors++;
		cp_audit_batch_abort(a);
		return rc;
	}
	a->batching = false;
	a->dirty = 1;
	for (p = a->bbuf, end = a->bbuf + a->blen; a->sink != NULL && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		a->sink(a->sink_arg, p, n);
		p += n;
	}
	a->blen = 0;
	if (a->key != NULL && a->ckpt_records > 0 && a->since_ckpt >= a->ckpt_records)
		cp_audit_checkpoint(a, "records");
	if (a->rotate_bytes > 0 && (uint64_t)a->size >= a->rotate_bytes)
		rotate(a);
	return 0;
}

int
cp_audit_fsync_mode(const struct cp_audit *a)
{
	return a->do_fsync;
}

int
cp_audit_sync(struct cp_audit *a)
{
	int rc = cp_audit_batch_commit(a);

	if (rc < 0)
		return rc;
	if (a->do_fsync == 0 || !a->dirty)
		return 0;
	a->dirty = 0;
	if (fsync(a->fd) < 0 && errno != EINVAL && errno != EROFS)
		return -errno;
	return 0;
}
