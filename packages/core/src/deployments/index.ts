export * from './plan.js';
export * from './spec.js';
