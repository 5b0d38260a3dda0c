-- SPDX-License-Identifier: BSD-3-Clause
-- Shared by the Pktgen-DPDK scenarios of chokepoint (pktgen-scenarios/*.lua),
-- loaded with dofile(). Pktgen 23.03.0's Lua API: pktgen.set/start/stop/clr/
-- delay/portStats/pcap/set_range/range.*/run/quit.
--
-- Port roles, in every scenario:
--   Pktgen port 0 (TX) -> chokepoint port 0 (inside, the agents' side)
--   chokepoint port 1 (outside) -> Pktgen port 1 (RX)
-- A packet chokepoint forwards leaves by its other port, so what Pktgen sends
-- on port 0 and chokepoint lets through is counted on Pktgen's port 1.

local M = {}

-- A setting from the environment (the runner passes them), or its default.
function M.env(name, default)
	local v = os.getenv(name)
	if v == nil or v == "" then
		return default
	end
	return v
end

function M.envnum(name, default)
	return tonumber(M.env(name, tostring(default)))
end

-- Open the CSV file and write its header line; returns the file.
function M.csv_open(path, header)
	local f = assert(io.open(path, "w"))
	f:write(header .. "\n")
	f:flush()
	return f
end

-- The port counters (Pktgen's view of the wire).
function M.counters()
	local s0 = pktgen.portStats("0", "port")[0]
	local s1 = pktgen.portStats("1", "port")[1]
	return s0.opackets, s1.ipackets
end

-- One trial: send on port 0 at rate (percent of the port's line rate) for ms
-- milliseconds, wait for what is in flight, and count. Returns a row table:
-- rate, tx, rx, loss (tx - rx), loss_pct, tx_mpps, rx_mpps.
function M.trial(rate, ms, settle_ms)
	pktgen.stop("0")
	pktgen.delay(settle_ms or 500)
	pktgen.clr()
	pktgen.delay(100)
	local tx0, rx0 = M.counters()
	pktgen.set("0", "rate", rate)
	pktgen.start("0")
	pktgen.delay(ms)
	pktgen.stop("0")
	pktgen.delay(settle_ms or 500)
	local tx1, rx1 = M.counters()
	local tx, rx = tx1 - tx0, rx1 - rx0
	local loss = tx - rx
	return {
		rate = rate, ms = ms, tx = tx, rx = rx, loss = loss,
		loss_pct = tx > 0 and 100.0 * loss / tx or 0.0,
		tx_mpps = tx / (ms * 1000.0), rx_mpps = rx / (ms * 1000.0),
	}
end

function M.row(f, prefix, t)
	local line = string.format("%s%.3f,%d,%d,%d,%d,%.4f,%.4f,%.4f", prefix, t.rate, t.ms,
		t.tx, t.rx, t.loss, t.loss_pct, t.tx_mpps, t.rx_mpps)
	f:write(line .. "\n")
	f:flush()
	print("CSV " .. line)
end

M.header = "rate_pct,duration_ms,tx,rx,loss,loss_pct,tx_mpps,rx_mpps"

-- Run fn(); whatever happens, print the error and quit Pktgen (headless runs
-- must never stop at the prompt).
function M.run(fn)
	local ok, err = pcall(fn)
	if not ok then
		print("SCENARIO ERROR: " .. tostring(err))
	else
		print("SCENARIO DONE")
	end
	pktgen.quit()
end

return M
