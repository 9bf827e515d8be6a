"""The smallest pipeline of one's own: items from a file, one async call per item, a sum.

orchbench compare -p examples/my_pipeline.py -w line-lengths --input README.md --strategies sequential asyncio
"""

import asyncio

import orchbench


def lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


@orchbench.workload("line-lengths", items=lines, reduce=sum, reference=lambda items: sum(map(len, items)))
async def measure(line):
    await asyncio.sleep(0.01)  # the real call goes here: a request, a query, a model
    return len(line)


@orchbench.hookimpl
def orchbench_workloads():
    return [measure]
