/**
 * A worker of `pnpm bench:values-w3`: operon-worker.js with the runtime loaded through
 * value-codec-hooks.js, which, when BENCH_VALUE_CODEC is `json`, puts plain-json-codec.js in the
 * place of the runtime's stored-value codec. Both variants load the same built runtime through the
 * same hooks; before any job runs, the worker checks which codec the runtime it loaded stores with.
 */
import { register } from 'node:module';
import type { CodecSwap } from './value-codec-hooks.js';
import type { WorkerMessage } from './protocol.js';

export type CodecVariant = 'codec' | 'json';

const variant = process.env.BENCH_VALUE_CODEC as CodecVariant | undefined;

/** Reports the failure to the orchestrator and exits once the message is out. */
async function fail(message: string): Promise<never> {
  await new Promise<void>((resolve) => (process.send ? process.send({ type: 'failed', message } satisfies WorkerMessage, () => resolve()) : resolve()));
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

if (variant !== 'codec' && variant !== 'json') await fail(`BENCH_VALUE_CODEC must be codec or json, got ${String(variant)}`);
const codecUrl = new URL('./executor/value-codec.js', import.meta.resolve('@operon/runtime')).href;
const replacementUrl = variant === 'json' ? new URL('./plain-json-codec.js', import.meta.url).href : undefined;
register('./value-codec-hooks.js', import.meta.url, { data: { codecUrl, replacementUrl } satisfies CodecSwap });

// A Map is an envelope for the codec and `{}` for plain JSON: the runtime loaded is the one asked for.
const runtime = await import('@operon/runtime');
const stored = runtime.encodeStoredValue(new Map([[1, 2]]), 'value', 'the check of the codec');
const storesWith: CodecVariant = stored === '{}' ? 'json' : 'codec';
if (storesWith !== variant) await fail(`asked for the ${variant} variant, but the runtime loaded stores a Map as ${stored} (${storesWith})`);

// Not a literal: the bundler leaves the worker (and its imports of the runtime) to load now, after the hooks.
const worker = './operon-worker.js';
await import(new URL(worker, import.meta.url).href);
