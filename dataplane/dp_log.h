/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_log.h: the dataplane's dynamic log types. Each module registers its own
 * type (RTE_LOG_REGISTER_SUFFIX) under "chokepoint.dp"; levels are set with
 * the EAL option --log-level=chokepoint.dp.*:debug. Fast-path code logs only
 * through DP_LOG_DP (compiled out below RTE_LOG_DP_LEVEL).
 */
#ifndef CHOKEPOINT_DP_LOG_H
#define CHOKEPOINT_DP_LOG_H

#include <rte_log.h>

extern int dp_logtype_main;    /* chokepoint.dp */
extern int dp_logtype_port;    /* chokepoint.dp.port */
extern int dp_logtype_worker;  /* chokepoint.dp.worker */
extern int dp_logtype_policy;  /* chokepoint.dp.policy */
extern int dp_logtype_ctl;     /* chokepoint.dp.ctl */
extern int dp_logtype_event;   /* chokepoint.dp.event */

#define DP_LOG(type, level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, dp_logtype_ ## type, \
		"chokepoint-dp: " fmt "\n", ##__VA_ARGS__)

#define DP_LOG_DP(type, level, fmt, ...) do { \
	if (RTE_LOG_ ## level <= RTE_LOG_DP_LEVEL) \
		DP_LOG(type, level, fmt, ##__VA_ARGS__); \
} while (0)

#endif /* CHOKEPOINT_DP_LOG_H */
