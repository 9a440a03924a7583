/**
 * The testing runtime's dropDatabase called `connect()` outside its `try`: when the login was
 * refused, the client was never ended, and its socket stayed open for as long as the server kept
 * it (a proxy or pooler may keep it for good). The server here refuses every password and then
 * leaves the connection open, so only the client can close it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestingRuntime } from '@operon/runtime';

const dir = mkdtempSync(join(tmpdir(), 'operon-refused-login-'));
const open = new Set<Socket>();

/** Speaks just enough Postgres to ask for a password, refuse it (28P01), and keep the connection. */
const server = createServer((socket) => {
  open.add(socket);
  socket.on('close', () => open.delete(socket));
  socket.on('error', () => undefined);
  let startup = true;
  socket.on('data', (data) => {
    if (startup) {
      startup = false;
      const askPassword = Buffer.alloc(9);
      askPassword.write('R', 0);
      askPassword.writeInt32BE(8, 1);
      askPassword.writeInt32BE(3, 5);
      socket.write(askPassword);
    } else if (data[0] === 0x70) {
      const fields = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed\0\0');
      const error = Buffer.alloc(5 + fields.length);
      error.write('E', 0);
      error.writeInt32BE(4 + fields.length, 1);
      fields.copy(error, 5);
      socket.write(error);
    }
  });
});

afterAll(async () => {
  for (const socket of open) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('createTestingRuntime with a password the server refuses', () => {
  it('fails, and leaves no connection open', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const config = join(dir, 'operon-config.yaml');
    writeFileSync(
      config,
      `database:\n  hostname: 127.0.0.1\n  port: ${port}\n  username: postgres\n  password: not-the-password\n` +
        `  user_database: refused_login_app\ntelemetry:\n  logs: { logLevel: silent }\n`,
    );
    await expect(createTestingRuntime([], config)).rejects.toMatchObject({ code: '28P01' });
    for (let i = 0; i < 50 && open.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(open.size, 'the refused connection is still open').toBe(0);
  });
});
