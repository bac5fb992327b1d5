export * from './catalog.js';
export * from './policies-for.js';
export * from './promql.js';
export * from './engine.js';
export * from './backup-policies.js';
