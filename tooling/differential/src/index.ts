/**
 * @ml/differential — a differential test of a backend against the cpu backend in float64.
 *
 * ```ts
 * import { describe, it } from 'vitest';
 * import { describeDifferential, DIFFERENTIAL_OPS } from '@ml/differential';
 * describeDifferential('wasm', { describe, it }, { ops: DIFFERENTIAL_OPS, scale: 1 });
 * ```
 */
export { describeDifferential, defineOp, casesFor, compare, differentialSeed, DEFAULT_TOLERANCE, type AnyOp, type Case, type DiffOp, type DifferentialHarness, type DifferentialOptions, type RunContext, type Tolerance } from './runner.js';
export { DIFFERENTIAL_OPS, matmulShapes } from './ops.js';
export { broadcastPartner, layout, oneOf, operand, operands, shape, size, SMALL, type LayoutOptions, type OperandOptions } from './arbitraries.js';
export { build, CONTIGUOUS, describeOperand, isFloatKind, storageSize, storedShape, values, type Built, type Layout, type Operand, type ValueKind } from './operand.js';
