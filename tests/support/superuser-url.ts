/**
 * The global setup runs in Jest's parent process before any worker is spawned, so an environment
 * variable it sets is inherited by every worker: that is how test files learn which server to use.
 */
export const SUPERUSER_URL_ENV = 'RLS_TEST_SUPERUSER_URL';

export function superuserUrl(): string {
  const url = process.env[SUPERUSER_URL_ENV];
  if (!url) {
    throw new Error(`${SUPERUSER_URL_ENV} is not set: run the tests through jest, whose global setup provides it.`);
  }
  return url;
}

/** host:port/database of a URL, for log lines that must not show passwords. */
export const describeServer = (url: string): string => {
  const { host, pathname } = new URL(url);
  return `${host}${pathname}`;
};
