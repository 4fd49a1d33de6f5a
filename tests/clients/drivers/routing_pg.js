// node-postgres (npm `pg`) through cutover in dual_write: plain (simple protocol),
// parameterized (extended, unnamed), a named prepared query, and a write read back in the same
// session both as a literal query (simple protocol, may go to new) and a parameterized one,
// then updated by a condition that is not its key.
// Usage: NODE_PATH=.../node_modules node routing_pg.js PROXY_PORT OLD_PORT NEW_PORT
'use strict';

const crypto = require('crypto');
const { Client } = require('pg');

const DRIVER = 'pg';
const SESSIONS = 20;
const READS_PER_SESSION = 5;
const PLAIN_QUERY = "select current_setting('port')";
const BY_ID = 'select name from items where id = $1';

const [proxyPort, oldPort, newPort] = process.argv.slice(2).map(Number);
let where = 'connecting';
let plainOnNew = 0;
let plainOnOld = 0;

// The same ids and names as routing_common.py.
const idsFor = (session) =>
  Array.from({ length: READS_PER_SESSION }, (_, k) => ((session * 7 + k * 13) % 100) + 1);
const nameOf = (id) => `item ${id}`;

function expect(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

async function oneSession(session) {
  const step = (what) => { where = `session ${session}, ${what}`; };
  step('connecting');
  const client = new Client({
    host: '127.0.0.1', port: proxyPort, user: 'postgres', database: 'postgres',
    application_name: `${DRIVER}-${session}`,
  });
  await client.connect();
  try {
    step('plain query');
    const port = Number((await client.query(PLAIN_QUERY)).rows[0].current_setting);
    if (port === newPort) plainOnNew++;
    else if (port === oldPort) plainOnOld++;
    else throw new Error(`${PLAIN_QUERY} returned ${port}, neither old nor new`);

    for (const id of idsFor(session)) {
      step(`parameterized query, id ${id}`);
      expect(`item ${id}`, (await client.query(BY_ID, [id])).rows[0].name, nameOf(id));
    }

    for (const id of [3, idsFor(session)[0]]) {
      step(`named query by_id, id ${id}`);
      const result = await client.query({ name: 'by_id', text: BY_ID, values: [id] });
      expect(`named query item ${id}`, result.rows[0].name, nameOf(id));
    }

    const token = `${DRIVER}-${session}-${crypto.randomBytes(16).toString('hex')}`;
    step('insert into driver_writes');
    await client.query('insert into driver_writes (driver, session, token) values ($1, $2, $3)',
      [DRIVER, session, token]);
    const want = [{ driver: DRIVER, session }];
    // No values: the simple protocol, so this read may go to new, which has the row: the
    // insert was mirrored there before it was acknowledged.
    step('read-back from driver_writes, literal');
    const literal = await client.query(
      `select driver, session from driver_writes where token = ${client.escapeLiteral(token)}`);
    expect('literal read-back', literal.rows, want);
    step('read-back from driver_writes, parameterized');
    const bound = await client.query(
      'select driver, session from driver_writes where token = $1', [token]);
    expect('parameterized read-back', bound.rows, want);
    // Rows chosen by data, not by the whole key (token): mirrored by their effect, the same
    // rows get the same instant on new.
    step('update driver_writes by session');
    const touched = await client.query(
      'update driver_writes set at = now() where driver = $1 and session = $2', [DRIVER, session]);
    expect('rows touched', touched.rowCount, 1);
  } finally {
    await client.end();
  }
}

async function main() {
  if (![proxyPort, oldPort, newPort].every(Number.isInteger)) {
    console.error('usage: routing_pg.js PROXY_PORT OLD_PORT NEW_PORT');
    process.exit(2);
  }
  for (let session = 0; session < SESSIONS; session++) await oneSession(session);
  console.log(`${DRIVER}: sessions=${SESSIONS} plain_on_new=${plainOnNew} ` +
    `plain_on_old=${plainOnOld} errors=0`);
}

main().catch((e) => {
  console.error(`${DRIVER}: FAILED at ${where}: ${e.code ? `${e.code} ` : ''}${e.message}`);
  process.exit(1);
});
