/**
 * HTTP/1.1 over a plain socket, byte for byte, so the fuzzer can send what no well-behaved client
 * would: non-UTF-8 bytes in the path and headers, duplicate headers, lying Content-Length, bare
 * garbage. One request per connection (`Connection: close`); the answer is read until the server
 * closes it. The socket is not half-closed after the request: Node's HTTP server takes a client's
 * FIN as an abort and drops a request still being handled. Only a request that got no answer at
 * all after `halfCloseAfterMs` (an incomplete one, waiting for bytes that never come) is ended.
 */
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

export type RawOutcome = { readonly response: RawResponse } | { readonly failure: string };

export interface RawRequest {
  readonly method: string;
  /** Sent as given: bytes outside ASCII included. */
  readonly path: string | Buffer;
  readonly headers?: readonly (readonly [string, string | Buffer])[];
  readonly body?: string | Buffer;
  /** Leave out the Content-Length the body would get. */
  readonly noContentLength?: boolean;
}

export function encodeRequest(request: RawRequest): Buffer {
  const body = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body);
  const parts: Buffer[] = [Buffer.from(`${request.method} `), Buffer.isBuffer(request.path) ? request.path : Buffer.from(request.path, 'latin1'), Buffer.from(' HTTP/1.1\r\n')];
  const headers: (readonly [string, string | Buffer])[] = [['host', '127.0.0.1'], ['connection', 'close'], ...(request.headers ?? [])];
  if (body !== undefined && !request.noContentLength && !headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name))) {
    headers.push(['content-length', String(body.length)]);
  }
  for (const [name, value] of headers) parts.push(Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n'));
  parts.push(Buffer.from('\r\n'));
  if (body !== undefined) parts.push(body);
  return Buffer.concat(parts);
}

/** Sends `bytes` to 127.0.0.1:`port` and reads the one answer. */
export function rawExchange(port: number, bytes: Buffer, options: { timeoutMs?: number; halfCloseAfterMs?: number } = {}): Promise<RawOutcome> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (failure?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      const response = data.length > 0 ? parseResponse(data) : undefined;
      resolve(response ? { response } : { failure: failure ?? 'the server closed the connection without an answer' });
    };
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    const halfClose =
      options.halfCloseAfterMs === undefined ? undefined : setTimeout(() => chunks.length === 0 && socket.end(), options.halfCloseAfterMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A mangled request may have lost its `Connection: close`: stop at a complete answer.
      if (isComplete(Buffer.concat(chunks))) finish();
    });
    socket.on('close', () => clearTimeout(halfClose));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(`socket error ${error.code ?? error.message}`));
    socket.on('close', () => finish());
  });
}

/** True once `data` holds a whole final answer with a known length (Content-Length or chunked). */
function isComplete(received: Buffer): boolean {
  const data = skipInterim(received);
  const response = data && parseResponse(data);
  if (!data || !response) return false;
  const headEnd = data.indexOf('\r\n\r\n');
  const bodyBytes = data.length - headEnd - 4;
  if (/chunked/i.test(response.headers.get('transfer-encoding') ?? '')) return data.subarray(-5).toString('latin1') === '0\r\n\r\n';
  const length = response.headers.get('content-length');
  return length !== undefined && bodyBytes >= Number(length);
}

/** `data` from its final answer on: interim answers (100 Continue) come first. Undefined while one is incomplete. */
function skipInterim(data: Buffer): Buffer | undefined {
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 13).toString('latin1'))) {
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    data = data.subarray(end + 4);
  }
  return data;
}

export function parseResponse(received: Buffer): RawResponse | undefined {
  const data = skipInterim(received);
  if (!data) return undefined;
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine, ...headerLines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!status) return undefined;
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = data.subarray(headEnd + 4);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  else if (headers.has('content-length')) body = body.subarray(0, Number(headers.get('content-length')));
  return { status: Number(status[1]), headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}
