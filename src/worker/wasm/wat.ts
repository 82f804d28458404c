/**
 * Small builders of WebAssembly text shared by the project's kernel generators (`*-wat.ts`):
 * locals, i32 address arithmetic and the counted loop they all use.
 */
export const get = (name: string) => `(local.get $${name})`;
export const set = (name: string, value: string) => `(local.set $${name} ${value})`;
export const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
/** `body` repeated until `exitWhen` holds (checked before each pass) */
export const loop = (label: string, exitWhen: string, body: string[]) => [
  `(block $${label}_done (loop $${label}`,
  `  (br_if $${label}_done ${exitWhen})`,
  ...body.map((l) => `  ${l}`),
  `  (br $${label})))`,
];
