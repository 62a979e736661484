/**
 * @ml/tensor/testing — a backend conformance kit.
 *
 * Every case builds tensors on the current backend, runs ops, and reads results ONLY
 * through `await t.data()` / `await t.array()`, so the kit also runs on backends that
 * cannot read synchronously. Expected values are computed independently of this
 * library: by hand (shown in comments) or with NumPy — the snippets are in the comments
 * and the full script is `test/fixtures/conformance_fixtures.py`.
 *
 * No test-framework dependency: pass your framework's `describe`/`it` to
 * `describeConformance`, or iterate `conformanceCases()` yourself.
 */
export {
  assert,
  assertClose,
  assertRejects,
  assertThrows,
  ConformanceError,
  pattern,
  type CloseOptions,
} from './assert.js';
export {
  conformanceCases,
  describeConformance,
  type ConformanceCase,
  type ConformanceHarness,
  type DescribeConformanceOptions,
} from './run.js';
export { onBackend, registerCompositeBackend, registerCountingBackend } from './composite.js';
