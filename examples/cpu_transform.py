"""A pure-Python CPU transform: the Collatz chain length of each number, with a memo per worker.

orchbench compare -p examples/cpu_transform.py -w collatz --strategies sequential threads asyncio processes hybrid
"""

import orchbench


def numbers(count):
    return [1_000_003 + 7 * i for i in range(int(count))]


def chain_length(n, memo):
    """Steps from ``n`` down to 1 (n/2 when even, 3n+1 when odd), remembering every length met on the way."""
    path = []
    while n != 1 and n not in memo:
        path.append(n)
        n = n // 2 if n % 2 == 0 else 3 * n + 1
    length = memo.get(n, 0)
    for m in reversed(path):
        length += 1
        memo[m] = length
    return length


def plain_length(n):
    """The reference: the same chain walked without a memo."""
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@orchbench.workload(
    "collatz",
    items=numbers,
    cases={"small": 6_000, "large": 60_000},
    reduce=lambda lengths: [sum(lengths), max(lengths)],
    reference=lambda items: [sum(map(plain_length, items)), max(map(plain_length, items))],
    capacity=4,  # CPU work: more at once than cores only waits for the GIL or a core
)
def collatz(n, memo):
    return chain_length(n, memo)


@collatz.worker
def memo_table():
    """A memo per worker: it grows as the worker's items meet chains others met before."""
    memo = {}
    yield memo
    memo.clear()


@orchbench.hookimpl
def orchbench_workloads():
    return [collatz]
