import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Puts every temporary folder of this process and its children (their own, Miniflare's, the CLI
 * processes they start) under one folder, removed when the process exits: a test run makes about
 * half a gigabyte of packages, datasets and buckets, a long-text benchmark a third of one.
 * `envName` marks the folder in the environment, so child processes that load this again keep it.
 */
export function useTempRoot(envName: string, prefix: string): string {
  const existing = process.env[envName];
  if (existing) return existing;
  const root = mkdtempSync(join(tmpdir(), prefix));
  process.env[envName] = root;
  process.env.TMPDIR = root;
  process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  return root;
}
