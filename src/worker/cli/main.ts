#!/usr/bin/env node
import { Command } from 'commander';
import { CvaeError } from '../../shared/errors.js';
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
import { registerTrain } from './train-command.js';

/** `cvae`: the worker's command line. Each command lives in its own file and registers here. */
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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Print our own one-line message and exit: rethrowing would reach the WebAssembly runtime's
  // uncaught-exception handler, which prints its whole minified source instead of the error.
  if (error instanceof CvaeError) {
    console.error(`cvae: ${error.message} [${error.code}]`);
    process.exit(2);
  }
  console.error(`cvae: ${(error as Error).message ?? error}`);
  if (process.env.CVAE_DEBUG) console.error((error as Error).stack);
  else console.error('(set CVAE_DEBUG=1 for the stack trace)');
  process.exit(1);
}
