import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Lease, resolveJobConfig, trainingJobRequestSchema } from '../../shared/api/jobs-schemas.js';
import { ARCHITECTURES } from '../../shared/arch/catalogue.js';
import { trainingDefaults } from '../../shared/arch/training-defaults.js';
import { CvaeError } from '../../shared/errors.js';
import { ownerOf, parseModelRef } from '../../shared/model-id.js';
import { encoderIdentity } from '../data/training-data.js';
import { scoreModel } from '../eval/score.js';
import type { ObjectStore } from '../registry/object-store.js';
import { writeModelPackage } from '../registry/package.js';
import { pull, push } from '../registry/registry.js';
import { DEFAULT_TRAIN_OPTIONS, type EpochRecord, train } from '../train/trainer.js';
import { checkTextEncoder, type WarmStart, warmStartFromPackage } from '../train/warm-start.js';
import type { EdgeJobsClient } from './edge-client.js';
import { jobTrainingData } from './job-data.js';
import { retireJob } from './retention.js';
import type { JobEvent } from './telemetry.js';

/**
 * One leased job: restore its last checkpoint from object storage (a re-leased job resumes),
 * train with heartbeats, upload a checkpoint after every epoch, export and publish the model,
 * complete. Returns 'stopped' when asked to stop (shutdown or cancellation) after a checkpoint.
 */
const CHECKPOINT_FILES = ['checkpoint.json', 'checkpoint.bin'];
const EVAL_IMAGES = 1000;
const CANCEL_POLL_MS = 2000;

export interface RunJobOptions {
  client: EdgeJobsClient;
  store: ObjectStore;
  workDir: string;
  /** true once the process was asked to stop (SIGTERM) */
  stopping: () => boolean;
  log: (line: string) => void;
  /** structured job events (the worker's JSON log lines and metrics) */
  event?: (e: JobEvent) => void;
  /** days to keep a finished job's checkpoints in the bucket (default 0: removed at once) */
  keepCheckpointsDays?: number;
  /** training threads on the wasm/cpu backends (default: one per core) */
  replicas?: number;
}

export async function runJob(lease: Lease, opts: RunJobOptions): Promise<'completed' | 'stopped' | 'cancelled'> {
  const { job } = lease;
  const config = resolveJobConfig(trainingJobRequestSchema.parse(job.config));
  const spec = ARCHITECTURES[config.architecture];
  if (!spec) throw new CvaeError('bad_job', `unknown architecture ${config.architecture}`);
  // the edge resolved the namespace when the job was created; a job never publishes a system id
  const modelId = config.modelId;
  if (!modelId || !ownerOf(modelId))
    throw new CvaeError('bad_job', `job ${job.id} has no owner namespace in its modelId; refusing to publish`);
  const runDir = join(opts.workDir, job.id);
  await mkdir(runDir, { recursive: true });

  // resume from the checkpoint a previous worker uploaded
  let restored = 0;
  for (const name of CHECKPOINT_FILES) {
    const bytes = await opts.store.get(`${lease.checkpointPrefix}${name}`);
    if (bytes) {
      await writeFile(join(runDir, name), bytes);
      restored++;
    }
  }
  const resume = restored === CHECKPOINT_FILES.length;
  const emit = opts.event ?? (() => {});
  opts.log(
    `${job.id}: ${config.architecture}, ${config.epochs} epochs${resume ? ', resuming from the uploaded checkpoint' : ''}`,
  );
  emit({ event: 'started', job: job.id, architecture: spec.id, epochs: config.epochs, resume });

  let cancel = false;
  let lost = false;
  let progress = { epoch: 0, epochs: config.epochs };
  const beat = async () => {
    try {
      cancel = (await opts.client.heartbeat(job.id, progress)).cancel || cancel;
    } catch (error) {
      if ((error as CvaeError).code === 'lease_lost') lost = true;
      opts.log(`${job.id}: heartbeat failed: ${(error as Error).message}`);
    }
  };
  const retire = () =>
    retireJob(
      { store: opts.store, keepDays: opts.keepCheckpointsDays ?? 0, log: opts.log },
      job.id,
      lease.checkpointPrefix,
      runDir,
    ).catch((error: Error) => opts.log(`${job.id}: clean-up failed: ${error.message}`));
  const timer = setInterval(beat, Math.max(1000, (lease.leaseSeconds * 1000) / 3));
  // a cancel takes effect within seconds: a cheap status read, checked by the trainer between batches
  const poll = setInterval(async () => {
    try {
      const status = await opts.client.status(job.id);
      cancel = status.cancel || cancel;
      lost = !status.leased || lost;
    } catch (error) {
      opts.log(`${job.id}: status check failed: ${(error as Error).message}`);
    }
  }, CANCEL_POLL_MS);
  try {
    const { data, record } = await jobTrainingData(spec, config, {
      store: opts.store,
      workDir: opts.workDir,
      evalLimit: EVAL_IMAGES,
      log: (line) => opts.log(`${job.id}: ${line}`),
    });
    // a fresh start from the model the edge checked and pinned (a resumed job already began from it)
    let warmStart: WarmStart | undefined;
    if (config.initFrom && !resume) {
      const { id, version } = parseModelRef(config.initFrom);
      const { dir } = await pull(opts.store, id, version, join(runDir, 'init-from'));
      warmStart = await warmStartFromPackage(dir, spec);
      checkTextEncoder(
        warmStart,
        data.textEncoder && encoderIdentity(data.textEncoder),
        "the worker embeds with the registry's text encoder: start from a model trained on it",
      );
      opts.log(`${job.id}: starting from ${warmStart.from}`);
    }
    const result = await train(
      spec,
      data.train,
      {
        ...(warmStart ? { warmStart } : {}),
        epochs: config.epochs,
        batchSize: config.batchSize,
        seed: config.seed,
        learningRate: config.learningRate,
        ...(config.learningRateSteps ? { learningRateSteps: [...config.learningRateSteps] } : {}),
        weightDecay: config.weightDecay,
        // the paper's plain ELBO for the Fashion models, the long-text models' β per size
        klWeight: trainingDefaults(spec).klWeight,
        data: record,
        replicas: opts.replicas ?? DEFAULT_TRAIN_OPTIONS.replicas,
        outDir: runDir,
        resume,
      },
      {
        onStart: ({ backend, replicas }) => opts.log(`${job.id}: ${replicas} replica(s) on ${backend.label}`),
        onBatch: (p) => {
          // epoch = epochs completed and checkpointed; seen/total = the current one
          progress = {
            ...progress,
            epoch: p.epoch - 1,
            epochs: p.epochs,
            seen: p.seen,
            total: p.total,
            loss: p.loss,
          } as typeof progress;
        },
        afterCheckpoint: async (r: EpochRecord, dir: string) => {
          for (const name of CHECKPOINT_FILES) {
            await opts.store.put(
              `${lease.checkpointPrefix}${name}`,
              new Uint8Array(await readFile(join(dir, name))),
              'application/octet-stream',
            );
          }
          progress = { epoch: r.epoch, epochs: config.epochs, loss: r.loss } as typeof progress;
          await beat();
          opts.log(`${job.id}: epoch ${r.epoch}/${config.epochs} loss ${r.loss.toFixed(2)}, checkpoint uploaded`);
          emit({
            event: 'epoch',
            job: job.id,
            architecture: spec.id,
            epoch: r.epoch,
            epochs: config.epochs,
            loss: r.loss,
            seconds: r.seconds,
          });
        },
        shouldAbort: () => cancel || lost,
        shouldStop: () => cancel || lost || opts.stopping(),
      },
    );
    if (lost) return 'stopped';
    if (cancel) {
      await opts.client.release(job.id, 'cancelled by the user; nothing was published');
      opts.log(`${job.id}: cancelled by the user; nothing was published`);
      await retire();
      return 'cancelled';
    }
    if (result.stopped) {
      await opts.client.release(job.id, 'worker shutting down');
      return 'stopped';
    }

    // score on held-out images, export, publish, complete
    const { metrics } = await scoreModel(spec, result.state.values, data.eval, {}, config.seed);
    const packageDir = join(runDir, 'package');
    await rm(packageDir, { recursive: true, force: true });
    const manifest = await writeModelPackage(packageDir, {
      spec: { ...spec, id: modelId },
      values: result.state.values,
      version: `job-${job.id.replace(/^job_/, '')}`,
      visibility: config.visibility,
      metrics,
      ...(data.textEncoder ? { textEncoder: encoderIdentity(data.textEncoder) } : {}),
      training: {
        architecture: spec.id,
        config: { ...config },
        seed: config.seed,
        backend: result.backend.label,
        epochs: result.history.length,
      },
      command: `training job ${job.id}`,
    });
    if (!existsSync(join(packageDir, 'manifest.json'))) throw new CvaeError('export_failed', 'no manifest written');
    try {
      await push(opts.store, packageDir, { by: `training job ${job.id}` });
    } catch (error) {
      // a retried job may find its version already published by the previous attempt
      if ((error as CvaeError).code !== 'version_exists') throw error;
    }
    await opts.client.complete(
      job.id,
      { id: manifest.id, version: manifest.version },
      metrics as Record<string, unknown>,
    );
    opts.log(`${job.id}: published ${manifest.id}@${manifest.version}`);
    emit({ event: 'published', job: job.id, architecture: spec.id, model: `${manifest.id}@${manifest.version}` });
    await retire();
    return 'completed';
  } finally {
    clearInterval(timer);
    clearInterval(poll);
    // whatever happened, the local folder goes: the bucket holds the checkpoints a resume needs
    await rm(runDir, { recursive: true, force: true });
  }
}
