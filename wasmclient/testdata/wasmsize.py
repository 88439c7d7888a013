#!/usr/bin/env python3
"""Attributes a Go js/wasm binary's code to packages (go tool nm cannot read
wasm). Build without -s -w so the name section is present:

    GOOS=js GOARCH=wasm go build -trimpath -o /tmp/sb.wasm ./wasmclient
    python3 wasmclient/testdata/wasmsize.py /tmp/sb.wasm [TOP] [PREFIX]

prints the section sizes and the TOP (default 40) packages by code size;
with PREFIX (e.g. main. or github.com_switchboardhq), the TOP largest
functions whose name starts with it instead. Code bytes are uncompressed:
measure brotli -q 11 of builds with and without a change to know what it
saves on the wire.
"""
import collections
import sys


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def parse(path):
    b = open(path, 'rb').read()
    i, nimports, bodies, names, sections = 8, 0, [], {}, collections.Counter()
    while i < len(b):
        sid = b[i]
        size, i = leb(b, i + 1)
        end = i + size
        sections[sid] += size
        if sid == 2:  # imports: count the imported functions
            n, j = leb(b, i)
            for _ in range(n):
                for _ in range(2):
                    l, j = leb(b, j)
                    j += l
                kind = b[j]
                j += 1
                if kind == 0:
                    _, j = leb(b, j)
                    nimports += 1
                elif kind == 1:
                    fl = b[j + 1]
                    _, j = leb(b, j + 2)
                    if fl & 1:
                        _, j = leb(b, j)
                elif kind == 2:
                    fl = b[j]
                    _, j = leb(b, j + 1)
                    if fl & 1:
                        _, j = leb(b, j)
                elif kind == 3:
                    j += 2
        elif sid == 10:  # code
            n, j = leb(b, i)
            for _ in range(n):
                sz, k = leb(b, j)
                bodies.append(sz + (k - j))
                j = k + sz
        elif sid == 0:  # custom: the name section's function names
            l, j = leb(b, i)
            if b[j:j + l] == b'name':
                j += l
                while j < end:
                    sub = b[j]
                    ssz, j = leb(b, j + 1)
                    if sub == 1:
                        n, k = leb(b, j)
                        for _ in range(n):
                            idx, k = leb(b, k)
                            l, k = leb(b, k)
                            names[idx] = b[k:k + l].decode('utf-8', 'replace')
                            k += l
                    j += ssz
        i = end
    funcs = [(names.get(k + nimports, '?'), sz) for k, sz in enumerate(bodies)]
    return sections, funcs


def package(name):
    # Names look like github.com_owner_repo_pkg.Func: slashes became _.
    for dom in ('github.com_', 'golang.org_'):
        if name.startswith(dom):
            rest = name[len(dom):]
            return dom + rest.split('.', 1)[0]
    return name.split('.', 1)[0]


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    prefix = sys.argv[3] if len(sys.argv) > 3 else None
    sections, funcs = parse(path)
    total = sum(sz for _, sz in funcs)
    names = {0: 'custom', 1: 'type', 2: 'import', 3: 'function', 10: 'code', 11: 'data'}
    print('sections:', ', '.join(f'{names.get(k, k)} {v}' for k, v in sorted(sections.items())))
    print(f'code: {total} bytes in {len(funcs)} functions')
    if prefix:
        rows = sorted((f for f in funcs if f[0].startswith(prefix)), key=lambda f: -f[1])[:top]
        for name, sz in rows:
            print(f'{sz:9d} {name}')
        return
    by = collections.Counter()
    for name, sz in funcs:
        by[package(name)] += sz
    for p, sz in by.most_common(top):
        print(f'{sz:9d} {100 * sz / total:5.1f}% {p}')


if __name__ == '__main__':
    main()
