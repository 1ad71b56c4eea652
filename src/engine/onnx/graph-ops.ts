/**
 * Collects the nodes and initializers of an ONNX graph as it is built: the one builder the export
 * (graph-builder.ts), its head and scoring parts, and the tests and profiles of those parts use.
 */
import { DataType, type OnnxNode, type OnnxTensor } from './onnx-proto.ts';

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private counter = 0;

  /** A fresh intermediate name, prefixed for readability in Netron and error messages. */
  tmp(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  op(opType: string, inputs: string[], outputs: string[] | string, attributes?: OnnxNode['attributes']): string[] {
    const outs = typeof outputs === 'string' ? [outputs] : outputs;
    this.nodes.push({ opType, inputs, outputs: outs, name: `${opType}_${this.nodes.length}`, attributes });
    return outs;
  }

  /** Single-output op whose result gets a generated name. */
  apply(opType: string, inputs: string[], attributes?: OnnxNode['attributes']): string {
    return this.op(opType, inputs, this.tmp(opType.toLowerCase()), attributes)[0];
  }

  floatInit(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, data });
    return name;
  }

  int64Init(name: string, values: number[]): string {
    this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, data: BigInt64Array.from(values.map(BigInt)) });
    return name;
  }
}
