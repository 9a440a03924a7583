/**
 * A TCP proxy on loopback between an app and its Postgres, which a test or the chaos harness can
 * break on purpose:
 *
 *   cutAll / restore        every connection dropped, new ones refused (the server is away)
 *   swallowNextAnswer       the next answer the server sends, on any connection, is dropped with
 *                           its connection (the statement ran; the client cannot know)
 *   loseNextCommitAnswer    the next COMMIT (optionally: of a transaction that carried a marker)
 *                           reaches the server, which commits; its answer is dropped and the
 *                           connection cut, so the client sees "Connection terminated" for work
 *                           that is durable
 *   stall / unstall         nothing passes either way, connections stay open (a server that
 *                           hangs, as a SIGSTOPped one does); unstall delivers what was held
 *   stallAt                 the same, from the first bytes a client sends that carry a marker
 *                           (that statement is held before the server sees it)
 *
 * It reads just enough of Postgres's wire protocol to do that: message boundaries both ways, the
 * SQL text of Query and Parse messages, the bytes of Bind (the parameters), and the transaction
 * status of ReadyForQuery. Bytes are forwarded as they arrive; only a cut changes what passes.
 * A TLS connection (the server said yes to SSLRequest) is passed through unread.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** What {@link PostgresProxy.loseNextCommitAnswer} cut. */
export interface CommitCut {
  /** The database the connection was opened on (from its startup message). */
  readonly database: string;
  /** The start of the statement whose answer was lost. */
  readonly statement: string;
  /** Whether the connection was inside an explicit transaction (a COMMIT) or not (a statement that committed by itself). */
  readonly committed: 'commit' | 'autocommit';
}

export interface CommitCutOptions {
  /**
   * Only a unit of work that carried these bytes (in its SQL text or its parameters) is cut: the
   * COMMIT of the transaction they were sent in, or the statement itself outside a transaction.
   * Without one, the next COMMIT on any connection is cut.
   */
  readonly marker?: string;
  /** Gives up (resolves undefined) after this long. @default 10000 */
  readonly timeoutMs?: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const PROTOCOL_3 = 196608;
const COMMIT = /^\s*(?:COMMIT|END)\b|;\s*(?:COMMIT|END)\s*;?\s*$/i;
/** A cut whose server answer never came (a hung statement) is made anyway after this long. */
const ANSWER_WAIT_MS = 5_000;

interface ArmedCut {
  readonly marker: Buffer | undefined;
  readonly resolve: (cut: CommitCut | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

export class PostgresProxy {
  private readonly connections = new Set<ProxiedConnection>();
  private refusing = false;
  private swallowing = false;
  private armed: ArmedCut | undefined;
  private stalled = false;
  private stallMarker: { readonly bytes: Buffer; readonly stalled: () => void } | undefined;
  private readonly server: Server;

  constructor(private target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on loopback (a free port unless one is given); resolves with the port. */
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port));
    });
  }

  /** Connections open through the proxy right now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Drops every open connection and refuses new ones until {@link restore}. */
  cutAll(): void {
    this.refusing = true;
    for (const connection of this.connections) connection.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  /** Holds every byte in both directions (connections stay open, new ones are accepted and hang) until {@link unstall}. */
  stall(): void {
    this.stalled = true;
  }

  /**
   * Stalls everything (as {@link stall}) from the first chunk a client sends that carries
   * `marker` (in its SQL text or its parameters), that chunk held too. Resolves once it did.
   */
  stallAt(marker: string): Promise<void> {
    return new Promise((resolve) => (this.stallMarker = { bytes: Buffer.from(marker, 'utf8'), stalled: resolve }));
  }

  /** Delivers what a stall held, in order, and lets bytes pass again. */
  unstall(): void {
    this.stalled = false;
    this.stallMarker = undefined;
    for (const connection of this.connections) connection.flush();
  }

  /**
   * Points new connections at another server (as a DNS name or a virtual IP moved to a promoted
   * replica) and drops the open ones, which still lead to the old server.
   */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
    for (const connection of this.connections) connection.destroy();
  }

  /** The next answer the server sends, on any connection, is dropped with its connection. */
  swallowNextAnswer(): void {
    this.swallowing = true;
  }

  /**
   * Arms a one-shot cut (replacing one already armed): the next COMMIT that matches `options`
   * is forwarded, the server's answer to it is dropped, and both sides of that connection are
   * closed once the server has answered (so the commit is known to have happened). Resolves
   * with what was cut, or undefined if nothing matched within the timeout.
   */
  loseNextCommitAnswer(options: CommitCutOptions = {}): Promise<CommitCut | undefined> {
    this.disarm();
    for (const connection of this.connections) connection.forgetMarker();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.disarm(), options.timeoutMs ?? 10_000);
      this.armed = { marker: options.marker === undefined ? undefined : Buffer.from(options.marker, 'utf8'), resolve, timer };
    });
  }

  /** Withdraws an armed cut; its promise resolves undefined. */
  disarm(): void {
    const armed = this.armed;
    if (!armed) return;
    this.armed = undefined;
    clearTimeout(armed.timer);
    armed.resolve(undefined);
  }

  close(): Promise<void> {
    this.disarm();
    this.stalled = false;
    this.cutAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const connection = new ProxiedConnection(client, connect(this.target), {
      armedMarker: () => (this.armed ? (this.armed.marker ?? null) : undefined),
      fire: (cut) => {
        const armed = this.armed;
        if (!armed) return false;
        this.armed = undefined;
        clearTimeout(armed.timer);
        armed.resolve(cut);
        return true;
      },
      swallow: () => {
        if (!this.swallowing) return false;
        this.swallowing = false;
        return true;
      },
      stalled: (chunk) => {
        const marker = this.stallMarker;
        if (!this.stalled && marker !== undefined && chunk !== undefined && chunk.includes(marker.bytes)) {
          this.stalled = true;
          this.stallMarker = undefined;
          marker.stalled();
        }
        return this.stalled;
      },
      closed: () => this.connections.delete(connection),
    });
    this.connections.add(connection);
  }
}

interface ConnectionHooks {
  /** undefined: nothing armed; null: a cut of any COMMIT; a buffer: a cut of a marked unit of work. */
  armedMarker(): Buffer | null | undefined;
  /** Claims the armed cut for this connection; false if another connection claimed it first. */
  fire(cut: CommitCut): boolean;
  /** True (once) when the next answer must be swallowed. */
  swallow(): boolean;
  /** True while nothing may pass; `chunk` is what a client sends (checked for a stall's marker). */
  stalled(chunk?: Buffer): boolean;
  closed(): void;
}

/** One client connection and its upstream connection, with a reader for each direction. */
class ProxiedConnection {
  private database = '?';
  /** From the last ReadyForQuery: inside an explicit transaction block. */
  private inTransaction = false;
  /** The armed marker passed on this connection since its last transaction began. */
  private markerSeen = false;
  /** A statement whose answer is to be lost was forwarded: answers are dropped until the cut. */
  private cutting = false;
  private opaque = false;
  private expectingSslAnswer = false;
  private readonly frontend = new MessageReader(true);
  private readonly backend = new MessageReader(false);
  /** Chunks a stall held, each with the direction it goes, in arrival order. */
  private held: (() => void)[] = [];

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    private readonly hooks: ConnectionHooks,
  ) {
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => this.destroy());
    }
    client.on('data', (chunk: Buffer) => this.pass(() => this.fromClient(chunk), chunk));
    upstream.on('data', (chunk: Buffer) => this.pass(() => this.fromServer(chunk)));
  }

  /** Delivers what a stall held. */
  flush(): void {
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }

  private pass(deliver: () => void, fromClient?: Buffer): void {
    if (this.hooks.stalled(fromClient) || this.held.length > 0) this.held.push(deliver);
    else deliver();
  }

  destroy(): void {
    if (this.client.destroyed && this.upstream.destroyed) return;
    this.client.destroy();
    this.upstream.destroy();
    this.hooks.closed();
  }

  forgetMarker(): void {
    this.markerSeen = false;
  }

  private fromClient(chunk: Buffer): void {
    if (this.cutting) return;
    this.upstream.write(chunk);
    if (this.opaque) return;
    for (const message of this.frontend.push(chunk)) {
      this.onFrontendMessage(message);
      if (this.cutting) return;
    }
  }

  private fromServer(chunk: Buffer): void {
    if (this.cutting) {
      // Dropped; the cut is made once the server has answered the whole statement.
      if (this.backend.push(chunk).some((m) => m.type === 'Z')) this.destroy();
      return;
    }
    if (this.hooks.swallow()) {
      this.destroy();
      return;
    }
    if (this.expectingSslAnswer) {
      // One unframed byte: 'S' (TLS follows: nothing more can be read) or 'N'.
      this.expectingSslAnswer = false;
      if (chunk[0] === 0x53) this.opaque = true;
      this.backend.skip(1);
    }
    this.client.write(chunk);
    if (this.opaque) return;
    for (const message of this.backend.push(chunk)) {
      if (message.type === 'Z') {
        this.inTransaction = message.body[0] !== 0x49; // 'I': idle, outside any transaction
        if (!this.inTransaction) this.markerSeen = false;
      }
    }
  }

  private onFrontendMessage(message: WireMessage): void {
    if (message.type === undefined) {
      const code = message.body.length >= 4 ? message.body.readInt32BE(0) : 0;
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) this.expectingSslAnswer = true;
      else if (code === PROTOCOL_3) this.database = startupParameter(message.body.subarray(4), 'database') ?? this.database;
      return;
    }
    const marker = this.hooks.armedMarker();
    if (marker === undefined) return;
    const sql = message.type === 'Q' ? cString(message.body, 0) : message.type === 'P' ? cString(message.body, message.body.indexOf(0) + 1) : undefined;
    if (marker !== null && (message.type === 'Q' || message.type === 'P' || message.type === 'B') && message.body.includes(marker)) this.markerSeen = true;
    const wanted = marker === null || this.markerSeen;
    if (!wanted) return;
    if (sql !== undefined && COMMIT.test(sql)) {
      this.cut({ statement: sql, committed: 'commit' });
      return;
    }
    // A marked statement outside a transaction block commits by itself: a simple Query at once,
    // an extended-protocol one at its Sync.
    if (marker !== null && !this.inTransaction && (message.type === 'Q' || message.type === 'S')) {
      this.cut({ statement: sql ?? '(extended-protocol statement)', committed: 'autocommit' });
    }
  }

  private cut(what: { statement: string; committed: CommitCut['committed'] }): void {
    if (!this.hooks.fire({ database: this.database, statement: what.statement.replace(/\s+/g, ' ').slice(0, 160), committed: what.committed })) return;
    this.cutting = true;
    setTimeout(() => this.destroy(), ANSWER_WAIT_MS).unref();
  }
}

interface WireMessage {
  /** The type byte as a letter; undefined for the untyped startup-phase messages of a client. */
  readonly type: string | undefined;
  readonly body: Buffer;
}

/**
 * Splits one direction of a connection into messages, across chunk boundaries. A client starts
 * with untyped messages (length, then body) until its StartupMessage; everything else is typed
 * (one letter, length, body).
 */
class MessageReader {
  private pending = Buffer.alloc(0);
  private toSkip = 0;

  constructor(private startupPhase: boolean) {}

  /** Drops the next `n` bytes (an unframed answer) from the stream. */
  skip(n: number): void {
    this.toSkip += n;
  }

  push(chunk: Buffer): WireMessage[] {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.toSkip > 0) {
      const skipped = Math.min(this.toSkip, data.length);
      this.toSkip -= skipped;
      data = data.subarray(skipped);
    }
    const messages: WireMessage[] = [];
    let at = 0;
    for (;;) {
      if (this.startupPhase) {
        if (data.length - at < 4) break;
        const length = data.readInt32BE(at);
        if (data.length - at < length) break;
        const body = data.subarray(at + 4, at + length);
        messages.push({ type: undefined, body });
        at += length;
        if (body.length >= 4 && body.readInt32BE(0) === PROTOCOL_3) this.startupPhase = false;
        continue;
      }
      if (data.length - at < 5) break;
      const length = data.readInt32BE(at + 1);
      if (data.length - at < 1 + length) break;
      messages.push({ type: String.fromCharCode(data[at]!), body: data.subarray(at + 5, at + 1 + length) });
      at += 1 + length;
    }
    this.pending = Buffer.from(data.subarray(at));
    return messages;
  }
}

function cString(buffer: Buffer, from: number): string {
  const end = buffer.indexOf(0, from);
  return buffer.toString('utf8', from, end === -1 ? buffer.length : end);
}

function startupParameter(body: Buffer, name: string): string | undefined {
  const parts = body.toString('utf8').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] === name) return parts[i + 1];
  return undefined;
}
