import { onnx } from 'onnx-proto';

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
