#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# capture.sh: record the first flight of real TLS clients (and a few real
# HTTP/1.x request heads) as test fixtures.
#
# A tiny /usr/bin/python3 listener on 127.0.0.1 accepts one connection, keeps
# the bytes the client sends until the ClientHello is complete according to
# the declared record and handshake lengths (or, for HTTP, until the blank
# line ending the head), writes exactly those bytes and closes. Nothing is
# answered, so the client fails after its first flight: that is all we want.
#
# Each capture is then wrapped into a pcap with text2pcap (TCP port 443 or 80)
# and decoded by tshark, whose view of SNI/ALPN/versions/key shares is written
# to <name>.tshark.txt next to the .bin, for the README and the tests.
#
# usage: tests/data/clienthello/capture.sh [client ...]   (default: all)
#        tests/data/clienthello/capture.sh --decode-only     (tshark files only)
#        run as root (chromium needs --no-sandbox); needs curl, openssl,
#        gnutls-cli (gnutls-bin), node, chromium, wget, tshark.
set -u
here=$(cd "$(dirname "$0")" && pwd)
httpdir=$(cd "$here/.." && pwd)/http
mkdir -p "$httpdir"
py=/usr/bin/python3
work=$(mktemp -d /tmp/parse-capture.XXXXXX)
trap 'rm -rf "$work"' EXIT

listener() { # mode(tls|http) outfile portfile [required-name]
	"$py" - "$@" <<'EOF'
import socket, sys

mode, out, portfile = sys.argv[1], sys.argv[2], sys.argv[3]
# optional: only keep the connection whose first flight names this host
# (chromium opens background connections of its own first)
want = sys.argv[4].encode() if len(sys.argv) > 4 else None

def tls_end(b):
    """stream length through the hello's last record, or None if incomplete"""
    pos, hs, total = 0, b"", None
    while True:
        if len(b) - pos < 5:
            return None
        if b[pos] != 22:
            raise ValueError("not a TLS handshake record at %d" % pos)
        rl = int.from_bytes(b[pos + 3:pos + 5], "big")
        frag = b[pos + 5:pos + 5 + rl]
        hs += frag
        if total is None and len(hs) >= 4:
            total = 4 + int.from_bytes(hs[1:4], "big")
        if len(frag) < rl:
            return None
        pos += 5 + rl
        if total is not None and len(hs) >= total:
            return pos

def http_end(b):
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = b.find(sep)
        if i >= 0:
            return i + len(sep)
    return None

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
s.settimeout(60)
while True:
    c, _ = s.accept()
    c.settimeout(30)
    buf, end = b"", None
    try:
        while end is None:
            d = c.recv(65536)
            if not d:
                raise ValueError("client closed after %d bytes" % len(buf))
            buf += d
            end = tls_end(buf) if mode == "tls" else http_end(buf)
    except (ValueError, OSError) as e:
        if want is None:
            raise SystemExit(str(e))
        print("skipped a connection: %s" % e, file=sys.stderr)
        c.close()
        continue
    if want is not None and want not in buf[:end]:
        print("skipped a connection without %r" % want, file=sys.stderr)
        c.close()
        continue
    break
with open(out, "wb") as f:
    f.write(buf[:end])
c.close()
s.close()
EOF
}

# capture mode name client-command... ; the command sees $PORT
capture() {
	local mode=$1 name=$2 must=; shift 2
	[ "$1" = --must ] && { must=$2; shift 2; }
	local dir=$here ext=bin
	[ "$mode" = http ] && { dir=$httpdir; ext=bin; }
	local out=$dir/$name.$ext pf=$work/$name.port
	rm -f "$pf"
	listener "$mode" "$out.tmp" "$pf" $must & local lpid=$!
	for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
	PORT=$(cat "$pf") || { echo "$name: listener did not start"; return 1; }
	export PORT
	( eval "$*" ) >"$work/$name.log" 2>&1 &
	local cpid=$!
	wait "$lpid"; local lrc=$?
	kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
	if [ $lrc -ne 0 ] || [ ! -s "$out.tmp" ]; then
		echo "$name: FAILED (listener rc $lrc)"; sed 's/^/  /' "$work/$name.log" | head -5
		rm -f "$out.tmp"; return 1
	fi
	mv "$out.tmp" "$out"
	decode "$mode" "$out" "$dir/$name.tshark.txt"
	echo "$name: $(stat -c %s "$out") bytes"
}

# tshark's view of a capture: wrap the bytes into one TCP segment
decode() {
	local mode=$1 in=$2 txt=$3 port=443
	[ "$mode" = http ] && port=80
	od -Ax -tx1 -v "$in" | text2pcap -q -T 40000,$port - "$work/x.pcap" 2>/dev/null
	if [ "$mode" = tls ]; then
		tshark 2>/dev/null -r "$work/x.pcap" -o tcp.check_checksum:FALSE -T fields -E header=y -E separator=';' \
			-e tls.record.version -e tls.handshake.length \
			-e tls.handshake.extensions_server_name \
			-e tls.handshake.extensions_alpn_str \
			-e tls.handshake.extensions.supported_version \
			-e tls.handshake.extensions_key_share_group \
			-e tls.handshake.type -e tls.handshake.extension.type \
			-e tls.handshake.ciphersuite -e tls.handshake.sig_hash_alg -e tls.handshake.version >"$txt"
		tshark -r "$work/x.pcap" -V 2>/dev/null | grep -E 'Extension: |Server Name:|ALPN Next Protocol|Supported Version|Key Share Entry: Group' >>"$txt"
	else
		tshark 2>/dev/null -r "$work/x.pcap" -o http.desegment_body:FALSE -T fields -E header=y -E separator=';' \
			-e http.request.method -e http.request.uri -e http.host -e http.request.version >"$txt"
	fi
}

if [ "${1:-}" = --decode-only ]; then
	# re-run tshark over the committed captures (no new capture)
	for f in "$here"/*.bin; do decode tls "$f" "${f%.bin}.tshark.txt"; done
	for f in "$httpdir"/*.bin; do decode http "$f" "${f%.bin}.tshark.txt"; done
	exit 0
fi

sel=("$@")
want() { [ ${#sel[@]} -eq 0 ] && return 0; for s in "${sel[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

ALPN=h2,http/1.1
want curl-tls13 && capture tls curl-tls13 \
	'curl -sk --max-time 20 --resolve curl13.example.test:$PORT:127.0.0.1 https://curl13.example.test:$PORT/'
want curl-tls12 && capture tls curl-tls12 \
	'curl -sk --max-time 20 --tlsv1.2 --tls-max 1.2 --resolve curl12.example.test:$PORT:127.0.0.1 https://curl12.example.test:$PORT/'
want openssl-tls12 && capture tls openssl-tls12 \
	'openssl s_client -connect 127.0.0.1:$PORT -servername ossl12.example.test -alpn $ALPN -tls1_2 </dev/null'
want openssl-tls13 && capture tls openssl-tls13 \
	'openssl s_client -connect 127.0.0.1:$PORT -servername ossl13.example.test -alpn $ALPN -tls1_3 </dev/null'
want python-ssl && capture tls python-ssl \
	"$py"' -c "
import socket, ssl, os
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols([\"h2\", \"http/1.1\"])
s = socket.create_connection((\"127.0.0.1\", int(os.environ[\"PORT\"])))
ctx.wrap_socket(s, server_hostname=\"python.example.test\")
"'
want gnutls && capture tls gnutls \
	'gnutls-cli -p $PORT --sni-hostname gnutls.example.test --alpn h2 --alpn http/1.1 --insecure 127.0.0.1 </dev/null'
want node && capture tls node \
	'node -e "require(\"tls\").connect({host: \"127.0.0.1\", port: +process.env.PORT, servername: \"node.example.test\", ALPNProtocols: [\"h2\", \"http/1.1\"], rejectUnauthorized: false}).on(\"error\", () => {})"'
want chromium && capture tls chromium --must api.example.test \
	'timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update \
		--user-data-dir=$(mktemp -d /tmp/parse-chromium.XXXXXX) --host-resolver-rules="MAP * 127.0.0.1:$PORT" \
		https://api.example.test/'

# HTTP/1.x request heads
want http-curl && capture http curl-get \
	'curl -s --max-time 10 --resolve www.example.test:$PORT:127.0.0.1 http://www.example.test:$PORT/index.html'
want http-curl-proxy && capture http curl-proxy-absolute \
	'curl -s --max-time 10 -x http://127.0.0.1:$PORT http://abs.example.test/path?q=1'
want http-curl-connect && capture http curl-connect \
	'curl -s --max-time 10 -p -x http://127.0.0.1:$PORT https://tunnel.example.test/'
want http-curl-post && capture http curl-post \
	'curl -s --max-time 10 --resolve post.example.test:$PORT:127.0.0.1 -d "a=1&b=2" http://post.example.test:$PORT/submit'
want http-python && capture http python-http-client \
	"$py"' -c "
import http.client, os
c = http.client.HTTPConnection(\"127.0.0.1\", int(os.environ[\"PORT\"]), timeout=10)
c.putrequest(\"GET\", \"/api/v1?x=y\", skip_host=True)
c.putheader(\"Host\", \"py.example.test:\" + os.environ[\"PORT\"])
c.endheaders()
c.getresponse()
"'
want http-wget && capture http wget-proxy \
	'wget -q -T 10 -t 1 -O /dev/null -e use_proxy=yes -e http_proxy=http://127.0.0.1:$PORT http://wget.example.test/file.txt'
want http-websocket && capture http python-websocket \
	"$py"' -c "
import asyncio, os, websockets
async def main():
    async with websockets.connect(\"ws://ws.example.test/chat\", host=\"127.0.0.1\", port=int(os.environ[\"PORT\"]), open_timeout=10):
        pass
asyncio.run(main())
"'
exit 0
