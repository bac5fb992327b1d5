export * from './errors.js';
export * from './operations/index.js';
export * from './deployments/index.js';
export * from './alerts/index.js';
export * from './duration.js';
export * from './rollouts/index.js';
export * from './backups/index.js';
