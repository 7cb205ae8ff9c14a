#!/usr/bin/env python3
"""Which B-trees a queue commit writes: classifies the valid frames of a copy
of an SQLite WAL (e.g. `cp data/imgbatch.db-wal /tmp/w` while
bench/queue/run.sh runs with KEEP=1) by the page each frame holds, and prints
frames per commit for each kind. Not a test; see docs/benchmarks.md
"Backlog (session 6)".

Kinds: the queue_messages table (leaf records of >= 10 columns), its
interior pages, the index leaves/interiors told apart by the column count of
their first cell's record (queue_messages_visible: 5 with the rowid,
queue_messages_seq: 3), other small tables (e.g. sqlite_sequence: 2 columns),
page 1, and pages with no B-tree header (freelist trunks, zeroed freed pages,
overflow pages).

usage: bench/queue/wal_frames.py WAL_COPY
"""
import collections
import struct
import sys


def varint(b, i):
    v = 0
    for k in range(9):
        c = b[i + k]
        if k == 8:
            return (v << 8) | c, i + 9
        v = (v << 7) | (c & 0x7F)
        if c < 0x80:
            return v, i + k + 1


def kind(page, pgno):
    if pgno == 1:
        return 'page 1'
    t = page[0]
    if t not in (2, 5, 10, 13):
        return 'no b-tree header (freelist, zeroed, overflow)'
    if t == 5:
        return 'table interior'
    ncell = struct.unpack('>H', page[3:5])[0]
    if ncell == 0:
        return 'empty b-tree page'
    header = 12 if t == 2 else 8
    i = struct.unpack('>H', page[header:header + 2])[0]
    if t == 2:
        i += 4  # left child pointer
    _, i = varint(page, i)  # payload size
    if t == 13:
        _, i = varint(page, i)  # rowid
    size, j = varint(page, i)
    columns = 0
    while j < i + size:
        _, j = varint(page, j)
        columns += 1
    if t == 13:
        return 'queue_messages leaf' if columns >= 10 else f'{columns}-column table leaf'
    name = {5: 'queue_messages_visible', 3: 'queue_messages_seq'}.get(columns, f'{columns}-column index')
    return name + (' interior' if t == 2 else ' leaf')


def main():
    data = open(sys.argv[1], 'rb').read()
    _, _, page_size, _, salt1, salt2 = struct.unpack('>IIIIII', data[:24])
    frame = 24 + page_size
    frames = collections.Counter()
    pages = collections.defaultdict(set)
    commits = total = 0
    for off in range(32, len(data) - frame + 1, frame):
        pgno, commit_size, s1, s2 = struct.unpack('>IIII', data[off:off + 16])
        if (s1, s2) != (salt1, salt2):
            break  # a frame of an earlier WAL generation: the valid ones end here
        k = kind(data[off + 24:off + frame], pgno)
        frames[k] += 1
        pages[k].add(pgno)
        total += 1
        commits += commit_size != 0
    print(f'{total} valid frames, {commits} commits, {total / max(1, commits):.2f} frames per commit')
    for k, n in frames.most_common():
        print(f'  {k:46s} {n / max(1, commits):6.2f} per commit  ({len(pages[k])} distinct pages)')


if __name__ == '__main__':
    main()
