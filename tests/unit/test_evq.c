/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_evq.c: the worker's event queue (dp_event.c). Two queues driven by
 * the same random script, one with dp_evq_push (a built event copied in),
 * one with dp_evq_begin/dp_evq_commit (built in its ring slot), must give
 * the reader the same events (every byte), the same wseq, the same GAP
 * events for the same lost ranges, and the same counters; the script fills
 * the small rings until events are lost, drains them partly, and polls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dp_event.h"
#include "dp_proto.h"

#define RING 16

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* what a filled event carries (its own bytes, not dp_event_fill's) */
static void
make(struct dp_event *ev, uint32_t k)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)(k % 2 ? DP_EV_END : DP_EV_DECISION);
	ev->ts_ns = 1000000ull * k;
	ev->sport = (uint16_t)k;
	ev->name_len = (uint8_t)snprintf(ev->name, sizeof(ev->name), "n%u.example", k);
	ev->pkts_c2s = k * 3u;
}

static unsigned int
drain(struct dp_evq *q, struct dp_event *out, unsigned int max)
{
	return rte_ring_dequeue_burst_elem(q->r, out, sizeof(*out), max, NULL);
}

static void
test_begin_commit_as_push(void **state)
{
	static struct dp_event oa[RING], ob[RING];
	struct dp_evq a, b;
	uint64_t ca[DP_C_MAX], cb[DP_C_MAX];
	uint64_t r = 0x6a09e667f3bcc909ull, events = 0, lost = 0, gaps = 0;

	(void)state;
	memset(ca, 0, sizeof(ca));
	memset(cb, 0, sizeof(cb));
	assert_int_equal(dp_evq_init(&a, 1, RING, 0), 0);
	assert_int_equal(dp_evq_init(&b, 2, RING, 0), 0);
	b.worker = a.worker;            /* ring names differ, events must not */
	for (uint32_t k = 1; k <= 20000; k++) {
		uint64_t x = next_rand(&r);

		if (x % 100 < 70) {
			struct dp_event ev, *slot;

			make(&ev, k);
			dp_evq_push(&a, &ev, ca);
			slot = dp_evq_begin(&b, ev.ts_ns, cb);
			make(slot, k);
			dp_evq_commit(&b, slot, cb);
		} else if (x % 100 < 95) {
			unsigned int want = (unsigned int)(x >> 20) % (RING + 1);
			unsigned int na = drain(&a, oa, want), nb = drain(&b, ob, want);

			assert_int_equal(na, nb);
			for (unsigned int i = 0; i < na; i++) {
				if (memcmp(&oa[i], &ob[i], sizeof(oa[i])) != 0)
					fail_msg("step %u: event %u differs (wseq %lu/%lu type %u/%u)", k,
						 i, (unsigned long)oa[i].wseq, (unsigned long)ob[i].wseq,
						 oa[i].type, ob[i].type);
				gaps += oa[i].type == DP_EV_GAP;
				events++;
			}
		} else {
			dp_evq_poll(&a, 5000ull * k, ca);
			dp_evq_poll(&b, 5000ull * k, cb);
		}
		assert_memory_equal(ca, cb, sizeof(ca));
		assert_int_equal(a.next_wseq, b.next_wseq);
		assert_int_equal(a.gap_first, b.gap_first);
		assert_int_equal(a.gap_last, b.gap_last);
	}
	lost = ca[DP_C_EVENTS_LOST];
	/* the script must have lost events, reported gaps and delivered many */
	assert_true(lost > 100);
	assert_true(gaps > 10);
	assert_true(events > 5000);
	print_message("evq: %lu events read (%lu GAP), %lu lost\n", (unsigned long)events,
		      (unsigned long)gaps, (unsigned long)lost);
	dp_evq_fini(&a);
	dp_evq_fini(&b);
}

int
main(void)
{
	char prefix[64];
	char *argv[] = { "test_evq", "--no-huge", "-m", "64", "--no-pci", "--no-telemetry",
			 "--log-level", "*:error", "--file-prefix", prefix, NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_begin_commit_as_push),
	};
	int rc;

	snprintf(prefix, sizeof(prefix), "test_evq_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "test_evq: EAL init failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
