#!/usr/bin/env node
import { CvaeError } from '../../shared/errors.js';
import { buildProgram } from './program.js';

// the command named first (the program has no options of its own but help and version); none for
// a bare --version, which then answers without loading any command's libraries
const args = process.argv.slice(2);
const named = args.find((arg) => !arg.startsWith('-'));
const versionOnly = named === undefined && args.some((arg) => arg === '--version' || arg === '-V');
const program = await buildProgram(versionOnly ? null : named);
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
