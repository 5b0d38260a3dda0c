/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_replay.h: `chokepointctl replay`: compile the config in-process, stage
 * the captures, run chokepoint-dp in replay mode on one end of a socketpair
 * (its fd 3), act as its control plane until DRAINED, write the audit
 * records (same renderer and chain as chokepointd), answer QUIT, reap it.
 */
#ifndef CHOKEPOINT_CP_REPLAY_H
#define CHOKEPOINT_CP_REPLAY_H

struct cp_replay_opts {
	const char *config;
	const char *audit_out;    /* NULL: stdout */
	const char *dp_path;      /* NULL: $CHOKEPOINT_DP, next to us, PATH */
	char *const *pcaps;
	int n_pcaps;
};

/* Returns the process exit code: 0 success, 1 failure (reason logged). */
int cp_replay_run(const struct cp_replay_opts *o);

#endif /* CHOKEPOINT_CP_REPLAY_H */
