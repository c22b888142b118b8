import type { Policy } from '../policy/policy';
import { renderExpression } from './expression';
import { fitIdentifier } from './policy-name';
import { usesUsing, usesWithCheck, type PolicySpec, type TableRlsSpec } from './policy-spec';
import { tableLabel, type TableRef } from './quote';
import { RlsDeclarationError } from '../errors/rls-declaration-error';

export interface CompileOptions {
  /** Prefix of the session variables, e.g. `rls` for `rls.account_id`. */
  readonly prefix: string;
  readonly force: boolean;
  /** The table's columns; when given, a policy naming any other column is an error at start-up. */
  readonly columns?: readonly string[];
}

/**
 * Turns the policies declared for one table into the PostgreSQL policies that implement them: one per
 * command, named `<customPolicyName or table_kind_N>_<command>`, never longer than 63 bytes.
 */
export function compileTablePolicies(table: TableRef, policies: readonly Policy[], options: CompileOptions): TableRlsSpec {
  const known = options.columns ? new Set(options.columns) : undefined;
  const checkColumn = (policyName: string) => (name: string) => {
    if (known && !known.has(name)) {
      throw new RlsDeclarationError(
        `Policy "${policyName}" on ${tableLabel(table)} references column "${name}", which the table does not have. ` +
          `Its columns are: ${[...known].join(', ')}. column() takes database column names.`,
      );
    }
  };
  const specs: PolicySpec[] = [];
  policies.forEach((policy, index) => {
    const base = policy.customPolicyName ?? `${table.name}_${policy.kind}_${index + 1}`;
    const using = renderExpression(policy.using, options.prefix, checkColumn(base));
    const withCheck = policy.withCheck ? renderExpression(policy.withCheck, options.prefix, checkColumn(base)) : using;
    for (const command of policy.commands) {
      specs.push({
        name: fitIdentifier(`${base}_${command}`),
        permissive: policy.kind === 'permissive',
        command,
        roles: [...policy.roles],
        using: usesUsing(command) ? using : null,
        withCheck: usesWithCheck(command) ? withCheck : null,
      });
    }
  });
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name)) {
      throw new RlsDeclarationError(
        `Two policies on ${tableLabel(table)} would both be named "${spec.name}". Give them distinct customPolicyName values.`,
      );
    }
    seen.add(spec.name);
  }
  return { table, force: options.force, policies: specs };
}
