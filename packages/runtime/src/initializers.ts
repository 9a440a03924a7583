/**
 * `@Initializer()` methods: each runs once per start, after migrations and recovery and before the
 * server listens, in the order their classes were registered. The first that throws stops the
 * start with one line naming it; the ones after it do not run.
 */
import { OperonError, type InitContext } from '@operon/sdk';
import type { OperonRuntime } from './runtime.js';
import { readConfigPath } from './executor/operation-context.js';

/** An `@Initializer()` threw (or is not a plain initializer): the start stops. */
export class OperonInitializerError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_INITIALIZER';
}

export async function runInitializers(runtime: OperonRuntime): Promise<number> {
  const initializers = runtime.registry.all().filter((fn) => fn.method.initializer);
  for (const fn of initializers) {
    const also = fn.method.kind ?? (fn.method.http && 'handler');
    if (also) throw new OperonInitializerError(`initializer ${fn.name} is also a ${also}; an @Initializer must be a method of its own`);
    const logger = runtime.logger.child({ operationName: fn.name, operationType: 'initializer' });
    const ctx: InitContext = {
      logger,
      getConfig: (key, defaultValue) => readConfigPath(runtime.config.application, key, defaultValue),
      queryUserDB: async (sql, ...params) => (await runtime.appPool.query(sql, params)).rows,
    };
    try {
      await fn.method.fn.call(fn.cls, ctx);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const failed = new OperonInitializerError(`initializer ${fn.name} failed: ${message.split('\n')[0]}`);
      failed.cause = error;
      throw failed;
    }
  }
  return initializers.length;
}
