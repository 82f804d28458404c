/** npm run bench:edge:long-text — only the long-text part of npm run bench:edge (bench/edge-long-text.ts). */
import './temp-root.js'; // first: temporary folders under one, removed at exit
import { benchLongText } from './edge-long-text.js';

await benchLongText((line) => console.log(line));
process.exit(0);
