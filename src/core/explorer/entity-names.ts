import type { MetadataStorage } from '@mikro-orm/core';
import type { TableRef } from '../ddl/quote';
import { allMetadata } from '../entity/metadata-access';

/**
 * The entity (class name) that maps each table, for the explorer's rows. An entity without a schema of
 * its own maps the table in whichever schema its policies were declared for (the default schema).
 */
export function entityNamesOf(storage: MetadataStorage): (table: TableRef) => string | null {
  const entities = allMetadata(storage).filter((meta) => !meta.embeddable && !meta.virtual && meta.tableName);
  return (table) => {
    const own = entities.find((m) => m.tableName === table.name && m.schema === table.schema);
    const unqualified = entities.find((m) => m.tableName === table.name && (!m.schema || m.schema === '*'));
    return (own ?? unqualified)?.className ?? null;
  };
}
