import { RlsDeclarationError } from '../errors/rls-declaration-error';
/**
 * The SQL command a policy applies to, as in `CREATE POLICY ... FOR <command>`. A policy declared for
 * several commands becomes one PostgreSQL policy per command, its name ending in `_<command>`.
 *
 * @example
 * const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
 * const own = Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update], customExpr: (id) => sql`${column('owner_id')} = ${id}` });
 * // The first policy of entity Item (table "item"), with the default prefix `rls`, becomes two:
 * // create policy "item_permissive_1_select" on "public"."item" as permissive for select to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))
 * // create policy "item_permissive_1_update" on "public"."item" as permissive for update to public using ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("owner_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))
 */
export const Command = {
  select: 'select',
  insert: 'insert',
  update: 'update',
  delete: 'delete',
  all: 'all',
} as const;

export type Command = (typeof Command)[keyof typeof Command];

const KNOWN = new Set<string>(Object.values(Command));

/** Normalises `cmd` (one or many) to a non-empty, duplicate-free list, or throws saying what is allowed. */
export function normalizeCommands(cmd: Command | readonly Command[] | undefined, where: string): Command[] {
  const list = cmd === undefined ? [] : Array.isArray(cmd) ? [...cmd] : [cmd as Command];
  if (list.length === 0) {
    throw new RlsDeclarationError(`${where}: \`cmd\` is required; use one or more of Command.select, .insert, .update, .delete, .all.`);
  }
  for (const c of list) {
    if (!KNOWN.has(c)) {
      throw new RlsDeclarationError(`${where}: unknown command ${JSON.stringify(c)}; use Command.select, .insert, .update, .delete or .all.`);
    }
  }
  if (new Set(list).size !== list.length) {
    throw new RlsDeclarationError(`${where}: \`cmd\` lists the same command twice (${list.join(', ')}).`);
  }
  return list;
}
