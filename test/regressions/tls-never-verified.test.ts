/**
 * Every sslmode, verify-full included, became `rejectUnauthorized: false`: a fake server on
 * loopback with a self-signed certificate for another host name was sent the password. sslmodes
 * now mean what node-postgres makes of them (only `no-verify` checks nothing), `database.sslrootcert`
 * names the CAs to trust, and `operon migrate` commands are told the real mode.
 *
 * The server here is a real TLS server speaking the start of the Postgres protocol (SSLRequest,
 * then a cleartext password request), with certificates made by openssl for this run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonRuntime, resolveConfig } from '@operon/runtime';
import { databaseEnv } from '../../packages/cli/src/app/database-env.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-tls-'));
const PASSWORD = 'the-database-password';
const file = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and certificates: one it signed for 127.0.0.1, one it signed for another name, one self-signed. */
function makeCertificates(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', `/CN=Operon test ${ca}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  for (const [name, san] of [['loopback', 'IP:127.0.0.1'], ['other-name', 'DNS:db.example.com']] as const) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
  }
  openssl('req', '-x509', ...ec, '-keyout', 'self-signed.key', '-out', 'self-signed.pem', '-days', '1', '-subj', '/CN=evil.example',
    '-addext', 'subjectAltName=DNS:evil.example');
}

const SSL_REQUEST = 80877103;

/** Answers SSLRequest with TLS (certificate `cert`), asks for a cleartext password, records what it gets. */
class FakePostgres {
  readonly passwords: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly cert: string) {}

  async start(): Promise<void> {
    const key = readFileSync(file(`${this.cert}.key`));
    const cert = readFileSync(file(`${this.cert}.pem`));
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.once('data', (request) => {
        if (request.length < 8 || request.readInt32BE(4) !== SSL_REQUEST) return socket.destroy();
        socket.write('S');
        const tls = new TLSSocket(socket, { isServer: true, key, cert });
        tls.on('error', () => undefined);
        let startup = true;
        tls.on('data', (data: Buffer) => {
          if (startup) {
            startup = false;
            const askPassword = Buffer.alloc(9);
            askPassword.write('R', 0);
            askPassword.writeInt32BE(8, 1);
            askPassword.writeInt32BE(3, 5); // AuthenticationCleartextPassword
            tls.write(askPassword);
            return;
          }
          if (data[0] === 0x70) {
            this.passwords.push(data.subarray(5, data.length - 1).toString());
            const fields = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed\0\0');
            const error = Buffer.alloc(5 + fields.length);
            error.write('E', 0);
            error.writeInt32BE(4 + fields.length, 1);
            fields.copy(error, 5);
            // As Postgres does after a FATAL: the connection is closed, not just half-closed.
            tls.end(error, () => socket.destroy());
          }
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Waits until every connection made to it is closed (the runtime may still have one in flight after it failed). */
  async drained(): Promise<void> {
    for (let i = 0; i < 100 && this.sockets.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const servers: Record<string, FakePostgres> = {};

beforeAll(async () => {
  makeCertificates();
  for (const cert of ['loopback', 'other-name', 'self-signed']) {
    servers[cert] = new FakePostgres(cert);
    await servers[cert]!.start();
  }
});

afterAll(async () => {
  for (const server of Object.values(servers)) await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Connects as the runtime does; resolves to the error it failed with. */
async function connectTo(cert: string, database: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<Error> {
  const config = resolveConfig(
    {
      database: { hostname: '127.0.0.1', port: servers[cert]!.port, username: 'postgres', password: PASSWORD, user_database: 'tls_app', connectionTimeoutMillis: 3000, ...database },
      telemetry: { logs: { logLevel: 'silent' } },
    },
    { file: join(dir, 'operon-config.yaml'), appDir: dir, env },
  );
  try {
    const runtime = await OperonRuntime.create({ config, classes: [] });
    await runtime.destroy();
  } catch (error) {
    await servers[cert]!.drained();
    return error as Error;
  }
  throw new Error('the fake server let the runtime in');
}

describe('TLS to your own Postgres', () => {
  it('verify-full refuses a self-signed certificate for another host, and sends no password', async () => {
    const error = await connectTo('self-signed', {}, { PGSSLMODE: 'verify-full' });
    expect(error.message).toMatch(/self[- ]signed certificate/);
    expect(servers['self-signed']!.passwords).toEqual([]);
  });

  it('verify-full refuses a certificate for another name, even from the trusted CA', async () => {
    const error = await connectTo('other-name', { ssl: 'verify-full', sslrootcert: 'ca.pem' });
    expect(error.message).toMatch(/Hostname\/IP does not match certificate's altnames/);
    expect(servers['other-name']!.passwords).toEqual([]);
  });

  it('verify-full refuses a certificate from a CA other than sslrootcert', async () => {
    const error = await connectTo('loopback', { ssl: 'verify-full', sslrootcert: 'other-ca.pem' });
    expect(error.message).toMatch(/unable to verify the first certificate|unable to get local issuer certificate/);
    expect(servers['loopback']!.passwords).toEqual([]);
  });

  it('require and ssl: true verify too: only no-verify turns checking off', async () => {
    expect((await connectTo('self-signed', { ssl: 'require' })).message).toMatch(/self[- ]signed certificate/);
    expect((await connectTo('self-signed', { ssl: true })).message).toMatch(/self[- ]signed certificate/);
    expect(servers['self-signed']!.passwords).toEqual([]);
    await connectTo('self-signed', { ssl: 'no-verify' });
    expect(new Set(servers['self-signed']!.passwords)).toEqual(new Set([PASSWORD]));
  });

  it('verify-full talks to the right server with the right CA; verify-ca checks the CA but not the name', async () => {
    const error = await connectTo('loopback', { ssl: 'verify-full', sslrootcert: 'ca.pem' });
    expect((error as Error & { code?: string }).code).toBe('28P01'); // TLS passed; the fake refused the login
    expect(new Set(servers['loopback']!.passwords)).toEqual(new Set([PASSWORD]));
    await connectTo('other-name', { ssl: 'verify-ca', sslrootcert: 'ca.pem' });
    expect(new Set(servers['other-name']!.passwords)).toEqual(new Set([PASSWORD]));
  });
});

describe('the environment of operon migrate commands', () => {
  it('carries the configured sslmode and CA file, not a blanket require', () => {
    const runtime = {
      connection: { host: 'db.example.com', port: 5432, user: 'app', password: 'pw', ssl: 'verify-full', sslrootcert: '/etc/ca.pem', connectionTimeoutMillis: 3000 },
      config: { database: { user_database: 'app' } },
    } as unknown as OperonRuntime;
    const env = databaseEnv(runtime, { PGSSLROOTCERT: '/somewhere/else.pem' });
    expect(env.PGSSLMODE).toBe('verify-full');
    expect(env.PGSSLROOTCERT).toBe('/etc/ca.pem');
    expect(new URL(env.DATABASE_URL!).searchParams.get('sslmode')).toBe('verify-full');
    expect(new URL(env.DATABASE_URL!).searchParams.get('sslrootcert')).toBe('/etc/ca.pem');
    const disabled = databaseEnv({ ...runtime, connection: { ...runtime.connection, ssl: 'disable', sslrootcert: undefined } } as unknown as OperonRuntime, {
      PGSSLROOTCERT: '/somewhere/else.pem',
    });
    expect([disabled.PGSSLMODE, disabled.PGSSLROOTCERT]).toEqual(['disable', undefined]);
  });
});
