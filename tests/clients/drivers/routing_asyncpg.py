"""asyncpg through cutover in dual_write. asyncpg returns rows only through the extended
protocol (fetch*, prepare), and prepares each statement the first time with Parse, Describe
and Flush, in the same batch as its first execution: that batch runs on old (it parses a named
statement, and a Flush asks for answers before the batch is whole), later executions follow
the ramp. So the plain query's second run tells the session's side. conn.execute() without
arguments is its one simple-protocol call (no rows come back), used here for a plain read and
for a read of driver_writes that may go to new, which must have the mirrored row.
Usage: routing_asyncpg.py PROXY_PORT OLD_PORT NEW_PORT (see drivers_routing_test.sh)."""

import asyncio

import asyncpg

import routing_common as rc

DRIVER = "asyncpg"
BY_ID = "select name from items where id = $1"


async def session_body(run, session):
    conn = await asyncpg.connect(host="127.0.0.1", port=run.proxy_port, user="postgres",
                                 database="postgres",
                                 server_settings={"application_name": f"{DRIVER}-{session}"})
    try:
        run.step(session, "plain query, first run (prepares it, on old)")
        run.expect(session, "first plain query", int(await conn.fetchval(rc.PLAIN_QUERY)),
                   run.old_port)
        run.step(session, "plain query")
        run.note_plain(session, await conn.fetchval(rc.PLAIN_QUERY))
        run.step(session, "plain query, simple protocol (execute)")
        run.expect(session, "execute() status", await conn.execute(rc.PLAIN_QUERY), "SELECT 1")

        for item_id in rc.ids_for(session):
            run.step(session, f"parameterized query, id {item_id}")
            run.expect(session, f"item {item_id}", await conn.fetchval(BY_ID, item_id),
                       rc.name_of(item_id))

        run.step(session, "conn.prepare()")
        statement = await conn.prepare(BY_ID)
        for item_id in (3, rc.ids_for(session)[0]):
            run.step(session, f"prepared statement, id {item_id}")
            run.expect(session, f"prepared item {item_id}", await statement.fetchval(item_id),
                       rc.name_of(item_id))

        token = rc.token_for(DRIVER, session)
        run.step(session, "insert into driver_writes")
        await conn.execute("insert into driver_writes (driver, session, token) values ($1, $2, $3)",
                           DRIVER, session, token)
        # Simple protocol, may go to new: the insert was mirrored there before it was
        # acknowledged, so new answers with the row.
        run.step(session, "read of driver_writes, simple protocol (execute)")
        status = await conn.execute(
            f"select driver, session from driver_writes where token = '{token}'")
        run.expect(session, "execute() status of the read-back", status, "SELECT 1")
        run.step(session, "read-back from driver_writes, parameterized")
        rows = await conn.fetch("select driver, session from driver_writes where token = $1",
                                token)
        run.expect(session, "read-back", [tuple(r) for r in rows], [(DRIVER, session)])
    finally:
        await conn.close()


def one_session(run, session):
    asyncio.run(session_body(run, session))


if __name__ == "__main__":
    rc.parse_args(DRIVER).main(one_session)
