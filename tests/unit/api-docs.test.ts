import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, Restrictive, column, sql, type Policy } from '../../src';
import { ContextCodec } from '../../src/core/context/context-codec';
import { deriveContextSchema } from '../../src/core/context/context-schema';
import { compileTablePolicies, createPolicySql, renderVariable } from '../../src/core/ddl';
import { diffRls } from '../../src/core/diff';

// Every public export of the package (the root and the subpath entries) has JSDoc with an `@example`,
// and a `@throws` naming each error class of this package it can throw; every `@example` compiles
// against the real API; the SQL the examples show is what the renderer writes.
//
// `@example` bodies are TypeScript. A decorator is written `\@Entity()` in a comment (an `@` at the start
// of a word would begin a new JSDoc tag); the backslash is dropped here. Each example becomes the body
// of an async function of its own (so examples may reuse names and use `await`); `export ` at the start
// of a line is dropped, since a function body cannot export.

const ROOT = join(__dirname, '../..');
const GENERATED = join(ROOT, 'tests/docs/.generated');

/** Each entry, with the free names its examples use (declared, not defined: they are only type-checked). */
const ENTRIES: Record<string, { file: string; importPath: string; prelude: string }> = {
  root: {
    file: 'src/index.ts',
    importPath: '../../../src',
    prelude: `
import { Collection, Entity, EntitySchema, FlushMode, ManyToMany, MikroORM, PrimaryKey, Property, types, type Options } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { z } from 'zod';
declare const config: Options<PostgreSqlDriver>;
declare const orm: MikroORM<PostgreSqlDriver, RlsEntityManager<{ account_id: number }>>;
declare const em: RlsEntityManager<{ account_id: number }>;
declare const sessioner: RlsSessioner<[number], { account_id: number }>;
declare const tenant: Policy;
declare const sku: string;
declare class Item { id: number; ownerId: number; }
declare class Order { id: number; sku: string; account: number; }
declare class Stock { sku: string; reservedBy?: number; }
`,
  },
  express: {
    file: 'src/integrations/express/index.ts',
    importPath: '../../../src/integrations/express',
    prelude: `
import express from 'express';
import type { MikroORM } from '@mikro-orm/core';
declare const app: express.Express;
declare const orm: MikroORM;
declare function accountIdOf(request: express.Request): number | undefined;
declare class Item { id: number; }
`,
  },
  fastify: {
    file: 'src/integrations/fastify/index.ts',
    importPath: '../../../src/integrations/fastify',
    prelude: `
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MikroORM } from '@mikro-orm/core';
declare const app: FastifyInstance;
declare const orm: MikroORM;
declare function accountIdOf(request: FastifyRequest): number | undefined;
declare class Item { id: number; }
`,
  },
  migrations: {
    file: 'src/migrations/index.ts',
    importPath: '../../../src/migrations',
    prelude: `
import { Migration } from '@mikro-orm/migrations';
import { Command, ConditionArg, Permissive, type Policy } from '../../../src';
declare const rls: RlsMigrationHelpers;
declare const ownNotes: Policy;
`,
  },
  testing: {
    file: 'src/testing/index.ts',
    importPath: '../../../src/testing',
    prelude: `
import type { MikroORM } from '@mikro-orm/core';
import type { Options } from '@mikro-orm/postgresql';
import { withRls } from '../../../src';
declare const orm: MikroORM;
declare const ownerOrm: MikroORM;
declare const config: Options;
declare class Item { id: number; title: string; account: number; }
`,
  },
  nestjs: {
    file: 'src/integrations/nestjs/index.ts',
    importPath: '../../../src/integrations/nestjs',
    prelude: `
import { Injectable, Module, RequestMethod } from '@nestjs/common';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Request } from 'express';
import { RlsEntityManager, withRls } from '../../../src';
declare const clientUrl: string;
declare const entities: (new () => object)[];
declare function accountIdOf(request: Request): number | undefined;
declare class Item { id: number; }
`,
  },
};

function compilerOptions(): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error('tsconfig.json could not be read');
  return { ...parsed.options, noEmit: true };
}

const options = compilerOptions();
const program = ts.createProgram(
  Object.values(ENTRIES).map((e) => join(ROOT, e.file)),
  options,
);
const checker = program.getTypeChecker();
const SRC = join(ROOT, 'src');
const inSrc = (file: ts.SourceFile) => !file.isDeclarationFile && file.fileName.startsWith(SRC);

interface DocNode {
  readonly node: ts.Node;
  readonly docs: readonly ts.JSDoc[];
}

/** The JSDoc comments attached to a declaration (for `const x = ...`, those of its statement). */
function docsOf(node: ts.Node): ts.JSDoc[] {
  for (let n: ts.Node | undefined = node; n && !ts.isSourceFile(n); n = n.parent) {
    const docs = ts.getJSDocCommentsAndTags(n).filter(ts.isJSDoc);
    if (docs.length > 0) return docs;
    if (ts.isStatement(n) || ts.isClassElement(n) || ts.isTypeElement(n)) break;
  }
  return [];
}

const tagsOf = (docs: readonly ts.JSDoc[], name: string) => docs.flatMap((d) => d.tags ?? []).filter((t) => t.tagName.text === name);

/** A tag's text as written (without its name), its `* ` margins removed and `\@` unescaped. */
function tagText(tag: ts.JSDocTag): string {
  const raw = tag.getSourceFile().text.slice(tag.pos, tag.end).replace(/\*\/\s*$/, '');
  return raw
    .replace(/^@\w+/, '')
    .split('\n')
    .map((line, i) => (i === 0 ? line : line.replace(/^\s*\* ?/, '')))
    .join('\n')
    .replace(/\\@/g, '@')
    .replace(/^[ \t]*\n/, '')
    .trimEnd();
}

interface Documented {
  readonly entry: string;
  /** `name` or `Class.member`. */
  readonly name: string;
  readonly kind: 'function' | 'class' | 'method' | 'value' | 'type' | 'member';
  readonly declarations: readonly DocNode[];
}

const isInternal = (docs: readonly ts.JSDoc[]) => tagsOf(docs, 'internal').length > 0;

function kindOf(symbol: ts.Symbol): Documented['kind'] {
  if (symbol.flags & ts.SymbolFlags.Class) return 'class';
  if (symbol.flags & ts.SymbolFlags.Function) return 'function';
  if (symbol.flags & (ts.SymbolFlags.Variable | ts.SymbolFlags.Property)) return 'value';
  return 'type';
}

/**
 * Public members a class declares itself (MikroORM's overrides are documented by MikroORM), overloads
 * together. A method that implements a framework's interface (Nest's `configure`) needs no `@example`:
 * the framework calls it.
 */
function ownMembers(entry: string, className: string, declaration: ts.ClassDeclaration): Documented[] {
  const implemented = (declaration.heritageClauses ?? [])
    .filter((h) => h.token === ts.SyntaxKind.ImplementsKeyword)
    .flatMap((h) => h.types.map((t) => checker.getTypeAtLocation(t)));
  const byName = new Map<string, Documented & { declarations: DocNode[] }>();
  for (const member of [...declaration.members, ...baseClassesInSrc(declaration).flatMap((base) => [...base.members])]) {
    const modifiers = ts.getCombinedModifierFlags(member as ts.Declaration);
    if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected | ts.ModifierFlags.Override)) continue;
    if (ts.isConstructorDeclaration(member) || ts.isIndexSignatureDeclaration(member) || ts.isClassStaticBlockDeclaration(member)) continue;
    if (!member.name || ts.isComputedPropertyName(member.name) || ts.isPrivateIdentifier(member.name)) continue;
    const docs = docsOf(member);
    if (isInternal(docs)) continue;
    const name = member.name.getText();
    const frameworkCallback = implemented.some((type) => type.getProperty(name) !== undefined);
    const kind = ts.isMethodDeclaration(member) && !frameworkCallback ? 'method' : 'member';
    const existing = byName.get(name);
    if (existing) existing.declarations.push({ node: member, docs });
    else byName.set(name, { entry, name: `${className}.${name}`, kind, declarations: [{ node: member, docs }] });
  }
  return [...byName.values()];
}

/** The classes in src/ a class extends, nearest first. */
function baseClassesInSrc(declaration: ts.ClassDeclaration): ts.ClassDeclaration[] {
  const extended = declaration.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
  if (!extended) return [];
  const symbol = checker.getSymbolAtLocation(extended.expression);
  const target = symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const base = target?.declarations?.find(ts.isClassDeclaration);
  return base && inSrc(base.getSourceFile()) ? [base, ...baseClassesInSrc(base)] : [];
}

/** Every export of an entry, each resolved through re-exports and aliases to its declarations. */
function exportsOf(entry: string): Documented[] {
  const file = program.getSourceFile(join(ROOT, ENTRIES[entry].file))!;
  const moduleSymbol = checker.getSymbolAtLocation(file)!;
  return checker.getExportsOfModule(moduleSymbol).flatMap((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declarations = (symbol.declarations ?? []).map((node) => ({ node, docs: docsOf(node) }));
    const own: Documented = { entry, name: exported.name, kind: kindOf(symbol), declarations };
    // Members assigned to an exported function (`sql.raw`, `sql.literal`).
    const expandos = [...(symbol.flags & ts.SymbolFlags.Class ? [] : (symbol.exports?.values() ?? []))].flatMap((m): Documented[] =>
      m.flags & (ts.SymbolFlags.Property | ts.SymbolFlags.Method) && m.valueDeclaration
        ? [{ entry, name: `${exported.name}.${m.name}`, kind: 'member', declarations: [{ node: m.valueDeclaration, docs: docsOf(m.valueDeclaration) }] }]
        : [],
    );
    const members = declarations.flatMap(({ node }) => (ts.isClassDeclaration(node) ? ownMembers(entry, exported.name, node) : []));
    return [own, ...expandos, ...members];
  });
}

const documented = Object.keys(ENTRIES).flatMap(exportsOf);
const docsOfAll = (d: Documented) => d.declarations.flatMap((x) => x.docs);
const examplesOf = (d: Documented) => tagsOf(docsOfAll(d), 'example').map(tagText);

it('finds the public exports of every entry', () => {
  const names = (entry: string) => documented.filter((d) => d.entry === entry && !d.name.includes('.')).map((d) => d.name);
  expect(names('root')).toEqual(expect.arrayContaining(['withRls', 'Permissive', 'RlsEntityManager', 'RlsError', 'createPolicies', 'RlsOperation']));
  expect(names('express')).toEqual(expect.arrayContaining(['rlsMiddleware', 'RlsRequestOptions', 'RlsRefusal']));
  expect(names('fastify')).toEqual(expect.arrayContaining(['rlsPlugin', 'RlsPluginOptions']));
  expect(names('nestjs')).toEqual(expect.arrayContaining(['RlsModule', 'RlsModuleOptions', 'RlsExcludedRoute']));
  expect(documented.map((d) => d.name)).toEqual(expect.arrayContaining(['RlsEntityManager.forkWithRls', 'sql.raw', 'RlsModule.forRoot']));
});

it('every export has a JSDoc comment', () => {
  const missing = documented.filter((d) => docsOfAll(d).length === 0).map((d) => `${d.entry}: ${d.name}`);
  expect(missing).toEqual([]);
});

it('every export, and every public method, has an @example', () => {
  const missing = documented.filter((d) => d.kind !== 'member' && examplesOf(d).every((e) => e.trim() === '')).map((d) => `${d.entry}: ${d.name}`);
  expect(missing).toEqual([]);
});

// ---- @throws -------------------------------------------------------------------------------------------

const ERROR_CLASS = /^Rls\w*Error$/;

/**
 * Quoting refuses an empty name or a NUL character with RlsDeclarationError, which no caller can reach:
 * names are validated where they are declared (column(), customPolicyName, prefix, context fields) and
 * catalog names are never empty. Followed, every DDL or audit path would "throw" it.
 */
const NOT_FOLLOWED = new Set(['quoteIdent', 'quoteLiteral', 'quoteRole']);

/**
 * The error classes of this package a declaration can throw: `throw new RlsXError(...)` in its body or in
 * the body of anything in src/ it calls, constructs or reads (getters), followed transitively. A call
 * inside a `try` with a `catch` is left out (the catch decides), as are calls of other packages.
 */
function thrownBy(start: ts.Node): Set<string> {
  const found = new Set<string>();
  const seen = new Set<ts.Node>();
  const visitDeclaration = (declaration: ts.Node | undefined) => {
    if (!declaration || seen.has(declaration) || !inSrc(declaration.getSourceFile())) return;
    const name = (declaration as ts.NamedDeclaration).name;
    if (name && ts.isIdentifier(name) && NOT_FOLLOWED.has(name.text)) return;
    seen.add(declaration);
    walk(declaration);
  };
  const walk = (node: ts.Node): void => {
    if (ts.isTryStatement(node) && node.catchClause) {
      walk(node.catchClause.block);
      if (node.finallyBlock) walk(node.finallyBlock);
      return;
    }
    if (ts.isThrowStatement(node) && ts.isNewExpression(node.expression) && ts.isIdentifier(node.expression.expression)) {
      const name = node.expression.expression.text;
      if (ERROR_CLASS.test(name)) found.add(name);
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node) || ts.isDecorator(node)) {
      visitDeclaration(checker.getResolvedSignature(node as ts.CallLikeExpression)?.declaration);
    }
    if (ts.isHeritageClause(node) && node.token === ts.SyntaxKind.ExtendsKeyword) {
      for (const type of node.types) {
        const symbol = checker.getSymbolAtLocation(type.expression);
        const target = symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        visitDeclaration(target?.declarations?.find(ts.isClassDeclaration));
      }
    }
    if (ts.isPropertyAccessExpression(node)) {
      const declaration = checker.getSymbolAtLocation(node.name)?.declarations?.find(ts.isGetAccessorDeclaration);
      visitDeclaration(declaration);
    }
    ts.forEachChild(node, walk);
  };
  seen.add(start);
  walk(start);
  return found;
}

/** Where the analysis sees a throw that cannot happen, and why. */
const CANNOT_THROW: Record<string, string[]> = {
  // apply() renders and checks the desired policies through PostgreSQL, and dropPolicies desires none.
  dropPolicies: ['RlsDeclarationError'],
};

it('every export that can throw one of the package errors names it in a @throws', () => {
  const missing: string[] = [];
  for (const d of documented) {
    if (d.kind === 'type' || d.kind === 'member') continue;
    const thrown = new Set(d.declarations.flatMap(({ node }) => [...thrownBy(node)]));
    // A class: its own members' @throws count too.
    const owner = d.name.split('.')[0];
    const related = documented.filter((x) => x.entry === d.entry && (x.name === d.name || (d.kind === 'class' && x.name.startsWith(`${owner}.`))));
    const throwsText = related.flatMap((x) => tagsOf(docsOfAll(x), 'throws').map(tagText)).join('\n');
    for (const error of thrown) {
      if (CANNOT_THROW[d.name]?.includes(error)) continue;
      if (!new RegExp(`\\b${error}\\b`).test(throwsText)) missing.push(`${d.entry}: ${d.name} can throw ${error}`);
    }
  }
  expect(missing).toEqual([]);
});

// ---- the examples compile ------------------------------------------------------------------------------

function generatedFile(entry: string): { path: string; text: string } {
  const names = documented.filter((d) => d.entry === entry && !d.name.includes('.')).map((d) => d.name);
  const lines = [
    `// Generated by tests/unit/api-docs.test.ts from the @example blocks of the exports of ${ENTRIES[entry].file}. Do not edit.`,
    `import { ${names.join(', ')} } from '${ENTRIES[entry].importPath}';`,
    ENTRIES[entry].prelude.trim(),
    '',
  ];
  documented
    .filter((d) => d.entry === entry)
    .forEach((d) =>
      examplesOf(d).forEach((example, i) => {
        const body = example.replace(/^export /gm, '');
        lines.push(`// ${d.name}, @example ${i + 1}`, `export async function example_${d.name.replace(/\W/g, '_')}_${i + 1}() {`, body, '}', '');
      }),
    );
  return { path: join(GENERATED, `${entry}.ts`), text: lines.join('\n') };
}

it('every @example compiles against the real API', () => {
  mkdirSync(GENERATED, { recursive: true });
  const files = Object.keys(ENTRIES).map(generatedFile);
  for (const f of files) writeFileSync(f.path, f.text);
  const examples = ts.createProgram(
    files.map((f) => f.path),
    { ...options, noUnusedLocals: false, noUnusedParameters: false },
    undefined,
    program,
  );
  const diagnostics = ts
    .getPreEmitDiagnostics(examples)
    .filter((d) => d.file?.fileName.startsWith(GENERATED))
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      const lines = d.file!.text.split('\n');
      // The example the line belongs to: the nearest `// Name, @example N` above it.
      const header = lines.slice(0, line + 1).reverse().find((l) => l.startsWith('// ') && l.includes(', @example ')) ?? '';
      return `${relative(ROOT, d.file!.fileName)}:${line + 1} (${header.slice(3)}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n    ${lines[line].trim()}`;
    });
  expect(diagnostics).toEqual([]);
});

// ---- the SQL the examples show -------------------------------------------------------------------------

const item = { schema: 'public', name: 'item' };
const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const tenantId = ConditionArg({ comparatorName: 'tenant_id', type: 'uuid' });
const ownRows = Permissive({ conditionArgs: [accountId], cmd: [Command.select, Command.update], customExpr: (id) => sql`${column('owner_id')} = ${id}` });
const createSql = (...policies: Policy[]) => {
  const spec = compileTablePolicies(item, policies, { prefix: 'rls', force: true });
  return spec.policies.map((p) => createPolicySql(item, p));
};
const ownAll = compileTablePolicies(item, [Permissive({ conditionArgs: [accountId], cmd: Command.all, customExpr: (id) => sql`${column('owner_id')} = ${id}` })], {
  prefix: 'rls',
  force: true,
});
/** The statement that scopes a fork of `withRls(config, { context: z.object({ account_id: ... }) })` to 42, as sent. */
const scopeStatementFor42 = () => {
  const kinds = new Map([['account_id', 'int4' as const]]);
  const codec = new ContextCodec(deriveContextSchema(kinds), kinds, 'rls');
  return new PostgreSqlPlatform().formatQuery(codec.statement, [...codec.encode({ account_id: 42 }).values]);
};

/** For each export whose example shows SQL: the SQL the renderer writes for that example's declarations. */
const DOCUMENTED_SQL: Record<string, () => string[]> = {
  ConditionArg: () => [renderVariable('rls', accountId)],
  Command: () => createSql(ownRows),
  Permissive: () => createSql(ownRows),
  Restrictive: () => createSql(ownRows, Restrictive({ conditionArgs: [tenantId], cmd: Command.all })).slice(2),
  PolicyOptions: () =>
    createSql(
      Permissive({
        conditionArgs: [accountId],
        cmd: Command.update,
        customExpr: (id) => sql`${column('owner_id')} = ${id}`,
        withCheck: (id) => sql`${column('owner_id')} = ${id} and ${column('locked')} = false`,
        customPolicyName: 'own_unlocked',
        to: 'app_user',
      }),
    ),
  sql: () => createSql(Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} or ${column('shared')} = ${sql.literal(true)}` })),
  'sql.literal': () => createSql(Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} and ${column('status')} <> ${sql.literal("won't ship")}` })),
  'sql.raw': () => createSql(Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} and ${column('starts_at')} <= ${sql.raw('now()')}` })),
  column: () => createSql(Permissive({ cmd: Command.select, customExpr: () => sql`${column('publishedAt')} is not null` })),
  SqlExpression: () => {
    const notArchived = sql`${column('archived_at')} is null`;
    return createSql(Permissive({ conditionArgs: [accountId], cmd: Command.select, customExpr: (id) => sql`${column('owner_id')} = ${id} and ${notArchived}` }));
  },
  Rls: () => diffRls([ownAll], []).flatMap((op) => op.up),
  createPolicies: () => diffRls([ownAll], []).flatMap((op) => op.up),
  dropPolicies: () =>
    diffRls([], [{ table: item, enabled: true, forced: true, policies: ownAll.policies.map((p) => ({ ...p, managed: true })) }]).flatMap((op) => op.up),
  withRls: () => [scopeStatementFor42()],
  'RlsEntityManager.forkWithRls': () => [scopeStatementFor42()],
  'RlsEntityManager.bypassRls': () => [new PostgreSqlPlatform().formatQuery("select pg_catalog.set_config('role', ?, true)", ['app_bypass'])],
};

/** A comment's text with `*` margins, `//` markers and line breaks folded into single spaces. */
const folded = (text: string) =>
  text
    .split('\n')
    .map((l) => l.replace(/^\s*\*?\s?(\/\/)?\s?/, ''))
    .join(' ')
    .replace(/\s+/g, ' ');

it.each(Object.entries(DOCUMENTED_SQL))('the SQL the docs of %s show is the SQL the renderer writes', (name, render) => {
  const d = documented.find((x) => x.entry === 'root' && x.name === name);
  expect(d).toBeDefined();
  const text = folded(d!.declarations.flatMap((x) => x.docs.map((doc) => doc.getText())).join('\n').replace(/\\@/g, '@'));
  const absent = render().filter((statement) => !text.includes(statement.replace(/\s+/g, ' ')));
  expect(absent).toEqual([]);
});
