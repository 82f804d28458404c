/**
 * Errors are values with a stable code: the edge turns them into `{"error":{"code","message"}}`
 * with a 4xx status, the CLI into a one-line message and a non-zero exit.
 */
export class CvaeError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'CvaeError';
    this.code = code;
    this.details = details;
  }
}
