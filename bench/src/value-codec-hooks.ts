/**
 * Module hooks of `pnpm bench:values-w3`'s workers (registered by values-w3-worker.ts): in the
 * plain JSON baseline, the runtime's import of its stored-value codec resolves to
 * plain-json-codec.js instead. Every other module, and every module of today's runtime, resolves
 * as it always does: both variants load the same built runtime through the same hooks.
 */
import type { InitializeHook, ResolveHook } from 'node:module';

export interface CodecSwap {
  /** The URL of the runtime's built value-codec.js. */
  readonly codecUrl: string;
  /** What loads in its place; undefined: the codec itself (today's runtime). */
  readonly replacementUrl: string | undefined;
}

let swap: CodecSwap | undefined;

export const initialize: InitializeHook<CodecSwap> = (data) => {
  swap = data;
};

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = await nextResolve(specifier, context);
  if (swap?.replacementUrl !== undefined && resolved.url === swap.codecUrl) return { ...resolved, url: swap.replacementUrl };
  return resolved;
};
