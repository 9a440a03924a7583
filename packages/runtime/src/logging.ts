import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogFormat, LogLevel } from './config/config-types.js';

/** The runtime's root logger: pino JSON lines; contexts add workflow and operation fields. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ fd: 1, sync: false }));
}

/** Whether `format` means readable lines: `auto` does on a terminal, so piped output and CI get JSON. */
export function prettyLogs(format: LogFormat, stdoutIsTerminal = process.stdout.isTTY === true): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTerminal);
}

/**
 * Where `operon start` writes its log lines: stdout as pino JSON, or through pino-pretty as
 * coloured one-line text with the time, level and message first and the fields after.
 * pino-pretty is loaded only when used.
 */
export async function logDestination(format: LogFormat): Promise<DestinationStream | undefined> {
  if (!prettyLogs(format)) return undefined;
  const { default: pretty } = await import('pino-pretty');
  // Colours follow the terminal (and NO_COLOR / FORCE_COLOR), as pino-pretty decides by default.
  return pretty({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true, destination: 1, sync: false });
}
