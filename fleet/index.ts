// Public surface of the fleet store.
export { openDatabase, type FleetDatabase, type Queryable } from './database.js';
export { applyMigrations, migrations, type Migration } from './migrations.js';
export * from './fleet-store.js';
