/** Typed protocols shared by workflows, activities, clients (CLI, Slack, Action) and docs. */
export * from './audit-types.js';
export * from './channels.js';
export * from './failures.js';
export * from './ids.js';
export * from './search-attributes.js';
export * from './stages.js';
export * from './strategies.js';
export * from './proof-record.js';
