import pino from 'pino';
import type { RequestLog } from '../../shared/api/request-log.js';

/** `cvae serve`'s request log: one JSON line per request on stdout, through pino. */
export function requestLogger(name: string): RequestLog {
  const logger = pino({ name, base: { service: name } });
  return (entry) => logger.info(entry, 'request');
}
