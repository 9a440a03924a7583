import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config/config-types.js';

/** The runtime's root logger: pino JSON lines; contexts add workflow and operation fields. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ fd: 1, sync: false }));
}
