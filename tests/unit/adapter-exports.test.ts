import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The package's entry points re-export whichever adapter the installed MikroORM major selects
// (src/adapters/installed-adapter.ts), so both adapters' indexes must export the same names, each as a
// value or as a type only in both: an application's imports then work on either major. Read from the
// source, since one tree cannot load both majors.

const ADAPTERS = path.join(__dirname, '../../src/adapters');

interface ExportedName {
  readonly name: string;
  readonly typeOnly: boolean;
}

function exportsOf(indexFile: string): ExportedName[] {
  const source = ts.createSourceFile(indexFile, fs.readFileSync(indexFile, 'utf8'), ts.ScriptTarget.Latest, true);
  const names: ExportedName[] = [];
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      if (!statement.exportClause || !ts.isNamedExports(statement.exportClause)) {
        throw new Error(`${indexFile}: \`export *\` hides which names an adapter exports; name them`);
      }
      for (const element of statement.exportClause.elements) names.push({ name: element.name.text, typeOnly: statement.isTypeOnly || element.isTypeOnly });
    } else if (ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) {
      const typeOnly = ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement);
      if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) names.push({ name: declaration.name.getText(source), typeOnly: false });
      } else if ('name' in statement && statement.name && ts.isIdentifier(statement.name as ts.Node)) {
        names.push({ name: (statement.name as ts.Identifier).text, typeOnly });
      }
    }
  }
  return names.sort((a, b) => a.name.localeCompare(b.name));
}

it('the MikroORM 6 and MikroORM 7 adapter indexes export the same names, as values or types alike', () => {
  const v6 = exportsOf(path.join(ADAPTERS, 'mikro-orm-6', 'index.ts'));
  const v7File = path.join(ADAPTERS, 'mikro-orm-7', 'index.ts');
  expect({ v7IndexExists: fs.existsSync(v7File) }).toEqual({ v7IndexExists: true });
  expect(v6.length).toBeGreaterThan(10);
  expect(exportsOf(v7File)).toEqual(v6);
});

it('the package entry takes from the adapter only names both adapter indexes export', () => {
  const v6 = new Set(exportsOf(path.join(ADAPTERS, 'mikro-orm-6', 'index.ts')).map(({ name }) => name));
  const entry = path.join(__dirname, '../../src/index.ts');
  const source = ts.createSourceFile(entry, fs.readFileSync(entry, 'utf8'), ts.ScriptTarget.Latest, true);
  const taken = source.statements
    .filter((s): s is ts.ExportDeclaration => ts.isExportDeclaration(s) && (s.moduleSpecifier as ts.StringLiteral | undefined)?.text === './adapters/installed-adapter-exports')
    .flatMap((s) => (s.exportClause && ts.isNamedExports(s.exportClause) ? s.exportClause.elements.map((e) => (e.propertyName ?? e.name).text) : []));
  expect(taken.length).toBeGreaterThan(5);
  expect(taken.filter((name) => !v6.has(name!))).toEqual([]);
});

it("the published declarations (public-api/rls-public-api.ts) declare every name of the adapters' indexes, as values or types alike", () => {
  // The type-level half, that each adapter's exports satisfy these declarations, is
  // src/adapters/mikro-orm-<major>/public-api-conformance.ts (checked by npm run typecheck).
  const v6 = exportsOf(path.join(ADAPTERS, 'mikro-orm-6', 'index.ts'));
  expect(exportsOf(path.join(ADAPTERS, 'public-api', 'rls-public-api.ts'))).toEqual(v6);
});
