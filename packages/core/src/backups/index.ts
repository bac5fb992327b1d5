export * from './model.js';
export * from './window.js';
export * from './retention.js';
export * from './last-good.js';
export * from './clone-name.js';
export * from './incremental.js';
