import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The install tree the Jest config of this run takes MikroORM from: `root` (v6, jest.config.js) or `v7` (jest.v7.config.js). */
export function mikroOrmTreeOfThisRun(): 'root' | 'v7' {
  const tree = process.env.RLS_TEST_MIKRO_ORM_TREE;
  if (tree !== 'root' && tree !== 'v7') {
    throw new Error(`RLS_TEST_MIKRO_ORM_TREE is ${JSON.stringify(tree)}: run the tests through jest.config.js or jest.v7.config.js, which set it.`);
  }
  return tree;
}

/** The `@mikro-orm/core` version the run's install tree pins (root devDependencies, or v7/package.json). */
export function pinnedMikroOrmVersion(tree: 'root' | 'v7'): string {
  const repo = join(__dirname, '..', '..');
  const manifest = JSON.parse(readFileSync(join(repo, tree === 'v7' ? 'v7/package.json' : 'package.json'), 'utf8'));
  const version = (tree === 'v7' ? manifest.dependencies : manifest.devDependencies)['@mikro-orm/core'];
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`@mikro-orm/core must be pinned to an exact version in the ${tree} tree, found ${version}`);
  return version;
}
