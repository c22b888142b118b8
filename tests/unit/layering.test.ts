import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The layer order of src/ (README, "Architecture"), checked on the imports TypeScript parses: a file may
// import its own folder and folders of lower layers only, so no folder cycle can form; MikroORM majors'
// internals (knex, the SQL drivers, pg) stay in the adapters.

const SRC = path.join(__dirname, '../../src');

/** Each folder's layer; a file imports only from its own folder or from a lower layer. */
const LAYERS: Record<string, number> = {
  'core/errors': 0,
  'core/policy': 1,
  'core/ddl': 2,
  'core/adapter': 2,
  'core/catalog': 3,
  'core/context': 3,
  'core/entity': 3,
  'core/diff': 4,
  'core/scope': 4,
  'core/writes': 4,
  'core/settings': 5,
  'core/role': 5,
  'core/plan': 5,
  'core/audit': 6,
  // The policy explorer's data: declarations, live state and the audit's rules, per table and command.
  'core/explorer': 7,
  'core/sessioner': 6,
  // The published declarations of the runtime exports, one for both majors; each adapter is checked against them.
  'adapters/public-api': 9,
  'adapters/mikro-orm-6': 10,
  'adapters/mikro-orm-7': 10,
  // src/adapters/installed-adapter.ts: loads the adapter of the installed major, for the entry points.
  adapters: 15,
  integrations: 20,
  'integrations/express': 21,
  'integrations/fastify': 21,
  'integrations/nestjs': 21,
  cli: 21,
  // mikro-orm-rls/migrations: SQL for hand-written migrations, from the declarations and the rendering.
  migrations: 21,
  // mikro-orm-rls/testing: the policy test kit, on the adapter interface.
  testing: 21,
  '.': 30, // src/index.ts, the package's root entry
};

/**
 * Subpath entries that load the package's root for its side effect (it registers the adapter whose
 * entity manager the integration provides), so that the subpath works on its own.
 */
const ENTRY_POINTS_LOADING_THE_ROOT = ['integrations/nestjs/index.ts'];

/** Packages only an adapter may import (their internals differ between majors). */
const ADAPTER_ONLY_PACKAGES = [/^knex(\/|$)/, /^kysely(\/|$)/, /^pg(\/|$)/, /^@mikro-orm\/(knex|postgresql|migrations|sql)(\/|$)/];
/** Members of knex and node-postgres internals that only an adapter may touch. */
const ADAPTER_ONLY_TEXT = /@mikro-orm\/knex|\bknex\b|getTransactionStatus|readyForQuery|acquireConnection/;

interface Import {
  readonly from: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      found.push({ from: file, specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ from: file, specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) found.push({ from: file, specifier: arg.text, typeOnly: false });
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'require') {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) found.push({ from: file, specifier: arg.text, typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The layer folder of a file: the longest folder in LAYERS that contains it. */
function folderOf(file: string): string {
  const relative = path.relative(SRC, path.dirname(file)).split(path.sep).join('/') || '.';
  const match = Object.keys(LAYERS)
    .filter((folder) => relative === folder || relative.startsWith(`${folder}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (match === undefined) throw new Error(`${relative} has no layer in LAYERS (tests/unit/layering.test.ts): add it`);
  return match;
}

function resolveRelative(imp: Import): string {
  const base = path.resolve(path.dirname(imp.from), imp.specifier);
  // `.d.ts`: src/adapters/installed-adapter-exports, a JavaScript module with hand-written declarations.
  for (const candidate of [`${base}.ts`, `${base}.d.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  throw new Error(`${path.relative(SRC, imp.from)} imports ${imp.specifier}, which does not exist`);
}

const files = sourceFiles(SRC);
const imports = files.flatMap(importsOf);
const show = (imp: Import, to: string) => `${path.relative(SRC, imp.from)} -> ${to}`;

describe('layering of src/', () => {
  it('finds the source files and their imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.filter((imp) => imp.specifier.startsWith('.')).length).toBeGreaterThan(100);
  });

  it('imports only from its own folder or from a lower layer', () => {
    const wrong = imports
      .filter((imp) => imp.specifier.startsWith('.'))
      .map((imp) => ({ imp, from: folderOf(imp.from), to: folderOf(resolveRelative(imp)) }))
      .filter(({ from, to }) => from !== to && !(LAYERS[to]! < LAYERS[from]!))
      .filter(({ imp }) => !(ENTRY_POINTS_LOADING_THE_ROOT.includes(path.relative(SRC, imp.from)) && imp.specifier === '../..'))
      .map(({ imp, from, to }) => `${show(imp, imp.specifier)} (${from} may not import ${to})`);
    expect(wrong).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const imp of imports.filter((i) => i.specifier.startsWith('.'))) {
      const from = folderOf(imp.from);
      const to = folderOf(resolveRelative(imp));
      if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
    const cycles: string[] = [];
    const visit = (folder: string, trail: string[]): void => {
      if (trail.includes(folder)) {
        cycles.push([...trail.slice(trail.indexOf(folder)), folder].join(' -> '));
        return;
      }
      for (const next of edges.get(folder) ?? []) visit(next, [...trail, folder]);
    };
    for (const folder of edges.keys()) visit(folder, []);
    expect(cycles).toEqual([]);
  });

  it('keeps src/core free of MikroORM at run time (type imports of @mikro-orm/core only)', () => {
    const wrong = imports
      .filter((imp) => folderOf(imp.from).startsWith('core/'))
      .filter((imp) => imp.specifier.startsWith('@mikro-orm/') && !(imp.specifier === '@mikro-orm/core' && imp.typeOnly))
      .map((imp) => show(imp, imp.specifier));
    expect(wrong).toEqual([]);
  });

  it('keeps knex, the SQL drivers and pg in src/adapters', () => {
    const wrong = imports
      .filter((imp) => !folderOf(imp.from).startsWith('adapters/'))
      .filter((imp) => ADAPTER_ONLY_PACKAGES.some((pattern) => pattern.test(imp.specifier)))
      .map((imp) => show(imp, imp.specifier));
    expect(wrong).toEqual([]);
  });

  it('keeps the published declarations (src/adapters/public-api) to type imports of packages both majors have', () => {
    // What a project of either major loads: no knex, Kysely, @mikro-orm/knex or @mikro-orm/sql, no adapter.
    const publicApi = imports.filter((imp) => folderOf(imp.from) === 'adapters/public-api');
    expect(publicApi.length).toBeGreaterThan(3);
    const wrong = publicApi
      .filter((imp) => (imp.specifier.startsWith('.') ? /\/adapters\/mikro-orm-/.test(resolveRelative(imp)) : !(imp.typeOnly && /^@mikro-orm\/(core|postgresql)$/.test(imp.specifier))))
      .map((imp) => show(imp, imp.specifier));
    expect(wrong).toEqual([]);
  });

  it('names no knex or node-postgres internal outside src/adapters', () => {
    const wrong = files
      .filter((file) => !folderOf(file).startsWith('adapters/'))
      .flatMap((file) =>
        fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .map((line, index) => ({ line, at: `${path.relative(SRC, file)}:${index + 1}` }))
          .filter(({ line }) => ADAPTER_ONLY_TEXT.test(line))
          .map(({ line, at }) => `${at}: ${line.trim()}`),
      );
    expect(wrong).toEqual([]);
  });
});
