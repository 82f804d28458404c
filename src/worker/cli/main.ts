#!/usr/bin/env node
import { CvaeError } from '../../shared/errors.js';
import { buildProgram } from './program.js';

// the command named first (the program has no options of its own but help and version)
const program = await buildProgram(process.argv.slice(2).find((arg) => !arg.startsWith('-')));
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
