import { pino } from 'pino';

export type Logger = pino.Logger;

/** Structured logs go to stderr, so `--json` output on stdout stays one clean document. */
export function createLogger(name: string, level = process.env.SHIPGATE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}
