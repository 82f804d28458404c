import { CONTEXT_LENGTH } from '../clip/tokenizer.js';
import { CvaeError } from '../errors.js';
import type { OnnxRuntime, SerialSession } from '../generation/runtime.js';
import type { TokenRowStore } from './token-rows.js';

/**
 * Token ids (each [SOT, …, EOT]) → one embedding row per sentence, dim floats each. Two ways
 * to run CLIP's text transformer, one per graph form (src/worker/clip/text-graph.ts).
 */
export type EncodeTokens = (sentences: readonly number[][]) => Promise<Float32Array>;

function checked(data: unknown, rows: number, dim: number): Float32Array {
  if (!(data instanceof Float32Array) || data.length !== rows * dim) {
    throw new CvaeError('model_integrity', `the text encoder did not return [${rows}, ${dim}] floats`);
  }
  return data;
}

/** CLIP's own signature: input_ids int64 [B, 77], zero-padded, → [B, dim]. */
export function fullGraphRunner(
  session: SerialSession,
  runtime: OnnxRuntime,
  dim: number,
  names = { input: 'input_ids', output: 'text_embeds' },
): EncodeTokens {
  return async (sentences) => {
    const ids = new BigInt64Array(sentences.length * CONTEXT_LENGTH);
    sentences.forEach((row, r) => {
      row.forEach((id, i) => {
        ids[r * CONTEXT_LENGTH + i] = BigInt(id);
      });
    });
    const result = await session.run({ [names.input]: runtime.int64(ids, [sentences.length, CONTEXT_LENGTH]) });
    return checked(result[names.output]?.data, sentences.length, dim);
  };
}

/**
 * The compact graph: token rows looked up here (a shard of the table at a time), inputs_embeds
 * float32 [B, S, width] at the longest sentence's own length S, eot_index int64 [B]. Shorter
 * sentences are padded after their end-of-text token, which causal attention never lets reach it.
 */
export function compactRunner(
  session: SerialSession,
  runtime: OnnxRuntime,
  table: TokenRowStore,
  dim: number,
): EncodeTokens {
  const width = table.info.width;
  return async (sentences) => {
    const S = Math.max(...sentences.map((s) => s.length));
    const embeds = new Float32Array(sentences.length * S * width);
    const eot = new BigInt64Array(sentences.length);
    await Promise.all(
      sentences.map(async (row, r) => {
        await table.gather(row, embeds, r * S * width);
        eot[r] = BigInt(row.length - 1);
      }),
    );
    const result = await session.run({
      inputs_embeds: runtime.float32(embeds, [sentences.length, S, width]),
      eot_index: runtime.int64(eot, [sentences.length]),
    });
    return checked(result.text_embeds?.data, sentences.length, dim);
  };
}
