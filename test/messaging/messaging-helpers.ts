/** Shared by the messaging tests: waiting for a condition, and a runtime whose log lines are kept. */
import { Writable } from 'node:stream';
import { OperonRuntime, createLogger, type OperonConfig } from '@operon/runtime';
import { testConfig } from '../helpers/test-databases.js';

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs` naming `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface LoggedRuntime {
  readonly runtime: OperonRuntime;
  /** The `msg` of every line logged so far. */
  readonly messages: () => string[];
}

/** A recovered runtime logging at `info` into memory. */
export async function startLoggedRuntime(classes: unknown[], config: OperonConfig = testConfig('msg')): Promise<LoggedRuntime> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const runtime = await OperonRuntime.create({ config, classes, logger: createLogger('info', sink) });
  await runtime.recover();
  return { runtime, messages: () => lines.map((line) => (JSON.parse(line) as { msg?: string }).msg ?? '') };
}
