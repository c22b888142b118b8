import type { EntityMetadata, MetadataStorage } from '@mikro-orm/core';
import { compileTablePolicies } from '../ddl/compile-policies';
import type { PolicySpec, TableRlsSpec } from '../ddl/policy-spec';
import type { TableRef } from '../ddl/quote';
import type { ValueKind } from '../policy/pg-type';
import type { Policy } from '../policy/policy';
import { MAX_IDENTIFIER_BYTES } from '../ddl/policy-name';
import { tableLabel } from '../ddl/quote';
import { RlsConfigurationError } from '../errors/rls-configuration-error';
import { linkEnds, pivotPolicy, relationsOfPivot, type PivotRelation } from './pivot-policies';
import { declaredOnClass } from './rls-decorator';
import type { RlsEntityOptions } from './rls-entity-options';
import { RlsDeclarationError } from '../errors/rls-declaration-error';
import { allMetadata, parentClassName, propertiesOf, rlsOptionsOf } from './metadata-access';
import { nativeDeclaration, refuseRlsFilters, type NativeDeclaration } from './native-policies';

export interface CollectedRls {
  readonly tables: readonly TableRlsSpec[];
  /** Every table of an entity, with or without policies: where managed policies may need dropping. */
  readonly entityTables: readonly TableRef[];
  /** Every variable the policies read, with the kind of value it holds. */
  readonly variables: ReadonlyMap<string, ValueKind>;
  /** Pivot tables left without policies on purpose (`rls.pivotTables: { <relation>: false }`). */
  readonly optedOutPivotTables: readonly TableRef[];
}

/**
 * Finds an entity's metadata by class name. Abstract base schemas are not kept in the final metadata
 * storage, so the caller also remembers what discovery saw.
 */
export type MetadataLookup = (className: string) => EntityMetadata | undefined;

interface Declaration {
  readonly policies: readonly Policy[];
  readonly force?: boolean;
  readonly pivotTables?: Readonly<Record<string, boolean>>;
}

/** What a chain of declarations (base entities first) amounts to for one table. */
interface TableDeclaration {
  readonly policies: readonly Policy[];
  readonly force: boolean;
  readonly pivotTables: Readonly<Record<string, boolean>>;
  /** Policies declared through MikroORM 7's own `policies` option, already rendered. */
  readonly nativePolicies: readonly PolicySpec[];
}

function merge(meta: EntityMetadata, declarations: readonly Declaration[], native?: NativeDeclaration): TableDeclaration {
  const pivotTables: Record<string, boolean> = Object.assign({}, ...declarations.map((d) => d.pivotTables ?? {}));
  for (const [name, value] of Object.entries(pivotTables)) {
    const prop = propertiesOf(meta).find((p) => p.name === name);
    if (prop?.kind !== 'm:n' || typeof value !== 'boolean') {
      const relations = propertiesOf(meta).filter((p) => p.kind === 'm:n' && !p.name.endsWith('__inverse')).map((p) => p.name);
      throw new RlsConfigurationError(
        `Entity ${meta.className} sets rls.pivotTables.${name} = ${JSON.stringify(value)}, but pivotTables takes the entity's ` +
          `m:n property names with true or false; its m:n properties are: ${relations.join(', ') || '(none)'}.`,
      );
    }
  }
  const declaredForce = declarations.reduce<boolean | undefined>((acc, d) => d.force ?? acc, undefined);
  return {
    policies: declarations.flatMap((d) => d.policies),
    // Native declarations alone keep their native meaning (FORCE only with rowLevelSecurity: 'force').
    force: declarations.length === 0 ? native!.force : (declaredForce ?? true) || native?.force === true,
    pivotTables,
    nativePolicies: native?.policies ?? [],
  };
}

/** PostgreSQL would silently truncate a longer name, and the policies would then name another table. */
function refuseLongName(meta: EntityMetadata, table: TableRef): void {
  for (const [what, name] of [['schema', table.schema], ['table', table.name]] as const) {
    if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
      throw new RlsConfigurationError(
        `Entity ${meta.className}: ${what} name "${name}" (of ${tableLabel(table)}) is ${Buffer.byteLength(name)} bytes long; ` +
          `PostgreSQL keeps only ${MAX_IDENTIFIER_BYTES} bytes of a name and truncates the rest, so its RLS policies could not be ` +
          `managed reliably. Give it a name of at most ${MAX_IDENTIFIER_BYTES} bytes (tableName / schema, or pivotTable on an m:n relation).`,
      );
    }
  }
}

/** Native policies next to this package's on one table: one name may not mean two policies. */
function withDistinctNames(meta: EntityMetadata, ours: readonly PolicySpec[], native: readonly PolicySpec[]): readonly PolicySpec[] {
  const clash = native.find((p) => ours.some((o) => o.name === p.name));
  if (clash) {
    throw new RlsDeclarationError(
      `Entity ${meta.className}: its native policy "${clash.name}" has the name of a policy its rls declaration generates. Rename one of them.`,
    );
  }
  return native;
}

/** Own declarations of one entity: `rls` on its schema/metadata, or `@Rls` on its class. */
function ownDeclaration(meta: EntityMetadata): RlsEntityOptions | undefined {
  return rlsOptionsOf(meta) ?? declaredOnClass(meta.class);
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
  const parentOf = (m: EntityMetadata) => {
    const name = parentClassName(m);
    return name === undefined ? undefined : lookup(name);
  };
  for (let parent = parentOf(meta); parent; parent = parentOf(parent)) {
    const declared = rlsOptionsOf(parent);
    if (declared) chain.unshift(declared);
  }
  return [...new Set(chain)];
}

function defaultSchema(meta: EntityMetadata, fallback: string): string {
  return meta.schema && meta.schema !== '*' ? meta.schema : fallback;
}

/** `pivotTables: { <relation>: false }` on either side of the relation. */
function optedOut(relation: PivotRelation, declared: ReadonlyMap<string, TableDeclaration>): boolean {
  const inverse = relation.prop.inversedBy;
  return (
    declared.get(relation.owner.className)?.pivotTables[relation.prop.name] === false ||
    (inverse !== undefined && declared.get(relation.target.className)?.pivotTables[inverse] === false)
  );
}

/**
 * Entity metadata -> the RLS state of each table. Runs once, right after discovery, so every policy is
 * rendered to SQL text before MikroORM's metadata cache could drop its functions.
 */
export function collectTableSpecs(
  storage: MetadataStorage,
  options: { prefix: string; defaultSchema: string; lookup?: MetadataLookup },
): CollectedRls {
  const metas = allMetadata(storage);
  const lookup: MetadataLookup = (name) => options.lookup?.(name) ?? metas.find((m) => m.className === name);
  const tables: TableRlsSpec[] = [];
  const entityTables: TableRef[] = [];
  const variables = new Map<string, ValueKind>();
  const variableTypes = new Map<string, string>();
  const tableOf = (meta: EntityMetadata): TableRef => ({ schema: defaultSchema(meta, options.defaultSchema), name: meta.tableName });
  const declared = new Map<string, TableDeclaration>();
  const pivots: EntityMetadata[] = [];
  const optedOutPivotTables: TableRef[] = [];
  for (const meta of metas) {
    if (meta.embeddable || meta.virtual || meta.abstract || !meta.tableName) continue;
    refuseRlsFilters(meta);
    const isStiChild = meta.root && meta.root !== meta && meta.root.className !== meta.className;
    if (isStiChild) {
      if (ownDeclaration(meta)) {
        throw new RlsDeclarationError(
          `Entity ${meta.className} declares RLS policies, but it shares table "${meta.tableName}" with ${meta.root.className} ` +
            '(single table inheritance). Policies apply to whole tables: declare them on the root entity.',
        );
      }
      continue;
    }
    if (meta.schema === '*') {
      if (ownDeclaration(meta)) {
        throw new RlsDeclarationError(`Entity ${meta.className} uses schema '*' (any schema); RLS policies need a fixed schema.`);
      }
      continue;
    }
    entityTables.push(tableOf(meta));
    const declarations = inheritedDeclarations(meta, lookup);
    const native = nativeDeclaration(meta);
    if (declarations.length > 0 || native) declared.set(meta.className, merge(meta, declarations, native));
    else if (meta.pivotTable) pivots.push(meta);
  }
  // Pivot tables without a declaration of their own: generated from the relations that write them.
  const generated = new Map<string, TableDeclaration>();
  for (const pivot of pivots) {
    const written = relationsOfPivot(pivot, metas);
    const relations = written.filter((r) => !optedOut(r, declared));
    const ends = relations.flatMap((relation) => {
      const { owner, target } = linkEnds(relation, tableOf);
      return [declared.has(relation.owner.className) ? owner : undefined, declared.has(relation.target.className) ? target : undefined];
    });
    const rlsEnds = ends.filter((e) => e !== undefined);
    if (rlsEnds.length === 0) {
      if (relations.length < written.length) optedOutPivotTables.push(tableOf(pivot));
      continue;
    }
    // Forced unless every RLS end opted out of FORCE (then the owner bypasses those tables anyway).
    const force = relations.some((r) => [r.owner, r.target].some((m) => declared.get(m.className)?.force === true));
    generated.set(pivot.className, { policies: [pivotPolicy(rlsEnds)], force, pivotTables: {}, nativePolicies: [] });
  }
  for (const meta of metas) {
    const declaration = declared.get(meta.className) ?? generated.get(meta.className);
    if (!declaration) continue;
    const table = tableOf(meta);
    refuseLongName(meta, table);
    for (const policy of declaration.policies) {
      for (const arg of policy.conditionArgs) {
        const seen = variableTypes.get(arg.comparatorName);
        if (seen !== undefined && seen !== arg.type.sqlName) {
          throw new RlsDeclarationError(
            `Condition arg "${arg.comparatorName}" is declared as ${seen} in one policy and ${arg.type.sqlName} in another ` +
              `(entity ${meta.className}). One context variable has one type: use the same type everywhere.`,
          );
        }
        variableTypes.set(arg.comparatorName, arg.type.sqlName);
        variables.set(arg.comparatorName, arg.type.kind);
      }
    }
    const columns = meta.props.flatMap((p: { fieldNames?: string[] }) => p.fieldNames ?? []);
    const compiled = compileTablePolicies(table, declaration.policies, { prefix: options.prefix, force: declaration.force, columns });
    const native = withDistinctNames(meta, compiled.policies, declaration.nativePolicies);
    tables.push({ ...compiled, policies: [...compiled.policies, ...native], ...(native.length > 0 ? { adoptable: native.map((p) => p.name) } : {}) });
  }
  return { tables, entityTables, variables, optedOutPivotTables };
}
