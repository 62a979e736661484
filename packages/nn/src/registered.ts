/**
 * Layers loadable from saved configs that serialize.ts's built-in table does not import:
 * each is registered here, under its explicit (minifier-proof) name, and exported from
 * here so that the registration travels with the class.
 */
import { HardSigmoid, SELU } from './activation.js';
import { AdditiveAttention } from './additive-attention.js';
import { registerModuleClass } from './serialize.js';

registerModuleClass(HardSigmoid, 'HardSigmoid');
registerModuleClass(SELU, 'SELU');
registerModuleClass(AdditiveAttention, 'AdditiveAttention');

export { HardSigmoid, SELU, AdditiveAttention };
