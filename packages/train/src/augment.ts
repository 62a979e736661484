import { installKerasMethods, type AnyModule } from '@ml/nn';
import type { Tensor } from '@ml/tensor';
import { compile, evaluate, fit, predict, type Batches, type CompileOptions, type Evaluation, type FitOptions, type History, type Numbers } from './fit.js';
import { saveModel, type SaveDestination, type SaveModelOptions } from './io.js';

// Importing @ml/train gives every module Keras's methods: model.compile / fit / evaluate / predict / save.
// Their signatures, merged into @ml/nn's Module…
declare module '@ml/nn' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- merged declarations must repeat the class type parameters
  interface Module<I extends unknown[] = [Tensor], O = Tensor> {
    /** Keras's `model.compile`: choose optimizer, loss and metrics. */
    compile(options: CompileOptions): this;
    /** Keras's `model.fit` on tensors (x, y), or plain arrays as Keras takes NumPy arrays … */
    fit(x: Tensor | Numbers, y: Tensor | Numbers, options?: FitOptions): Promise<History>;
    /** … or on batches of (x, y), e.g. a DataLoader. */
    fit(batches: Batches, options?: FitOptions): Promise<History>;
    /** Loss and metrics in eval mode (Keras's `model.evaluate`). */
    evaluate(x: Tensor | Numbers, y: Tensor | Numbers, options?: { batchSize?: number }): Promise<Evaluation>;
    evaluate(batches: Batches): Promise<Evaluation>;
    /** Outputs for all samples, in batches, eval mode (Keras's `model.predict`). */
    predict(x: Tensor | Numbers, options?: { batchSize?: number }): Promise<Tensor>;
    /** Architecture, weights and optimizer state to a folder or a URL (Keras's `model.save`); see `saveModel`. */
    save(destination: SaveDestination, options?: SaveModelOptions): Promise<void>;
  }
}

// …and their implementation, installed through @ml/nn's hook (no prototype is patched)
installKerasMethods({
  compile: (model: AnyModule, options: CompileOptions) => compile(model, options),
  fit: (model: AnyModule, x: Tensor | Batches | Numbers, y?: Tensor | Numbers | FitOptions, o?: FitOptions) => fit(model, x, y, o),
  evaluate: (model: AnyModule, x: Tensor | Batches | Numbers, y?: Tensor | Numbers, o?: { batchSize?: number }) => evaluate(model, x, y, o),
  predict: (model: AnyModule, x: Tensor | Numbers, o?: { batchSize?: number }) => predict(model, x, o),
  save: (model: AnyModule, destination: SaveDestination, options?: SaveModelOptions) => saveModel(model, destination, options),
});
