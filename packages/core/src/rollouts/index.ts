export * from './pipeline.js';
export * from './health-gate.js';
export * from './history.js';
