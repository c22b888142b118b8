import type { PolicySpec } from '../ddl/policy-spec';
import { EXPLORED_COMMANDS, type ApplyingPolicy, type CommandAccess, type CommandState, type ExploredCommand, type TableAccess } from './policy-map';

type Policy = Pick<PolicySpec, 'name' | 'permissive' | 'command' | 'roles' | 'using' | 'withCheck'>;

function stateOf(enabled: boolean, policies: readonly ApplyingPolicy[]): CommandState {
  if (!enabled) return 'unprotected';
  if (!policies.some((p) => p.kind === 'permissive')) return 'refused';
  return policies.some((p) => p.kind === 'restrictive') ? 'restricted' : 'allowed';
}

function commandAccess(command: ExploredCommand, enabled: boolean, policies: readonly Policy[]): CommandAccess {
  const applying = policies
    .filter((p) => p.command === command || p.command === 'all')
    .map((p): ApplyingPolicy => ({ name: p.name, kind: p.permissive ? 'permissive' : 'restrictive', roles: [...p.roles], using: p.using, withCheck: p.withCheck, forAll: p.command === 'all' }));
  return { command, state: stateOf(enabled, applying), policies: applying };
}

/**
 * What a table's flags and policies add up to per command: the policies for it and for ALL, and whether
 * rows are allowed, restricted or refused. Roles are listed, not resolved: the state is what a role
 * the policies name gets (another role gets `refused` from a table with row level security).
 */
export function tableAccess(flags: { enabled: boolean; forced: boolean }, policies: readonly Policy[]): TableAccess {
  return { enabled: flags.enabled, forced: flags.forced, commands: EXPLORED_COMMANDS.map((c) => commandAccess(c, flags.enabled, policies)) };
}
