import type { MikroORM } from '@mikro-orm/core';
import type { AuditFinding } from '../../../core/audit/audit-finding';
import { auditReportIn, type AuditReport } from '../../../core/audit/audit-report';
import { inOrmTransaction } from '../policies/in-orm-transaction';
import { rlsSettingsOf } from '../../../core/settings/rls-settings';

export type { AuditReport } from '../../../core/audit/audit-report';

/**
 * {@link auditRls}, with the database and role it ran as: `describeAuditTarget(report.target)` gives the
 * lines `mikro-orm-rls audit` prints first, which say when that role is not a plain application role.
 * Read-only, in one transaction.
 *
 * @example
 * const { target, findings } = await auditRlsReport(orm);
 * console.log(describeAuditTarget(target).join('\n'));
 * if (findings.length > 0) process.exitCode = 1;
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`.
 */
export async function auditRlsReport(orm: MikroORM): Promise<AuditReport> {
  const settings = rlsSettingsOf(orm.config);
  return inOrmTransaction(orm.em, (db) => auditReportIn(db, settings));
}

/**
 * Checks, with the application's own connection, for setups that silently defeat RLS: a privileged
 * role, tables or partitions without ENABLE/FORCE, policies that differ from the declaration, policies
 * no declaration owns, policies that read no context, tables without RLS that reference RLS tables,
 * writes without SELECT, settings read per row, and views that bypass RLS. Read-only: changes nothing.
 *
 * @example
 * const findings = await auditRls(orm);
 * for (const f of findings) console.log(`${f.code}: ${f.message} Fix: ${f.fix}`);
 *
 * @throws {RlsConfigurationError} when the ORM was not set up with `withRls`.
 */
export async function auditRls(orm: MikroORM): Promise<AuditFinding[]> {
  return (await auditRlsReport(orm)).findings;
}
