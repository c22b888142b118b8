// Jest transform of the v7 run for the ES modules of v7/node_modules (MikroORM 7, Kysely, NestJS 12 ship
// only ESM). Jest 30 in CommonJS mode cannot load ES modules on Node 22, so each is compiled to CommonJS
// with TypeScript's transpileModule, and the two ESM-only expressions are rewritten to helpers that keep
// their meaning inside Jest's module registry:
//   - `import.meta` (url, filename, dirname, resolve): `resolve` answers with the module `import()` below
//     loads, found by Jest's resolver (so by this run's resolver), as a file: URL;
//   - `import(x)`: a promise of the module Jest's `require` loads, accepting file: URLs; a CommonJS module
//     comes as Node's namespace of it (`default` = module.exports, plus its named exports).
// No module of these packages uses top-level await, the one ESM feature CommonJS cannot express.
const { createHash } = require('node:crypto');
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const ts = require('typescript');

const META = '__rlsImportMeta';
const DYNAMIC_IMPORT = '__rlsDynamicImport';

// One line, after TypeScript's "use strict" (ES modules are strict; a statement before the directive would
// end strict mode), so that line numbers of stack traces move by one only.
const PRELUDE =
  `const ${META} = (() => { const url = require('node:url'); const path = require('node:path'); ` +
  `return { url: url.pathToFileURL(__filename).href, filename: __filename, dirname: __dirname, ` +
  `resolve(specifier, parent) { const id = String(specifier).startsWith('file:') ? url.fileURLToPath(String(specifier)) : String(specifier); ` +
  `const resolved = parent === undefined ? require.resolve(id) : require.resolve(id, { paths: [path.dirname(url.fileURLToPath(parent))] }); ` +
  `return url.pathToFileURL(resolved).href; } }; })(); ` +
  `const ${DYNAMIC_IMPORT} = (specifier) => Promise.resolve().then(() => { const id = String(specifier); ` +
  `const mod = require(id.startsWith('file:') ? require('node:url').fileURLToPath(id) : id); ` +
  `return mod && mod.__esModule ? mod : Object.assign({}, mod, { default: mod }); });`;

/** Rewrites `import.meta` and `import(x)` before TypeScript's CommonJS transform sees them. */
function rewriteEsmOnlyExpressions(context) {
  const { factory } = context;
  const visit = (node) => {
    if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) return factory.createIdentifier(META);
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      return factory.createCallExpression(factory.createIdentifier(DYNAMIC_IMPORT), undefined, node.arguments.map((arg) => ts.visitNode(arg, visit)));
    }
    return ts.visitEachChild(node, visit, context);
  };
  return (sourceFile) => ts.visitNode(sourceFile, visit);
}

const packageTypeByDir = new Map();
/** Whether `filename` is an ES module: `.mjs`, or `.js` under a package.json with `"type": "module"`. */
function isEsModule(filename) {
  if (filename.endsWith('.mjs')) return true;
  if (filename.endsWith('.cjs')) return false;
  let dir = dirname(filename);
  const visited = [];
  while (!packageTypeByDir.has(dir)) {
    visited.push(dir);
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      packageTypeByDir.set(dir, JSON.parse(readFileSync(manifest, 'utf8')).type === 'module');
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      packageTypeByDir.set(dir, false);
      break;
    }
    dir = parent;
  }
  const type = packageTypeByDir.get(dir);
  for (const d of visited) packageTypeByDir.set(d, type);
  return type;
}

const ownSource = readFileSync(__filename, 'utf8');

module.exports = {
  process(source, filename) {
    if (!isEsModule(filename)) return { code: source };
    const { outputText, sourceMapText } = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        allowJs: true,
        sourceMap: true,
        inlineSources: false,
      },
      transformers: { before: [rewriteEsmOnlyExpressions] },
    });
    const strict = '"use strict";\n';
    const body = outputText.startsWith(strict) ? outputText.slice(strict.length) : outputText;
    return { code: `"use strict";${PRELUDE}\n${body}`, map: sourceMapText };
  },
  getCacheKey(source, filename) {
    return createHash('sha256').update(ownSource).update(ts.version).update(filename).update('\0').update(source).digest('hex');
  },
};
