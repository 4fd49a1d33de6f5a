"""COPY FROM STDIN through cutover in dual_write with the drivers' own copy APIs: psycopg2's
copy_expert, psycopg 3's cursor.copy and asyncpg's copy_records_to_table each load 500 rows
into `copied`. Each must report 500 rows; drivers_routing_test.sh then compares old and new.
Usage: copy_drivers.py PROXY_PORT"""

import asyncio
import io
import sys

import asyncpg
import psycopg
import psycopg2

ROWS = 500


def rows_for(driver):
    return [(driver, n, f"{driver} row {n}") for n in range(1, ROWS + 1)]


def with_psycopg2(port):
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    try:
        data = "".join(f"{d}\t{n}\t{text}\n" for d, n, text in rows_for("psycopg2"))
        with conn.cursor() as cur:
            cur.copy_expert("copy copied (driver, n, text) from stdin", io.StringIO(data))
            copied = cur.rowcount
        conn.commit()
        return copied
    finally:
        conn.close()


def with_psycopg(port):
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        with conn.cursor() as cur:
            with cur.copy("copy copied (driver, n, text) from stdin") as copy:
                for row in rows_for("psycopg"):
                    copy.write_row(row)
            return cur.rowcount


async def with_asyncpg(port):
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres",
                                 database="postgres")
    try:
        status = await conn.copy_records_to_table("copied", records=rows_for("asyncpg"),
                                                  columns=["driver", "n", "text"])
        return int(status.split()[-1])  # "COPY 500"
    finally:
        await conn.close()


def main():
    port = int(sys.argv[1])
    results = {
        "psycopg2": with_psycopg2(port),
        "psycopg": with_psycopg(port),
        "asyncpg": asyncio.run(with_asyncpg(port)),
    }
    for driver, copied in results.items():
        print(f"{driver}: copied {copied} rows")
    if any(copied != ROWS for copied in results.values()):
        sys.exit(f"every driver must copy {ROWS} rows: {results}")


if __name__ == "__main__":
    main()
