"""A SQLite lookup: one connection per worker (a SQLite connection belongs to the thread that opened it).

The example makes its own database of orders (in the system's temporary directory) the first time it runs:

    orchbench compare -p examples/sqlite_lookup.py -w orders --strategies sequential threads asyncio processes hybrid
"""

import os
import sqlite3
import tempfile

import orchbench

ORDERS = 20_000


def order_total(order_id):
    """The total of an order, as the database holds it (and as the reference recomputes it)."""
    return (order_id * 7919) % 10_000 / 100


def database():
    """The path of the orders database, made once (atomically: a half-written one is never used)."""
    folder = os.path.join(tempfile.gettempdir(), f"orchbench-example-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, f"orders-{ORDERS}.sqlite")
    if not os.path.exists(path):
        partial = f"{path}.{os.getpid()}.tmp"
        db = sqlite3.connect(partial)
        with db:
            db.execute("create table orders (id integer primary key, total real not null, note text)")
            rows = ((i, order_total(i), f"order {i} " * 20) for i in range(ORDERS))
            db.executemany("insert into orders values (?, ?, ?)", rows)
        db.close()
        os.replace(partial, path)
    return path


def order_ids(count):
    """The ids of the first ``count`` orders, in a scattered order (the database is made if need be)."""
    database()
    count = min(int(count), ORDERS)
    return [(i * 7) % count for i in range(count)]


@orchbench.workload(
    "orders",
    items=order_ids,
    cases={"small": 2_000, "large": 20_000},
    reduce=lambda totals: round(sum(totals), 2),
    reference=lambda ids: round(sum(order_total(i) for i in ids), 2),
    capacity=4,  # readers worth running at once on this database
    retry_on=(sqlite3.OperationalError,),  # "database is locked": worth another try
)
def lookup(order_id, db):
    (total,) = db.execute("select total from orders where id = ?", (order_id,)).fetchone()
    return total


@lookup.worker
def open_db():
    """One read-only connection per worker, closed after the worker's last item."""
    db = sqlite3.connect(f"file:{database()}?mode=ro", uri=True)
    yield db
    db.close()


@orchbench.hookimpl
def orchbench_workloads():
    return [lookup]
