// Worker threads do not inherit the TypeScript loader reliably: register tsx, then load the job.
import { register } from 'tsx/esm/api';

register();
await import('./job-thread.ts');
