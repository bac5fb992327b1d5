/**
 * Test helpers, for this package's tests and other packages' (`@msp/control-plane/testing`); never part of
 * the production entry point.
 */
export {
  createFixtureRepo,
  eventually,
  requestVia,
  releaseRegistryDir,
  stageRelease,
  type FixtureRepo,
} from './fixture-repo.js';
export { mspBin, mspUpHarness, type MspUp, type MspUpHarness } from './msp-process.js';
