/**
 * Whether the platform repo validates, as the last reconcile found it: kept in memory for the API
 * (`repo` on GET /status and POST /reconcile) and `msp status`, logged and recorded as an event when it
 * changes (`repo-invalid`, `repo-valid`). An invalid repo changes nothing: deployments keep their last good spec.
 */
import type { StateStore } from './state/store.js';

export interface RepoState {
  /** False while the platform repo does not validate; nothing is applied until it does. */
  valid: boolean;
  /** The validation errors, one `file:line:column: path: message` each; empty when valid. */
  diagnostics: string[];
  /** When the last reconcile read the repo. */
  checkedAt: string;
}

export interface RepoStateKeeper {
  /** The last reconcile's finding; undefined before the first one (reconciling off). */
  current(): RepoState | undefined;
  record(diagnostics: string[]): Promise<void>;
}

export function createRepoState(options: {
  store: StateStore;
  log: (line: string) => void;
}): RepoStateKeeper {
  let state: RepoState | undefined;
  return {
    current: () => state,
    async record(diagnostics) {
      const before = state;
      state = { valid: diagnostics.length === 0, diagnostics, checkedAt: new Date().toISOString() };
      if (before && before.diagnostics.join('\n') === diagnostics.join('\n')) return;
      if (!state.valid) {
        options.log(
          `reconciler: the platform repo does not validate; nothing changed:\n  ${diagnostics.join('\n  ')}`,
        );
      } else if (!before || before.valid) {
        return; // valid from the start, or still valid: nothing to tell
      } else {
        options.log('reconciler: the platform repo validates again');
      }
      await options.store
        .addEvent(
          state.valid
            ? { kind: 'repo-valid', message: 'The platform repo validates again; changes are applied.' }
            : {
                kind: 'repo-invalid',
                message:
                  `The platform repo does not validate (${diagnostics.length} error(s)); nothing is applied ` +
                  `until it does, deployments keep their last good spec. First: ${diagnostics[0]}`,
                data: { diagnostics },
              },
        )
        .catch((error: unknown) => options.log(`reconciler: recording the repo's state: ${String(error)}`));
    },
  };
}
