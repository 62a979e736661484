/** Running the kit: hand every case to a test framework, or list them. */
import { getBackend, setBackend } from '../index.js';
import { checkOptions, optionKeys } from '../options.js';
import { named } from './assert.js';
import type { CaseDef } from './case-helpers.js';
import { CREATION_CASES } from './creation.js';
import { ELEMENTWISE_CASES } from './elementwise.js';
import { DTYPE_CASES } from './dtypes.js';
import { REDUCTION_CASES } from './reductions.js';
import { MATMUL_CASES } from './matmul.js';
import { LAYOUT_CASES } from './layout.js';
import { CONV_CASES } from './conv.js';
import { EDGE_CASES } from './edges.js';
import { MEMORY_CASES } from './memory.js';
import { ATTENTION_CASES } from './attention.js';

export interface ConformanceCase {
  name: string;
  run(): Promise<void>;
}

/** The slice of a test framework the kit needs (vitest, jest, mocha, node:test all fit). */
export interface ConformanceHarness {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>) => void;
  beforeAll?: (fn: () => void | Promise<void>) => void;
  afterAll?: (fn: () => void | Promise<void>) => void;
}

export interface DescribeConformanceOptions {
  /** run only the cases this returns true for (default: all) */
  filter?: (caseName: string) => boolean;
}

const CONFORMANCE_KEYS = optionKeys<DescribeConformanceOptions>()(['filter']);

/** All cases, fresh objects each call; each runs on the backend current when it starts. */
export function conformanceCases(): ConformanceCase[] {
  return CASES.map(([name, body]) => named(name, body));
}

/**
 * Register every case with `harness.it` inside one `harness.describe`, switching to
 * `backendName` before each case and restoring the previous backend afterwards.
 */
export function describeConformance(backendName: string, harness: ConformanceHarness, options: DescribeConformanceOptions = {}): void {
  checkOptions('describeConformance', options, CONFORMANCE_KEYS);
  harness.describe(`backend conformance: ${backendName}`, () => {
    harness.beforeAll?.(() => {
      getBackend(backendName); // throws a clear error when it is not registered
    });
    for (const c of conformanceCases()) {
      if (options.filter && !options.filter(c.name)) continue;
      harness.it(c.name, async () => {
        const prev = getBackend();
        setBackend(backendName);
        try {
          await c.run();
        } finally {
          setBackend(prev.name);
        }
      });
    }
  });
}

/** Every case, in the order the families are listed here. */
const CASES: readonly CaseDef[] = [
  ...CREATION_CASES,
  ...ELEMENTWISE_CASES,
  ...DTYPE_CASES,
  ...REDUCTION_CASES,
  ...MATMUL_CASES,
  ...LAYOUT_CASES,
  ...CONV_CASES,
  ...ATTENTION_CASES,
  ...EDGE_CASES,
  ...MEMORY_CASES,
];
