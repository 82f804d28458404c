import { Command } from 'commander';
import { registerClassifier } from './classifier-command.js';
import { registerClip } from './clip-command.js';
import { registerDatasets } from './datasets-command.js';
import { registerEvaluate } from './evaluate-command.js';
import { registerExperiment } from './experiment-command.js';
import { registerExport } from './export-command.js';
import { registerGenerate } from './generate-command.js';
import { registerModels } from './models-command.js';
import { registerS3 } from './s3-command.js';
import { registerServe } from './serve-command.js';
import { registerStack } from './stack-command.js';
import { registerTrain } from './train-command.js';
import { registerWorker } from './worker-command.js';

/** `cvae`: the worker's command line. Each command lives in its own file and registers here. */
export function buildProgram(): Command {
  const program = new Command()
    .name('cvae')
    .description('cvae-edge worker: train, evaluate and export conditional VAEs')
    .showHelpAfterError();

  registerTrain(program);
  registerClassifier(program);
  registerDatasets(program);
  registerEvaluate(program);
  registerExperiment(program);
  registerExport(program);
  registerGenerate(program);
  registerModels(program);
  registerClip(program);
  registerS3(program);
  registerServe(program);
  registerWorker(program);
  registerStack(program);
  return program;
}
