/**
 * The testing runtime's dropDatabase called `connect()` outside its `try`: a refused login (a wrong
 * password) left the client's socket open for the life of the test process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createTestingRuntime } from '@operon/runtime';

const dir = mkdtempSync(join(tmpdir(), 'operon-refused-login-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sockets = () => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;

describe('createTestingRuntime with a password the server refuses', () => {
  it('fails, and leaves no socket open', async () => {
    const server = inject('postgres');
    const config = join(dir, 'operon-config.yaml');
    writeFileSync(
      config,
      `database:\n  hostname: ${server.host}\n  port: ${server.port}\n  username: ${server.user}\n  password: not-the-password\n` +
        `  user_database: refused_login_app\ntelemetry:\n  logs: { logLevel: silent }\n`,
    );
    const before = sockets();
    await expect(createTestingRuntime([], config)).rejects.toMatchObject({ code: '28P01' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sockets()).toBe(before);
  });
});
