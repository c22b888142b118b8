/** One problem `auditRls` found, with what to do about it. */
export interface AuditFinding {
  /** Stable identifier of the check, e.g. `role-bypassrls`. */
  readonly code: string;
  /** `schema.table` the finding is about, when it is about one. */
  readonly table?: string;
  readonly message: string;
  /** A suggested fix, usually SQL or a command. */
  readonly fix: string;
}
