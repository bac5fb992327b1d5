export { createArtifactStore, findNodeModules, hexOf } from './artifact-store.js';
export type { ArtifactStore, ArtifactStoreOptions, PackedArtifact } from './artifact-store.js';
