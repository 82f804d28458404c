/**
 * Class fidelity of a short-text model: of the images generated for class k, the share the judge
 * (a blur-augmented classifier, `cvae classifier train --judge`) reads as k, per class, with the
 * confusion matrix (rows: the class asked for; columns: the class read).
 */
export interface ClassFidelity {
  labels: string[];
  /** counts[asked][read] */
  counts: number[][];
  perClass: number[];
  overall: number;
  samplesPerClass: number;
}

export function classFidelity(labels: string[], asked: ArrayLike<number>, read: ArrayLike<number>): ClassFidelity {
  const k = labels.length;
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < asked.length; i++) {
    const row = counts[asked[i] as number] as number[];
    const j = read[i] as number;
    row[j] = (row[j] as number) + 1;
  }
  const perClass = counts.map(
    (row, j) =>
      (row[j] as number) /
      Math.max(
        1,
        row.reduce((a, b) => a + b, 0),
      ),
  );
  const correct = counts.reduce((n, row, j) => n + (row[j] as number), 0);
  return { labels, counts, perClass, overall: correct / Math.max(1, asked.length), samplesPerClass: asked.length / k };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The per-class table and the confusion matrix (shares of each row) as Markdown. */
export function formatClassFidelity(f: ClassFidelity): string {
  const short = f.labels.map((l) => l.split('/')[0] as string);
  const lines = [
    '| class | read as asked |',
    '|---|---|',
    ...f.labels.map((l, j) => `| ${l} | ${pct(f.perClass[j] as number)} |`),
    `| **overall** | **${pct(f.overall)}** |`,
    '',
    `Confusion (row: the class asked for; column: the class the judge read; share of ${f.samplesPerClass} images):`,
    '',
    `| asked \\ read | ${short.join(' | ')} |`,
    `|---|${short.map(() => '---').join('|')}|`,
    ...f.counts.map((row, j) => {
      const n = row.reduce((a, b) => a + b, 0) || 1;
      return `| ${short[j]} | ${row.map((c, i) => (c === 0 ? '·' : i === j ? `**${Math.round((100 * c) / n)}**` : `${Math.round((100 * c) / n)}`)).join(' | ')} |`;
    }),
  ];
  return lines.join('\n');
}
