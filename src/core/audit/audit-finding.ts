/**
 * One problem `auditRls` found, with what to do about it.
 *
 * @example
 * const finding: AuditFinding = {
 *   code: 'table-not-forced',
 *   table: 'public.item',
 *   message: 'public.item is not FORCE ROW LEVEL SECURITY: its owner bypasses the policies.',
 *   fix: 'ALTER TABLE "public"."item" FORCE ROW LEVEL SECURITY;',
 * };
 */
export interface AuditFinding {
  /** Stable identifier of the check, e.g. `role-bypassrls`. */
  readonly code: string;
  /** `schema.table` the finding is about, when it is about one. */
  readonly table?: string;
  /** What is wrong and why it matters, in a sentence. */
  readonly message: string;
  /** A suggested fix, usually SQL or a command. */
  readonly fix: string;
}
