import * as core from '@mikro-orm/core';
import { mikroOrmTreeOfThisRun } from './mikro-orm-tree';

/**
 * MikroORM's legacy (TypeScript `experimentalDecorators`) decorators under the installed major: MikroORM
 * 6 exports them from `@mikro-orm/core`, MikroORM 7 from `@mikro-orm/decorators/legacy` (the v7 run runs
 * these same tests). Typed as MikroORM 6's, which the root type-check resolves.
 */
type Decorators = Pick<typeof core, 'Entity' | 'PrimaryKey' | 'Property' | 'ManyToOne' | 'OneToMany' | 'ManyToMany' | 'Transactional'>;

const decorators: Decorators =
  mikroOrmTreeOfThisRun() === 'v7'
    ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package exists only in the v7 tree
      (require('@mikro-orm/decorators/legacy') as Decorators)
    : core;

export const { Entity, PrimaryKey, Property, ManyToOne, OneToMany, ManyToMany, Transactional } = decorators;
