/** @ml/api-check — checks on a package's exported API, read with the TypeScript compiler. */
export { optionsTakers, type OptionsTaker, type TakersOptions } from './takers.js';
export {
  describeOptionsContract,
  misspelling,
  optionsContractCases,
  type ContractCase,
  type ContractOptions,
  type NamedRecipe,
  type Recipe,
  type TestApi,
} from './contract.js';
