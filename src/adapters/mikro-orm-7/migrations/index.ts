// Placeholder until helper B's migrations land: helper B replaces this file with the policy-aware
// schema generator and Migrator for MikroORM 7 (the lead resolves the merge).
export function rlsExtensions(): readonly { register(orm: unknown): void }[] {
  return [];
}
