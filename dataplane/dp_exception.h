/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_exception.h: the exception path. Traffic addressed to the appliance
 * that the dataplane does not handle itself (SSH, DHCP, the management
 * plane) goes to a kernel interface through a DPDK port of its own, a TAP
 * (--vdev net_tap0,iface=NAME) or virtio-user port (--vdev
 * virtio_user0,path=/dev/vhost-net,iface=NAME), named with --exception-port.
 * KNI is deprecated; these are DPDK's supported ways.
 *
 * The port gets the MAC of data port 0 and as many queues as there are
 * workers; worker w polls queue w. Toward the kernel the frame goes as it
 * came (the destination MAC set to the interface's). From the kernel:
 * IP packets are routed by the dataplane's route table (dp_routed.h, no TTL
 * decrement: they are the appliance's own), limited broadcast and link-scope
 * multicast (DHCP, DHCPv6) leave by data port 0, and the kernel's ARP
 * requests and neighbour solicitations are answered by the dataplane, which
 * is the kernel's only router (it resolves the real next hops itself).
 */
#ifndef CHOKEPOINT_DP_EXCEPTION_H
#define CHOKEPOINT_DP_EXCEPTION_H

#include <stdint.h>

#include "dp_local.h"

/* Configure and start the exception port (L->exc_port) for app->n_queues queues. */
int dp_exception_start(struct dp_proc *app, struct dp_local *L);

/* Stop and close it. */
void dp_exception_stop(struct dp_local *L);

/* Queue m (a frame for the appliance) toward the kernel (consumes m). */
void dp_exception_to_kernel(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m);

/* Worker: frames from the kernel on queue w, then flush what goes to it. */
unsigned int dp_exception_poll(struct dp_worker *w, struct dp_local *L);

/* ---- shared with dp_local.c ---- */

/* Route m by its destination (consumes m; dec: decrement the TTL). */
void dp_local_route_out(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m, int dec);

/* Send m on data port pidx as it is (consumes m). */
void dp_local_send(struct dp_worker *w, uint16_t pidx, struct rte_mbuf *m);

#endif /* CHOKEPOINT_DP_EXCEPTION_H */
