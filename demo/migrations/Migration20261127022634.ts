import { Migration } from '@mikro-orm/migrations';

export class Migration20261127022634 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "accounts" ("id" serial primary key, "name" varchar(255) not null);`);

    this.addSql(`create table "users" ("id" serial primary key, "username" varchar(255) not null, "account_id" int not null);`);
    this.addSql(`alter table "users" add constraint "users_username_unique" unique ("username");`);

    this.addSql(`create table "items" ("id" serial primary key, "title" varchar(255) not null, "owner_id" int not null, "account_id" int not null);`);
    this.addSql(`create index "items_account_id_index" on "items" ("account_id");`);

    this.addSql(`alter table "users" add constraint "users_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on update cascade;`);

    this.addSql(`alter table "items" add constraint "items_owner_id_foreign" foreign key ("owner_id") references "users" ("id") on update cascade;`);
    this.addSql(`alter table "items" add constraint "items_account_id_foreign" foreign key ("account_id") references "accounts" ("id") on update cascade;`);

    this.addSql(`alter table "public"."users" enable row level security`);
    this.addSql(`alter table "public"."users" force row level security`);
    this.addSql(`create policy "same_account_all" on "public"."users" as permissive for all to public using ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
    this.addSql(`comment on policy "same_account_all" on "public"."users" is 'managed by mikro-orm-rls'`);

    this.addSql(`alter table "public"."items" enable row level security`);
    this.addSql(`alter table "public"."items" force row level security`);
    this.addSql(`create policy "same_account_all" on "public"."items" as permissive for all to public using ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("account_id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
    this.addSql(`comment on policy "same_account_all" on "public"."items" is 'managed by mikro-orm-rls'`);

    this.addSql(`alter table "public"."accounts" enable row level security`);
    this.addSql(`alter table "public"."accounts" force row level security`);
    this.addSql(`create policy "same_account_all" on "public"."accounts" as permissive for all to public using ("id" = (select nullif(current_setting('rls.account_id', true), '')::integer)) with check ("id" = (select nullif(current_setting('rls.account_id', true), '')::integer))`);
    this.addSql(`comment on policy "same_account_all" on "public"."accounts" is 'managed by mikro-orm-rls'`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop policy "same_account_all" on "public"."accounts"`);
    this.addSql(`alter table "public"."accounts" no force row level security`);
    this.addSql(`alter table "public"."accounts" disable row level security`);

    this.addSql(`drop policy "same_account_all" on "public"."items"`);
    this.addSql(`alter table "public"."items" no force row level security`);
    this.addSql(`alter table "public"."items" disable row level security`);

    this.addSql(`drop policy "same_account_all" on "public"."users"`);
    this.addSql(`alter table "public"."users" no force row level security`);
    this.addSql(`alter table "public"."users" disable row level security`);
  }

}
