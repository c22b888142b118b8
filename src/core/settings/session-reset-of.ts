import { sessionReset } from '../scope/session-reset-sql';
import { RlsSettings } from './rls-settings';

/** The context variables of an ORM's settings, as `<prefix>.<field>`; none before discovery compiled them. */
function contextVariables(settings: unknown): string[] {
  if (!(settings instanceof RlsSettings) || !settings.isCompiled) return [];
  return settings.codec.fields.map((field) => `${settings.prefix}.${field}`);
}

/**
 * The session reset of an ORM (its context variables among what is reset). A connection of an ORM without
 * withRls (tests hand such transactions in, to see them refused) has no variables of ours to reset.
 */
export function sessionResetOf(settings: unknown): { sql: string; results: number } {
  return sessionReset(contextVariables(settings));
}
