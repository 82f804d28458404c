// Imported first by every benchmark: its temporary folders go under one, removed at exit.
import { useTempRoot } from '../scripts/temp-root.js';

useTempRoot('CVAE_BENCH_TMP', 'cvae-bench-');
