export { default } from '@ml/eslint-config';
