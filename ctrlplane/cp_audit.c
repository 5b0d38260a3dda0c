/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_audit.c: audit trail writer: resume, chain, whole-line writes, fsync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cp_audit.h"
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
out:
	free(buf);
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
	info->seq = a->seq;
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

int
cp_audit_append(struct cp_audit *a, struct cp_json *j, uint64_t seq)
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
	if (a->do_fsync >= 2)
		return cp_audit_sync(a);
	return 0;
}

int
cp_audit_sync(struct cp_audit *a)
{
	if (a->do_fsync == 0 || !a->dirty)
		return 0;
	a->dirty = 0;
	if (fsync(a->fd) < 0 && errno != EINVAL && errno != EROFS)
		return -errno;
	return 0;
}
