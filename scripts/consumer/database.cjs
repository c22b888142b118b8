// Copied into the consumer project by scripts/consumer-test.mjs. Runs there, with the project's own
// @mikro-orm/postgresql: the roles and database a user sets up once, as a superuser.
//
// Three roles per database, named after `id`:
//   <id>_owner   owns the database and its tables; runs DDL and createPolicies
//   <id>_app     the application: LOGIN NOSUPERUSER NOBYPASSRLS, owns nothing, so RLS applies to it
//   <id>_bypass  NOLOGIN BYPASSRLS, granted to the application role, for bypassRls()
//
//   node database.cjs create <id>   prints the URLs as JSON
//   node database.cjs drop <id>     drops the database and the roles (what the test's clean-up runs)
'use strict';
const { MikroORM, EntitySchema } = require('@mikro-orm/postgresql');

/** An entity MikroORM.init needs to start; the superuser connection only runs raw SQL. */
const Placeholder = new EntitySchema({ name: 'Placeholder', properties: { id: { type: 'number', primary: true } } });

const quote = (name) => `"${name.replace(/"/g, '""')}"`;
const literal = (text) => `'${text.replace(/'/g, "''")}'`;

function namesFor(id) {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(id)) throw new Error(`Not a safe database id: ${id}`);
  return { database: id, owner: `${id}_owner`, app: `${id}_app`, bypass: `${id}_bypass` };
}

function urlFor(superUrl, database, role) {
  const url = new URL(superUrl);
  url.pathname = `/${database}`;
  if (role) {
    url.username = role;
    url.password = role; // Throw-away roles on a test server: the password is the role's name.
  }
  return url.toString();
}

/** Runs `statements` one by one as the superuser, outside any transaction (CREATE DATABASE needs that). */
async function asSuperuser(superUrl, statements) {
  const orm = await MikroORM.init({ clientUrl: superUrl, entities: [Placeholder], pool: { min: 0, max: 1 } });
  try {
    for (const statement of statements) await orm.em.getConnection().execute(statement);
  } finally {
    await orm.close(true);
  }
}

async function createTenantDatabase(superUrl, id) {
  const { database, owner, app, bypass } = namesFor(id);
  await asSuperuser(superUrl, [
    `create role ${quote(owner)} login nosuperuser nobypassrls password ${literal(owner)}`,
    `create role ${quote(app)} login nosuperuser nobypassrls nocreatedb nocreaterole password ${literal(app)}`,
    `create role ${quote(bypass)} nologin nosuperuser bypassrls`,
    `grant ${quote(bypass)} to ${quote(app)}`,
    `create database ${quote(database)} owner ${quote(owner)}`,
  ]);
  // The owner creates the tables later; default privileges give the other two roles what they need on them.
  await asSuperuser(urlFor(superUrl, database), [
    `grant usage on schema public to ${quote(app)}, ${quote(bypass)}`,
    `alter default privileges for role ${quote(owner)} grant select, insert, update, delete on tables to ${quote(app)}, ${quote(bypass)}`,
    `alter default privileges for role ${quote(owner)} grant usage, select, update on sequences to ${quote(app)}, ${quote(bypass)}`,
  ]);
  return { ownerUrl: urlFor(superUrl, database, owner), appUrl: urlFor(superUrl, database, app), bypassRole: bypass };
}

/** Throws unless RLS applies to the application role: not a superuser, no BYPASSRLS, owns no relation. */
async function assertAppRoleIsUnprivileged(superUrl, id) {
  const { database, app } = namesFor(id);
  const orm = await MikroORM.init({ clientUrl: urlFor(superUrl, database), entities: [Placeholder], pool: { min: 0, max: 1 } });
  try {
    const [role] = await orm.em.getConnection().execute(
      `select rolsuper, rolbypassrls,
              (select count(*)::int from pg_class c where pg_has_role(r.oid, c.relowner, 'usage')) as owned
         from pg_roles r where rolname = ${literal(app)}`,
    );
    if (!role || role.rolsuper || role.rolbypassrls || role.owned > 0) {
      throw new Error(`${app} must be NOSUPERUSER, NOBYPASSRLS and own nothing, found ${JSON.stringify(role)}`);
    }
  } finally {
    await orm.close(true);
  }
}

/** Drops what createTenantDatabase made; safe to run when some or all of it does not exist. */
async function dropTenantDatabase(superUrl, id) {
  const { database, owner, app, bypass } = namesFor(id);
  await asSuperuser(superUrl, [
    // FORCE terminates connections a failed script left open.
    `drop database if exists ${quote(database)} with (force)`,
    ...[app, bypass, owner].map((role) => `drop role if exists ${quote(role)}`),
  ]);
}

module.exports = { createTenantDatabase, assertAppRoleIsUnprivileged, dropTenantDatabase };

if (require.main === module) {
  const [command, id] = process.argv.slice(2);
  const superUrl = process.env.DATABASE_URL;
  const run = { create: createTenantDatabase, drop: dropTenantDatabase }[command];
  if (!run || !id || !superUrl) {
    console.error('Usage: DATABASE_URL=<superuser url> node database.cjs create|drop <id>');
    process.exit(2);
  }
  run(superUrl, id).then(
    (urls) => urls && console.log(JSON.stringify(urls)),
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
