import type { Command } from '../policy/command';
import type { AuditFinding } from './audit-finding';

/**
 * A table with policies for writes but none for SELECT (nor ALL): MikroORM writes with RETURNING, which
 * PostgreSQL refuses unless the written row is visible, so those writes fail. Shared by the audit (on the
 * live policies) and the policy explorer (on the declared or the live ones).
 */
export function writeWithoutSelectFinding(label: string, commands: readonly Command[]): AuditFinding | undefined {
  const present = new Set(commands);
  const writes = ['insert', 'update', 'delete'].filter((c) => present.has(c as Command));
  if (writes.length === 0 || present.has('select') || present.has('all')) return undefined;
  return {
    code: 'write-without-select',
    table: label,
    message: `${label} has policies for ${writes.join('/')} but none for SELECT: MikroORM's RETURNING makes those writes fail.`,
    fix: 'Add a select (or all) policy for the same rows.',
  };
}
