/**
 * The exporter's extension point: one function per module class, registered with
 * `registerOnnxExporter`, that writes ONNX nodes for a module.
 *
 * ```ts
 * registerOnnxExporter(MyLayer, (ctx, module, [x]) => {
 *   const w = ctx.addInitializer(`${ctx.path}.weight`, module.weight); // a float tensor → initializer
 *   const y = ctx.unique('my_layer_out');
 *   ctx.addNode('MatMul', [x, w], [y]);                                 // attributes: 4th argument
 *   return [y];                                                          // one name per output
 * });
 * ```
 *
 * An exporter gets the names of its inputs (already in the graph) and returns the names of its
 * outputs. It may export a child module with `ctx.exportModule(child, inputs, 'childName')`
 * (how Sequential and functional graphs recurse). `ctx.shapeOf(name)` gives a value's shape as
 * traced (dim 0 is the batch: do not bake it into a Reshape, use 0 or −1 there), `ctx.opset`
 * the opset being written. To refuse a configuration, throw `UnsupportedModuleError` with the
 * reason: the exporter collects every refusal and reports them all at once, each with the
 * module's path.
 *
 * The shapes of a module's outputs come from running its `forward` on zeros of the traced
 * input shapes (in eval mode, no gradients), so an exporter never has to compute them.
 */
import type { AnyModule } from '@ml/nn';
import type { DType, Tensor } from '@ml/tensor';

/** An ONNX attribute value: numbers become INT when integral and `int` is asked, else FLOAT. */
export type OnnxAttributeValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string };

/** Attributes by name; a plain number is an INT attribute, a number[] an INTS one. */
export type OnnxAttributes = Readonly<Record<string, OnnxAttributeValue | number | readonly number[] | string>>;

/** A value flowing in the graph being written: its traced shape (batch first) and dtype. */
export interface OnnxValueInfo {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** What an exporter may do while writing one module. */
export interface OnnxExportContext {
  /** the opset version being written (default 17) */
  readonly opset: number;
  /** the dotted path of the module being exported (`''` for the root, `3`, `encoder.0`…) */
  readonly path: string;
  /** A name not used yet in the graph, derived from `base`. */
  unique(base: string): string;
  /** Add a tensor as an initializer under a unique name derived from `name`; returns that name. */
  addInitializer(name: string, tensor: Tensor): string;
  /** Add a constant initializer from plain numbers (`int64` for shapes and axes). */
  addConstant(name: string, values: readonly number[], shape: readonly number[], dtype: 'float32' | 'int64' | 'int32'): string;
  /** Add a node; `outputs` must be fresh names (from `unique`). */
  addNode(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: OnnxAttributes): void;
  /** Shape and dtype of a value already in the graph, as traced. */
  info(name: string): OnnxValueInfo;
  /** Shape of a value already in the graph, as traced (dim 0 is the batch). */
  shapeOf(name: string): readonly number[];
  /** The traced shapes and dtypes of this module's outputs (from its forward on zeros). */
  readonly outputs: readonly OnnxValueInfo[];
  /**
   * Record the shape of an intermediate value, needed when it is handed to `exportModule` or
   * read with `shapeOf` (values written by `addNode` have none until then).
   */
  setInfo(name: string, info: OnnxValueInfo): void;
  /** Export a child module on the given inputs; `childName` extends the path. */
  exportModule(module: AnyModule, inputs: readonly string[], childName: string): string[];
}

/** Writes ONNX nodes for one module; returns the names of its outputs. */
export type OnnxExporter<M extends AnyModule = AnyModule> = (ctx: OnnxExportContext, module: M, inputs: readonly string[]) => string[];

/** Thrown by an exporter for a module configuration that ONNX (or this exporter) cannot express. */
export class UnsupportedModuleError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnsupportedModuleError';
  }
}

/** A module class, whatever its constructor takes (as @ml/nn's `ModuleClass`). */
type ModuleClass<M extends AnyModule> = abstract new (...args: never[]) => M;

const registry = new Map<ModuleClass<AnyModule>, OnnxExporter>();

/**
 * Register the exporter for a module class (and its subclasses, unless they have their own).
 * Registering a class again replaces its exporter.
 */
export function registerOnnxExporter<M extends AnyModule>(cls: ModuleClass<M>, exporter: OnnxExporter<M>): void {
  registry.set(cls as ModuleClass<AnyModule>, exporter as OnnxExporter);
}

/** The exporter for a module: its class's, else its nearest registered base class's. */
export function findOnnxExporter(module: AnyModule): OnnxExporter | null {
  let proto: object | null = Object.getPrototypeOf(module) as object | null;
  while (proto !== null && proto !== Object.prototype) {
    const ex = registry.get((proto as { constructor: ModuleClass<AnyModule> }).constructor);
    if (ex) return ex;
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return null;
}
