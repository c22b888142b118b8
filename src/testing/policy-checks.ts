import type { EntityData, EntityManager, EntityName, FilterQuery } from '@mikro-orm/core';
import { isRlsEntityManager, type RlsEntityManagerLike } from '../core/adapter/rls-entity-manager-like';
import { tableLabel, type TableRef } from '../core/ddl/quote';
import { RlsConfigurationError } from '../core/errors/rls-configuration-error';
import { applicablePolicies, describeApplied, likelyCauses, type AppliedPolicy, type CheckedCommand } from './applicable-policies';
import { RlsPolicyAssertionError } from './policy-assertion-error';
import { rolledBack, type Outcome } from './rolled-back';

/**
 * An ORM configured with `withRls`, connected as the application role (see `initAppOrm`).
 *
 * @example
 * const checked: RlsCheckedOrm = orm; // MikroORM.init(withRls(...)) as the application role
 */
export interface RlsCheckedOrm {
  readonly em: EntityManager;
}

/**
 * The primary key value of a row (single-column keys).
 *
 * @example
 * const ids: RowId[] = [1, 2];
 */
export type RowId = string | number | bigint;

/**
 * The rows a check is about: exactly these primary keys, or every row matching a MikroORM filter.
 *
 * @example
 * const byIds: RlsRows<Item> = { ids: [1, 2] };
 * const byFilter: RlsRows<Item> = { where: { account: 1 } };
 */
export type RlsRows<T extends object> = { readonly ids: readonly RowId[]; readonly where?: never } | { readonly where: FilterQuery<T>; readonly ids?: never };

/**
 * What every check takes: the context to run as and the entity.
 *
 * @example
 * const check: RlsCheckOn<Item> = { as: { account_id: 1 }, entity: Item };
 */
export interface RlsCheckOn<T extends object> {
  /** The request context, as given to `forkWithRls`. */
  readonly as: object;
  readonly entity: EntityName<T>;
}

interface Subject {
  readonly em: RlsEntityManagerLike<object>;
  readonly label: string;
  readonly table: TableRef;
  readonly pk: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any entity's name; only its metadata is read
function subjectOf(orm: RlsCheckedOrm, entity: EntityName<any>): Subject {
  const em = orm?.em;
  if (!isRlsEntityManager(em)) {
    throw new RlsConfigurationError('mikro-orm-rls/testing: the ORM was not configured with withRls. Pass the ORM MikroORM.init(withRls(...)) returned (as the application role: initAppOrm).');
  }
  const meta = em.getMetadata(entity);
  if (meta.primaryKeys.length !== 1) {
    throw new RlsConfigurationError(`mikro-orm-rls/testing: ${meta.className} has a composite primary key (${meta.primaryKeys.join(', ')}); the kit's checks name and compare rows by a single-column primary key, so they do not support this entity. Check it with your own queries on em.forkWithRls(...) (rolled back in a transaction), or through an entity of a single-column key.`);
  }
  const schema = meta.schema ?? (em.config.get('schema') as string | undefined) ?? 'public';
  return { em, label: meta.className, table: { schema, name: meta.tableName }, pk: meta.primaryKeys[0] };
}

const sortIds = (ids: readonly RowId[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const sameIds = (a: readonly RowId[], b: readonly RowId[]) => a.length === b.length && sortIds(a).every((id, i) => String(id) === String(sortIds(b)[i]));
const showIds = (ids: readonly RowId[]) => `[${sortIds(ids).map(String).join(', ')}]`;
const showContext = (as: object | undefined) => (as === undefined ? 'without a context' : `as ${JSON.stringify(as, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);

async function idsIn(em: EntityManager, subject: Subject, where: FilterQuery<object>): Promise<RowId[]> {
  const rows = await em.find(subject.label, where, { fields: [subject.pk] as never });
  return rows.map((row) => (row as Record<string, RowId>)[subject.pk]);
}

/** Unwraps an outcome whose failure is not a refusal under test (a bug of the check's setup). */
function value<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** The rows the check targets, as the bypass role sees them (the kit needs `bypassRole` to know they exist). */
async function existingRows(subject: Subject, rows: RlsRows<object>): Promise<RowId[]> {
  let bypass: EntityManager;
  try {
    bypass = subject.em.fork().bypassRls();
  } catch (error) {
    throw new RlsConfigurationError(
      `mikro-orm-rls/testing needs withRls's bypassRole to see which ${subject.label} rows exist, so that a check of rows that do not exist cannot pass. (${(error as Error).message})`,
    );
  }
  const where = rows.ids ? { [subject.pk]: { $in: [...rows.ids] } } : rows.where!;
  const found = value(await rolledBack(bypass, (tx) => idsIn(tx, subject, where)));
  const missing = rows.ids ? rows.ids.filter((id) => !found.some((f) => String(f) === String(id))) : [];
  if (missing.length > 0 || found.length === 0) {
    const what = rows.ids ? `ids ${showIds(missing.length > 0 ? missing : rows.ids)}` : `rows matching ${JSON.stringify(rows.where)}`;
    throw new RlsConfigurationError(`mikro-orm-rls/testing: ${subject.label} has no ${what}, so the check would prove nothing. Seed them first (seedAsOwner).`);
  }
  return found;
}

/**
 * Refuses ids that do not exist, as every check naming rows does, where a check that needs no bypass role
 * failed (`expectCanSelect` with `ids`): a policy failure reported for rows never seeded misleads.
 */
async function refuseMissingIds(subject: Subject, ids: readonly RowId[]): Promise<void> {
  try {
    subject.em.fork().bypassRls();
  } catch {
    return; // no bypassRole: the kit cannot tell which rows exist, and the failure that follows names the rows seen
  }
  await existingRows(subject, { ids });
}

async function fail(subject: Subject, message: string, expected: unknown, actual: unknown, command: CheckedCommand, cause: 'widened' | 'refused', extra: readonly CheckedCommand[] = []): Promise<never> {
  const policies: AppliedPolicy[] = await applicablePolicies(subject.em.fork(), subject.table, [command, ...extra]);
  const commands = [command, ...extra].map((c) => c.toUpperCase()).join(' and ');
  const causes = likelyCauses(cause, policies, command);
  const text = [
    message,
    `Policies on ${tableLabel(subject.table)} that apply to ${commands} for this role (pg_policies):`,
    describeApplied(policies),
    ...(causes.length > 0 ? ['Likely cause:', ...causes.map((c) => `  - ${c}`)] : []),
  ].join('\n');
  throw new RlsPolicyAssertionError(text, expected, actual, policies);
}

/** Whether an error is PostgreSQL's (it carries a SQLSTATE), not MikroORM's own (a validation, say). */
const fromPostgres = (error: Error) => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
};

/**
 * PostgreSQL's words for a refusal, with the statement it refused: MikroORM's message is every statement
 * of the message sent (`BEGIN`, the scope's set_config, the statement) and ` - ` before PostgreSQL's text.
 * An error of MikroORM's own keeps its whole message: its first lines say what was wrong.
 */
function refusal(error: Error): string {
  if (!fromPostgres(error)) return error.message.replace(/\s*\n\s*/g, ' ');
  const last = error.message.split('\n').at(-1) ?? error.message;
  const at = last.lastIndexOf(' - ');
  const state = ` (SQLSTATE ${(error as { code?: string }).code})`;
  return at < 0 ? `${last}${state}` : `${last.slice(at + 3)}${state}, on: ${last.slice(0, at)}`;
}

/** Who refused: PostgreSQL, or MikroORM before anything was sent. */
const refuser = (error: Error) => (fromPostgres(error) ? 'PostgreSQL refused' : 'MikroORM refused it before sending it');

const isRlsRefusal = (error: Error) => (error as { rlsCode?: string }).rlsCode === 'RLS_VIOLATION' || /row-level security/.test(error.message);

/**
 * Passes when the context sees exactly the rows `ids` (of all the entity's rows), or every row matching
 * `where`; otherwise throws an {@link RlsPolicyAssertionError} with the rows it saw and the SELECT policies.
 *
 * @example
 * await expectCanSelect(orm, { as: { account_id: 1 }, entity: Item, ids: [1, 2] });
 * await expectCanSelect(orm, { as: { account_id: 1 }, entity: Item, where: { account: 1 } });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls, or (with `where`) no bypassRole, or the rows named do not exist.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCanSelect<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & RlsRows<NoInfer<T>>): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  const scoped = subject.em.fork().forkWithRls(check.as);
  if (check.ids) {
    const seen = value(await rolledBack(scoped, (tx) => idsIn(tx, subject, {})));
    if (sameIds(seen, check.ids)) return;
    await refuseMissingIds(subject, check.ids);
    // Rows seen that were not expected point at policies that let too much through; rows expected and
    // not seen at policies that let too little.
    const extra = seen.filter((id) => !check.ids.some((want) => String(want) === String(id)));
    await fail(subject, `${showContext(check.as)} on ${subject.label}: expected to see exactly the rows ${showIds(check.ids)}, but saw ${showIds(seen)}.`, sortIds(check.ids), sortIds(seen), 'select', extra.length > 0 ? 'widened' : 'refused');
  }
  const wanted = await existingRows(subject, check as RlsRows<object>);
  const seen = value(await rolledBack(scoped, (tx) => idsIn(tx, subject, check.where as FilterQuery<object>)));
  const hidden = wanted.filter((id) => !seen.some((s) => String(s) === String(id)));
  if (hidden.length === 0) return;
  await fail(subject, `${showContext(check.as)} on ${subject.label}: expected to see every row matching ${JSON.stringify(check.where)} (${showIds(wanted)}), but saw ${showIds(seen)}.`, sortIds(wanted), sortIds(seen), 'select', 'refused');
}

/**
 * Passes when the context sees none of the rows (which must exist: the bypass role checks that).
 *
 * @example
 * await expectCannotSelect(orm, { as: { account_id: 1 }, entity: Item, ids: [3] });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole, or the rows do not exist.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCannotSelect<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & RlsRows<NoInfer<T>>): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  const targets = await existingRows(subject, check as RlsRows<object>);
  const scoped = subject.em.fork().forkWithRls(check.as);
  const seen = value(await rolledBack(scoped, (tx) => idsIn(tx, subject, { [subject.pk]: { $in: targets } })));
  if (seen.length === 0) return;
  await fail(subject, `${showContext(check.as)} on ${subject.label}: expected to see none of the rows ${showIds(targets)}, but saw ${showIds(seen)}.`, [], sortIds(seen), 'select', 'widened');
}

/**
 * Passes when inserting `data` (`em.create` and `flush`, as an application does) succeeds; rolled back.
 *
 * @example
 * await expectCanInsert(orm, { as: { account_id: 1 }, entity: Item, data: { title: 'mine', account: 1 } });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCanInsert<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & { readonly data: EntityData<NoInfer<T>> }): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  const outcome = await rolledBack(subject.em.fork().forkWithRls(check.as), async (tx) => {
    tx.create(subject.label, check.data as never);
    await tx.flush();
  });
  if (outcome.ok) return;
  await fail(subject, `${showContext(check.as)} on ${subject.label}: expected to insert ${JSON.stringify(check.data)}, but ${refuser(outcome.error)}: ${refusal(outcome.error)}`, 'inserted', refusal(outcome.error), 'insert', 'refused', ['select']);
}

/**
 * Passes when row-level security refuses inserting `data` (another refusal, such as a NOT NULL
 * violation, fails the check: it would hide whether the policies refuse it).
 *
 * @example
 * await expectCannotInsert(orm, { as: { account_id: 1 }, entity: Item, data: { title: 'theirs', account: 2 } });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCannotInsert<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & { readonly data: EntityData<NoInfer<T>> }): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  const outcome = await rolledBack(subject.em.fork().forkWithRls(check.as), async (tx) => {
    tx.create(subject.label, check.data as never);
    await tx.flush();
  });
  if (!outcome.ok && isRlsRefusal(outcome.error)) return;
  const happened = outcome.ok ? 'PostgreSQL accepted it' : `it failed for another reason than row-level security: ${refusal(outcome.error)}`;
  await fail(subject, `${showContext(check.as)} on ${subject.label}: expected row-level security to refuse inserting ${JSON.stringify(check.data)}, but ${happened}.`, 'refused by row-level security', outcome.ok ? 'inserted' : refusal(outcome.error), 'insert', 'widened');
}

type WriteCommand = 'update' | 'delete';

async function write(subject: Subject, as: object, command: WriteCommand, targets: readonly RowId[], data?: EntityData<object>): Promise<Outcome<number>> {
  const where = { [subject.pk]: { $in: [...targets] } };
  return rolledBack(subject.em.fork().forkWithRls(as), (tx) => (command === 'update' ? tx.nativeUpdate(subject.label, where, data as never) : tx.nativeDelete(subject.label, where)));
}

async function expectWrite(orm: RlsCheckedOrm, check: RlsCheckOn<object> & RlsRows<object> & { readonly data?: EntityData<object> }, command: WriteCommand, allowed: boolean): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  const targets = await existingRows(subject, check);
  const outcome = await write(subject, check.as, command, targets, check.data);
  const what = `${command} the rows ${showIds(targets)}${check.data ? ` to ${JSON.stringify(check.data)}` : ''}`;
  const head = `${showContext(check.as)} on ${subject.label}: expected ${allowed ? `to ${what}` : `row-level security to stop it from doing ${what}`}`;
  if (allowed) {
    if (outcome.ok && outcome.value === targets.length) return;
    const happened = outcome.ok ? `only ${outcome.value} of ${targets.length} were reached (the others are not visible to ${command.toUpperCase()}'s USING)` : `${refuser(outcome.error)}: ${refusal(outcome.error)}`;
    await fail(subject, `${head}, but ${happened}.`, targets.length, outcome.ok ? outcome.value : refusal(outcome.error), command, 'refused', ['select']);
  }
  if (!outcome.ok ? isRlsRefusal(outcome.error) : outcome.value === 0) return;
  const happened = outcome.ok ? `${outcome.value} of them were ${command}d` : `it failed for another reason than row-level security: ${refusal(outcome.error)}`;
  await fail(subject, `${head}, but ${happened}.`, 0, outcome.ok ? outcome.value : refusal(outcome.error), command, 'widened');
}

/**
 * Passes when `em.nativeUpdate` of the rows to `data` reaches every one of them; rolled back.
 *
 * @example
 * await expectCanUpdate(orm, { as: { account_id: 1 }, entity: Item, ids: [1], data: { title: 'renamed' } });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole, or the rows do not exist.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCanUpdate<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & RlsRows<NoInfer<T>> & { readonly data: EntityData<NoInfer<T>> }): Promise<void> {
  await expectWrite(orm, check as never, 'update', true);
}

/**
 * Passes when updating the rows reaches none of them, or row-level security refuses the new values
 * (WITH CHECK).
 *
 * @example
 * await expectCannotUpdate(orm, { as: { account_id: 1 }, entity: Item, ids: [3], data: { title: 'hijacked' } });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole, or the rows do not exist.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCannotUpdate<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & RlsRows<NoInfer<T>> & { readonly data: EntityData<NoInfer<T>> }): Promise<void> {
  await expectWrite(orm, check as never, 'update', false);
}

/**
 * Passes when `em.nativeDelete` of the rows reaches every one of them; rolled back.
 *
 * @example
 * await expectCanDelete(orm, { as: { account_id: 1 }, entity: Item, ids: [1] });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole, or the rows do not exist.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCanDelete<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & RlsRows<NoInfer<T>>): Promise<void> {
  await expectWrite(orm, check as never, 'delete', true);
}

/**
 * Passes when deleting the rows reaches none of them.
 *
 * @example
 * await expectCannotDelete(orm, { as: { account_id: 1 }, entity: Item, where: { account: 2 } });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole, or the rows do not exist.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectCannotDelete<T extends object>(orm: RlsCheckedOrm, check: RlsCheckOn<T> & RlsRows<NoInfer<T>>): Promise<void> {
  await expectWrite(orm, check as never, 'delete', false);
}

/**
 * Passes when `em.bypassRls()` sees exactly the rows `ids` (every row: pass all the seeded ids).
 *
 * @example
 * await expectBypassSeesEverything(orm, { entity: Item, ids: [1, 2, 3] });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole.
 * @throws {RlsPolicyAssertionError} when bypass sees other rows than `ids`: which listed ids are not in the table, which rows are not listed.
 */
export async function expectBypassSeesEverything<T extends object>(orm: RlsCheckedOrm, check: { readonly entity: EntityName<T>; readonly ids: readonly RowId[] }): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  const seen = value(await rolledBack(subject.em.fork().bypassRls(), (tx) => idsIn(tx, subject, {})));
  if (sameIds(seen, check.ids)) return;
  const listed = new Set(check.ids.map(String));
  const found = new Set(seen.map(String));
  const missing = check.ids.filter((id) => !found.has(String(id)));
  const extra = seen.filter((id) => !listed.has(String(id)));
  // Bypass reads past every policy (the role check at the first query proves BYPASSRLS), so a listed id
  // it does not see is not in the table; a row it sees that is not listed means the list is incomplete.
  const why = [
    missing.length > 0 ? `${showIds(missing)} ${missing.length === 1 ? 'is' : 'are'} not in the table at all (bypass sees every row there is): check the seed or the ids.` : '',
    extra.length > 0 ? `${showIds(extra)} ${extra.length === 1 ? 'is a row' : 'are rows'} of the table that ids does not list: pass every seeded id.` : '',
  ].filter(Boolean);
  throw new RlsPolicyAssertionError(
    `As bypass on ${subject.label}: expected to see exactly the rows ${showIds(check.ids)}, but saw ${showIds(seen)}. ${why.join(' ')}`,
    sortIds(check.ids),
    sortIds(seen),
    [],
  );
}

/**
 * Passes when the application role without any context (a plain fork, no `forkWithRls`) sees no row of
 * the entity, which must have rows (the bypass role checks that).
 *
 * @example
 * await expectNoContextSeesNothing(orm, { entity: Item });
 *
 * @throws {RlsConfigurationError} when the ORM has no withRls or no bypassRole, or the table is empty.
 * @throws {RlsPolicyAssertionError} when the check fails: what was expected, what happened, the policies that apply.
 */
export async function expectNoContextSeesNothing<T extends object>(orm: RlsCheckedOrm, check: { readonly entity: EntityName<T> }): Promise<void> {
  const subject = subjectOf(orm, check.entity);
  await existingRows(subject, { where: {} });
  const seen = value(await rolledBack(subject.em.fork(), (tx) => idsIn(tx, subject, {})));
  if (seen.length === 0) return;
  await fail(subject, `${showContext(undefined)} on ${subject.label}: expected to see no row, but saw ${showIds(seen)}.`, [], sortIds(seen), 'select', 'widened');
}
