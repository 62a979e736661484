import { checkOptions, formatShape, isFloat, keep, optionKeys, type Tensor, tidy, where } from '@ml/tensor';

/**
 * The state both scalers share: fit on the training data only (dim 0 = samples, the rest
 * = columns), then transform training, validation and test data with the same numbers.
 */
abstract class Scaler {
  /** shape of one sample ([] for a 1-D column of values); set by `fit` */
  featureShape: readonly number[] | null = null;
  protected abstract readonly name: string;
  /** subtracted first */
  protected shift: Tensor | null = null;
  /** then divided by */
  protected divisor: Tensor | null = null;

  /** Learn the per-column statistics of `x` (training data only); returns this. */
  abstract fit(x: Tensor): this;

  protected check(op: string, x: Tensor): { shift: Tensor; divisor: Tensor } {
    if (!this.shift || !this.divisor || !this.featureShape) {
      throw new Error(`${this.name}.${op}: the scaler is not fitted; call fit(xTrain) on the training data first`);
    }
    const cols = x.shape.slice(1);
    if (x.ndim === 0 || cols.length !== this.featureShape.length || cols.some((d, i) => d !== this.featureShape![i])) {
      throw new Error(
        `${this.name}.${op}: x ${formatShape(x.shape)} has columns ${formatShape(cols)}, the scaler was fit on columns ${formatShape(this.featureShape)} (dim 0 is the samples)`,
      );
    }
    return { shift: this.shift, divisor: this.divisor };
  }

  protected checkFit(x: Tensor): Tensor {
    if (x.ndim === 0 || x.shape[0] === 0) throw new Error(`${this.name}.fit: x ${formatShape(x.shape)} has no samples along dim 0`);
    return isFloat(x.dtype) ? x : x.cast('float32');
  }

  protected store(shift: Tensor, divisor: Tensor, featureShape: readonly number[]): void {
    this.dispose();
    this.shift = keep(shift);
    this.divisor = keep(divisor);
    this.featureShape = [...featureShape];
  }

  /** Scale `x` with the fitted statistics. */
  transform(x: Tensor): Tensor {
    const { shift, divisor } = this.check('transform', x);
    return tidy(() => this.forward(isFloat(x.dtype) ? x : x.cast('float32'), shift, divisor));
  }

  /** `fit(x)` then `transform(x)`. */
  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  /** Undo `transform`: back to the original units (e.g. predictions of a scaled target). */
  inverseTransform(x: Tensor): Tensor {
    const { shift, divisor } = this.check('inverseTransform', x);
    return tidy(() => this.backward(isFloat(x.dtype) ? x : x.cast('float32'), shift, divisor));
  }

  protected forward(x: Tensor, shift: Tensor, divisor: Tensor): Tensor {
    return x.sub(shift).div(divisor);
  }

  protected backward(x: Tensor, shift: Tensor, divisor: Tensor): Tensor {
    return x.mul(divisor).add(shift);
  }

  /** Free the fitted statistics. */
  dispose(): void {
    this.shift?.dispose();
    this.divisor?.dispose();
    this.shift = null;
    this.divisor = null;
    this.featureShape = null;
  }
}

/**
 * z = (x − mean) / std per column (scikit-learn's `StandardScaler`): `mean` and `std`
 * (population, divide by N) come from `fit` on the training data. A constant column has
 * std 0 and is only centered (its scale is 1).
 */
export class StandardScaler extends Scaler {
  protected readonly name = 'StandardScaler';

  /** It takes no options: an object with keys (scikit-learn's `with_mean`, `copy`, …) is refused, not ignored. */
  constructor(options: Readonly<Record<string, never>> = {}) {
    super();
    const given = options !== null && typeof options === 'object' ? Object.keys(options) : [];
    if (given.length > 0) throw new TypeError(`StandardScaler: unknown option '${given[0]}'; it takes none (every column is centred and scaled by its std; MinMaxScaler maps to a range)`);
    checkOptions('StandardScaler', options, []);
  }

  /** per-column mean (sklearn's `mean_`), after fit */
  get mean(): Tensor | null {
    return this.shift;
  }
  /** per-column scale, the std or 1 for constant columns (sklearn's `scale_`), after fit */
  get scale(): Tensor | null {
    return this.divisor;
  }

  fit(x: Tensor): this {
    const src = this.checkFit(x);
    const [mean, scale] = tidy(() => {
      const m = src.mean(0);
      const std = src.std(0, { correction: 0 });
      return [m, where(std.eq(0), 1, std)];
    });
    this.store(mean, scale, x.shape.slice(1));
    return this;
  }
}

export interface MinMaxScalerOptions {
  /** target range of each column (default [0, 1]) */
  featureRange?: readonly [number, number];
}

const MIN_MAX_KEYS = optionKeys<MinMaxScalerOptions>()(['featureRange']);

/**
 * x' = a + (x − min) · (b − a) / (max − min) per column (scikit-learn's `MinMaxScaler`),
 * with min and max from `fit` on the training data, so training data lands in
 * `featureRange` [a, b] and new data may fall outside it. A constant column maps to a.
 */
export class MinMaxScaler extends Scaler {
  protected readonly name = 'MinMaxScaler';
  readonly featureRange: readonly [number, number];
  private max: Tensor | null = null;

  constructor(options: MinMaxScalerOptions = {}) {
    super();
    checkOptions('MinMaxScaler', options, MIN_MAX_KEYS);
    const [a, b] = options.featureRange ?? [0, 1];
    if (!(Number.isFinite(a) && Number.isFinite(b) && a < b)) throw new RangeError(`MinMaxScaler: featureRange must be [a, b] with a < b, got [${a}, ${b}]`);
    this.featureRange = [a, b];
  }

  /** per-column minimum of the training data (sklearn's `data_min_`), after fit */
  get dataMin(): Tensor | null {
    return this.shift;
  }
  /** per-column maximum of the training data (sklearn's `data_max_`), after fit */
  get dataMax(): Tensor | null {
    return this.max;
  }

  fit(x: Tensor): this {
    const src = this.checkFit(x);
    const [a, b] = this.featureRange;
    const [min, max, divisor] = tidy(() => {
      const lo = src.min(0);
      const hi = src.max(0);
      const range = hi.sub(lo);
      // x' = a + (x − min) / divisor with divisor = (max − min) / (b − a); 1 for a constant column
      return [lo, hi, where(range.eq(0), 1, range.div(b - a))];
    });
    this.store(min, divisor, x.shape.slice(1));
    this.max?.dispose();
    this.max = keep(max);
    return this;
  }

  protected override forward(x: Tensor, shift: Tensor, divisor: Tensor): Tensor {
    return x.sub(shift).div(divisor).add(this.featureRange[0]);
  }

  protected override backward(x: Tensor, shift: Tensor, divisor: Tensor): Tensor {
    return x.sub(this.featureRange[0]).mul(divisor).add(shift);
  }

  override dispose(): void {
    super.dispose();
    this.max?.dispose();
    this.max = null;
  }
}
