-- SPDX-License-Identifier: BSD-3-Clause
-- rfc2544.lua: RFC 2544-style throughput of chokepoint over allowed flows.
--
-- Ports:  Pktgen port 0 (TX) -> chokepoint port 0 (inside)
--         chokepoint port 1 (outside) -> Pktgen port 1 (RX)
-- Pcap:   on port 0 (-s 0:FILE): allowed-64.pcap, allowed-imix.pcap or
--         allowed-1518.pcap from gen_pcaps.py: N complete TLS flows (SYN,
--         SYN-ACK, ACK, a real ClientHello of an allowed name, the server's ACK)
--         followed by their data packets of that size, replayed in a loop
--         (pcap mode), so every packet belongs to an allowed flow
-- Policy: pcaps/chokepoint.conf from gen_pcaps.py (those names allowed,
--         default deny)
-- Method: binary search on the TX rate (percent of the port's line rate) for
--         the highest rate with zero loss (RFC 2544 26.1), CP_STEPS trials of
--         CP_TRIAL_MS each, then one confirmation trial of CP_CONFIRM_MS
-- Output: CSV at $CP_CSV: size,trial,rate_pct,duration_ms,tx,rx,loss,loss_pct,
--         tx_mpps,rx_mpps (rate, tx, rx, loss, Mpps per trial); the last row
--         of a size is the confirmation ("confirm")
-- Env:    CP_SCENARIOS (this directory), CP_CSV, CP_SIZE (label for the CSV),
--         CP_TRIAL_MS (10000), CP_CONFIRM_MS (60000), CP_STEPS (10),
--         CP_MAX_RATE (100)

local C = dofile(os.getenv("CP_SCENARIOS") .. "/common.lua")

C.run(function()
	local size = C.env("CP_SIZE", "64")
	local trial_ms = C.envnum("CP_TRIAL_MS", 10000)
	local confirm_ms = C.envnum("CP_CONFIRM_MS", 60000)
	local steps = C.envnum("CP_STEPS", 10)
	local hi = C.envnum("CP_MAX_RATE", 100)
	local lo = 0
	local f = C.csv_open(C.env("CP_CSV", "rfc2544.csv"), "size,trial," .. C.header)

	pktgen.pcap("0", "on")
	pktgen.set("0", "count", 0)
	-- the first pass over the capture sets the flows up (held hellos, decisions)
	C.trial(1, 2000, 500)

	local rate = hi
	for step = 1, steps do
		local t = C.trial(rate, trial_ms)
		C.row(f, size .. "," .. step .. ",", t)
		if t.loss <= 0 then
			lo = rate
		else
			hi = rate
		end
		if lo == hi then
			break
		end
		rate = lo + (hi - lo) / 2
	end
	if lo > 0 then
		local t = C.trial(lo, confirm_ms)
		C.row(f, size .. ",confirm,", t)
		print(string.format("RESULT size %s: zero-loss rate %.3f%% (%.4f Mpps), confirmed: %s",
			size, lo, t.rx_mpps, t.loss <= 0 and "yes" or "no"))
	else
		print("RESULT size " .. size .. ": loss at every rate tried")
	end
	f:close()
end)
