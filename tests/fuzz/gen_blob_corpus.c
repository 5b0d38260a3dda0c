/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen_blob_corpus.c: compile policy files and write their blobs, the seed
 * corpus of fuzz_blob (tests/fuzz/corpus/blob/).
 *   cp_blob_gen OUTDIR CONFIG...   writes OUTDIR/<config basename>.blob
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_policy.h"

int
main(int argc, char **argv)
{
	char err[8192], out[4096], base[1024];
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OUTDIR CONFIG...\n", argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		struct cp_policy *p;
		FILE *f;

		if (cp_policy_compile_file(argv[i], &p, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s", err);
			rc = 1;
			continue;
		}
		snprintf(base, sizeof(base), "%s", argv[i]);
		snprintf(out, sizeof(out), "%s/%s.blob", argv[1], basename(base));
		f = fopen(out, "wb");
		if (f == NULL || fwrite(p->blob, 1, p->blob_len, f) != p->blob_len ||
		    fclose(f) != 0) {
			fprintf(stderr, "%s: %s\n", out, strerror(errno));
			rc = 1;
		} else {
			printf("%s: %zu bytes, %u rules\n", out, p->blob_len, p->n_rules);
		}
		cp_policy_free(p);
	}
	return rc;
}
