import { RlsDeclarationError } from '../errors/rls-declaration-error';
/**
 * The SQL command a policy applies to, as in `CREATE POLICY ... FOR <command>`.
 *
 * @example
 * Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update] })
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
