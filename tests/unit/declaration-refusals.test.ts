import { Collection, EntitySchema } from '@mikro-orm/core';
import { MikroORM } from '@mikro-orm/postgresql';
import { Command, ConditionArg, Permissive, Restrictive, RlsConfigurationError, column, sql, withRls } from '../../src';

// Declarations that would silently not mean what they say are refused when declared or at start-up
// (MikroORM.init without a connection: no database needed).

const accountId = ConditionArg({ comparatorName: 'account_id', type: 'integer' });
const userId = ConditionArg({ comparatorName: 'user_id', type: 'integer' });
const tenant = Permissive({ conditionArgs: [accountId], cmd: Command.all });

const init = (entities: EntitySchema<any>[]) =>
  MikroORM.init(withRls({ entities, dbName: 'never_connected', connect: false, allowGlobalContext: true }));

describe('condition args', () => {
  it('refuses a condition arg that neither expression uses, naming it', () => {
    expect(() =>
      Permissive({ conditionArgs: [accountId, userId], cmd: Command.select, customExpr: (id) => sql`${column('account_id')} = ${id}`, customPolicyName: 'own' }),
    ).toThrow(/permissive policy "own": condition arg "user_id" is declared but its expressions never use it/);
    expect(() => Restrictive({ conditionArgs: [accountId], cmd: Command.select, customExpr: () => sql`true` })).toThrow(/condition arg "account_id"/);
  });

  it('accepts a condition arg used only in withCheck', () => {
    const policy = Permissive({
      conditionArgs: [accountId, userId],
      cmd: Command.update,
      customExpr: (id) => sql`${column('account_id')} = ${id}`,
      withCheck: (id, user) => sql`${column('account_id')} = ${id} and ${column('editor_id')} = ${user}`,
    });
    expect(policy.conditionArgs).toHaveLength(2);
  });
});

describe('names PostgreSQL would truncate', () => {
  const long = 'a_table_name_that_is_longer_than_the_sixty_three_bytes_postgres_keeps';

  it('refuses an RLS entity whose table name is over 63 bytes, naming the entity, the table and the limit', async () => {
    const Long = new EntitySchema({ name: 'Long', tableName: long, properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } }, rls: { policies: [tenant] } });
    await expect(init([Long])).rejects.toThrow(RlsConfigurationError);
    await expect(init([Long])).rejects.toThrow(new RegExp(`Entity Long: table name "${long}" .* is 69 bytes long; PostgreSQL keeps only 63 bytes`));
  });

  it('refuses a generated pivot table name over 63 bytes and says to set pivotTable', async () => {
    const owner = 'a_table_name_of_sixty_two_bytes'.padEnd(62, '_');
    const A = new EntitySchema({ name: 'A', tableName: owner, properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, bs: { kind: 'm:n', entity: () => B, owner: true } }, rls: { policies: [tenant] } });
    const B = new EntitySchema({ name: 'B', tableName: 'b', properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' } }, rls: { policies: [tenant] } });
    await expect(init([A, B])).rejects.toThrow(new RegExp(`table name "${owner}_bs" .* is 65 bytes long.*pivotTable on an m:n relation`));
  });

  it('accepts a long table name on an entity without RLS', async () => {
    const Plain = new EntitySchema({ name: 'Plain', tableName: long, properties: { id: { type: 'integer', primary: true } } });
    const orm = await init([Plain]);
    await orm.close(true);
  });
});

describe('pivotTables', () => {
  class Post {
    id!: number;
    accountId!: number;
    tags = new Collection<Post>(this);
  }

  it('refuses a key that is not an m:n property of the entity, listing the ones it has', async () => {
    const PostSchema = new EntitySchema<Post>({
      class: Post,
      properties: { id: { type: 'integer', primary: true }, accountId: { type: 'integer' }, tags: { kind: 'm:n', entity: () => Post, owner: true } },
      // @ts-expect-error `id` is not a collection: the key is type-checked against the entity's collections.
      rls: { policies: [tenant], pivotTables: { id: false } },
    });
    await expect(init([PostSchema])).rejects.toThrow(/Entity Post sets rls.pivotTables.id = false, .* its m:n properties are: tags/);
  });
});
