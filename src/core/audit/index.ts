export type { AuditFinding } from './audit-finding';
export { describeAuditTarget, type AuditTarget } from './audit-target';
export { readsSettingPerRow } from './unwrapped-settings';
