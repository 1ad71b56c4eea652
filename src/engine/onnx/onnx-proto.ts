/**
 * Encoder for the subset of onnx.proto (proto2, package onnx) that an inference graph needs.
 * Field numbers below were checked against onnx/onnx's onnx/onnx.proto:
 *
 *   ModelProto          ir_version=1 producer_name=2 producer_version=3 doc_string=6 graph=7 opset_import=8
 *   OperatorSetIdProto  domain=1 version=2
 *   GraphProto          node=1 name=2 initializer=5 doc_string=10 input=11 output=12
 *   NodeProto           input=1 output=2 name=3 op_type=4 attribute=5 domain=7
 *   AttributeProto      name=1 f=2 i=3 s=4 t=5 floats=7 ints=8 type=20
 *                       (AttributeType FLOAT=1 INT=2 STRING=3 TENSOR=4 FLOATS=6 INTS=7)
 *   TensorProto         dims=1 data_type=2 name=8 raw_data=9   (DataType FLOAT=1 INT32=6 INT64=7)
 *   ValueInfoProto      name=1 type=2
 *   TypeProto           tensor_type=1;  TypeProto.Tensor elem_type=1 shape=2
 *   TensorShapeProto    dim=1;  Dimension dim_value=1 dim_param=2
 */
import { endianness } from 'node:os';
import { ProtoWriter } from './proto-writer.ts';

export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] };

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: DataTypeCode;
  /** float32 for FLOAT, Int32Array for INT32, BigInt64Array for INT64. */
  data: Float32Array | Int32Array | BigInt64Array;
}

/** A dimension is a fixed size or a symbolic name (e.g. 'batch'). */
export type Dim = number | string;

export interface OnnxValueInfo {
  name: string;
  elemType: DataTypeCode;
  shape: Dim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  docString?: string;
}

export interface OnnxModel {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  docString?: string;
}

const littleEndian = endianness() === 'LE';

/** raw_data is little-endian IEEE/two's complement; on LE hosts the typed array's bytes already are. */
function rawBytes(data: Float32Array | Int32Array | BigInt64Array): Uint8Array {
  if (littleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  if (data instanceof Float32Array) data.forEach((v, i) => dv.setFloat32(4 * i, v, true));
  else if (data instanceof Int32Array) data.forEach((v, i) => dv.setInt32(4 * i, v, true));
  else data.forEach((v, i) => dv.setBigInt64(8 * i, v, true));
  return out;
}

function checkTensor(t: OnnxTensor): void {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new Error(`onnx initializer "${t.name}": ${t.data.length} values for dims [${t.dims}]`);
  const ok =
    (t.dataType === DataType.FLOAT && t.data instanceof Float32Array) ||
    (t.dataType === DataType.INT32 && t.data instanceof Int32Array) ||
    (t.dataType === DataType.INT64 && t.data instanceof BigInt64Array);
  if (!ok) throw new Error(`onnx initializer "${t.name}": data array does not match data type ${t.dataType}`);
}

export function encodeTensor(t: OnnxTensor): ProtoWriter {
  checkTensor(t);
  const w = new ProtoWriter();
  w.packedVarints(1, t.dims);
  w.varint(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, rawBytes(t.data));
  return w;
}

function encodeAttribute(name: string, a: AttributeValue): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name);
  switch (a.kind) {
    case 'int':
      w.varint(20, AttrType.INT).varint(3, a.value);
      break;
    case 'float':
      w.varint(20, AttrType.FLOAT).float(2, a.value);
      break;
    case 'string':
      w.varint(20, AttrType.STRING).string(4, a.value);
      break;
    case 'ints':
      w.varint(20, AttrType.INTS).packedVarints(8, a.value);
      break;
    case 'floats':
      w.varint(20, AttrType.FLOATS);
      for (const f of a.value) w.float(7, f);
      break;
  }
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, encodeAttribute(k, v));
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.varint(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function encodeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  if (g.docString) w.string(10, g.docString);
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

/** Serialises a model to the bytes of a `.onnx` file. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  w.message(8, new ProtoWriter().string(1, '').varint(2, m.opsetVersion));
  return w.finish();
}
