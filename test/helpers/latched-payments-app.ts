/**
 * An app in two versions for the tests of moves while a run finishes: `paymentsOf(1)`'s workflow
 * `pay` starts with `hold` (a communicator that waits on a latch), `payInTransaction` with
 * `holdInTransaction` (a transaction that does), and `paymentsOf(2)`'s both with `charge`. A
 * bundle that re-exports `paymentsOf(n)` under `Payments` is version n (see `moveBundle`). The
 * latch and the replay count live on globalThis: a loaded version is another copy of this module.
 */
import { fileURLToPath } from 'node:url';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { bundleOf, oncePerVersion } from './version-bundle.js';

interface MoveState {
  arrive: () => void;
  reached: Promise<void>;
  release: () => void;
  released: Promise<void>;
  /** How many times a version-2 workflow body has started (the move's check replays it). */
  v2Bodies: number;
  /** Awaited by a version-2 `payInTransaction` body as it starts: a test's hook into the check. */
  onV2Body?: () => Promise<void>;
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

/** Version n's class `Payments` (one class per version and module copy). */
export const paymentsOf = oncePerVersion((n: 1 | 2) => {
  class Payments {
    @Communicator({ retriesAllowed: false })
    static async hold(_ctx: CommunicatorContext): Promise<string> {
      moveState().arrive();
      await moveState().released;
      return 'held';
    }

    @Transaction()
    static async holdInTransaction(ctx: TransactionContext): Promise<string> {
      moveState().arrive();
      await moveState().released;
      await ctx.client.query('SELECT 1');
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

    @Workflow()
    static async payInTransaction(ctx: WorkflowContext): Promise<string> {
      if (n === 2) {
        moveState().v2Bodies++;
        await moveState().onV2Body?.();
      }
      const first = n === 1 ? await ctx.invoke(Payments).holdInTransaction() : await ctx.invoke(Payments).charge();
      return `v${n}:${first}`;
    }
  }
  return Payments;
});

const appFile = fileURLToPath(import.meta.url);

/** A bundle of version `n`; `tag` makes its hash new. */
export const moveBundle = (n: 1 | 2, tag: string) => bundleOf(appFile, 'paymentsOf', 'Payments', n, tag);
