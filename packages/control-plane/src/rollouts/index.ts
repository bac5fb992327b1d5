export { createRolloutsModule, ROLLOUT_KINDS } from './module.js';
