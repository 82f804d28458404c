// Worker threads do not inherit the TypeScript loader reliably (it depends on how the parent was
// started), so the entry registers tsx itself, then loads the TypeScript host.
import { register } from 'tsx/esm/api';

register();
await import('./replica-thread.ts');
