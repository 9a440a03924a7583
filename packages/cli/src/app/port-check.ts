/**
 * Checks the HTTP port before anything else happens. A second `operon start` of the same app must
 * fail here, before it recovers workflows: the first process is still running them.
 */
import { createServer } from 'node:net';
import { OperonCliPortInUseError, OperonCliUsageError } from '../errors.js';

export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(listenError(error, host, port)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** The CLI's error for a failed listen on `host:port`; other errors are returned as they are. */
export function listenError(error: unknown, host: string, port: number): unknown {
  switch ((error as NodeJS.ErrnoException | null)?.code) {
    case 'EADDRINUSE':
      return new OperonCliPortInUseError(host, port, 'in-use');
    case 'EACCES':
      return new OperonCliPortInUseError(host, port, 'denied');
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OperonCliUsageError(`runtimeConfig.host ${JSON.stringify(host)} is not an address of this machine; use 127.0.0.1 or 0.0.0.0`);
    default:
      return error;
  }
}
