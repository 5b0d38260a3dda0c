/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_port.h: mempools and port bring-up.
 */
#ifndef CHOKEPOINT_DP_PORT_H
#define CHOKEPOINT_DP_PORT_H

#include <stdint.h>

#include "dp.h"

#define DP_RX_DESC 1024
#define DP_TX_DESC 1024
#define DP_POOL_CACHE 256

/* Pick the ports for the mode (app->n_ports, app->port_id). -EINVAL + message. */
int dp_ports_select(struct dp_proc *app);

/* Create the RX pool and the hold pool (sizes in dp_port.c). */
int dp_pools_create(struct dp_proc *app);

/* Configure and start every port with app->n_queues queues. */
int dp_ports_start(struct dp_proc *app);

/* Wait for links (bounded, honours app->quit). Never fails. */
void dp_ports_wait_link(struct dp_proc *app, unsigned int max_ms);

/* Stop and close every port. */
void dp_ports_stop(struct dp_proc *app);

/*
 * The symmetric RSS key: 0x6d, 0x5a repeated over len bytes. With it the
 * Toeplitz hash of (a -> b) equals that of (b -> a) (tests/unit/test_rss.c).
 */
static inline void
dp_rss_symmetric_key(uint8_t *key, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
}

#endif /* CHOKEPOINT_DP_PORT_H */
