#!/usr/bin/env node
// The `cvae` command: registers the TypeScript loader, then runs the CLI from source.
import { register } from 'tsx/esm/api';

register();
await import('../src/worker/cli/main.ts');
