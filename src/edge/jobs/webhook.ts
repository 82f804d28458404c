import type { TrainingJob } from '../../shared/api/jobs-schemas.js';

/**
 * Completion webhooks, signed like Stripe's: `X-Cvae-Signature: t=<unix seconds>,v1=<hex>` where
 * v1 = HMAC-SHA256(secret, "<job id>.<t>.<body>"). Receivers recompute it and reject old `t`.
 */
export async function signWebhook(secret: string, jobId: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${jobId}.${timestamp}.${body}`));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sendWebhook(
  url: string,
  secret: string,
  job: TrainingJob,
  fetcher: typeof fetch = fetch,
): Promise<number> {
  const body = JSON.stringify({ type: `training_job.${job.status}`, job });
  const t = Math.floor(Date.now() / 1000);
  const signature = await signWebhook(secret, job.id, t, body);
  // three tries with backoff; a receiver that keeps failing is logged, the job is unaffected
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const res = await fetcher(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-cvae-job': job.id,
          'x-cvae-signature': `t=${t},v1=${signature}`,
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return res.status;
      console.error(`webhook ${url} for ${job.id}: HTTP ${res.status} (attempt ${attempt})`);
    } catch (error) {
      console.error(`webhook ${url} for ${job.id}: ${(error as Error).message} (attempt ${attempt})`);
    }
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
  return 0;
}
