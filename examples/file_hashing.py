"""File hashing and compression: each file read into the worker's own buffer, hashed and compressed.

With no ``--input`` the example makes its own files (in the system's temporary directory); ``--input DIR`` hashes
the files of a directory of yours instead:

    orchbench compare -p examples/file_hashing.py -w files --strategies sequential threads asyncio processes hybrid
"""

import hashlib
import os
import random
import tempfile
import zlib

import orchbench

BUFFER = 1 << 20  # a worker's read buffer: files are read in pieces of this size


def sample_files(count):
    """A folder of ``count`` files of text-like bytes (made once), and its files."""
    folder = os.path.join(tempfile.gettempdir(), f"orchbench-example-{os.getuid()}", f"files-{count}")
    if not os.path.isdir(folder):
        partial = f"{folder}.{os.getpid()}.tmp"
        os.makedirs(partial, mode=0o700)
        rng = random.Random(count)
        words = [bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(2000)]
        for i in range(int(count)):
            with open(os.path.join(partial, f"file-{i:05}.txt"), "wb") as f:
                f.write(b" ".join(rng.choices(words, k=rng.randint(2_000, 60_000))))
        os.replace(partial, folder)
    return files_of(folder)


def files_of(folder):
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    return [os.path.join(folder, n) for n in names]


def items(source):
    return sample_files(source) if isinstance(source, int) else files_of(source)


def expected(paths):
    """The reference: each file read whole, hashed and compressed by the standard library's one-shot calls."""
    out = {}
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        out[os.path.basename(path)] = [hashlib.sha256(data).hexdigest(), len(zlib.compress(data, 6))]
    return out


@orchbench.workload(
    "files",
    items=items,
    cases={"small": 150, "large": 1_500},
    reduce=lambda pairs: dict(pairs),
    reference=expected,
    capacity=4,  # files open at once
)
def digest(path, buffer):
    sha, packer, packed = hashlib.sha256(), zlib.compressobj(6), 0
    view = memoryview(buffer)
    with open(path, "rb") as f:
        while n := f.readinto(buffer):
            sha.update(view[:n])
            packed += len(packer.compress(view[:n]))
    packed += len(packer.flush())
    return os.path.basename(path), [sha.hexdigest(), packed]


@digest.worker
def read_buffer():
    """One read buffer per worker, reused for every file it reads."""
    yield bytearray(BUFFER)


@orchbench.hookimpl
def orchbench_workloads():
    return [digest]
