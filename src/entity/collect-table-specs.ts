import type { EntityMetadata, MetadataStorage } from '@mikro-orm/core';
import { compileTablePolicies } from '../ddl/compile-policies';
import type { TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import type { ValueKind } from '../policy/pg-type';
import type { Policy } from '../policy/policy';
import { declaredOnClass } from './rls-decorator';
import type { RlsEntityOptions } from './rls-entity-options';

export interface CollectedRls {
  readonly tables: readonly TableRlsSpec[];
  /** Every table of an entity, with or without policies: where managed policies may need dropping. */
  readonly entityTables: readonly TableRef[];
  /** Every variable the policies read, with the kind of value it holds. */
  readonly variables: ReadonlyMap<string, ValueKind>;
}

/**
 * Finds an entity's metadata by class name. Abstract base schemas are not kept in the final metadata
 * storage, so the caller also remembers what discovery saw.
 */
export type MetadataLookup = (className: string) => EntityMetadata | undefined;

interface Declaration {
  readonly policies: readonly Policy[];
  readonly force?: boolean;
}

/** Own declarations of one entity: `rls` on its schema/metadata, or `@Rls` on its class. */
function ownDeclaration(meta: EntityMetadata): RlsEntityOptions | undefined {
  return meta.rls ?? declaredOnClass(meta.class);
}

/** Declarations from the root of the inheritance chain down to `meta`, base entities first. */
function inheritedDeclarations(meta: EntityMetadata, lookup: MetadataLookup): Declaration[] {
  const chain: Declaration[] = [];
  const own = ownDeclaration(meta);
  if (own) chain.unshift(own);
  // Class inheritance: walk the prototype chain (abstract bases need not be entities).
  let proto = meta.class ? Object.getPrototypeOf(meta.class) : null;
  while (proto && proto !== Function.prototype) {
    const found = declaredOnClass(proto);
    if (found) chain.unshift(found);
    proto = Object.getPrototypeOf(proto);
  }
  // Schema inheritance (`extends` in EntitySchema / defineEntity), through abstract bases too.
  let parent = typeof meta.extends === 'string' ? lookup(meta.extends) : undefined;
  while (parent) {
    if (parent.rls) chain.unshift(parent.rls);
    parent = typeof parent.extends === 'string' ? lookup(parent.extends) : undefined;
  }
  return [...new Set(chain)];
}

function defaultSchema(meta: EntityMetadata, fallback: string): string {
  return meta.schema && meta.schema !== '*' ? meta.schema : fallback;
}

/**
 * Entity metadata -> the RLS state of each table. Runs once, right after discovery, so every policy is
 * rendered to SQL text before MikroORM's metadata cache could drop its functions.
 */
export function collectTableSpecs(
  storage: MetadataStorage,
  options: { prefix: string; defaultSchema: string; lookup?: MetadataLookup },
): CollectedRls {
  const lookup: MetadataLookup = (name) => options.lookup?.(name) ?? (storage.has(name) ? storage.get(name) : undefined);
  const tables: TableRlsSpec[] = [];
  const entityTables: TableRef[] = [];
  const variables = new Map<string, ValueKind>();
  const variableTypes = new Map<string, string>();
  for (const meta of Object.values(storage.getAll())) {
    if (meta.embeddable || meta.virtual || meta.abstract || !meta.tableName) continue;
    const isStiChild = meta.root && meta.root !== meta && meta.root.className !== meta.className;
    if (isStiChild) {
      if (ownDeclaration(meta)) {
        throw new Error(
          `Entity ${meta.className} declares RLS policies, but it shares table "${meta.tableName}" with ${meta.root.className} ` +
            '(single table inheritance). Policies apply to whole tables: declare them on the root entity.',
        );
      }
      continue;
    }
    if (meta.schema === '*') {
      if (ownDeclaration(meta)) {
        throw new Error(`Entity ${meta.className} uses schema '*' (any schema); RLS policies need a fixed schema.`);
      }
      continue;
    }
    const table = { schema: defaultSchema(meta, options.defaultSchema), name: meta.tableName };
    entityTables.push(table);
    const declarations = inheritedDeclarations(meta, lookup);
    if (declarations.length === 0) continue;
    const policies = declarations.flatMap((d) => d.policies);
    const force = declarations.reduce<boolean | undefined>((acc, d) => d.force ?? acc, undefined) ?? true;
    for (const policy of policies) {
      for (const arg of policy.conditionArgs) {
        const seen = variableTypes.get(arg.comparatorName);
        if (seen !== undefined && seen !== arg.type.sqlName) {
          throw new Error(
            `Condition arg "${arg.comparatorName}" is declared as ${seen} in one policy and ${arg.type.sqlName} in another ` +
              `(entity ${meta.className}). One context variable has one type: use the same type everywhere.`,
          );
        }
        variableTypes.set(arg.comparatorName, arg.type.sqlName);
        variables.set(arg.comparatorName, arg.type.kind);
      }
    }
    const columns = meta.props.flatMap((p) => p.fieldNames ?? []);
    tables.push(compileTablePolicies(table, policies, { prefix: options.prefix, force, columns }));
  }
  return { tables, entityTables, variables };
}
