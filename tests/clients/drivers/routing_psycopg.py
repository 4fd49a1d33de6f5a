"""psycopg 3 through cutover in dual_write: plain (simple protocol), parameterized (extended),
prepare=True (a named server-side statement), and a write read back in the same session both
as a literal query (simple protocol, may go to new) and a parameterized one.
Usage: routing_psycopg.py PROXY_PORT OLD_PORT NEW_PORT (see drivers_routing_test.sh)."""

import psycopg
from psycopg import sql

import routing_common as rc

DRIVER = "psycopg"
BY_ID = "select name from items where id = %s"


def one_session(run, session):
    # Autocommit: otherwise psycopg opens a transaction before the first statement, and reads in
    # a read-write transaction always stay on old.
    with psycopg.connect(host="127.0.0.1", port=run.proxy_port, user="postgres",
                         dbname="postgres", application_name=f"{DRIVER}-{session}",
                         autocommit=True) as conn:
        run.step(session, "plain query")
        run.note_plain(session, conn.execute(rc.PLAIN_QUERY).fetchone()[0])

        for item_id in rc.ids_for(session):
            run.step(session, f"parameterized query, id {item_id}")
            got = conn.execute(BY_ID, (item_id,)).fetchone()[0]
            run.expect(session, f"item {item_id}", got, rc.name_of(item_id))

        for item_id in (3, rc.ids_for(session)[0]):
            run.step(session, f"prepare=True, id {item_id}")
            got = conn.execute(BY_ID, (item_id,), prepare=True).fetchone()[0]
            run.expect(session, f"prepared item {item_id}", got, rc.name_of(item_id))

        token = rc.token_for(DRIVER, session)
        run.step(session, "insert into driver_writes")
        conn.execute("insert into driver_writes (driver, session, token) values (%s, %s, %s)",
                     (DRIVER, session, token))
        want = [(DRIVER, session)]
        # No parameters: the simple protocol, so this read may go to new, which has the row:
        # the insert was mirrored there before it was acknowledged.
        run.step(session, "read-back from driver_writes, literal")
        literal = sql.SQL("select driver, session from driver_writes where token = {}").format(
            sql.Literal(token))
        run.expect(session, "literal read-back", conn.execute(literal).fetchall(), want)
        run.step(session, "read-back from driver_writes, parameterized")
        got = conn.execute("select driver, session from driver_writes where token = %s",
                           (token,)).fetchall()
        run.expect(session, "parameterized read-back", got, want)


if __name__ == "__main__":
    rc.parse_args(DRIVER).main(one_session)
