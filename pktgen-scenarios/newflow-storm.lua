-- SPDX-License-Identifier: BSD-3-Clause
-- newflow-storm.lua: a storm of new flows (Pktgen range mode): every packet
-- comes from a new (source address, source port), so every packet makes
-- chokepoint create a flow, classify it, decide it and write its audit event.
-- UDP: Pktgen 23.03's 64-byte TCP frames carry 6 payload bytes, which makes a
-- SYN a TCP Fast Open SYN with non-TLS data (denied as unknown_protocol), not
-- the handshake a storm of connection attempts is.
--
-- Ports:  Pktgen port 0 (TX) -> chokepoint port 0 (inside)
--         chokepoint port 1 (outside) -> Pktgen port 1 (RX)
-- Pcap:   none (range mode): 64 B UDP datagrams, source 10.9.0.1-10.9.255.254
--         (each with a port of 1024-1087), destination 198.18.0.1-198.18.0.254
--         port 9; 65,534 distinct flows per cycle of the range
-- Policy: pcaps/chokepoint.conf from gen_pcaps.py: rule "storm" allows UDP to
--         198.18.0.0/15 port 9 at the first packet (a name-less rule); once the
--         table is full (chokepoint-dp --flows, the runner gives CP_FLOWS), new
--         flows get the table_full verdict (deny: dropped)
-- Output: CSV at $CP_CSV: rate_pct,duration_ms,tx,rx,loss,loss_pct,tx_mpps,
--         rx_mpps, one row per rate in CP_RATES; while the table has room
--         rx_mpps is the rate of new flows chokepoint set up and forwarded, the
--         loss the flows refused (table full) or dropped on the way
-- Env:    CP_SCENARIOS, CP_CSV, CP_TRIAL_MS (5000), CP_RATES ("1,10,100")

local C = dofile(os.getenv("CP_SCENARIOS") .. "/common.lua")

local function range_setup()
	pktgen.set_proto("0", "udp")
	pktgen.range.ip_proto("0", "udp")
	pktgen.range.pkt_size("0", "start", 64)
	pktgen.range.pkt_size("0", "inc", 0)
	pktgen.range.pkt_size("0", "min", 64)
	pktgen.range.pkt_size("0", "max", 64)
	pktgen.range.src_mac("0", "start", "02:00:00:00:00:01")
	pktgen.range.dst_mac("0", "start", "02:00:00:00:00:02")
	pktgen.range.src_ip("0", "start", "10.9.0.1")
	pktgen.range.src_ip("0", "inc", "0.0.0.1")
	pktgen.range.src_ip("0", "min", "10.9.0.1")
	pktgen.range.src_ip("0", "max", "10.9.255.254")
	pktgen.range.dst_ip("0", "start", "198.18.0.1")
	pktgen.range.dst_ip("0", "inc", "0.0.0.1")
	pktgen.range.dst_ip("0", "min", "198.18.0.1")
	pktgen.range.dst_ip("0", "max", "198.18.0.254")
	pktgen.range.src_port("0", "start", 1024)
	pktgen.range.src_port("0", "inc", 1)
	pktgen.range.src_port("0", "min", 1024)
	pktgen.range.src_port("0", "max", 1087)
	pktgen.range.dst_port("0", "start", 9)
	pktgen.range.dst_port("0", "inc", 0)
	pktgen.range.dst_port("0", "min", 9)
	pktgen.range.dst_port("0", "max", 9)
	pktgen.set_range("0", "on")
	pktgen.set("0", "count", 0)
end

C.run(function()
	local trial_ms = C.envnum("CP_TRIAL_MS", 5000)
	local f = C.csv_open(C.env("CP_CSV", "newflow-storm.csv"), C.header)

	range_setup()
	for r in string.gmatch(C.env("CP_RATES", "1,10,100"), "[^,]+") do
		C.row(f, "", C.trial(tonumber(r), trial_ms))
	end
	f:close()
end)
