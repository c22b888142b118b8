/**
 * Whether an expression calls `current_setting(...)` outside any `(SELECT ...)`. Such a call is
 * evaluated once per row instead of once per statement (no InitPlan), which is slow on large tables.
 */
export function readsSettingPerRow(expression: string): boolean {
  const open: number[] = [];
  const lower = expression.toLowerCase();
  for (let i = 0; i < lower.length; i++) {
    if (lower[i] === '(') open.push(i);
    else if (lower[i] === ')') open.pop();
    else if (lower.startsWith('current_setting(', i)) {
      const wrapped = open.some((at) => /^\(\s*select\b/.test(lower.slice(at, at + 12)));
      if (!wrapped) return true;
    }
  }
  return false;
}
