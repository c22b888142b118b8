export { EmbeddedPostgresError } from './error';
export { canUseDataDir, startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './start';
