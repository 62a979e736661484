import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeConformance } from '../src/testing/index.js';

describeConformance('cpu', { describe, it, beforeAll, afterAll });
