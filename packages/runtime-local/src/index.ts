export { findFreePort, isPortFree } from './net.js';
export {
  currentPlatform,
  platformFor,
  type Platform,
  type PlatformIo,
  type ProcessFacts,
  type ProcessUsage,
  type SystemUserIds,
} from './platform.js';
export * from './postgres/index.js';
export * from './process/instance-state.js';
export * from './process/pid-files.js';
export * from './process/supervisor.js';
export { probeHttp, type ProbeResult } from './process/probe.js';
export * from './proxy/proxy.js';
export * from './logs/log-writer.js';
export * from './logs/log-reader.js';
export * from './artifacts/index.js';
export * from './backup/index.js';
export {
  ensurePrivateDir,
  giveTreeTo,
  makeTreePrivate,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
} from './private-files.js';
