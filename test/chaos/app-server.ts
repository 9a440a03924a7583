/**
 * One runtime of the app under test, served by a real `operon start` child process on its own
 * port. The harness kills it with SIGKILL, pauses it with SIGSTOP, stops it with SIGTERM and
 * starts it again; each start's "recovered N pending workflows" line is counted, and so are the
 * lines in which it adopts another executor's workflows or learns it was fenced. A process that
 * ends when nobody killed or stopped it has crashed: that is recorded with its last output (a
 * failure of the run), and it is started again, as a process supervisor would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { CLI_MAIN, cleanEnv } from './operon-cli.js';

const READY = /operon: serving on /;
const RECOVERED = /recovered (\d+) pending workflows/;
const ADOPTED = /adopted (\d+) workflows of/;
/** The executor's own line ("executor X was fenced: …") and each workflow's ("workflow U: this executor was fenced"). */
const EXECUTOR_FENCED = /^executor .* was fenced/;
const WORKFLOW_FENCED = /^workflow .*: this executor was fenced/;
/** How much of the current process's output is kept in memory for error messages. */
const TAIL_CHARS = 20_000;

/** One "adopted N workflows of M executors that are gone" line. */
export interface Adoption {
  readonly atMs: number;
  readonly resumed: number;
  /** The executor instances whose workflows were taken over. */
  readonly from: readonly string[];
}

export interface RuntimeOptions {
  /** How the harness names this runtime in its log: r0, r1, … */
  readonly name: string;
  readonly port: number;
  /** OPERON_EXECUTOR_ID; undefined lets the runtime generate one. */
  readonly executorId: string | undefined;
}

export interface Crash {
  readonly at: Date;
  readonly exit: string;
  readonly output: string;
}

export class AppServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private tail = '';
  private starts = 0;
  private expectingExit = false;
  private starting: Promise<void> | undefined;
  /** Workflows recovered at startup, summed over every start. */
  recoveredWorkflows = 0;
  readonly crashes: Crash[] = [];
  /** How the last process ended: its exit code, or the signal that ended it. */
  lastExit: string | undefined;
  /** Called after a crash was recorded. */
  onCrash: (crash: Crash) => void = () => undefined;
  readonly adoptions: Adoption[] = [];
  /** "was fenced" lines: the executor's, and one per workflow it stopped running. */
  readonly fenced = { executors: 0, workflows: 0 };
  /** Stopped with SIGSTOP and not yet continued. */
  paused = false;
  /** The unfinished last line of the output. */
  private partial = '';
  readonly baseUrl: string;

  constructor(
    private readonly appDir: string,
    private readonly configFile: string,
    private readonly logFile: string,
    readonly runtime: RuntimeOptions,
  ) {
    this.baseUrl = `http://127.0.0.1:${runtime.port}`;
  }

  get name(): string {
    return this.runtime.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts `operon start` and resolves once it serves (after its recovery), or throws with its output. */
  start(timeoutMs = 90_000): Promise<void> {
    // A crash restart and a fault's restart may ask at once: they share one start.
    if (this.starting) return this.starting;
    if (this.isRunning) return Promise.resolve();
    this.starting = this.spawnAndWait(timeoutMs).finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawnAndWait(timeoutMs: number): Promise<void> {
    this.starts++;
    this.expectingExit = false;
    this.tail = '';
    this.paused = false;
    this.partial = '';
    appendFileSync(this.logFile, `\n===== operon start #${this.starts} of ${this.name} at ${new Date().toISOString()} =====\n`);
    const { executorId, port } = this.runtime;
    const child = spawn(process.execPath, [CLI_MAIN, 'start', '-c', this.configFile, '-l', 'info', '-p', String(port)], {
      cwd: this.appDir,
      env: cleanEnv(executorId === undefined ? {} : { OPERON_EXECUTOR_ID: executorId }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const watchLines = (chunk: Buffer): void => this.watchLines(chunk.toString());
    child.stdout!.on('data', watchLines);
    child.stderr!.on('data', watchLines);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // A start that ends before it serves (its database is down, say) is a failed start, for the caller to retry; not a crash.
    let served = false;
    child.once('exit', (code, signal) => {
      this.lastExit = String(signal ?? code);
      if (this.expectingExit || this.child !== child || !served) return;
      const crash = { at: new Date(), exit: String(signal ?? code), output: this.tail.slice(-2_000) };
      this.crashes.push(crash);
      this.onCrash(crash);
    });
    let countedRecovery = false;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        appendFileSync(this.logFile, text);
        this.tail = (this.tail + text).slice(-TAIL_CHARS);
        if (!countedRecovery) {
          const recovered = RECOVERED.exec(this.tail);
          if (recovered) {
            countedRecovery = true;
            this.recoveredWorkflows += Number(recovered[1]);
          }
        }
        if (READY.test(this.tail)) {
          served = true;
          settle();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => settle(new Error(`operon start exited (${code ?? signal}) before serving:\n${this.tail}`)));
      const timer = setTimeout(() => settle(new Error(`operon start did not serve within ${timeoutMs} ms:\n${this.tail}`)), timeoutMs);
    });
  }

  /** Counts the adoption and fencing lines (pino JSON, one object a line). */
  private watchLines(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('adopted') && !line.includes('fenced')) continue;
      let entry: { msg?: unknown; time?: unknown; resumed?: unknown; from?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      const msg = typeof entry.msg === 'string' ? entry.msg : '';
      if (EXECUTOR_FENCED.test(msg)) this.fenced.executors++;
      else if (WORKFLOW_FENCED.test(msg)) this.fenced.workflows++;
      else if (ADOPTED.test(msg) && Array.isArray(entry.from)) {
        const atMs = typeof entry.time === 'string' ? Date.parse(entry.time) : Date.now();
        this.adoptions.push({ atMs, resumed: Number(entry.resumed ?? ADOPTED.exec(msg)![1]), from: entry.from.map(String) });
      }
    }
  }

  /** SIGKILL: no shutdown code runs, in-flight work stays PENDING for another executor or the next start. */
  async kill(): Promise<void> {
    this.expectingExit = true;
    // A stopped process dies of SIGKILL too; SIGCONT first would let it run for a moment.
    if (this.isRunning) this.child!.kill('SIGKILL');
    await this.exited;
    this.paused = false;
  }

  /** SIGSTOP: the process stays, silent; its lease lapses and other executors adopt its workflows. */
  pause(): void {
    if (!this.isRunning) return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  /** SIGCONT: it finds out it was fenced, and goes on as a new instance. */
  resume(): void {
    if (!this.isRunning) return;
    this.child!.kill('SIGCONT');
    this.paused = false;
  }

  /** SIGTERM (a graceful stop), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.isRunning) return;
    this.expectingExit = true;
    const child = this.child!;
    if (this.paused) this.resume();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** For exit handlers. */
  killNow(): void {
    this.expectingExit = true;
    if (this.isRunning) this.child!.kill('SIGKILL');
  }

  /** The last lines the current process printed. */
  output(): string {
    return this.tail;
  }
}
