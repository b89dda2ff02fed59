// The ESM entry of switchyard-graceful: the implementation lives in graceful.cjs, so that import and
// require() share one copy (one set of signal handlers) and Node 18 can require() it.
export { graceful } from './graceful.cjs';
