import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Applies migrations/*.sql to a local D1 database (Miniflare's binding), once each, recording them
 * in `d1_migrations` as wrangler does. Production uses `wrangler d1 migrations apply`.
 */
export const MIGRATIONS_DIR = join(import.meta.dirname, '../../../migrations');

interface D1Like {
  prepare(sql: string): {
    bind(...v: unknown[]): { run(): Promise<unknown> };
    run(): Promise<unknown>;
    all<T>(): Promise<{ results: T[] }>;
  };
}

export async function applyMigrations(db: D1Like, dir = MIGRATIONS_DIR): Promise<string[]> {
  await db.prepare('CREATE TABLE IF NOT EXISTS d1_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)').run();
  const done = new Set(
    (await db.prepare('SELECT name FROM d1_migrations').all<{ name: string }>()).results.map((r) => r.name),
  );
  const applied: string[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    if (done.has(file)) continue;
    const sql = readFileSync(join(dir, file), 'utf8').replace(/--.*$/gm, '');
    for (const statement of sql.split(';')) if (statement.trim()) await db.prepare(statement).run();
    await db
      .prepare('INSERT INTO d1_migrations (name, applied_at) VALUES (?, ?)')
      .bind(file, new Date().toISOString())
      .run();
    applied.push(file);
  }
  return applied;
}
