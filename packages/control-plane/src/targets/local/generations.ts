/**
 * The generations of one deployment as data: which set of instances serves, which one is kept running
 * while a new release soaks, and the events that move them. A pure transition function returns the next
 * state and the generations the runtime must stop; no processes, proxies or clocks here.
 */

/** One set of instances of a deployment started together (one release, one spec). */
export interface Generation {
  readonly id: string;
  readonly specHash: string;
  readonly release: string;
  /** The artifact digest the code came from; absent for the working tree (build.local.dir). */
  readonly digest?: string;
  readonly instanceIds: readonly string[];
  /** Restarts of each instance when the generation passed its startup gate. */
  readonly restartsAtStart?: Readonly<Record<string, number>>;
}

export type GenerationState =
  | { readonly kind: 'none' }
  | { readonly kind: 'serving'; readonly current: Generation }
  /** A new generation took the route; the previous one keeps running until the soak ends. */
  | { readonly kind: 'switching'; readonly current: Generation; readonly previous: Generation };

export type GenerationEvent =
  /** A new generation passed its startup gate: it becomes current, the serving one is kept as previous. */
  | { readonly type: 'started'; readonly generation: Generation }
  /** The soak passed (or there was none): the previous generation goes. */
  | { readonly type: 'settled' }
  /** The new generation failed its soak: the previous one serves again, the new one goes. */
  | { readonly type: 'soak_failed' }
  /** The workload is stopped (a stop, a restore): every generation goes. */
  | { readonly type: 'stopped' };

export type GenerationEffect = {
  readonly type: 'stop';
  readonly generation: Generation;
  /** replaced: drained after the switch; failed: taken down after the route went back; stopped: on request. */
  readonly why: 'replaced' | 'failed' | 'stopped';
};

export const noGenerations: GenerationState = { kind: 'none' };

export function transition(
  state: GenerationState,
  event: GenerationEvent,
): { state: GenerationState; effects: GenerationEffect[] } {
  switch (event.type) {
    case 'started': {
      if (state.kind === 'none')
        return { state: { kind: 'serving', current: event.generation }, effects: [] };
      // A switch left unfinished (its operation died mid-soak): its previous generation goes now.
      const effects: GenerationEffect[] =
        state.kind === 'switching' ? [{ type: 'stop', generation: state.previous, why: 'replaced' }] : [];
      return {
        state: { kind: 'switching', current: event.generation, previous: state.current },
        effects,
      };
    }
    case 'settled':
      return state.kind === 'switching'
        ? {
            state: { kind: 'serving', current: state.current },
            effects: [{ type: 'stop', generation: state.previous, why: 'replaced' }],
          }
        : { state, effects: [] };
    case 'soak_failed':
      return state.kind === 'switching'
        ? {
            state: { kind: 'serving', current: state.previous },
            effects: [{ type: 'stop', generation: state.current, why: 'failed' }],
          }
        : { state, effects: [] };
    case 'stopped':
      return {
        state: noGenerations,
        effects: generationsOf(state).map((generation) => ({ type: 'stop', generation, why: 'stopped' })),
      };
  }
}

export function currentOf(state: GenerationState): Generation | undefined {
  return state.kind === 'none' ? undefined : state.current;
}

export function previousOf(state: GenerationState): Generation | undefined {
  return state.kind === 'switching' ? state.previous : undefined;
}

/** Every running generation, previous first. */
export function generationsOf(state: GenerationState): Generation[] {
  return state.kind === 'none'
    ? []
    : state.kind === 'serving'
      ? [state.current]
      : [state.previous, state.current];
}

/**
 * The generation the route points at: the current one, unless it has no healthy instance while the
 * previous one still runs (a new release that lost its health during the soak).
 */
export function servingOf(
  state: GenerationState,
  hasHealthy: (g: Generation) => boolean,
): Generation | undefined {
  if (state.kind === 'switching' && !hasHealthy(state.current)) return state.previous;
  return currentOf(state);
}
