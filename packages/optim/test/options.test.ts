import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import {
  AdaBound,
  Adagrad,
  Adam,
  AdamW,
  AMSBound,
  AMSGrad,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  CyclicLR,
  ExponentialLR,
  LinearLR,
  LinearWarmup,
  Lookahead,
  lrRangeTest,
  MultiStepLR,
  OneCycleLR,
  RAdam,
  ReduceLROnPlateau,
  RMSprop,
  SGD,
  StepLR,
  SWATS,
} from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const param = (): Tensor => tensor([1, 2], { requiresGrad: true });
const sgd = (): SGD => new SGD([param()], { lr: 0.1, momentum: 0.9 });

describeOptionsContract(packageDir, { describe, it }, {
  recipes: {
    AdaBound: (o) => new AdaBound([param()], o),
    'AdaBound.prototype.addParamGroup': (o) => new AdaBound([param()]).addParamGroup({ params: [param()], ...o }),
    Adagrad: (o) => new Adagrad([param()], o),
    Adam: (o) => new Adam([param()], o),
    AdamW: (o) => new AdamW([param()], o),
    AMSBound: (o) => new AMSBound([param()], o),
    AMSGrad: (o) => new AMSGrad([param()], o),
    CosineAnnealingLR: (o) => new CosineAnnealingLR(sgd(), { tMax: 10, ...o }),
    CosineAnnealingWarmRestarts: (o) => new CosineAnnealingWarmRestarts(sgd(), { t0: 10, ...o }),
    CyclicLR: (o) => new CyclicLR(sgd(), { baseLr: 0.01, maxLr: 0.1, ...o }),
    ExponentialLR: (o) => new ExponentialLR(sgd(), { gamma: 0.9, ...o }),
    LinearLR: (o) => new LinearLR(sgd(), o),
    LinearWarmup: (o) => new LinearWarmup(sgd(), { warmupSteps: 3, ...o }),
    Lookahead: (o) => new Lookahead(sgd(), o),
    lrRangeTest: (o) => {
      const p = param();
      return lrRangeTest(new SGD([p]), () => p.square().sum(), { steps: 3, ...o });
    },
    MultiStepLR: (o) => new MultiStepLR(sgd(), { milestones: [2], ...o }),
    OneCycleLR: (o) => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, ...o }),
    RAdam: (o) => new RAdam([param()], o),
    ReduceLROnPlateau: (o) => new ReduceLROnPlateau(sgd(), o),
    RMSprop: (o) => new RMSprop([param()], o),
    SGD: (o) => new SGD([param()], o),
    StepLR: (o) => new StepLR(sgd(), { stepSize: 2, ...o }),
    SWATS: (o) => new SWATS([param()], o),
  },
});

describe('parameter groups take the optimizer\'s options only', () => {
  it("names the optimizer and the option meant (PyTorch's param groups)", () => {
    expect(() => new SGD([{ params: [param()], lr: 0.1, momentun: 0.9 } as never])).toThrow(new TypeError("SGD.addParamGroup: unknown option 'momentun'; did you mean 'momentum'?"));
    expect(() => new Adam([{ params: [param()], weight_decay: 0.1 } as never])).toThrow(/Adam\.addParamGroup: unknown option 'weight_decay'; did you mean 'weightDecay'\?/);
  });
  it('accepts every option the optimizer has, per group', () => {
    const opt = new Adam([{ params: [param()], lr: 0.1, betas: [0.8, 0.9] }, { params: [param()], weightDecay: 0.01, amsgrad: true }]);
    expect(opt.paramGroups.map((g) => [g.lr, g.betas[0], g.weightDecay, g.amsgrad])).toEqual([
      [0.1, 0.8, 0, false],
      [1e-3, 0.9, 0.01, true],
    ]);
  });
  it('names the subclass constructed, not the class that checks', () => {
    expect(() => new AdamW([param()], { weight_decay: 0.1 } as never)).toThrow(/^AdamW: unknown option 'weight_decay'; did you mean 'weightDecay'\?$/);
  });
});
