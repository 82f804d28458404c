import { readFileSync } from 'node:fs';
import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every top-level command and the module that registers it, loaded on demand: a command's module
 * brings its libraries (tfjs, ONNX Runtime, the S3 SDK…), and a CLI that imported all of them for
 * every call spent about 3 s before doing anything. Help and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  train: async () => (await import('./train-command.js')).registerTrain,
  classifier: async () => (await import('./classifier-command.js')).registerClassifier,
  datasets: async () => (await import('./datasets-command.js')).registerDatasets,
  evaluate: async () => (await import('./evaluate-command.js')).registerEvaluate,
  experiment: async () => (await import('./experiment-command.js')).registerExperiment,
  export: async () => (await import('./export-command.js')).registerExport,
  generate: async () => (await import('./generate-command.js')).registerGenerate,
  models: async () => (await import('./models-command.js')).registerModels,
  clip: async () => (await import('./clip-command.js')).registerClip,
  s3: async () => (await import('./s3-command.js')).registerS3,
  serve: async () => (await import('./serve-command.js')).registerServe,
  worker: async () => (await import('./worker-command.js')).registerWorker,
  stack: async () => (await import('./stack-command.js')).registerStack,
};

/** the package's version, for `cvae --version` and bug reports */
export const CVAE_VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * `cvae`: the command line of the Node side. Each command lives in its own file and registers
 * here; `only` (the command named on the command line) registers just that one, null none (the
 * program's own options: --version).
 */
export async function buildProgram(only?: string | null): Promise<Command> {
  const program = new Command()
    .name('cvae')
    .description('cvae-edge: train, evaluate, export, publish and serve conditional VAEs')
    .version(CVAE_VERSION, '-V, --version', 'print the version')
    // program options only before the command: `cvae export … --version v2` names a model version
    .enablePositionalOptions()
    .showHelpAfterError();
  const names = only === null ? [] : only !== undefined && only in COMMANDS ? [only] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((name) => (COMMANDS[name] as () => Promise<Register>)()));
  for (const register of registers) register(program);
  return program;
}
