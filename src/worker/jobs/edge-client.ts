import { type Lease, leaseSchema, type TrainingJob } from '../../shared/api/jobs-schemas.js';
import { CvaeError } from '../../shared/errors.js';

/** The training worker's side of the lease protocol: HTTPS to the edge with the worker token. */
export class EdgeJobsClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    readonly workerId: string,
  ) {}

  private async post(path: string, body: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CvaeError('edge_unreachable', `cannot reach the edge at ${this.baseUrl}: ${(error as Error).message}`);
    }
    if (res.status >= 400) {
      const text = await res.text();
      let code = 'edge_error';
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error?: { code: string; message: string } };
        if (parsed.error) ({ code, message } = parsed.error);
      } catch {}
      throw new CvaeError(code, `${path}: HTTP ${res.status}: ${message}`);
    }
    return res;
  }

  async lease(): Promise<Lease | undefined> {
    const res = await this.post('/v1/worker/lease', { workerId: this.workerId });
    if (res.status === 204) return undefined;
    return leaseSchema.parse(await res.json());
  }

  async heartbeat(
    jobId: string,
    progress: { epoch: number; epochs: number; [k: string]: number },
  ): Promise<{ cancel: boolean }> {
    const res = await this.post(`/v1/worker/jobs/${jobId}/heartbeat`, { workerId: this.workerId, progress });
    return (await res.json()) as { cancel: boolean };
  }

  /** A cheap read (no write, no event): has the user cancelled, and do we still hold the lease? */
  async status(jobId: string): Promise<{ cancel: boolean; leased: boolean }> {
    const res = await this.post(`/v1/worker/jobs/${jobId}/status`, { workerId: this.workerId });
    return (await res.json()) as { cancel: boolean; leased: boolean };
  }

  async complete(
    jobId: string,
    model: { id: string; version: string },
    metrics?: Record<string, unknown>,
  ): Promise<TrainingJob> {
    const res = await this.post(`/v1/worker/jobs/${jobId}/complete`, { workerId: this.workerId, model, metrics });
    return (await res.json()) as TrainingJob;
  }

  async fail(jobId: string, error: string, retryable: boolean): Promise<void> {
    await this.post(`/v1/worker/jobs/${jobId}/fail`, {
      workerId: this.workerId,
      error: error.slice(0, 4000),
      retryable,
    });
  }

  async release(jobId: string, reason: string): Promise<void> {
    await this.post(`/v1/worker/jobs/${jobId}/release`, { workerId: this.workerId, reason });
  }
}
