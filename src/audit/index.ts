export { auditRls } from './audit-rls';
export type { AuditFinding } from './audit-finding';
export { readsSettingPerRow } from './unwrapped-settings';
