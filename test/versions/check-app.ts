/**
 * An app in three mutually incompatible versions for in-process tests: `ordersOf(n)` is version
 * n's class `Orders` (the same name in every version). Its workflow's first operation has
 * another name in each version, then it waits for a message. A bundle that re-exports
 * `ordersOf(n)` under `Orders` is version n (see `versionBundle`).
 */
import { fileURLToPath } from 'node:url';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { bundleOf } from '../helpers/version-bundle.js';

export type VersionNumber = 1 | 2 | 3;

const FIRST: Record<VersionNumber, 'reserve' | 'charge' | 'ship'> = { 1: 'reserve', 2: 'charge', 3: 'ship' };

export function ordersOf(n: VersionNumber) {
  class Orders {
    @Communicator()
    static async reserve(_ctx: CommunicatorContext, id: string): Promise<string> {
      return `reserve-${id}`;
    }

    @Communicator()
    static async charge(_ctx: CommunicatorContext, id: string): Promise<string> {
      return `charge-${id}`;
    }

    @Communicator()
    static async ship(_ctx: CommunicatorContext, id: string): Promise<string> {
      return `ship-${id}`;
    }

    @Workflow()
    static async process(ctx: WorkflowContext, id: string): Promise<string> {
      const first = await ctx.invoke(Orders)[FIRST[n]](id);
      const message = await ctx.recv<string>('go', 300);
      return `v${n}:${first}:${message}`;
    }
  }
  return Orders;
}

const appFile = fileURLToPath(import.meta.url);

/** A bundle of version `n`; `tag` makes its hash new (each test's versions are its own). */
export function versionBundle(n: VersionNumber, tag: string) {
  return bundleOf(appFile, 'ordersOf', 'Orders', n, tag);
}
