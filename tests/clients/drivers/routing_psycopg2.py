"""psycopg2 through cutover in dual_write: plain, parameterized (interpolated client-side, so
the simple protocol), SQL-level PREPARE/EXECUTE, and a write read back in the same session.
Usage: routing_psycopg2.py PROXY_PORT OLD_PORT NEW_PORT (see drivers_routing_test.sh)."""

import psycopg2

import routing_common as rc

DRIVER = "psycopg2"


def one_session(run, session):
    conn = psycopg2.connect(host="127.0.0.1", port=run.proxy_port, user="postgres",
                            dbname="postgres", application_name=f"{DRIVER}-{session}")
    # Autocommit: psycopg2 otherwise opens a transaction before the first statement, and reads
    # in a read-write transaction always stay on old.
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            run.step(session, "plain query")
            cur.execute(rc.PLAIN_QUERY)
            run.note_plain(session, cur.fetchone()[0])

            for item_id in rc.ids_for(session):
                run.step(session, f"parameterized query, id {item_id}")
                cur.execute("select name from items where id = %s", (item_id,))
                run.expect(session, f"item {item_id}", cur.fetchone()[0], rc.name_of(item_id))

            run.step(session, "PREPARE q")
            cur.execute("prepare q as select name from items where id = $1")
            for item_id in (3, rc.ids_for(session)[0]):
                run.step(session, f"EXECUTE q({item_id})")
                cur.execute(f"execute q({item_id})")
                run.expect(session, f"execute q({item_id})", cur.fetchone()[0],
                           rc.name_of(item_id))
            run.step(session, "DEALLOCATE q")
            cur.execute("deallocate q")

            token = rc.token_for(DRIVER, session)
            run.step(session, "insert into driver_writes")
            cur.execute("insert into driver_writes (driver, session, token) values (%s, %s, %s)",
                        (DRIVER, session, token))
            # A read that may go to new, which has the row: the insert was mirrored there
            # before it was acknowledged.
            run.step(session, "read-back from driver_writes")
            cur.execute("select driver, session from driver_writes where token = %s", (token,))
            run.expect(session, "read-back of its own write", cur.fetchall(), [(DRIVER, session)])
    finally:
        conn.close()


if __name__ == "__main__":
    rc.parse_args(DRIVER).main(one_session)
