import { z } from 'zod';
import { isValidModelId, MODEL_ID_HINT } from '../model-id.js';

/** Training images per dataset: a larger `subset` is an error, not a silent clamp. */
export const DATASET_IMAGES = { 'fashion-mnist': 60_000 } as const;

/**
 * Training jobs: what users submit through the edge and what GPU workers lease. Validated at the
 * edge (zod) and again by the worker before it trains.
 */
export const trainingJobRequestSchema = z
  .strictObject({
    architecture: z.enum(['fashion-fc', 'fashion-conv']).meta({ description: 'Architecture spec id' }),
    dataset: z
      .strictObject({
        name: z.literal('fashion-mnist'),
        subset: z
          .number()
          .int()
          .min(64)
          .max(DATASET_IMAGES['fashion-mnist'], `Fashion-MNIST has ${DATASET_IMAGES['fashion-mnist']} training images`)
          .optional()
          .meta({ description: 'first n training images' }),
      })
      .default({ name: 'fashion-mnist' }),
    epochs: z.number().int().min(1).max(200).default(25),
    batchSize: z.number().int().min(2).max(1024).default(128),
    learningRate: z.number().positive().max(1).default(1e-3),
    weightDecay: z.number().min(0).max(1).default(1e-3),
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    modelId: z.string().max(110).refine(isValidModelId, MODEL_ID_HINT).optional().meta({
      description:
        'registry id of the result: "<name>" or "<owner>/<name>", always in the key\'s own namespace (default: <owner>/<architecture>)',
    }),
    visibility: z
      .enum(['private', 'public'])
      .default('private')
      .meta({ description: "private: only this key's owner lists, downloads and generates with the model" }),
    webhookUrl: z
      .url()
      .max(2000)
      .optional()
      .meta({ description: 'https URL POSTed when the job ends, signed (X-Cvae-Signature)' }),
  })
  .meta({ id: 'TrainingJobRequest' });
export type TrainingJobConfig = z.infer<typeof trainingJobRequestSchema>;

/** The work a job asks for, in images seen: what the per-job budget limits. */
export const jobImageEpochs = (config: TrainingJobConfig) =>
  config.epochs * (config.dataset.subset ?? DATASET_IMAGES[config.dataset.name]);

export const jobStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof jobStatusSchema>;

export const jobProgressSchema = z.object({
  /** epochs completed (each one checkpointed); seen/total count the epoch under way */
  epoch: z.number().int(),
  epochs: z.number().int(),
  seen: z.number().int().optional(),
  total: z.number().int().optional(),
  loss: z.number().optional(),
  imagesPerSecond: z.number().optional(),
});

export const trainingJobSchema = z
  .object({
    id: z.string(),
    status: jobStatusSchema,
    config: trainingJobRequestSchema,
    cancelRequested: z.boolean(),
    attempts: z.number().int(),
    progress: jobProgressSchema.nullable(),
    metrics: z.record(z.string(), z.unknown()).nullable(),
    model: z.object({ id: z.string(), version: z.string() }).nullable(),
    error: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'TrainingJob' });
export type TrainingJob = z.infer<typeof trainingJobSchema>;

/** What a worker gets when it leases a job. */
export const leaseSchema = z.object({
  job: trainingJobSchema,
  leaseExpiresAt: z.iso.datetime(),
  leaseSeconds: z.number(),
  /** object-storage prefix for this job's checkpoints */
  checkpointPrefix: z.string(),
});
export type Lease = z.infer<typeof leaseSchema>;

export const heartbeatSchema = z.strictObject({ workerId: z.string().min(1), progress: jobProgressSchema });
export const completeSchema = z.strictObject({
  workerId: z.string().min(1),
  model: z.object({ id: z.string(), version: z.string() }),
  metrics: z.record(z.string(), z.unknown()).optional(),
});
export const failSchema = z.strictObject({
  workerId: z.string().min(1),
  error: z.string().min(1).max(4000),
  /** false: do not retry (bad config); true: put the job back (until max attempts) */
  retryable: z.boolean().default(true),
});
export const releaseSchema = z.strictObject({
  workerId: z.string().min(1),
  reason: z.string().max(500).default('released'),
});
