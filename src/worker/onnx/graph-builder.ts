// onnx-proto is CommonJS: Node's ESM loader cannot see its named exports.
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

import { toFloat16Bits } from '../../shared/float16.js';

const { onnx } = onnxProto;

/**
 * A thin helper over onnx.proto for writing inference graphs: initializers stored as raw
 * little-endian bytes, nodes with attributes, symbolic batch dimension. There is no tfjs→ONNX
 * converter in JavaScript, so the exporter writes graphs through this.
 */
export const OPSET = 17;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const INT64 = onnx.TensorProto.DataType.INT64;
const UINT8 = onnx.TensorProto.DataType.UINT8;

export type Dim = number | string;
export type WeightType = 'float32' | 'float16';
type Attr = number | number[] | string;

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private counter = 0;

  /** 'float16' stores float weights at half size, each followed by a Cast back to float32 */
  constructor(
    private readonly name: string,
    private readonly weightType: WeightType = 'float32',
  ) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  input(name: string, type: 'float32' | 'int64', dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type === 'float32' ? FLOAT : INT64, dims));
    return name;
  }

  output(name: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, FLOAT, dims));
  }

  /**
   * float32 constant; `values` is copied into little-endian raw bytes. Weights follow the graph's
   * weight type; `exact` keeps float32 storage for operator arguments (e.g. Resize scales).
   */
  floats(prefix: string, dims: number[], values: Float32Array, exact = false): string {
    const name = this.fresh(prefix);
    if (this.weightType === 'float16' && !exact) {
      const bytes = new Uint8Array(values.length * 2);
      const view = new DataView(bytes.buffer);
      values.forEach((v, i) => {
        view.setUint16(i * 2, toFloat16Bits(v), true);
      });
      const stored = `${name}_f16`;
      this.initializers.push(onnx.TensorProto.create({ name: stored, dims, dataType: FLOAT16, rawData: bytes }));
      return this.node('Cast', [stored], { to: FLOAT }, name);
    }
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => {
      view.setFloat32(i * 4, v, true);
    });
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: bytes }));
    return name;
  }

  ints(prefix: string, values: number[]): string {
    const name = this.fresh(prefix);
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => {
      view.setBigInt64(i * 8, BigInt(v), true);
    });
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: bytes }));
    return name;
  }

  /** uint8 constant (quantized weights, zero points), stored as raw bytes. */
  uint8s(prefix: string, dims: number[], values: Uint8Array): string {
    const name = this.fresh(prefix);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: UINT8, rawData: values }));
    return name;
  }

  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputName?: string): string {
    const out = outputName ?? this.fresh(opType.toLowerCase());
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs,
        output: [out],
        name: this.fresh(`${opType}_node`),
        attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
      }),
    );
    return out;
  }

  build(docString: string): Uint8Array {
    return onnx.ModelProto.encode(this.model(docString)).finish();
  }

  /**
   * The graph with its large initializers (≥ `minBytes`) in a separate file, `location`, at
   * 64-byte aligned offsets. onnxruntime-web copies external data straight into the tensors,
   * where bytes inside the graph are copied twice more while parsing: the peak memory of loading
   * drops by about twice the weights (docs/research/edge-text-encoder.md).
   */
  buildWithExternalData(docString: string, location: string, minBytes = 1024): { graph: Uint8Array; data: Uint8Array } {
    const model = this.model(docString);
    // copies: the builder's own initializers keep their bytes
    const initializers = (model.graph?.initializer ?? []).map((t) => onnx.TensorProto.create({ ...t }));
    if (model.graph) model.graph.initializer = initializers;
    const chunks: { at: number; bytes: Uint8Array }[] = [];
    let size = 0;
    for (const t of initializers) {
      if (!t.rawData || t.rawData.length < minBytes) continue;
      size = Math.ceil(size / 64) * 64;
      chunks.push({ at: size, bytes: t.rawData });
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: location },
        { key: 'offset', value: String(size) },
        { key: 'length', value: String(t.rawData.length) },
      ];
      size += t.rawData.length;
      t.rawData = new Uint8Array(0);
    }
    const data = new Uint8Array(size);
    for (const c of chunks) data.set(c.bytes, c.at);
    return { graph: onnx.ModelProto.encode(model).finish(), data };
  }

  private model(docString: string): OnnxTypes.ModelProto {
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'cvae-edge',
      docString,
      graph,
    });
    return model;
  }
}

function valueInfo(name: string, elemType: number, dims: Dim[]): OnnxTypes.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function attribute(name: string, value: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: T.INT, i: value };
  return { name, type: T.FLOAT, f: value };
}
