// onnx-proto is CommonJS: Node's ESM loader cannot see its named exports.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A small ONNX image network for tests: NCHW float input [N,3,S,S] → GlobalAveragePool →
 * Flatten → MatMul(3×dim) → [N,dim]. Stands in for InceptionV3 (same input layout and role).
 */
export function tinyImageFeatureModel(size: number, dim: number, weights: number[]): Uint8Array {
  const f = onnx.TensorProto.DataType.FLOAT;
  const valueInfo = (name: string, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: f,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  const graph = onnx.GraphProto.create({
    name: 'tiny-features',
    input: [valueInfo('images', ['N', 3, size, size])],
    output: [valueInfo('features', ['N', dim])],
    initializer: [
      onnx.TensorProto.create({
        name: 'w',
        dims: [3, dim],
        dataType: f,
        rawData: new Uint8Array(Float32Array.from(weights).buffer),
      }),
    ],
    node: [
      onnx.NodeProto.create({ opType: 'GlobalAveragePool', input: ['images'], output: ['pooled'] }),
      onnx.NodeProto.create({ opType: 'Flatten', input: ['pooled'], output: ['flat'] }),
      onnx.NodeProto.create({ opType: 'MatMul', input: ['flat', 'w'], output: ['features'] }),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'cvae-edge tests',
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A small ONNX "text encoder" with CLIP's exact signature: input_ids int64 [batch, 77] →
 * text_embeds float32 [batch, 512] (cast to float, then a seeded [77, 512] projection).
 */
export function tinyClipTextModel(
  opts: { context?: number; width?: number; inputType?: 'int64' | 'float32' } = {},
): Uint8Array {
  const context = opts.context ?? 77;
  const width = opts.width ?? 512;
  const f = onnx.TensorProto.DataType.FLOAT;
  const inputType = opts.inputType === 'float32' ? f : onnx.TensorProto.DataType.INT64;
  const info = (name: string, elemType: number, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  const weights = new Float32Array(context * width).map((_, i) => Math.sin(i) / 100);
  const graph = onnx.GraphProto.create({
    name: 'tiny-clip-text',
    input: [info('input_ids', inputType, ['batch', context])],
    output: [info('text_embeds', f, ['batch', width])],
    initializer: [
      onnx.TensorProto.create({
        name: 'w',
        dims: [context, width],
        dataType: f,
        rawData: new Uint8Array(weights.buffer),
      }),
    ],
    node: [
      onnx.NodeProto.create({
        opType: 'Cast',
        input: ['input_ids'],
        output: ['ids_f'],
        attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: f }],
      }),
      onnx.NodeProto.create({ opType: 'MatMul', input: ['ids_f', 'w'], output: ['text_embeds'] }),
    ],
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'cvae-edge tests',
      graph,
    }),
  ).finish();
}
