export default async function globalTeardown(): Promise<void> {
  await globalThis.__RLS_TEST_STOP__?.();
}
