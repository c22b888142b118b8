import { sessionReset } from '../scope/session-reset-sql';
import { RlsSettings } from './rls-settings';

type SessionReset = ReturnType<typeof sessionReset>;

// Without context variables: the reset of an ORM not compiled yet, or of one without withRls.
const WITHOUT_VARIABLES = sessionReset([]);
// One reset per compiled declaration set (keyed by its codec, replaced when discovery compiles again):
// the pg client compares unscoped statements with it, on the hot path.
const COMPILED = new WeakMap<object, SessionReset>();

/**
 * The session reset of an ORM (its context variables, `<prefix>.<field>`, among what is reset). Before
 * discovery compiled the declarations, and on a connection of an ORM without withRls (tests hand such
 * transactions in, to see them refused), there are no variables of ours to reset.
 */
export function sessionResetOf(settings: unknown): SessionReset {
  if (!(settings instanceof RlsSettings) || !settings.isCompiled) return WITHOUT_VARIABLES;
  const codec = settings.codec;
  let reset = COMPILED.get(codec);
  if (!reset) {
    reset = sessionReset(codec.fields.map((field) => `${settings.prefix}.${field}`));
    COMPILED.set(codec, reset);
  }
  return reset;
}
