import cliProgress from 'cli-progress';

/**
 * Progress bars on stderr (stdout stays clean for results). On a terminal the bar redraws in
 * place; elsewhere (CI logs, `nohup … > log`) cli-progress prints a line every few seconds.
 */
export function createBar(label: string, total: number) {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {percentage}% {value}/{total} | {info} | ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: '' });
  return {
    update(value: number, info = '') {
      bar.update(value, { info });
    },
    stop() {
      bar.stop();
    },
  };
}
