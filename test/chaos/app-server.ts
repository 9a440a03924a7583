/**
 * The app under test, served by a real `operon start` child process. The harness kills it with
 * SIGKILL and starts it again; each start's "recovered N pending workflows" line is counted. A
 * process that ends when nobody killed or stopped it has crashed: that is recorded with its last
 * output (a failure of the run), and it is started again, as a process supervisor would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { CLI_MAIN, cleanEnv } from './operon-cli.js';

const READY = /operon: serving on /;
const RECOVERED = /recovered (\d+) pending workflows/;
/** How much of the current process's output is kept in memory for error messages. */
const TAIL_CHARS = 20_000;

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

  constructor(
    private readonly appDir: string,
    private readonly configFile: string,
    private readonly logFile: string,
    readonly baseUrl: string,
  ) {}

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
    appendFileSync(this.logFile, `\n===== operon start #${this.starts} at ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [CLI_MAIN, 'start', '-c', this.configFile, '-l', 'info'], {
      cwd: this.appDir,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      this.lastExit = String(signal ?? code);
      if (this.expectingExit || this.child !== child) return;
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
        if (READY.test(this.tail)) settle();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => settle(new Error(`operon start exited (${code ?? signal}) before serving:\n${this.tail}`)));
      const timer = setTimeout(() => settle(new Error(`operon start did not serve within ${timeoutMs} ms:\n${this.tail}`)), timeoutMs);
    });
  }

  /** SIGKILL: no shutdown code runs, in-flight work stays PENDING for the next start. */
  async kill(): Promise<void> {
    this.expectingExit = true;
    if (this.isRunning) this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a graceful stop), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.isRunning) return;
    this.expectingExit = true;
    const child = this.child!;
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
