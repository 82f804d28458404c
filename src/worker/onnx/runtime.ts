/**
 * The worker's one seam to an ONNX runtime (onnxruntime-node: CPU here, CUDA where present).
 * Nothing else in src/worker imports onnxruntime directly.
 */
import * as ort from 'onnxruntime-node';

export { ort };

export async function loadSession(pathOrBytes: string | Uint8Array): Promise<ort.InferenceSession> {
  return typeof pathOrBytes === 'string'
    ? ort.InferenceSession.create(pathOrBytes)
    : ort.InferenceSession.create(pathOrBytes);
}

/** Input dims from the model's metadata where it has them (symbolic dims come back as strings). */
export function inputDims(session: ort.InferenceSession, name: string): (number | string)[] | undefined {
  const meta = (session as unknown as { inputMetadata?: { name: string; shape?: (number | string)[] }[] })
    .inputMetadata;
  return meta?.find((m) => m.name === name)?.shape;
}
