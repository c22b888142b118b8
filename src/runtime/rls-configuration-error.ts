/** The ORM is not set up the way a call needs; the message says what to change. */
export class RlsConfigurationError extends Error {
  override readonly name = 'RlsConfigurationError';
}
