/**
 * An app in two versions for the move-while-finishing regression test: `paymentsOf(1)`'s workflow
 * starts with `hold` (a communicator that waits on a latch), `paymentsOf(2)`'s with `charge`. A
 * bundle that re-exports `paymentsOf(n)` under `Payments` is version n (see `moveBundle`). The
 * latch and the replay count live on globalThis: a loaded version is another copy of this module.
 */
import { fileURLToPath } from 'node:url';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';

interface MoveState {
  arrive: () => void;
  reached: Promise<void>;
  release: () => void;
  released: Promise<void>;
  /** How many times a version-2 workflow body has started (the move's check replays it). */
  v2Bodies: number;
}

export function moveState(): MoveState {
  const global = globalThis as { __operonMoveState?: MoveState };
  if (!global.__operonMoveState) {
    const state = { v2Bodies: 0 } as MoveState;
    state.reached = new Promise<void>((resolve) => (state.arrive = resolve));
    state.released = new Promise<void>((resolve) => (state.release = resolve));
    global.__operonMoveState = state;
  }
  return global.__operonMoveState;
}

const made = new Map<1 | 2, unknown>();

/** Version n's class `Payments` (one class per version and module copy). */
export function paymentsOf(n: 1 | 2) {
  const cached = made.get(n);
  if (cached) return cached as ReturnType<typeof makePayments>;
  const cls = makePayments(n);
  made.set(n, cls);
  return cls;
}

function makePayments(n: 1 | 2) {
  class Payments {
    @Communicator({ retriesAllowed: false })
    static async hold(_ctx: CommunicatorContext): Promise<string> {
      moveState().arrive();
      await moveState().released;
      return 'held';
    }

    @Communicator()
    static async charge(_ctx: CommunicatorContext): Promise<string> {
      return 'charged';
    }

    @Workflow()
    static async pay(ctx: WorkflowContext): Promise<string> {
      if (n === 2) moveState().v2Bodies++;
      const first = n === 1 ? await ctx.invoke(Payments).hold() : await ctx.invoke(Payments).charge();
      return `v${n}:${first}`;
    }
  }
  return Payments;
}

const appFile = fileURLToPath(import.meta.url);

/** A bundle of version `n`; `tag` makes its hash new. */
export function moveBundle(n: 1 | 2, tag: string) {
  const bytes = Buffer.from(`import { paymentsOf } from ${JSON.stringify(appFile)};\nexport const Payments = paymentsOf(${n}); // ${tag}\n`);
  return { version: versionOf(bytes), bundle: bytes, sourceMap: null };
}
