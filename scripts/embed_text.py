#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write a C file defining `const char SYMBOL[]` (NUL-terminated) and
`const size_t SYMBOL_len` holding the bytes of a text file, so a shipped
list (etc/doh-names.txt) is the compiler's default without a file lookup.

usage: embed_text.py INPUT OUTPUT SYMBOL
"""
import sys


def main():
    src, out, sym = sys.argv[1:4]
    data = open(src, 'rb').read()
    if b'\0' in data:
        sys.exit(f'{src}: contains a NUL byte')
    with open(out, 'w') as f:
        f.write(f'/* generated from {src.split("/")[-1]} by scripts/embed_text.py */\n')
        f.write('#include <stddef.h>\n\n')
        f.write(f'const char {sym}[] = {{\n')
        for i in range(0, len(data), 12):
            f.write('\t' + ', '.join(f'0x{b:02x}' for b in data[i:i + 12]) + ',\n')
        f.write('\t0x00\n};\n')
        f.write(f'const size_t {sym}_len = {len(data)};\n')


if __name__ == '__main__':
    main()
