#!/usr/bin/env node
// Apply the Medusa 2.21.2 auth and customer module migrations to a PostgreSQL database.
//
//   node migrate.mjs postgres://user@host:port/dbname
//
// The migrations executed are the unmodified `dist/migrations/Migration*.js` files shipped in
// @medusajs/auth@2.21.2 and @medusajs/customer@2.21.2, run by the real MikroORM 6.6.14 Migrator
// (the version @medusajs/deps@2.21.2 pins), configured the way Medusa's own module runner does it
// (@medusajs/utils `buildMigrationScript` -> `mikroOrmCreateConnection` -> `Migrations.run`):
// one MikroORM instance per module, modules in Medusa's order (auth, then customer), migrations of
// a module sorted by name, each module in one transaction, and applied migrations recorded in
// `public.mikro_orm_migrations`. Re-running is therefore a no-op.
//
// The only thing not taken from Medusa is the tiny @medusajs/framework re-export layer: the
// migration files `require("@medusajs/framework/mikro-orm/migrations")`, which in the real
// framework is `export * from "@mikro-orm/migrations"` (via @medusajs/deps). We resolve that
// specifier to the pinned @mikro-orm/migrations instead of installing the whole framework.
//
// Exit status: 0 on success, 1 on any failure (message on stderr).

import Module, { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

// --- map @medusajs/framework/mikro-orm/<x> onto @mikro-orm/<x> -----------------------------
const FRAMEWORK_MIKRO_ORM = /^@medusajs\/(?:framework|deps)\/mikro-orm\/(core|knex|migrations|postgresql)$/;
const originalResolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  const m = FRAMEWORK_MIKRO_ORM.exec(request);
  if (m) {
    return require.resolve(`@mikro-orm/${m[1]}`);
  }
  return originalResolveFilename.call(this, request, parent, isMain, options);
};

const { MikroORM, defineConfig } = require("@mikro-orm/postgresql");
const { Utils } = require("@mikro-orm/core");
const { Migrator } = require("@mikro-orm/migrations");

// Same as @medusajs/utils dist/dal/mikro-orm/custom-db-migrator.js (2.21.2) `CustomDBMigrator`,
// minus its defineFileConfig() enable/skip hooks, which no auth/customer migration uses. Its only
// observable difference from the stock Migrator is a `SET LOCAL search_path TO public` before each
// migration (issued outside the migration transaction, so PostgreSQL just warns and ignores it);
// kept so the statement stream matches Medusa's runner exactly.
class MedusaCustomDBMigrator extends Migrator {
  static register(orm) {
    orm.config.registerExtension("@mikro-orm/migrator", () => new MedusaCustomDBMigrator(orm.em));
  }

  resolve(params) {
    const $this = this;
    const createMigrationHandler = async (method) => {
      const migration = await Utils.dynamicImport(params.path);
      const MigrationClass = Object.values(migration)[0];
      const instance = new MigrationClass($this.driver, $this.config);
      const customSchema = $this.config.options.schema;
      if (customSchema) {
        const { up, down } = instance;
        instance.up = async function (...args) {
          await this.driver.execute(`SET LOCAL search_path TO ${customSchema}`);
          return up.bind(this)(...args);
        };
        instance.down = async function (...args) {
          await this.driver.execute(`SET LOCAL search_path TO ${customSchema}`);
          return down.bind(this)(...args);
        };
      }
      await $this.runner.run(instance, method);
    };
    return {
      name: this.storage.getMigrationName(params.name),
      up: () => createMigrationHandler("up"),
      down: () => createMigrationHandler("down"),
    };
  }
}

// Medusa's module order (Modules.AUTH before Modules.CUSTOMER); the two modules are independent.
const MODULES = ["auth", "customer"];

function migrationsDir(moduleName) {
  const pkg = require.resolve(`@medusajs/${moduleName}/package.json`);
  return path.join(path.dirname(pkg), "dist", "migrations");
}

// Mirrors @medusajs/utils dist/dal/mikro-orm/mikro-orm-create-connection.js (2.21.2) as far as it
// matters for running migrations (no entities, no snapshot, connect lazily).
function ormConfig(clientUrl, pathToMigrations) {
  const local = /localhost|127\.0\.0\.1|ssl_mode=(disable|false)|sslmode=(disable)/i.test(clientUrl);
  return defineConfig({
    discovery: { disableDynamicFileAccess: true, warnWhenNoEntities: false },
    entities: [],
    debug: false,
    baseDir: process.cwd(),
    clientUrl,
    schema: "public",
    driverOptions: { connection: { ssl: local ? false : { rejectUnauthorized: false } } },
    implicitTransactions: false,
    ignoreUndefinedInQuery: true,
    autoJoinRefsForFilters: false,
    migrations: {
      disableForeignKeys: false,
      path: pathToMigrations,
      snapshot: false,
      silent: true,
    },
    extensions: [MedusaCustomDBMigrator],
    connect: false,
    ensureDatabase: false,
    schemaGenerator: { disableForeignKeys: false },
    pool: { min: 2 },
  });
}

async function migrateModule(clientUrl, moduleName) {
  const orm = await MikroORM.init(ormConfig(clientUrl, migrationsDir(moduleName)));
  try {
    const migrator = orm.getMigrator();
    const applied = await migrator.up();
    const names = applied.map((m) => m.name);
    console.log(
      `MODULE ${moduleName}: ` + (names.length ? `applied ${names.join(", ")}` : "up to date"),
    );
    return names;
  } finally {
    await orm.close(true);
  }
}

async function main() {
  const url = process.argv[2];
  if (!url || process.argv.length > 3) {
    console.error("usage: node migrate.mjs <postgres-url>");
    process.exit(2);
  }
  const started = process.hrtime.bigint();
  for (const moduleName of MODULES) {
    await migrateModule(url, moduleName);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`done in ${ms.toFixed(0)} ms`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`migrate.mjs failed: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
