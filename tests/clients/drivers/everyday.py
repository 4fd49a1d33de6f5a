"""Each Python driver's everyday calls through cutover in dual_write: what an application does
besides single statements. Every flow writes rows whose values the script knows, so the shell
test can compare old and new completely afterwards.

psycopg2: executemany, execute_values-style multi-row INSERT, a named (server-side) cursor
read while the same transaction writes, savepoints rolled back and released.
psycopg 3: executemany in pipeline mode, a pipeline of single inserts, a named cursor next
to writes, nested transaction blocks (savepoints).
asyncpg: executemany, a cursor iterated inside a transaction that also writes, nested
transactions (savepoints), copy_records_to_table naming every column (a COPY leaving a now()
default to each server is refused: WhileMirroringTest).
Each driver also updates and deletes rows chosen by a range rather than by the whole key,
which cutover mirrors by their effect: asyncpg's first execution of a statement goes to old in
pieces (after a COPY whose data it sent ahead of the server's answer), psycopg 3 prepares a
statement after five executions and pipelines the rest, and each driver's last flow deletes
ten rows, asyncpg's returning them.
psycopg 3 (pipelined) and asyncpg also insert ROWS rows each with executemany into `serials`,
whose key is a bigserial and whose other defaults are gen_random_uuid() and clock_timestamp():
values old computes, which cutover asks of old for every execution before the batch runs.

Usage: everyday.py PROXY_PORT ROWS. Prints one line per driver and exits non-zero on a
client-visible error.
"""

import asyncio
import datetime
import sys

import asyncpg
import psycopg
import psycopg2

PORT = int(sys.argv[1])
ROWS = int(sys.argv[2])
DSN = f"host=127.0.0.1 port={PORT} user=postgres dbname=postgres"


def rows_for(driver, flow, count=ROWS):
    return [(driver, flow, n, f"{driver} {flow} {n}") for n in range(count)]


def with_psycopg2():
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.executemany("insert into everyday (driver, flow, n, note) values (%s, %s, %s, %s)",
                    rows_for("psycopg2", "executemany"))
    conn.commit()
    values = ",".join(cur.mogrify("(%s,%s,%s,%s)", r).decode() for r in rows_for("psycopg2", "values"))
    cur.execute("insert into everyday (driver, flow, n, note) values " + values)
    conn.commit()
    named = conn.cursor(name="everyday_psycopg2")
    named.itersize = 50
    named.execute("select n from everyday where driver = 'psycopg2' and flow = 'executemany' order by n")
    seen = 0
    for (n,) in named:
        if n % 100 == 0:
            cur.execute("insert into everyday (driver, flow, n, note) values (%s, %s, %s, %s)",
                        ("psycopg2", "beside a cursor", n, "written while the cursor was open"))
        seen += 1
    named.close()
    conn.commit()
    assert seen == ROWS, seen
    cur.execute("savepoint a")
    cur.execute("insert into everyday (driver, flow, n, note) values ('psycopg2', 'savepoint', 1, 'rolled back')")
    cur.execute("rollback to savepoint a")
    cur.execute("insert into everyday (driver, flow, n, note) values ('psycopg2', 'savepoint', 2, 'kept')")
    cur.execute("release savepoint a")
    conn.commit()
    for low in range(0, 50, 10):
        cur.execute("update everyday set note = note || ' touched', at = now() where driver = %s"
                    " and flow = 'executemany' and n between %s and %s", ("psycopg2", low, low + 4))
        assert cur.rowcount == 5, cur.rowcount
    cur.execute("delete from everyday where driver = 'psycopg2' and flow = 'executemany' and n >= %s",
                (ROWS - 10,))
    assert cur.rowcount == 10, cur.rowcount
    conn.commit()
    conn.close()
    print("psycopg2 ok")


def with_psycopg():
    with psycopg.connect(DSN) as conn:
        with conn.pipeline():
            with conn.cursor() as cur:
                cur.executemany("insert into everyday (driver, flow, n, note) values (%s, %s, %s, %s)",
                                rows_for("psycopg", "executemany"))
                cur.executemany("insert into serials (driver, n) values (%s, %s)",
                                [("psycopg", n) for n in range(ROWS)])
                for row in rows_for("psycopg", "pipeline", 200):
                    cur.execute("insert into everyday (driver, flow, n, note) values (%s, %s, %s, %s)", row)
        conn.commit()
        with conn.transaction():
            with conn.cursor(name="everyday_psycopg") as named, conn.cursor() as cur:
                named.execute("select n from everyday where driver = 'psycopg' and flow = 'executemany' order by n")
                seen = 0
                for (n,) in named:
                    if n % 100 == 0:
                        cur.execute("insert into everyday (driver, flow, n, note) values (%s, %s, %s, %s)",
                                    ("psycopg", "beside a cursor", n, "written while the cursor was open"))
                    seen += 1
                assert seen == ROWS, seen
        with conn.transaction():
            conn.execute("insert into everyday (driver, flow, n, note) values ('psycopg', 'savepoint', 2, 'kept')")
            try:
                with conn.transaction():
                    conn.execute("insert into everyday (driver, flow, n, note) values ('psycopg', 'savepoint', 1, 'rolled back')")
                    raise RuntimeError("roll back the savepoint")
            except RuntimeError:
                pass
        touch = ("update everyday set note = note || ' touched', at = now() where driver = %s"
                 " and flow = 'executemany' and n between %s and %s")
        for low in range(0, 70, 10):  # prepared by psycopg from the sixth on
            assert conn.execute(touch, ("psycopg", low, low + 4)).rowcount == 5
        with conn.pipeline():
            with conn.cursor() as cur:
                cur.executemany(touch, [("psycopg", low, low + 2) for low in range(100, 150, 10)])
                cur.execute("delete from everyday where driver = 'psycopg' and flow = 'executemany'"
                            " and n >= %s", (ROWS - 10,))
        conn.commit()
    print("psycopg ok")


async def with_asyncpg():
    conn = await asyncpg.connect(host="127.0.0.1", port=PORT, user="postgres", database="postgres")
    try:
        await conn.executemany("insert into everyday (driver, flow, n, note) values ($1, $2, $3, $4)",
                               rows_for("asyncpg", "executemany"))
        await conn.executemany("insert into serials (driver, n) values ($1, $2)",
                               [("asyncpg", n) for n in range(ROWS)])
        async with conn.transaction():
            seen = 0
            async for record in conn.cursor(
                    "select n from everyday where driver = 'asyncpg' and flow = 'executemany' order by n",
                    prefetch=50):
                if record["n"] % 100 == 0:
                    await conn.execute("insert into everyday (driver, flow, n, note) values ($1, $2, $3, $4)",
                                       "asyncpg", "beside a cursor", record["n"],
                                       "written while the cursor was open")
                seen += 1
            assert seen == ROWS, seen
        async with conn.transaction():
            await conn.execute("insert into everyday (driver, flow, n, note) values ('asyncpg', 'savepoint', 2, 'kept')")
            try:
                async with conn.transaction():
                    await conn.execute("insert into everyday (driver, flow, n, note) values ('asyncpg', 'savepoint', 1, 'rolled back')")
                    raise RuntimeError("roll back the savepoint")
            except RuntimeError:
                pass
        at = datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc)
        await conn.copy_records_to_table(
            "everyday", records=[row + (at,) for row in rows_for("asyncpg", "copy")],
            columns=["driver", "flow", "n", "note", "at"])
        touch = ("update everyday set note = note || ' touched', at = now() where driver = 'asyncpg'"
                 " and flow = 'executemany' and n between $1 and $2")
        assert await conn.execute(touch, 0, 4) == "UPDATE 5"  # its first execution, in pieces
        await conn.executemany(touch, [(low, low + 2) for low in range(10, 60, 10)])
        deleted = await conn.fetch("delete from everyday where driver = 'asyncpg' and flow = 'executemany'"
                                   " and n >= $1 returning n", ROWS - 10)
        assert sorted(r["n"] for r in deleted) == list(range(ROWS - 10, ROWS)), deleted
    finally:
        await conn.close()
    print("asyncpg ok")


DRIVERS = sys.argv[3].split(",") if len(sys.argv) > 3 else ["psycopg2", "psycopg", "asyncpg"]
if "psycopg2" in DRIVERS:
    with_psycopg2()
if "psycopg" in DRIVERS:
    with_psycopg()
if "asyncpg" in DRIVERS:
    asyncio.run(with_asyncpg())
