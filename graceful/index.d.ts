// Types for the ESM entry; they live in graceful.d.cts beside the implementation.
export { graceful, type GracefulController, type GracefulOptions, type GracefulTarget } from './graceful.cjs';
