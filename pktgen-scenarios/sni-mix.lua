-- SPDX-License-Identifier: BSD-3-Clause
-- sni-mix.lua: chokepoint under a replayed mix of allowed and denied TLS names,
-- with and without split ClientHellos.
--
-- Ports:  Pktgen port 0 (TX) -> chokepoint port 0 (inside)
--         chokepoint port 1 (outside) -> Pktgen port 1 (RX)
-- Pcap:   sni-mix.pcap on port 0 (-s 0:FILE) from gen_pcaps.py: complete TLS
--         flows, 3 of 4 with an allowed name, 1 of 4 with a denied one; half of
--         each kind send the hello whole, half split in three segments (the
--         5-byte record header alone, then the rest in two); 4 data packets
--         each. sni-mix.expect.json says what the first pass must give.
-- Policy: pcaps/chokepoint.conf from gen_pcaps.py
-- Expect: allowed flows forwarded whole; a denied flow's SYN, SYN-ACK and ACK
--         pass, its hello and data never reach port 1, and chokepoint resets
--         both ends (one RST leaves by port 1); later passes of the loop find
--         the denied flows closed (their packets dropped, at most one RST per
--         100 ms). So loss > 0 here is the policy working, not a fault: the
--         runner checks the audit trail's decisions against the names.
-- Output: CSV at $CP_CSV: pass,rate_pct,duration_ms,tx,rx,loss,loss_pct,
--         tx_mpps,rx_mpps; one row for the first pass at 1 % of line rate, then
--         one per rate in CP_RATES
-- Env:    CP_SCENARIOS, CP_CSV, CP_TRIAL_MS (5000), CP_RATES ("10,50,100")

local C = dofile(os.getenv("CP_SCENARIOS") .. "/common.lua")

C.run(function()
	local trial_ms = C.envnum("CP_TRIAL_MS", 5000)
	local f = C.csv_open(C.env("CP_CSV", "sni-mix.csv"), "pass," .. C.header)

	pktgen.pcap("0", "on")
	pktgen.set("0", "count", 0)
	-- first pass: slow, so every flow is set up and decided in order
	C.row(f, "first,", C.trial(1, 2000))
	for r in string.gmatch(C.env("CP_RATES", "10,50,100"), "[^,]+") do
		C.row(f, "loop,", C.trial(tonumber(r), trial_ms))
	end
	f:close()
end)
