#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""JA4 of each capture, computed from tshark's decode (<name>.tshark.txt)
rather than from our parser: an independent check of dataplane/parse/ja4.c.
Follows FoxIO technical_details/JA4.md (commit d8f731ce0f19)."""
import glob, hashlib, os, sys

def grease(v):
    return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)

def nums(s):
    return [int(x, 0) for x in s.split(",") if x]

def h12(s, empty):
    return "0" * 12 if empty else hashlib.sha256(s.encode()).hexdigest()[:12]

def ja4(fields):
    sni, alpn, sv, exts, ciphers, sigs = (fields[2], fields[3], fields[4],
                                          fields[7], fields[8], fields[9])
    sv = [v for v in nums(sv) if not grease(v)]
    # highest supported_versions value, else the ClientHello's legacy_version
    ver = max(sv) if sv else int(fields[10], 0)
    code = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(ver, "00")
    exts = [v for v in nums(exts) if not grease(v)]
    ciphers = [v for v in nums(ciphers) if not grease(v)]
    sigs = [v for v in nums(sigs) if not grease(v)]
    first = alpn.split(",")[0] if alpn else ""
    a = "t%s%s%02d%02d%s" % (code, "d" if 0 in exts else "i", min(len(ciphers), 99),
                             min(len(exts), 99),
                             (first[0] + first[-1]) if first and first[0].isalnum() and first[-1].isalnum()
                             else "00" if not first else first.encode().hex()[0] + first.encode().hex()[-1])
    b = h12(",".join("%04x" % v for v in sorted(ciphers)), not ciphers)
    ce = sorted(v for v in exts if v not in (0, 0x10))
    c = ",".join("%04x" % v for v in ce)
    if sigs:
        c += "_" + ",".join("%04x" % v for v in sigs)
    return "%s_%s_%s" % (a, b, h12(c, not ce))

here = os.path.dirname(os.path.abspath(__file__))
for f in sorted(glob.glob(os.path.join(here, "*.tshark.txt"))):
    line = open(f).read().split("\n")[1]
    print(os.path.basename(f)[:-len(".tshark.txt")], ja4(line.split(";")))
