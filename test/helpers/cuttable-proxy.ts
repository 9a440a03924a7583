/**
 * A TCP proxy in front of the test Postgres that a test can break on purpose: drop every
 * connection and refuse new ones for a while (the server is away), or let the next statement
 * reach the server and then lose its answer with the connection (it committed, the client cannot
 * know). Loopback only.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { inject } from 'vitest';
import type { OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from './test-databases.js';

export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private swallowing = false;
  private readonly server: Server;

  constructor(target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!this.swallowing) {
          client.write(chunk);
          return;
        }
        // The statement ran on the server; its answer never reaches the client.
        this.swallowing = false;
        client.destroy();
        upstream.destroy();
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)));
  }

  /** Drops every open connection and refuses new ones until {@link restore}. */
  cutAll(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  /** The next answer the server sends, on any connection, is dropped with its connection. */
  swallowNextAnswer(): void {
    this.swallowing = true;
  }

  close(): Promise<void> {
    this.cutAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface RuntimeBehindProxy {
  readonly runtime: OperonRuntime;
  readonly proxy: CuttableProxy;
  /** Restores the proxy, stops the runtime, closes the proxy. */
  close(): Promise<void>;
}

/**
 * A recovered runtime on fresh databases whose every connection passes through a new proxy, so a
 * test can take the database away from it. Outages log warnings by design: it logs errors only.
 */
export async function runtimeBehindProxy(classes: unknown[], prefix: string, connectionTimeoutMillis = 1_000): Promise<RuntimeBehindProxy> {
  const server = inject('postgres');
  const proxy = new CuttableProxy({ host: server.host, port: server.port });
  const port = await proxy.listen();
  const runtime = await startRuntime(
    classes,
    testConfig(prefix, { database: { hostname: '127.0.0.1', port, connectionTimeoutMillis }, telemetry: { logs: { logLevel: 'error' } } }),
  );
  return {
    runtime,
    proxy,
    close: async () => {
      proxy.restore();
      await runtime.destroy({ timeoutMs: 1_000 });
      await proxy.close();
    },
  };
}
