/**
 * An app deployed in three mutually incompatible versions. Each version's `Orders.process`
 * performs a first operation of another name (so a workflow run on any other version's code
 * diverges at operation 0), waits (recv or sleep), and returns a result that names its version,
 * read from module state. Class and workflow names are the same in all three: the executor must
 * keep them apart by version. v3's workflow also starts a child after its wait, so a child started
 * by old code is seen to run on that code too.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, operonOrThrow } from '../chaos/operon-cli.js';
import { testConfigInput } from '../helpers/test-databases.js';
import type { FleetApp } from '../executors/fleet.js';
import { readBundle } from '@operon/runtime';

export type VersionNumber = 1 | 2 | 3;

const FIRST_OPERATION: Record<VersionNumber, string> = { 1: 'reserve', 2: 'charge', 3: 'ship' };

/** The source of `src/operations.ts` in version `n`. */
export function versionSource(n: VersionNumber): string {
  const first = FIRST_OPERATION[n];
  const wait =
    n === 2
      ? `const message = kind === 'sleep' ? (await ctx.sleep(seconds), 'slept') : await ctx.recv<string>('go', 300);`
      : `const message = await ctx.recv<string>('go', 300);`;
  const after = n === 3 ? `const packed = await ctx.invokeChildWorkflow(Orders).pack(id);` : `const packed = 'unpacked';`;
  return `import { Communicator, PostApi, Workflow, type CommunicatorContext, type HandlerContext, type WorkflowContext } from '@operon/sdk';

// Module state: each loaded version has its own.
const VERSION = 'v${n}';

export class Orders {
  @Communicator()
  static async ${first}(_ctx: CommunicatorContext, id: string): Promise<string> {
    return \`${first}-\${id}\`;
  }

  @Workflow()
  static async process(ctx: WorkflowContext, id: string, kind: string, seconds: number): Promise<string> {
    const first = await ctx.invoke(Orders).${first}(id);
    ${wait}
    ${after}
    return \`\${VERSION}:\${first}:\${message}:\${packed}\`;
  }

  @Workflow()
  static async pack(_ctx: WorkflowContext, id: string): Promise<string> {
    return \`\${VERSION}-packed-\${id}\`;
  }

  @PostApi('/start')
  static async start(ctx: HandlerContext, id: string, kind: string, seconds: number): Promise<string> {
    const handle = await ctx.invoke(Orders, id).process(id, kind, seconds);
    return handle.getWorkflowUUID();
  }

  @PostApi('/go')
  static async go(ctx: HandlerContext, id: string): Promise<string> {
    await ctx.send(id, 'go', 'go');
    return id;
  }

  @PostApi('/result')
  static async result(ctx: HandlerContext, id: string): Promise<unknown> {
    return ctx.retrieveWorkflow(id).getResult();
  }
}
`;
}

/** What a workflow of version `n` returns. */
export function expectedResult(n: VersionNumber, id: string, message = 'go'): string {
  const packed = n === 3 ? `v3-packed-${id}` : 'unpacked';
  return `v${n}:${FIRST_OPERATION[n]}-${id}:${message}:${packed}`;
}

/** A fleet app (test/executors/fleet.ts starts its processes) whose code changes between deploys. */
export interface VersionedApp extends FleetApp {
  readonly bundle: string;
  /** Writes version `n`'s source and builds it with `operon build`; its version (bundle hash). */
  deploy(n: VersionNumber): Promise<string>;
  remove(): void;
}

/** `firstSource` replaces version 1's source (one that also imports packages, say). */
export async function prepareVersionedApp(prefix: string, firstSource?: string): Promise<VersionedApp> {
  const dir = mkdtempSync(join(tmpdir(), `operon-${prefix}-`));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'versioned-app', private: true, type: 'module' }, null, 2)}\n`);
  // The bundle keeps packages external, as `operon build` always does: link the SDK it imports.
  mkdirSync(join(dir, 'node_modules', '@operon'), { recursive: true });
  symlinkSync(join(REPO, 'packages/sdk'), join(dir, 'node_modules', '@operon', 'sdk'), 'dir');
  const input = testConfigInput(prefix);
  const config = {
    database: { ...input.database, connectionTimeoutMillis: 3000 },
    runtimeConfig: { host: '127.0.0.1', entrypoint: 'dist/operations.js', shutdownGraceMs: 300 },
    telemetry: { logs: { logLevel: 'info' } },
  };
  const configFile = join(dir, 'operon-config.yaml');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const bundle = join(dir, 'dist', 'operations.js');
  const deploy = async (n: VersionNumber) => {
    writeFileSync(join(dir, 'src', 'operations.ts'), n === 1 && firstSource !== undefined ? firstSource : versionSource(n));
    await operonOrThrow(['build', '-c', configFile], { cwd: dir });
    return readBundle(bundle).version;
  };
  await deploy(1);
  await operonOrThrow(['migrate', '-c', configFile], { cwd: dir, timeoutMs: 60_000 });
  return {
    dir,
    configFile,
    sideLog: join(dir, 'side-log.jsonl'),
    gate: join(dir, 'gate'),
    appDatabase: input.database.user_database,
    systemDatabase: input.database.system_database,
    bundle,
    deploy,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
