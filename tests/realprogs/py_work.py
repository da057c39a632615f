"""The python3 workload of tests/test_realprogs.sh.

Works on a few hundred MiB with the interpreter's own large allocations
(bytearray and bytes buffers, the item arrays of big lists, the tables of a
big dict, the strings json builds), all of which reach malloc at 1 MiB and
more and so become SBMA memory under LD_PRELOAD=libsbma.so. Everything is
derived from fixed seeds: the printed digests and the JSON file it writes
are the same in every run, with or without SBMA.

    python3 py_work.py OUT.json [MiB [SEED]]

Uses only the standard library (no numpy).
"""
import hashlib
import json
import random
import sys
import zlib


def main():
    out = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 160
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(20240611 + seed)

    # A big bytearray, filled block by block from a random 1 MiB block
    # pushed through a different translation table each time, then grown
    # by appending (realloc of a large block), reversed in place, hashed.
    block = rng.randbytes(1 << 20)
    buf = bytearray()
    for i in range(mib):
        table = bytes((j * (2 * i + 1) + i) & 0xFF for j in range(256))
        buf += block.translate(table)
    buf.reverse()
    print("bytearray", len(buf), hashlib.sha256(buf).hexdigest())
    print("crc32", zlib.crc32(buf), "md5", hashlib.md5(buf[::3]).hexdigest())

    # A big list of ints (its item array is SBMA memory), sorted.
    nums = list(memoryview(buf)[: 8 << 20].cast("I"))
    nums.sort()
    print("list", len(nums), nums[0], nums[len(nums) // 2], nums[-1], sum(nums[::97]))
    del nums

    # A big dict and a set, then their contents in a deterministic order.
    d = {}
    for i in range(600_000):
        d[rng.getrandbits(40)] = i
    keys = sorted(d)
    print("dict", len(d), keys[0], keys[-1], sum(d[k] for k in keys[::101]))
    s = set(keys[::3])
    print("set", len(s), sum(1 for k in keys if k in s))

    # JSON: a large document built as one string, written out, read back.
    rows = [{"id": i, "key": k, "val": d[k], "tag": "t%x" % (k & 0xFFFF)} for i, k in enumerate(keys[:200_000])]
    text = json.dumps(rows, sort_keys=True)
    with open(out, "w") as f:
        f.write(text)
    with open(out) as f:
        back = json.load(f)
    print("json", len(text), back == rows, hashlib.sha1(text.encode()).hexdigest())

    # Compression of the bytearray's first 32 MiB through zlib (growing
    # output buffers).
    z = zlib.compress(bytes(buf[: 32 << 20]), 1)
    print("zlib", len(z), zlib.decompress(z) == buf[: 32 << 20])


main()
