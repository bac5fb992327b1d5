export * from './catalog.js';
export * from './policies-for.js';
export * from './promql.js';
