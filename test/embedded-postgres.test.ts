/**
 * The embedded Postgres a config without a database host gets: created under the app's .operon/,
 * reused across restarts, adopted when a crashed runtime left it running, with clear errors.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, resolveConfig, type OperonConfig } from '@operon/runtime';
import { freePort } from './helpers/global-setup.js';

class Hello {
  @Communicator()
  static async shout(_ctx: CommunicatorContext, name: string): Promise<string> {
    return name.toUpperCase();
  }
  @Workflow()
  static async greet(ctx: WorkflowContext, name: string): Promise<string> {
    return `hello ${await ctx.invoke(Hello).shout(name)}`;
  }
}

const appDir = mkdtempSync(join(tmpdir(), 'operon-embedded-'));
chmodSync(appDir, 0o755);
let config: OperonConfig;
const leftRunning: OperonRuntime[] = [];

afterAll(async () => {
  for (const rt of leftRunning) await rt.destroy({ stopEmbedded: true }).catch(() => undefined);
  rmSync(appDir, { recursive: true, force: true });
});

async function greet(rt: OperonRuntime, uuid: string): Promise<unknown> {
  return (await rt.client.invoke(Hello, { workflowUUID: uuid }).greet('ada')).getResult();
}

describe('embedded Postgres', () => {
  it('starts a real Postgres under .operon/ when no database host is configured, and keeps its data', async () => {
    config = resolveConfig(
      { database: { port: await freePort(), user_database: 'hello' }, telemetry: { logs: { logLevel: 'warn' } } },
      { file: join(appDir, 'operon-config.yaml'), appDir, env: {} },
    );
    expect(config.database.embedded).toBe(true);
    const first = await OperonRuntime.create({ config, classes: [Hello] });
    await first.recover();
    expect(await greet(first, 'wf-1')).toBe('hello ADA');
    await first.destroy();
    expect(existsSync(join(appDir, '.operon', 'pgdata', 'PG_VERSION'))).toBe(true);

    const second = await OperonRuntime.create({ config, classes: [Hello] });
    expect((await second.client.retrieveWorkflow('wf-1').getStatus())?.status).toBe('SUCCESS');
    await second.destroy();
  });

  it('adopts a server that a crashed runtime left running', async () => {
    const crashed = await OperonRuntime.create({ config, classes: [Hello] });
    await crashed.destroy({ stopEmbedded: false });
    const next = await OperonRuntime.create({ config, classes: [Hello] });
    leftRunning.push(next);
    expect(await greet(next, 'wf-2')).toBe('hello ADA');
    await next.destroy({ stopEmbedded: true });
  });

  it('starts past a stale lock file left by a server that died', async () => {
    writeFileSync(join(appDir, '.operon', 'pgdata', 'postmaster.pid'), `999999\n${join(appDir, '.operon', 'pgdata')}\n0\n${config.database.port}\n`);
    const rt = await OperonRuntime.create({ config, classes: [Hello] });
    leftRunning.push(rt);
    expect(await greet(rt, 'wf-3')).toBe('hello ADA');
    await rt.destroy();
  });

  it('says which port clashes and how to fix it', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const clashing = resolveConfig({ database: { port } }, { file: join(appDir, 'operon-config.yaml'), appDir, env: {} });
      await expect(OperonRuntime.create({ config: clashing, classes: [] })).rejects.toThrow(
        `port ${port} is already in use by another server, so the embedded Postgres cannot start there; set database.port in operon-config.yaml to a free port`,
      );
    } finally {
      blocker.close();
    }
  });
});
